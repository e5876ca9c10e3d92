//! The report: its model (the JSON schema, [`model`]), what the kernel side folded and the
//! samples joined into ranked lines, objects and maps ([`rank`]), the overhead figures
//! ([`overhead`]), the verdict, cost and advice per line ([`judge`]), and the one place that
//! builds it ([`build`]).

pub mod advice;
mod advice_sampled;
pub mod build;
pub mod cost;
pub mod judge;
pub mod keep;
mod model;
mod model_overhead;
mod model_sampled;
pub mod overhead;
pub mod perf;
pub mod primitives;
pub mod rank;
pub mod sampled;
mod sampled_stacks;
pub mod stacks;
#[cfg(test)]
pub(crate) mod test_report;
pub mod verdict;
pub mod watch;

pub use model::*;
pub use model_overhead::*;
pub use model_sampled::*;
