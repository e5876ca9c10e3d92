//! What the bench measured, shared by the runs that fill it and the report that writes it out.

use super::{accuracy, service, watch};

/// Recording lengths tried for detection, shortest first.
pub const DETECTION_STEPS_MS: [u64; 6] = [250, 500, 1_000, 2_000, 3_000, 5_000];

/// The detection steps, for the report.
pub fn detection_steps() -> String {
    DETECTION_STEPS_MS
        .iter()
        .map(|ms| ms.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// One run under clprof: operations and what the report said about its cost.
#[derive(Clone, Debug, Default)]
pub struct Run {
    pub ops: u64,
    /// CPU time the workload used (ms).
    pub cpu_ms: u64,
    pub estimated_overhead_pct: Option<f64>,
    pub active_fraction: Option<f64>,
    pub windows: Option<u64>,
    /// Rank of the shared cache's line (0 = first), when found.
    pub cache_rank: Option<usize>,
    /// The line-transfer cost this run measured afresh (ns).
    pub line_transfer_ns: Option<f64>,
}

/// Everything measured.
pub struct Results {
    pub rounds: usize,
    pub alone: Vec<Run>,
    pub default_budget: Vec<Run>,
    pub full_budget: Vec<Run>,
    /// Per detection round: shortest recording (ms) that ranked the cache first, if any.
    pub detection_ms: Vec<Option<u64>>,
    /// `key=value` lines the cargo benches printed.
    pub fold: Vec<(String, String)>,
    /// On the Go 1.19 build (DWARF 4) and on the Go 1.27 build (DWARF 5).
    pub symbolize: Vec<(String, String)>,
    pub symbolize_new: Vec<(String, String)>,
    pub calibration: Option<(u64, Option<u64>, Option<u64>)>,
    /// Start-up and memory on a stripped distribution-built service.
    pub service: service::ServiceStart,
    /// Estimates against ground truth, and what the budget buys.
    pub accuracy: accuracy::Results,
    /// Calibrated watchpoint hit cost against what a target pays.
    pub watch: watch::Results,
    /// Lines from the data addresses of timer samples.
    pub sampled: super::sampled::Results,
    /// What clprof predicted a fix wins against what it won.
    pub won: Vec<super::won::Measured>,
}
