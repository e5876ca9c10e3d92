//! The subcommands: `record`, `probes`, `report`, `diff` and `daemon`.

pub mod daemon;
pub mod diff;
pub mod probes;
pub mod record;
pub mod report;
