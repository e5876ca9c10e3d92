//! The report: its model (the JSON schema, [`model`]), the fold of what the kernel side and the
//! samples held into lines, objects and maps ([`fold`]), the overhead figures ([`overhead`]), and
//! the one place that builds it ([`build`]).

pub mod build;
pub mod fold;
mod model;
pub mod overhead;
#[cfg(test)]
pub(crate) mod test_report;

pub use model::*;
