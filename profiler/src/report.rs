//! The report model, serialized as schema `clprof/1` (see README.md): a contract that tests and
//! users parse. Unknown values are `null`, never made up.

use serde::{Deserialize, Serialize};

/// Schema identifier; bump when a field changes meaning.
pub const SCHEMA: &str = "clprof/1";

/// A whole profile.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// When recording started (RFC 3339, UTC).
    pub started_at: String,
    /// How long probes were attached (seconds).
    pub duration_s: f64,
    /// Profiled processes.
    pub targets: Vec<TargetInfo>,
    /// What produced the data.
    pub sources: Sources,
    /// Data lost on the way.
    pub drops: Drops,
    /// Probe hits that passed the target filter.
    pub events: u64,
    /// Events sampled with a user stack.
    pub samples: u64,
    /// Contended lines, by `transfers` then `writes`, descending.
    pub lines: Vec<LineReport>,
    /// Things the reader should know (target exited early, interrupted, ...).
    pub notices: Vec<String>,
}

/// One profiled process.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetInfo {
    pub pid: u32,
    /// Executable path as the process saw it.
    pub exe: String,
    /// Go version from `.go.buildinfo` (`go1.27.3`), null when absent.
    pub go_version: Option<String>,
    /// `classic` (hmap) or `swiss`, null when unknown.
    pub map_layout: Option<String>,
    /// Where the layout came from: `dwarf` or `builtin-table`.
    pub layout_source: Option<String>,
    /// True when the process exited before recording ended.
    pub exited: bool,
}

/// Event sources.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sources {
    /// One entry per probed function and binary.
    pub uprobes: Vec<UprobeSource>,
    /// Perf-event source: `pebs-l1-miss`, `l1d-read-miss`, `cpu-clock` or `none`.
    pub perf: String,
    /// Whether the machine exposes a hardware PMU.
    pub pmu_available: bool,
    /// Overhead budget (percent of target CPU); 100 = probes always on.
    pub overhead_budget_pct: f64,
    /// Fraction of the recording during which probes were attached.
    pub probe_active_fraction: f64,
}

/// Hits of one probed function.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UprobeSource {
    pub binary: String,
    pub symbol: String,
    pub hits: u64,
}

/// Losses.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drops {
    /// Sampled events dropped because the ring buffer was full.
    pub ringbuf: u64,
    /// Line/object entries lost: insert failures plus LRU evictions of the kernel maps.
    pub map_full: u64,
    /// Sampled events whose user stack could not be stored.
    pub stacks: u64,
}

/// One contended cache line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LineReport {
    /// Address of the line (hex, 64-byte aligned).
    pub line: String,
    pub pid: u32,
    /// Assigns that wrote this line.
    pub writes: u64,
    /// Sampled events (with stacks) that wrote this line.
    pub samples: u64,
    /// Distinct writer threads (exact when `threads_exact`).
    pub threads: u32,
    /// False when more threads wrote than the kernel tracks exactly (8).
    pub threads_exact: bool,
    /// Distinct writer CPUs.
    pub cpus: u32,
    /// Writes from a CPU other than the previous writer's (cache-line moves).
    pub transfers: u64,
    /// Assigns that started while the map was growing; null: not measured.
    pub growth_writes: Option<u64>,
    /// Assigns that found another writer inside the same map; null: not measured.
    pub concurrent_writers: Option<u64>,
    /// Hardware L1-miss samples with a data address in this line; null: not measured.
    pub l1_miss_samples: Option<u64>,
    /// Objects whose memory overlaps this line.
    pub objects: Vec<ObjectReport>,
    /// Code that wrote this line, by sampled stacks (callers of the map assign).
    pub top_frames: Vec<FrameReport>,
}

/// An object (e.g. a Go map header) living in a line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectReport {
    /// `go-map`, `go-map-slot` or `custom`.
    pub kind: String,
    /// Address of the object's first byte (hex).
    pub addr: String,
    /// The object's fields inside this line, by offset.
    pub fields: Vec<String>,
    /// Of those, the fields the probed writes modify.
    pub written_fields: Vec<String>,
    /// Writes to this object (all its lines).
    pub writes: u64,
    /// Distinct threads writing this object.
    pub writers: u32,
    /// Map-assign function used (`runtime.mapassign_fast64`, ...).
    pub assign: Option<String>,
}

/// A source location and how many samples it accounts for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameReport {
    pub function: String,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub samples: u64,
}

/// Formats an address as the schema wants it.
pub fn hex(addr: u64) -> String {
    format!("{addr:#x}")
}

/// Parses an address written by [`hex`].
pub fn parse_hex(s: &str) -> Option<u64> {
    u64::from_str_radix(s.strip_prefix("0x")?, 16).ok()
}
