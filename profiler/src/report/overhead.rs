//! What the overhead budget did, for the report: per target how long its probes were attached,
//! their hits and estimated cost, and the scale of its counts to the whole recording (see
//! `estimate`); computed before the report is built.

use std::collections::HashMap;

use crate::{
    overhead::budget::WindowSample,
    overhead::duty::DutyOutcome,
    overhead::estimate::{self, Scale, Seen},
    overhead::plan::OverheadPlan,
    report::{
        rank, BudgetScope, HitCostSource, LineReport, MapReport, RecordingOverhead, TargetOverhead,
    },
};

/// The overhead figures of a recording, computed before its report is built.
#[derive(Clone, Debug)]
pub struct Overhead {
    targets: HashMap<u32, TargetOverhead>,
    /// Each target's scale of its write counts.
    scales: HashMap<u32, Scale>,
    /// Each target's scale of its read counts (seen in the read windows).
    read_scales: HashMap<u32, Scale>,
    /// Targets whose threads waited on one another while probed, with the ratio of their CPU
    /// rate inside the windows to outside them (see `estimate::waits_while_probed`).
    waiting: HashMap<u32, f64>,
    pub sources: RecordingOverhead,
}

impl Overhead {
    /// The figures from the duty outcomes and the plan.
    pub fn of(duty: &[DutyOutcome], plan: &OverheadPlan) -> Self {
        let scales: HashMap<u32, Scale> = duty
            .iter()
            .filter_map(|d| Some((d.pid, scale_of(d, plan)?)))
            .collect();
        let read_scales: HashMap<u32, Scale> = duty
            .iter()
            .filter_map(|d| Some((d.pid, read_scale_of(d, plan, scales.get(&d.pid))?)))
            .collect();
        let waiting: HashMap<u32, f64> = duty
            .iter()
            .filter(|d| !d.always_on)
            .filter_map(|d| {
                let cpu = (d.cpu + d.watch).as_nanos() as f64;
                let ratio =
                    estimate::waits_while_probed(&d.samples, cpu, d.span.as_nanos() as f64)?;
                Some((d.pid, ratio))
            })
            .collect();
        let targets = duty
            .iter()
            .map(|d| {
                let (s, r) = (scales.get(&d.pid), read_scales.get(&d.pid));
                let waits = waiting.contains_key(&d.pid);
                (d.pid, target_overhead(d, plan, s, r, waits))
            })
            .collect();
        let sources = recording_overhead(duty, plan);
        Overhead {
            targets,
            scales,
            read_scales,
            waiting,
            sources,
        }
    }

    /// What the report says of the estimates that are only lower bounds.
    pub fn notices(&self) -> Vec<String> {
        let mut pids: Vec<(&u32, &f64)> = self.waiting.iter().collect();
        pids.sort_unstable_by_key(|(pid, _)| **pid);
        pids.into_iter()
            .map(|(pid, ratio)| {
                format!(
                    "pid {pid}: its threads used {:.0}% of their CPU rate while probed: they \
                     waited on one another (a lock or channel held across probed map writes?), \
                     so est_* count less than happened and are lower bounds; --budget 100 \
                     counts every write",
                    ratio * 100.0
                )
            })
            .collect()
    }

    /// The figures of target `pid`; all null for a process without an account.
    pub fn target(&self, pid: u32) -> TargetOverhead {
        self.targets.get(&pid).copied().unwrap_or_default()
    }

    /// Adds the estimates (`est_*`) to folded lines, null for processes without a scale, and
    /// scores each line's contention from them: transfers were seen in the write windows,
    /// remote reads and invalidations in the read windows, so their counts as observed do not
    /// add up.
    pub fn scale_lines(&self, lines: &mut [LineReport]) {
        for line in lines {
            self.scale_line(line);
        }
    }

    /// [`Overhead::scale_lines`] for one line.
    pub fn scale_line(&self, line: &mut LineReport) {
        let Some(s) = self.scales.get(&line.pid) else {
            return;
        };
        let sampled = line.sampled;
        let (writes, writes_err) = s.estimate(line.writes, sampled.writes);
        let (transfers, transfers_err) = s.estimate(line.transfers, sampled.transfers);
        (line.est.writes, line.est.writes_rel_err) = (Some(writes), Some(round4(writes_err)));
        (line.est.transfers, line.est.transfers_rel_err) =
            (Some(transfers), Some(round4(transfers_err)));
        let r = self.read_scales.get(&line.pid);
        // Without a read scale (no read window saw a hit) the counts stand as observed.
        if let (Some(r), Some(reads), Some(remote), Some(invalid)) =
            (r, line.reads, line.remote_reads, line.invalidations)
        {
            let (reads, reads_err) = r.estimate(reads, sampled.reads);
            let (remote, remote_err) = r.estimate(remote, sampled.remote_reads);
            let (invalid, invalid_err) = r.estimate(invalid, sampled.invalidations);
            (line.est.reads, line.est.reads_rel_err) = (Some(reads), Some(round4(reads_err)));
            (line.est.remote_reads, line.est.remote_reads_rel_err) =
                (Some(remote), Some(round4(remote_err)));
            (line.est.invalidations, line.est.invalidations_rel_err) =
                (Some(invalid), Some(round4(invalid_err)));
        }
        line.contention = rank::score(line);
    }

    /// Adds the estimates (`est_*`) to folded maps; null for processes without a scale.
    pub fn scale_maps(&self, maps: &mut [MapReport]) {
        for map in maps {
            if let Some(s) = self.scales.get(&map.pid) {
                let (writes, err) = s.estimate(map.writes, map.sampled.writes);
                (map.est_writes, map.est_writes_rel_err) = (Some(writes), Some(round4(err)));
            }
            if let (Some(r), Some(reads)) = (self.read_scales.get(&map.pid), map.reads) {
                let (reads, err) = r.estimate(reads, map.sampled.reads);
                (map.est_reads, map.est_reads_rel_err) = (Some(reads), Some(round4(err)));
            }
        }
    }
}

/// One target's figures: its probes' duty, hits and hit cost, the scales of its counts
/// (`waits`: only lower bounds, its threads waited on one another while probed), its read
/// probes' duty, its CPU time and its watchpoints' hits and hit cost.
fn target_overhead(
    d: &DutyOutcome,
    plan: &OverheadPlan,
    s: Option<&Scale>,
    r: Option<&Scale>,
    waits: bool,
) -> TargetOverhead {
    let overhead = d.overhead + plan.perf_overhead;
    let span = d.span.as_secs_f64();
    let watch_cost = plan.calibration.watch_cost;
    TargetOverhead {
        probe_active_fraction: Some(round4(d.active_fraction())),
        probe_hits: Some(d.hits.max(d.all_hits)),
        probe_windows: Some(d.windows),
        estimated_overhead_pct: Some(round4(overhead * 100.0)),
        pooled_budget_pct: (!d.always_on).then(|| {
            let own = d.own_work.as_nanos() as f64;
            round4(if own > 0.0 {
                d.pooled_ns / own * 100.0
            } else {
                0.0
            })
        }),
        probe_hit_cost_ns: Some(d.hit_cost_ns.round() as u64),
        probe_hit_cost_source: Some(if d.measured.is_some() {
            HitCostSource::Measured
        } else {
            HitCostSource::Calibrated
        }),
        est_scale: s.map(|s| round4(s.factor)),
        est_scale_rel_err: s.map(|s| round4(s.rel_err)),
        est_lower_bound: s.map(|_| waits),
        read_probe_active_fraction: d.reads.as_ref().map(|r| {
            if span > 0.0 {
                round4((r.active.as_secs_f64() / span).min(1.0))
            } else {
                1.0
            }
        }),
        read_probe_windows: d.reads.as_ref().map(|r| r.windows),
        read_probe_hits: d.reads.as_ref().map(|r| r.hits),
        est_read_scale: r.map(|s| round4(s.factor)),
        est_read_scale_rel_err: r.map(|s| round4(s.rel_err)),
        recorded_s: Some(round4(span)),
        cpu_s: Some(round4(own_cpu_s(d))),
        watch_hits: watch_cost.map(|_| d.watch_hits),
        watch_hit_cost_ns: watch_cost.map(|c| match d.watch_measured {
            Some(m) => m.ns.round() as u64,
            None => c.as_nanos() as u64,
        }),
        watch_hit_cost_source: watch_cost.map(|_| match d.watch_measured {
            Some(_) => HitCostSource::Measured,
            None => HitCostSource::Calibrated,
        }),
    }
}

/// The whole recording's figures: the budget, every target's probe cost over their summed own
/// work plus the perf share (the same fraction of each target's CPU time), the probes' duty over
/// every target's span, the worst target's estimated overhead, the calibrated costs.
fn recording_overhead(duty: &[DutyOutcome], plan: &OverheadPlan) -> RecordingOverhead {
    let worst = duty
        .iter()
        .map(|d| d.overhead + plan.perf_overhead)
        .reduce(f64::max);
    let (active, span) = duty.iter().fold((0.0, 0.0), |(a, s), d| {
        (a + d.active.as_secs_f64(), s + d.span.as_secs_f64())
    });
    let (cost, own) = duty.iter().fold((0.0, 0.0), |(c, o), d| {
        (
            c + d.probe_cost.as_nanos() as f64,
            o + d.own_work.as_nanos() as f64,
        )
    });
    let total = (!duty.is_empty()).then(|| {
        let probes = if own > 0.0 { cost / own } else { 0.0 };
        round4((probes + plan.perf_overhead) * 100.0)
    });
    RecordingOverhead {
        overhead_budget_pct: plan.budget.fraction * 100.0,
        budget_scope: Some(BudgetScope::AllTargets),
        total_overhead_pct: total,
        probe_active_fraction: if span > 0.0 {
            round4((active / span).min(1.0))
        } else {
            1.0
        },
        estimated_overhead_pct: worst.map(|w| round4(w * 100.0)),
        probe_hit_cost_ns: Some(plan.calibration.hit_cost.as_nanos() as u64),
        calibration_age_s: Some(plan.calibration.age.as_secs()),
        perf_sample_cost_ns: plan
            .perf_hz
            .and(plan.calibration.sample_cost)
            .map(|c| c.as_nanos() as u64),
        perf_sample_hz: plan.perf_hz,
    }
}

/// The cost of one probe hit in a target and its uncertainty (ns): measured in it, else the
/// calibrated one (whose uncertainty is then taken as half of it).
fn hit_cost(d: &DutyOutcome, plan: &OverheadPlan) -> (f64, f64) {
    match d.measured {
        Some(c) => (c.hit_ns, c.err_ns),
        None => {
            let c = plan.calibration.hit_cost.as_nanos() as f64;
            (c, c / 2.0)
        }
    }
}

/// The scale of one target's write counts: by its own CPU time in the write windows.
fn scale_of(d: &DutyOutcome, plan: &OverheadPlan) -> Option<Scale> {
    cpu_scale(d, plan, d.entries, &d.samples)
}

/// The scale of counts whose `entries` were seen in `windows`, by the target's own CPU time in
/// them (see `estimate::scale`), with the hit cost measured in it, else the calibrated one.
fn cpu_scale(
    d: &DutyOutcome,
    plan: &OverheadPlan,
    entries: u64,
    windows: &[WindowSample],
) -> Option<Scale> {
    let (hit_ns, hit_err_ns) = hit_cost(d, plan);
    tracing::debug!(
        pid = d.pid,
        cpu_ns = d.cpu.as_nanos() as u64,
        hits = d.hits,
        entries,
        hit_ns,
        hit_err_ns,
        ?windows,
        "estimate input"
    );
    estimate::scale(&Seen {
        cpu_ns: d.cpu.as_nanos() as f64,
        hits: d.hits,
        entries,
        windows,
        hit_ns,
        hit_err_ns,
        watch_ns: d.watch.as_nanos() as f64,
        watch_err: d.watch_cost_rel_err(),
        always_on: d.always_on,
    })
}

/// The scale of one target's read counts, from its read windows: against the writes seen in them
/// and the estimate of all writes (`writes`), else by own CPU time like the writes; None without
/// read probes.
fn read_scale_of(d: &DutyOutcome, plan: &OverheadPlan, writes: Option<&Scale>) -> Option<Scale> {
    let reads = d.reads.as_ref()?;
    if let Some(w) = writes.filter(|_| !d.always_on) {
        let clock = d.entries as f64 * w.factor;
        if let Some(s) = estimate::nested_scale(&reads.samples, reads.entries, clock, w.rel_err) {
            return Some(s);
        }
    }
    cpu_scale(d, plan, reads.entries, &reads.samples)
}

/// The CPU time a target used for its own work (s): its threads' time less its probe hits'
/// cost (its watchpoint hits are not in its threads' time).
fn own_cpu_s(d: &DutyOutcome) -> f64 {
    let probes = d.hits as f64 * d.hit_cost_ns / 1e9;
    let cpu = d.cpu.as_secs_f64();
    // Where the probes take nearly all of it (every assign probed, a few microseconds of work
    // between them), the measured hit cost can account for more than there was: the target's
    // own work is then a bound, as in the estimates.
    (cpu - probes).max(estimate::MIN_OWN_SHARE * cpu)
}

/// Four decimals: what a reader can use, without float noise in the JSON.
fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
#[path = "overhead_tests.rs"]
mod tests;
