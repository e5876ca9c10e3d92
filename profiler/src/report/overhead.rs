//! What the overhead budget did, for the report: per target how long its probes were attached,
//! their hits and estimated cost, and the scale of its counts to the whole recording (see
//! `estimate`); computed before the report is built.

use std::collections::HashMap;

use crate::{
    kernel::calibrate,
    overhead::duty::DutyOutcome,
    overhead::estimate::{self, Scale, Seen},
    overhead::plan::OverheadPlan,
    report::{HitCostSource, LineReport, MapReport, RecordingOverhead, TargetOverhead},
};

/// The overhead figures of a recording, computed before its report is built.
#[derive(Clone, Debug)]
pub struct Overhead {
    targets: HashMap<u32, TargetOverhead>,
    scales: HashMap<u32, Scale>,
    pub sources: RecordingOverhead,
}

impl Overhead {
    /// The figures from the duty outcomes and the plan.
    pub fn of(duty: &[DutyOutcome], plan: &OverheadPlan) -> Self {
        let scales: HashMap<u32, Scale> = duty
            .iter()
            .filter_map(|d| Some((d.pid, scale_of(d, plan)?)))
            .collect();
        let mut worst: Option<f64> = None;
        let mut targets = HashMap::new();
        for d in duty {
            let overhead = d.overhead + plan.perf_overhead;
            worst = Some(worst.map_or(overhead, |w: f64| w.max(overhead)));
            let s = scales.get(&d.pid);
            targets.insert(
                d.pid,
                TargetOverhead {
                    probe_active_fraction: Some(round4(d.active_fraction())),
                    probe_hits: Some(d.hits),
                    probe_windows: Some(d.windows),
                    estimated_overhead_pct: Some(round4(overhead * 100.0)),
                    probe_hit_cost_ns: Some(d.hit_cost_ns.round() as u64),
                    probe_hit_cost_source: Some(if d.measured.is_some() {
                        HitCostSource::Measured
                    } else {
                        HitCostSource::Calibrated
                    }),
                    est_scale: s.map(|s| round4(s.factor)),
                    est_scale_rel_err: s.map(|s| round4(s.rel_err)),
                    watch_hits: plan.calibration.watch_cost.map(|_| d.watch_hits),
                    watch_hit_cost_ns: plan.calibration.watch_cost.map(|c| c.as_nanos() as u64),
                },
            );
        }
        let (active, span) = duty.iter().fold((0.0, 0.0), |(a, s), d| {
            (a + d.active.as_secs_f64(), s + d.span.as_secs_f64())
        });
        let sources = RecordingOverhead {
            overhead_budget_pct: plan.budget.fraction * 100.0,
            probe_active_fraction: if span > 0.0 {
                round4((active / span).min(1.0))
            } else {
                1.0
            },
            estimated_overhead_pct: worst.map(|w| round4(w * 100.0)),
            probe_hit_cost_ns: Some(plan.calibration.hit_cost.as_nanos() as u64),
            perf_sample_cost_ns: plan
                .perf_hz
                .and(plan.calibration.sample_cost)
                .map(|c| c.as_nanos() as u64),
            perf_sample_hz: plan.perf_hz,
        };
        Overhead {
            targets,
            scales,
            sources,
        }
    }

    /// The figures of target `pid`; all null for a process without an account.
    pub fn target(&self, pid: u32) -> TargetOverhead {
        self.targets.get(&pid).copied().unwrap_or_default()
    }

    /// Adds the estimates (`est_*`) to folded lines; null for processes without a scale.
    pub fn scale_lines(&self, lines: &mut [LineReport]) {
        for line in lines {
            let Some(s) = self.scales.get(&line.pid) else {
                continue;
            };
            let (writes, writes_err) = s.apply(line.writes);
            let (transfers, transfers_err) = s.apply(line.transfers);
            (line.est_writes, line.est_writes_rel_err) = (Some(writes), Some(round4(writes_err)));
            (line.est_transfers, line.est_transfers_rel_err) =
                (Some(transfers), Some(round4(transfers_err)));
            // Lookups and iteration steps share the windows with the assigns: the same scale.
            if let (Some(reads), Some(remote)) = (line.reads, line.remote_reads) {
                let (reads, reads_err) = s.apply(reads);
                let (remote, remote_err) = s.apply(remote);
                (line.est_reads, line.est_reads_rel_err) = (Some(reads), Some(round4(reads_err)));
                (line.est_remote_reads, line.est_remote_reads_rel_err) =
                    (Some(remote), Some(round4(remote_err)));
            }
        }
    }

    /// Adds the estimates (`est_*`) to folded maps; null for processes without a scale.
    pub fn scale_maps(&self, maps: &mut [MapReport]) {
        for map in maps {
            if let Some(s) = self.scales.get(&map.pid) {
                let (writes, err) = s.apply(map.writes);
                (map.est_writes, map.est_writes_rel_err) = (Some(writes), Some(round4(err)));
                if let Some(reads) = map.reads {
                    let (reads, err) = s.apply(reads);
                    (map.est_reads, map.est_reads_rel_err) = (Some(reads), Some(round4(err)));
                }
            }
        }
    }
}

/// The scale of one target's counts: with the hit cost measured in it, else the calibrated one
/// (whose uncertainty is then taken as half of it).
fn scale_of(d: &DutyOutcome, plan: &OverheadPlan) -> Option<Scale> {
    let (hit_ns, hit_err_ns) = match d.measured {
        Some(c) => (c.hit_ns, c.err_ns),
        None => {
            let c = plan.calibration.hit_cost.as_nanos() as f64;
            (c, c / 2.0)
        }
    };
    tracing::debug!(pid = d.pid, cpu_ns = d.cpu.as_nanos() as u64, hits = d.hits, hit_ns, hit_err_ns, windows = ?d.samples, "estimate input");
    estimate::scale(&Seen {
        cpu_ns: d.cpu.as_nanos() as f64,
        hits: d.hits,
        entries: d.entries,
        windows: &d.samples,
        hit_ns,
        hit_err_ns,
        watch_ns: d.watch.as_nanos() as f64,
        watch_err: calibrate::WATCH_COST_REL_ERR,
        always_on: d.always_on,
    })
}

/// Four decimals: what a reader can use, without float noise in the JSON.
fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
#[path = "overhead_tests.rs"]
mod tests;
