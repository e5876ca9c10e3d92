//! The overhead part of the report's model: what the budget did for each target and over all
//! of them (flattened into `targets[]` and `sources`).

use serde::{Deserialize, Serialize};

/// What the overhead budget did for one target; all null for a process without an account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetOverhead {
    /// Fraction of the time this process was recorded during which its (write) probes were
    /// attached.
    #[serde(default)]
    pub probe_active_fraction: Option<f64>,
    /// Uprobe hits in this process (every probe, RET sites and growth functions included).
    #[serde(default)]
    pub probe_hits: Option<u64>,
    /// Attach windows its (write) probes ran in.
    #[serde(default)]
    pub probe_windows: Option<u64>,
    /// Fraction of the time its read probes (lookups, iteration) were attached: in windows of
    /// their own, inside the write probes' ones, on at most half of the budget; null without
    /// read probes.
    #[serde(default)]
    pub read_probe_active_fraction: Option<f64>,
    /// Windows its read probes ran in; null without read probes.
    #[serde(default)]
    pub read_probe_windows: Option<u64>,
    /// Hits of its read probes (part of `probe_hits`); null without read probes.
    #[serde(default)]
    pub read_probe_hits: Option<u64>,
    /// Estimated cost to this process: probe hits × hit cost, plus watchpoint hits × their
    /// cost, plus perf sampling, over the CPU time it spent on its own work (percent).
    #[serde(default)]
    pub estimated_overhead_pct: Option<f64>,
    /// Allowance it borrowed from the other targets' unused budget, net, in percent of its own
    /// work (negative: it lent more than it borrowed); null in profiles written before the
    /// budget was shared.
    #[serde(default)]
    pub pooled_budget_pct: Option<f64>,
    /// Cost of one probe hit to this process (ns), as `probe_hit_cost_source` says.
    #[serde(default)]
    pub probe_hit_cost_ns: Option<u64>,
    /// `measured` (timed in this process's threads) or `calibrated` (clprof's self-probe).
    #[serde(default)]
    pub probe_hit_cost_source: Option<HitCostSource>,
    /// What this process's observed counts are multiplied by in `est_*` (1: probes saw all).
    #[serde(default)]
    pub est_scale: Option<f64>,
    /// Relative standard error of `est_scale` (0.05 = 5%).
    #[serde(default)]
    pub est_scale_rel_err: Option<f64>,
    /// The estimates are lower bounds: the threads waited on one another while probed (a
    /// notice says so), so the windows hold more own CPU time per assign than the rest of the
    /// recording; null without estimates.
    #[serde(default)]
    pub est_lower_bound: Option<bool>,
    /// What its read counts (`reads`, `remote_reads`, `invalidations`, iterations) are
    /// multiplied by in `est_*`: they were seen in the read windows; null without read probes.
    #[serde(default)]
    pub est_read_scale: Option<f64>,
    /// Relative standard error of `est_read_scale`.
    #[serde(default)]
    pub est_read_scale_rel_err: Option<f64>,
    /// Seconds this process was recorded (until it exited or recording ended).
    #[serde(default)]
    pub recorded_s: Option<f64>,
    /// CPU time it used for its own work while recorded (s): its threads' time less the probes'
    /// estimated cost.
    #[serde(default)]
    pub cpu_s: Option<f64>,
    /// Watchpoint hits in this process (writes to watched words); null when nothing was to be
    /// watched.
    #[serde(default)]
    pub watch_hits: Option<u64>,
    /// Cost of one watchpoint hit (ns), as `watch_hit_cost_source` says, charged to the budget
    /// with the probe hits and taken out of the CPU time the estimates scale by; null when
    /// nothing was to be watched or no debug register was free to measure it.
    #[serde(default)]
    pub watch_hit_cost_ns: Option<u64>,
    /// `measured` (how much longer an assign with watchpoint traps in it took, per trap, in this
    /// process's threads) or `calibrated` (a word of clprof's own).
    #[serde(default)]
    pub watch_hit_cost_source: Option<HitCostSource>,
}

/// Where a target's probe hit cost comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HitCostSource {
    /// Timed in the target's own threads (program time plus the entry-to-RET gap).
    Measured,
    /// clprof's self-probe at start (too few timed assigns in the target).
    Calibrated,
}

/// What `--budget` bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BudgetScope {
    /// The cost to every target together, over their summed own work (one pool).
    AllTargets,
}

/// What the overhead budget did over all targets.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordingOverhead {
    /// Overhead budget (percent of target CPU); 100 = probes always on.
    pub overhead_budget_pct: f64,
    /// Fraction of the recording during which probes were attached (over all targets).
    pub probe_active_fraction: f64,
    /// Highest estimated overhead of any target (percent of its own CPU time).
    #[serde(default)]
    pub estimated_overhead_pct: Option<f64>,
    /// What the budget bounds: `all-targets`, the cost to every target together over their
    /// summed own work; null in profiles written before it was shared (then: each target's).
    #[serde(default)]
    pub budget_scope: Option<BudgetScope>,
    /// Estimated cost to every target together over the CPU time they spent on their own
    /// work (percent): what `--budget` bounds.
    #[serde(default)]
    pub total_overhead_pct: Option<f64>,
    /// Calibrated cost of one uprobe hit on this machine (ns).
    #[serde(default)]
    pub probe_hit_cost_ns: Option<u64>,
    /// Seconds between the calibration and this recording: 0 when measured for it, more when
    /// an earlier recording's on this host served (see `kernel::calibrate::MAX_AGE`); null in
    /// profiles written before calibrations were kept.
    #[serde(default)]
    pub calibration_age_s: Option<u64>,
    /// Calibrated cost of one perf sample (ns); null without perf events.
    #[serde(default)]
    pub perf_sample_cost_ns: Option<u64>,
    /// Perf sampling frequency per CPU (Hz) chosen within the budget; null without perf events.
    #[serde(default)]
    pub perf_sample_hz: Option<u64>,
}
