//! The report: its model (the JSON schema, [`model`]), what the kernel side folded and the
//! samples joined into ranked lines, objects and maps ([`rank`]), the overhead figures
//! ([`overhead`]), and the one place that builds it ([`build`]).

pub mod build;
mod model;
pub mod overhead;
pub mod rank;
pub mod stacks;
#[cfg(test)]
pub(crate) mod test_report;
pub mod watch;

pub use model::*;
