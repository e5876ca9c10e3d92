//! What the kernel side folded, read back as plain data (no map handles): the lines, objects
//! and latencies, the watched words, the counters, the XOL areas, and how the samples of probe
//! single-steps are named. The kernel module reads these; reports are built from them.

use std::collections::HashMap;

use profiler_common::{
    watch::{WatchSite, WatchSiteKey, WordKey},
    xol::{in_xol_area, GROW_KIND, UNKNOWN_STEP_KIND},
    AssignKind, Counter, LatencyHist, LineKey, LineStats, ObjectKey, ObjectStats, StepKey,
    COUNTERS, CUSTOM_KIND,
};

/// Name of the XOL mapping in `/proc/PID/maps`.
pub const XOL_MAPPING: &str = "[uprobes]";
/// Prefix of the `functions` entries that are probe overhead.
pub const PROBE_PREFIX: &str = "[clprof probe]";
/// `file` of those entries: where the samples were taken.
pub const XOL_FILE: &str = XOL_MAPPING;

/// What the kernel maps held at the end of a recording.
#[derive(Clone, Debug, Default)]
pub struct KernelSnapshot {
    pub lines: Vec<(LineKey, LineStats)>,
    pub objects: Vec<(ObjectKey, ObjectStats)>,
    pub latency: HashMap<ObjectKey, LatencyHist>,
}

/// What the watch program folded: per word, per line, per writing instruction.
#[derive(Clone, Debug, Default)]
pub struct WatchSnapshot {
    pub words: Vec<(WordKey, LineStats)>,
    pub lines: Vec<(LineKey, LineStats)>,
    pub sites: Vec<(WatchSiteKey, WatchSite)>,
}

/// Sum over CPUs of every [`Counter`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters(pub [u64; COUNTERS as usize]);

impl Counters {
    pub fn get(&self, c: Counter) -> u64 {
        self.0[c as usize]
    }
}

/// An address range `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XolArea {
    pub start: u64,
    pub end: u64,
}

impl XolArea {
    pub fn contains(&self, ip: u64) -> bool {
        in_xol_area(ip, self.start, self.end)
    }
}

/// The `functions` name of the samples counted under `key`; `function` is the function holding
/// the probed instruction, when it could be symbolized.
pub fn step_name(key: &StepKey, function: Option<String>) -> String {
    if key.kind == UNKNOWN_STEP_KIND {
        return format!("{XOL_MAPPING} single-step of an unidentified probe");
    }
    let name = function.unwrap_or_else(|| match key.kind {
        k if k < CUSTOM_KIND => AssignKind::ALL[k as usize].symbol().to_owned(),
        GROW_KIND => format!("map growth function at {:#x}", key.site),
        profiler_common::access::MAKE_KIND => format!("map make function at {:#x}", key.site),
        _ => format!("custom probe at {:#x}", key.site),
    });
    format!("{PROBE_PREFIX} {name}")
}

#[cfg(test)]
#[path = "folded_tests.rs"]
mod tests;
