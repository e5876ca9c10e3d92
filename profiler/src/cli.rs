//! Command-line interface (clap).

use std::{path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand};

use crate::{
    probe_spec::ProbeSpec,
    render::{Format, Weight},
    watch::spec::WatchSpec,
};

/// Reports kept per daemon (the oldest is dropped first): with the default 60 s window, the
/// last 10 minutes.
pub const DEFAULT_KEEP: usize = 10;

/// clprof: find the cache lines that threads fight over, in live Go processes, with eBPF.
#[derive(Debug, Parser)]
#[command(name = "clprof", version, about, long_about = None)]
pub struct Cli {
    /// More logging on stderr (-v: debug, including the eBPF side's logs; -vv: trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// No progress output on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Profile running processes (--pid) or a command (-- CMD ARGS) and report contended lines.
    Record(RecordArgs),
    /// Show what would be probed in a process: Go version, map layout, map-assign functions.
    Probes(ProbesArgs),
    /// Re-render a saved JSON profile (no root, no running target needed).
    Report(ReportArgs),
    /// Compare two saved JSON profiles of one program (before and after a change), line by line.
    Diff(DiffArgs),
    /// Record continuously in windows and serve the reports over HTTP (loopback by default).
    Daemon(DaemonArgs),
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A profile written by `clprof record --format json`.
    pub file: PathBuf,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Lines to show: the table's rows (default 10) and, when given, the lines drawn in folded
    /// and SVG output (default: all).
    #[arg(long)]
    pub top: Option<usize>,
    /// What flamegraph counts measure.
    #[arg(long, value_enum, default_value_t = Weight::Transfers)]
    pub weight: Weight,
    /// Write to FILE instead of stdout (`-`: stdout; a regular file is replaced atomically,
    /// a device or FIFO written in place).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The profile before the change (`clprof record --format json`).
    pub before: PathBuf,
    /// The profile after it.
    pub after: PathBuf,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = crate::diff::Format::Text)]
    pub format: crate::diff::Format,
    /// Table rows to show (default: all).
    #[arg(long)]
    pub top: Option<usize>,
    /// Exit with status 1 when the total cost or a line's cost got worse, beyond the noise, by
    /// more than PCT percent (a new line with any cost counts): a gate for CI.
    #[arg(long, value_name = "PCT", value_parser = parse_fail_if_worse)]
    pub fail_if_worse: Option<f64>,
}

/// What to record and what it may cost: the flags `record` and `daemon` share.
#[derive(Debug, Args)]
pub struct RecordingArgs {
    /// Process to profile (repeat for several).
    #[arg(short, long = "pid", value_name = "PID")]
    pub pids: Vec<u32>,
    /// Also every Go process on the host: the running ones, and those that start while
    /// recording, attached as they exec (the daemon drops the ones that exit).
    #[arg(long)]
    pub all_go: bool,
    /// Watch memory with hardware write watchpoints (repeatable): auto (the default: the words
    /// of the top-ranked lines, once ranked, within the budget), SYMBOL[+OFF][:LEN], a global
    /// variable of each target from its symbol table or DWARF (e.g. main.stats+8:16, or a Rust
    /// path such as server::STATS), or ADDR[:LEN], an address in each target (8 bytes by
    /// default); `off` watches nothing. Every write to a watched word is counted, by any
    /// instruction, with its thread, CPU and code; more words than the 4 debug registers are
    /// rotated. The daemon arms them anew in every window.
    #[arg(
        long = "watch",
        value_name = "auto|off|SYMBOL[+OFF][:LEN]|ADDR[:LEN]",
        default_value = "auto"
    )]
    pub watch: Vec<WatchSpec>,
    /// Perf-event source: auto picks PEBS/IBS L1-miss sampling with data addresses, else the
    /// generic L1D read-miss event, else cpu-clock; a forced choice fails when unavailable.
    #[arg(long, value_enum, default_value_t = crate::perf::EventsChoice::Auto)]
    pub events: crate::perf::EventsChoice,
    /// Overhead budget, percent of each target's CPU time (e.g. 2 or 2%): probes are attached in
    /// windows the budget pays for, and perf sampling is slowed to fit; 100 = always on.
    #[arg(long, default_value = "2", value_name = "PCT", value_parser = parse_budget)]
    pub budget: f64,
    /// Sample one map write in N (per CPU) with its user stack.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    pub sample_every: u32,
}

#[derive(Debug, Args)]
pub struct RecordArgs {
    #[command(flatten)]
    pub recording: RecordingArgs,
    /// How long to record (e.g. 10s, 500ms, 2m).
    #[arg(short, long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write the report to FILE instead of stdout (`-`: stdout; a regular file is replaced
    /// atomically, a device or FIFO written in place).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// What flamegraph counts measure (folded, svg).
    #[arg(long, value_enum, default_value_t = Weight::Transfers)]
    pub weight: Weight,
    /// Also write the JSON report to FILE (written as -o writes).
    #[arg(long, value_name = "FILE")]
    pub json_out: Option<PathBuf>,
    /// Lines to show: the table's rows (default 10) and, when given, the lines drawn in folded
    /// and SVG output (default: all).
    #[arg(long)]
    pub top: Option<usize>,
    /// What to probe: `go` (the Go map probes: assigns, lookups, iteration, deletes, clears;
    /// the default), `go-writes` (the assigns alone) and/or BIN:SYMBOL:REG[+OFF] (any function:
    /// the pointer in REG, plus OFF bytes, is the written object). Repeatable.
    #[arg(long = "probe", value_name = "go|go-writes|BIN:SYMBOL:REG[+OFF]")]
    pub probes: Vec<ProbeSpec>,
    /// Also write every sampled event, as received, to FILE (raw 80-byte `SampleEvent` records,
    /// native byte order): an event stream to fold offline or benchmark with.
    #[arg(long, value_name = "FILE")]
    pub save_samples: Option<PathBuf>,
    /// Command to start and profile (after --).
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<std::ffi::OsString>,
}

#[derive(Debug, Args)]
pub struct DaemonArgs {
    #[command(flatten)]
    pub recording: RecordingArgs,
    /// Address to serve HTTP on; non-loopback addresses need --allow-remote.
    #[arg(long, default_value = "127.0.0.1:7878")]
    pub listen: std::net::SocketAddr,
    /// Serve on a non-loopback --listen address (reports show the targets' code and layout).
    #[arg(long)]
    pub allow_remote: bool,
    /// Length of one recording window (e.g. 60s, 10s).
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub window: Duration,
    /// Windows kept in memory (the oldest is dropped).
    #[arg(long, default_value_t = DEFAULT_KEEP, value_parser = clap::value_parser!(usize))]
    pub keep: usize,
    /// Write each window's JSON report to DIR (window-NNNNNN.json and latest.json).
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// Push each window's profile of each target to Grafana Pyroscope's /ingest API at URL
    /// (http or https; a path prefix is kept; user:password@ in the URL is sent as basic auth).
    #[arg(long, value_name = "URL")]
    pub pyroscope_url: Option<String>,
    /// A label added to every pushed profile, besides pid and the container's (repeatable),
    /// e.g. --label node=n1 --label cluster=eu1.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// How long one push request may take before it counts as failed (e.g. 10s, 500ms).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub push_timeout: Duration,
    /// Tenant of a multi-tenant Pyroscope, sent as X-Scope-OrgID.
    #[arg(long, value_name = "ID")]
    pub pyroscope_tenant: Option<String>,
}

#[derive(Debug, Args)]
pub struct ProbesArgs {
    /// Process to inspect.
    #[arg(short, long = "pid", value_name = "PID", required = true)]
    pub pids: Vec<u32>,
    /// Custom probes to check too (BIN:SYMBOL:REG[+OFF]).
    #[arg(long = "probe", value_name = "BIN:SYMBOL:REG[+OFF]")]
    pub probes: Vec<ProbeSpec>,
}

/// `--budget`: a percentage in (0, 100], with or without a trailing `%`.
pub fn parse_budget(text: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches('%');
    match number.parse::<f64>() {
        Ok(pct) if pct > 0.0 && pct <= 100.0 => Ok(pct),
        _ => Err(format!(
            "`{text}` is not a percentage in (0, 100]: e.g. --budget 2 (2% of the target's CPU) or --budget 100 (always on)"
        )),
    }
}

/// `--fail-if-worse`: a percentage of 0 or more, with or without a trailing `%`.
pub fn parse_fail_if_worse(text: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches('%');
    match number.parse::<f64>() {
        Ok(pct) if pct >= 0.0 && pct.is_finite() => Ok(pct),
        _ => Err(format!(
            "`{text}` is not a percentage of 0 or more: e.g. --fail-if-worse 10 (fail when a cost grew by more than 10%)"
        )),
    }
}

#[cfg(test)]
#[path = "cli_tests.rs"]
mod tests;
