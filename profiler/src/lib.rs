//! clprof: find the cache lines that threads fight over, in live Go processes, with eBPF.
//!
//! Data flow: [`target`] (which process, which functions, which layout) → [`attach`] (uprobes,
//! kernel-side folding per cache line) → [`collect`] (tokio) → [`fold`] + [`symbolize`] →
//! [`render`].

pub mod attach;
pub mod budget;
pub mod calibrate;
pub mod cli;
pub mod collect;
pub mod daemon;
pub mod daemon_http;
pub mod discover;
pub mod duty;
pub mod estimate;
pub mod fold;
pub mod gopclntab;
pub mod launch;
pub mod links;
pub mod output;
pub mod perf;
pub mod preflight;
pub mod probe_spec;
pub mod probes;
pub mod readback;
pub mod record;
pub mod render;
pub mod report;
pub mod report_build;
pub mod report_overhead;
pub mod saved;
pub mod symbolize;
pub mod target;
pub mod uprobe_multi;
pub mod xol;
