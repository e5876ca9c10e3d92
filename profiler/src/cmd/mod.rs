//! The subcommands: `record`, `probes`, `report` and `daemon`.

pub mod daemon;
pub mod probes;
pub mod record;
pub mod report;
