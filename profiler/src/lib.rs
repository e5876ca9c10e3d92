//! clprof: find the cache lines that threads fight over, in live Go processes, with eBPF.
//!
//! Data flow: [`inspect`] (which process, which functions, which layout) → [`kernel`] (uprobes,
//! kernel-side folding per cache line) and [`watch`] (hardware write watchpoints) → [`collect`]
//! (tokio, under the [`overhead`] budget) → [`report`] (ranking, estimates, watched words) with
//! [`symbolize`] → [`render`]. [`diff`] compares two saved reports. The subcommands ([`cmd`])
//! sit on top.

pub mod cli;
pub mod cmd;
pub mod collect;
pub mod diff;
pub mod discover;
pub mod folded;
pub mod inspect;
pub mod ip_operands;
pub mod kernel;
pub mod launch;
pub mod machine;
pub mod output;
pub mod overhead;
pub mod perf;
pub mod probe_spec;
pub mod readout;
pub mod render;
pub mod report;
pub mod session;
pub mod symbolize;
pub mod target;
#[cfg(test)]
mod test_support;
pub mod watch;
