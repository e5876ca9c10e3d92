//! What a session reads back at the end of a recording or of a daemon window: everything a report
//! is built from besides the collected samples and the targets. The folded kernel maps, the
//! counters, the stacks, what the probes hit and where they were refused, and how the session
//! sampled. Read once ([`crate::session::Session::readout`]); a report built from it touches no
//! kernel map, so a synthetic readout makes a report in a test.

use std::collections::HashMap;

use profiler_common::{
    sampled::{LineIpKey, LineStackKey, SampledLine},
    IpKey, LineKey, StepKey,
};

use crate::{
    folded::{Counters, KernelSnapshot, WatchSnapshot, XolArea},
    machine::TransferCosts,
    overhead::plan::OverheadPlan,
    perf::PerfSource,
};

/// One reading of everything the report needs from the kernel side and the session.
#[derive(Clone, Debug)]
pub struct Readout {
    /// The lines, objects and latencies the kernel side folded.
    pub snapshot: KernelSnapshot,
    pub counters: Counters,
    /// What the watchpoints folded; None when nothing was watched.
    pub watched: Option<WatchSnapshot>,
    /// Perf samples per user instruction address; empty without perf sampling.
    pub perf_ips: Vec<(IpKey, u64)>,
    /// Samples per line, from their data addresses; empty without perf sampling.
    pub sampled_lines: Vec<(LineKey, SampledLine)>,
    /// Samples per line and sampled instruction; empty without perf sampling.
    pub line_ips: Vec<(LineIpKey, u64)>,
    /// Samples per line and user stack, for the samples that took one; empty without perf
    /// sampling.
    pub line_stacks: Vec<(LineStackKey, u64)>,
    /// Perf samples of threads single-stepping a probed instruction; empty without perf
    /// sampling.
    pub probe_steps: Vec<(StepKey, u64)>,
    /// The user stacks by id, innermost frame first.
    pub stacks: HashMap<u32, Vec<u64>>,
    /// Each target's XOL area, where known.
    pub xol_areas: HashMap<u32, XolArea>,
    /// Hits per probed function, in the order the probes were counted.
    pub hits: Vec<ProbeHits>,
    /// Probe sites left out, by pid, with why.
    pub refused: Vec<(u32, String)>,
    /// The perf-event source that ran.
    pub perf: PerfSource,
    /// The CPU's hardware PMU is exposed (absent in most VMs).
    pub pmu_available: bool,
    /// What moving a cache line between CPUs costs here; None where it could not be measured.
    pub transfer: Option<TransferCosts>,
    /// The budget's split.
    pub overhead: OverheadPlan,
    /// Go map lookups, iteration, deletes and clears were probed (not only the assigns).
    pub probes_access: bool,
}

/// The hits of one probed function in one binary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeHits {
    /// The binary as the user knows it.
    pub binary: String,
    pub symbol: String,
    pub hits: u64,
}
