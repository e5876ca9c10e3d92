//! What the overhead budget did, in the report: per target how long its probes were attached,
//! their hits and estimated cost; counts scaled to the whole recording (see `estimate`).

use std::collections::HashMap;

use crate::{
    overhead::duty::DutyOutcome,
    overhead::estimate::{self, Scale, Seen},
    overhead::plan::OverheadPlan,
    report::{HitCostSource, Report},
};

/// Fills the overhead fields of `report` from the duty outcomes and the plan.
pub fn apply(report: &mut Report, duty: &[DutyOutcome], plan: &OverheadPlan) {
    let by_pid: HashMap<u32, &DutyOutcome> = duty.iter().map(|d| (d.pid, d)).collect();
    let mut worst: Option<f64> = None;
    for t in &mut report.targets {
        let Some(d) = by_pid.get(&t.pid) else {
            t.probe_active_fraction = None;
            t.probe_hits = None;
            t.probe_windows = None;
            t.estimated_overhead_pct = None;
            continue;
        };
        t.probe_hit_cost_ns = Some(d.hit_cost_ns.round() as u64);
        t.probe_hit_cost_source = Some(if d.measured.is_some() {
            HitCostSource::Measured
        } else {
            HitCostSource::Calibrated
        });
        let overhead = d.overhead + plan.perf_overhead;
        t.probe_active_fraction = Some(round4(d.active_fraction()));
        t.probe_hits = Some(d.hits);
        t.probe_windows = Some(d.windows);
        t.estimated_overhead_pct = Some(round4(overhead * 100.0));
        worst = Some(worst.map_or(overhead, |w: f64| w.max(overhead)));
    }
    let (active, span) = duty.iter().fold((0.0, 0.0), |(a, s), d| {
        (a + d.active.as_secs_f64(), s + d.span.as_secs_f64())
    });
    let sources = &mut report.sources;
    sources.overhead_budget_pct = plan.budget.fraction * 100.0;
    sources.probe_active_fraction = if span > 0.0 {
        round4((active / span).min(1.0))
    } else {
        1.0
    };
    sources.estimated_overhead_pct = worst.map(|w| round4(w * 100.0));
    sources.probe_hit_cost_ns = Some(plan.calibration.hit_cost.as_nanos() as u64);
    sources.perf_sample_cost_ns = plan
        .perf_hz
        .and(plan.calibration.sample_cost)
        .map(|c| c.as_nanos() as u64);
    sources.perf_sample_hz = plan.perf_hz;

    let scales: HashMap<u32, Scale> = duty
        .iter()
        .filter_map(|d| Some((d.pid, scale_of(d, plan)?)))
        .collect();
    for t in &mut report.targets {
        let s = scales.get(&t.pid);
        t.est_scale = s.map(|s| round4(s.factor));
        t.est_scale_rel_err = s.map(|s| round4(s.rel_err));
    }
    for line in &mut report.lines {
        let Some(s) = scales.get(&line.pid) else {
            (line.est_writes, line.est_writes_rel_err) = (None, None);
            (line.est_transfers, line.est_transfers_rel_err) = (None, None);
            continue;
        };
        let (writes, writes_err) = s.apply(line.writes);
        let (transfers, transfers_err) = s.apply(line.transfers);
        (line.est_writes, line.est_writes_rel_err) = (Some(writes), Some(round4(writes_err)));
        (line.est_transfers, line.est_transfers_rel_err) =
            (Some(transfers), Some(round4(transfers_err)));
    }
    for map in &mut report.maps {
        (map.est_writes, map.est_writes_rel_err) = match scales.get(&map.pid) {
            Some(s) => {
                let (writes, err) = s.apply(map.writes);
                (Some(writes), Some(round4(err)))
            }
            None => (None, None),
        };
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
        apply(&mut report, &duty, &plan);
        let t = &report.targets[0];
        assert_eq!(t.probe_active_fraction, Some(0.25));
        assert_eq!(t.probe_hits, Some(500));
        assert_eq!(t.probe_windows, Some(7));
        assert_eq!(
            t.estimated_overhead_pct,
            Some(1.7),
            "probes 1.2% + perf 0.5%"
        );
        let s = &report.sources;
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
        apply(&mut report, &[], &plan);
        assert_eq!(report.lines[0].est_writes, None);
        assert_eq!(report.targets[0].estimated_overhead_pct, None);
        assert_eq!(report.sources.estimated_overhead_pct, None);
        assert_eq!(report.sources.perf_sample_hz, None);
        assert_eq!(report.sources.overhead_budget_pct, 100.0);
    }
}
