//! What the duty cycler was given and what it reports: the budget's terms for the probes and
//! how each target's probes were run.

use std::time::Duration;

use crate::{kernel::calibrate, overhead::budget::WindowSample, overhead::estimate};

/// What the overhead budget allows the probes, for every target.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DutyPlan {
    /// Fraction of each target's own CPU time its uprobes may take (>= 1: always on).
    pub fraction: f64,
    /// Calibrated cost of one uprobe hit.
    pub hit_cost: Duration,
    /// Calibrated cost of one watchpoint hit (zero when nothing is watched).
    pub watch_cost: Duration,
}

/// How one target's probes were run.
#[derive(Clone, Debug, PartialEq)]
pub struct DutyOutcome {
    pub pid: u32,
    /// Time the write probes were attached.
    pub active: Duration,
    /// Time the target was recorded (until it exited or recording ended).
    pub span: Duration,
    /// Uprobe hits during the recording (every probe's), over the span its CPU time is read.
    pub hits: u64,
    /// Every uprobe hit since the target was attached (or its folded counts last cleared)
    /// until its probes came off: `hits` and those of the moments around the readings, set by
    /// the collector (until then 0).
    pub all_hits: u64,
    /// Entry hits of the write probes (the ones that observe) behind the folded counts: from the fold's start to the
    /// last detach, set by the collector once the probes are off (until then: the recording's).
    pub entries: u64,
    /// Probe cost over the target's own CPU time (0.01 = 1%).
    pub overhead: f64,
    /// What its probes cost it (hits, attaching and detaching, watchpoint hits), as metered.
    pub probe_cost: Duration,
    /// The CPU time it spent on its own work, as metered.
    pub own_work: Duration,
    /// Allowance it borrowed from the other targets, net (ns; negative: it lent more than it
    /// borrowed; see `pool`).
    pub pooled_ns: f64,
    /// Write-probe windows (the first one included).
    pub windows: u64,
    /// CPU time the target used during the recording (probe handlers included, watchpoint
    /// hits not: they are in `watch`).
    pub cpu: Duration,
    /// What its watchpoint hits cost it (hits × the cost of one: measured in it where
    /// `watch_measured` says, else the calibrated one).
    pub watch: Duration,
    /// Watchpoint hits in it.
    pub watch_hits: u64,
    /// The watchpoint hit cost measured in its threads; None when too few watched assigns
    /// were timed.
    pub watch_measured: Option<estimate::WatchCost>,
    /// The target's CPU time and hits in each window while all its probes were in place.
    pub samples: Vec<WindowSample>,
    /// The hit cost measured in its threads; None when too few assigns were timed.
    pub measured: Option<estimate::ProbeCost>,
    /// Cost of one probe hit the account used (ns): the measured one, else the calibrated one.
    pub hit_cost_ns: f64,
    /// Probes stayed attached the whole time (`--budget 100`).
    pub always_on: bool,
    /// The read probes' account; None for a target without read probes.
    pub reads: Option<ReadOutcome>,
}

/// How one target's read probes were run (their windows nest in the write probes').
#[derive(Clone, Debug, PartialEq)]
pub struct ReadOutcome {
    /// Time they were attached.
    pub active: Duration,
    /// Their windows (the first one included).
    pub windows: u64,
    /// Their hits during the recording.
    pub hits: u64,
    /// Their hits behind the folded counts (every read hit observes), set by the collector like
    /// [`DutyOutcome::entries`].
    pub entries: u64,
    /// The target's CPU time and hits in each read window.
    pub samples: Vec<WindowSample>,
}

impl DutyOutcome {
    /// Charges the watchpoint hits at `cost`, measured in the target, instead of `calibrated`
    /// (what they were metered at while recording): in the recording's figures and in every
    /// window's.
    pub fn reprice_watch(&mut self, calibrated: Duration, cost: estimate::WatchCost) {
        let mut all = [WindowSample {
            cpu: self.cpu,
            watch: self.watch,
            ..WindowSample::default()
        }];
        estimate::reprice_watch(&mut all, calibrated, cost.ns);
        (self.cpu, self.watch) = (all[0].cpu, all[0].watch);
        estimate::reprice_watch(&mut self.samples, calibrated, cost.ns);
        if let Some(reads) = &mut self.reads {
            estimate::reprice_watch(&mut reads.samples, calibrated, cost.ns);
        }
        self.watch_measured = Some(cost);
    }

    /// Relative error of the watchpoint hit cost the figures were charged: the one measured in
    /// the target's windows, else the calibration's.
    pub fn watch_cost_rel_err(&self) -> f64 {
        self.watch_measured
            .map_or(calibrate::WATCH_COST_REL_ERR, |m| m.rel_err)
    }

    /// Fraction of the recorded time the probes were attached.
    pub fn active_fraction(&self) -> f64 {
        if self.span.is_zero() {
            return 1.0;
        }
        (self.active.as_secs_f64() / self.span.as_secs_f64()).min(1.0)
    }
}
