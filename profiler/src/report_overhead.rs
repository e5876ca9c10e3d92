//! What the overhead budget did, in the report: per target how long its probes were attached,
//! their hits and estimated cost; counts scaled to the whole recording by the active fraction.

use std::collections::HashMap;

use crate::{duty::DutyOutcome, record::OverheadPlan, report::Report};

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

    let fraction: HashMap<u32, f64> = duty.iter().map(|d| (d.pid, d.active_fraction())).collect();
    let scale = |pid: u32, n: u64| -> Option<u64> {
        let f = *fraction.get(&pid)?;
        (f > 0.0).then(|| (n as f64 / f).round() as u64)
    };
    for line in &mut report.lines {
        line.est_writes = scale(line.pid, line.writes);
        line.est_transfers = scale(line.pid, line.transfers);
    }
    for map in &mut report.maps {
        map.est_writes = scale(map.pid, map.writes);
    }
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
        budget::Budget, calibrate::Calibration, duty::DutyPlan, report::tests_support::sample,
    };

    #[test]
    fn scales_counts_and_reports_the_budget() {
        let mut report = sample();
        let pid = report.targets[0].pid;
        let duty = [DutyOutcome {
            pid,
            active: Duration::from_millis(250),
            span: Duration::from_secs(1),
            hits: 500,
            overhead: 0.012,
            windows: 7,
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
        let line = &report.lines[0];
        assert_eq!(line.est_writes, Some(line.writes * 4));
        assert_eq!(line.est_transfers, Some(line.transfers * 4));
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
