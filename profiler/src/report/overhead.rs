//! What the overhead budget did, for the report: per target how long its probes were attached,
//! their hits and estimated cost, and the scale of its counts to the whole recording (see
//! `estimate`); computed before the report is built.

use std::collections::HashMap;

use crate::{
    overhead::duty::DutyOutcome,
    overhead::estimate::{self, Scale, Seen},
    overhead::plan::OverheadPlan,
    report::{HitCostSource, LineReport, MapReport},
};

/// What the budget did for one target, as the report gives it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TargetFigures {
    pub probe_active_fraction: Option<f64>,
    pub probe_hits: Option<u64>,
    pub probe_windows: Option<u64>,
    pub estimated_overhead_pct: Option<f64>,
    pub probe_hit_cost_ns: Option<u64>,
    pub probe_hit_cost_source: Option<HitCostSource>,
    pub est_scale: Option<f64>,
    pub est_scale_rel_err: Option<f64>,
}

/// What the budget did over all targets, as the report's `sources` gives it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SourceFigures {
    pub overhead_budget_pct: f64,
    pub probe_active_fraction: f64,
    pub estimated_overhead_pct: Option<f64>,
    pub probe_hit_cost_ns: Option<u64>,
    pub perf_sample_cost_ns: Option<u64>,
    pub perf_sample_hz: Option<u64>,
}

/// The overhead figures of a recording, computed before its report is built.
#[derive(Clone, Debug)]
pub struct Overhead {
    targets: HashMap<u32, TargetFigures>,
    scales: HashMap<u32, Scale>,
    pub sources: SourceFigures,
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
                TargetFigures {
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
                },
            );
        }
        let (active, span) = duty.iter().fold((0.0, 0.0), |(a, s), d| {
            (a + d.active.as_secs_f64(), s + d.span.as_secs_f64())
        });
        let sources = SourceFigures {
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
    pub fn target(&self, pid: u32) -> TargetFigures {
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
        }
    }

    /// Adds the estimates (`est_*`) to folded maps; null for processes without a scale.
    pub fn scale_maps(&self, maps: &mut [MapReport]) {
        for map in maps {
            if let Some(s) = self.scales.get(&map.pid) {
                let (writes, err) = s.apply(map.writes);
                (map.est_writes, map.est_writes_rel_err) = (Some(writes), Some(round4(err)));
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
        always_on: d.always_on,
    })
}

/// Four decimals: what a reader can use, without float noise in the JSON.
fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{
        kernel::calibrate::Calibration,
        overhead::budget::{Budget, WindowSample},
        overhead::duty::DutyPlan,
        report::tests_support::sample,
    };

    #[test]
    fn scales_counts_and_reports_the_budget() {
        let mut report = sample();
        let pid = report.targets[0].pid;
        // Two windows of 50 hits whose own work (CPU minus 27 µs a hit) is a quarter of the own
        // work per hit of the whole recording: every count scales by 4.
        let window = WindowSample {
            cpu: Duration::from_nanos(26_012_500),
            hits: 50,
            entries: 0,
            hit_ns: None,
        };
        let duty = [DutyOutcome {
            pid,
            active: Duration::from_millis(250),
            span: Duration::from_secs(1),
            hits: 500,
            entries: 0,
            overhead: 0.012,
            windows: 7,
            cpu: Duration::from_secs(1),
            samples: vec![window, window],
            measured: None,
            hit_cost_ns: 27_000.0,
            always_on: false,
        }];
        let plan = OverheadPlan {
            budget: Budget::from_pct(2.0),
            calibration: Calibration {
                hit_cost: Duration::from_micros(27),
                sample_cost: Some(Duration::from_micros(5)),
            },
            perf_hz: Some(1_000),
            perf_overhead: 0.005,
            duty: DutyPlan {
                fraction: 0.015,
                hit_cost: Duration::from_micros(27),
            },
        };
        let o = Overhead::of(&duty, &plan);
        o.scale_lines(&mut report.lines);
        o.scale_maps(&mut report.maps);
        let t = o.target(pid);
        assert_eq!(t.probe_active_fraction, Some(0.25));
        assert_eq!(t.probe_hits, Some(500));
        assert_eq!(t.probe_windows, Some(7));
        assert_eq!(
            t.estimated_overhead_pct,
            Some(1.7),
            "probes 1.2% + perf 0.5%"
        );
        let s = &o.sources;
        assert_eq!(s.overhead_budget_pct, 2.0);
        assert_eq!(s.probe_active_fraction, 0.25);
        assert_eq!(s.estimated_overhead_pct, Some(1.7));
        assert_eq!(s.probe_hit_cost_ns, Some(27_000));
        assert_eq!(
            (s.perf_sample_cost_ns, s.perf_sample_hz),
            (Some(5_000), Some(1_000))
        );
        assert_eq!(t.est_scale, Some(4.0));
        assert_eq!(t.probe_hit_cost_source, Some(HitCostSource::Calibrated));
        // Identical windows: only the hit cost's uncertainty (half the calibrated cost) counts.
        let from_cost = (100.0 / 49_325_000.0 - 500.0 / 986_500_000.0) * 13_500.0;
        assert_eq!(t.est_scale_rel_err, Some(round4(from_cost)));
        let line = &report.lines[0];
        assert_eq!(line.est_writes, Some(line.writes * 4));
        assert_eq!(line.est_transfers, Some(line.transfers * 4));
        let own = 1.0 / (line.writes as f64).sqrt();
        assert_eq!(
            line.est_writes_rel_err,
            Some(round4((from_cost * from_cost + own * own).sqrt()))
        );
        assert_eq!(report.maps[0].est_writes, Some(report.maps[0].writes * 4));
    }

    #[test]
    fn processes_without_an_account_are_left_unscaled() {
        let mut report = sample();
        let plan = OverheadPlan {
            budget: Budget::from_pct(100.0),
            calibration: Calibration {
                hit_cost: Duration::from_micros(3),
                sample_cost: None,
            },
            perf_hz: None,
            perf_overhead: 0.0,
            duty: DutyPlan {
                fraction: 1.0,
                hit_cost: Duration::from_micros(3),
            },
        };
        let o = Overhead::of(&[], &plan);
        let before = (report.lines[0].est_writes, report.maps[0].est_writes);
        o.scale_lines(&mut report.lines);
        o.scale_maps(&mut report.maps);
        assert_eq!(
            (report.lines[0].est_writes, report.maps[0].est_writes),
            before,
            "no scale: the fold's estimates (null) stay"
        );
        assert_eq!(o.target(report.targets[0].pid), TargetFigures::default());
        assert_eq!(o.sources.estimated_overhead_pct, None);
        assert_eq!(o.sources.perf_sample_hz, None);
        assert_eq!(o.sources.overhead_budget_pct, 100.0);
    }
}
