use profiler_common::Sampled;
use std::time::Duration;

use super::*;
use crate::{
    kernel::calibrate::Calibration,
    overhead::duty::DutyPlan,
    overhead::{budget::WindowSample, share::Budget},
    report::test_report::sample,
};

#[test]
fn scales_counts_and_reports_the_budget() {
    let mut report = sample();
    let pid = report.targets[0].pid;
    let (duty, plan) = two_windows_at_a_quarter(pid);
    // Of what the probes saw, what they saw in the sampled windows: what is scaled.
    report.lines[0].sampled = Sampled {
        writes: 10,
        transfers: 2,
        ..Sampled::default()
    };
    report.maps[0].sampled = Sampled {
        writes: 10,
        ..Sampled::default()
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
    assert_eq!(s.budget_scope, Some(BudgetScope::AllTargets));
    assert_eq!(s.total_overhead_pct, Some(1.7), "one target: its own");
    assert_eq!(
        t.pooled_budget_pct,
        Some(0.2),
        "2 ms borrowed over 1 s of work"
    );
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
    // The windows saw 100 hits of the 2,000 estimated: a count seen in them is a twentieth.
    let line = &report.lines[0];
    assert_eq!(line.est.writes, Some(200.max(line.writes)));
    assert_eq!(line.est.transfers, Some(40.max(line.transfers)));
    let own = 1.0 / 10f64.sqrt();
    assert_eq!(
        line.est.writes_rel_err,
        Some(round4((from_cost * from_cost + own * own).sqrt()))
    );
    assert_eq!(
        report.maps[0].est_writes,
        Some(200.max(report.maps[0].writes))
    );
}

#[test]
fn processes_without_an_account_are_left_unscaled() {
    let mut report = sample();
    let plan = OverheadPlan::always_on(Duration::from_micros(3));
    let o = Overhead::of(&[], &plan);
    let before = (report.lines[0].est.writes, report.maps[0].est_writes);
    o.scale_lines(&mut report.lines);
    o.scale_maps(&mut report.maps);
    assert_eq!(
        (report.lines[0].est.writes, report.maps[0].est_writes),
        before,
        "no scale: the fold's estimates (null) stay"
    );
    assert_eq!(
        o.target(report.targets[0].pid),
        crate::report::TargetOverhead::default()
    );
    assert_eq!(o.sources.estimated_overhead_pct, None);
    assert_eq!(o.sources.total_overhead_pct, None);
    assert_eq!(o.sources.perf_sample_hz, None);
    assert_eq!(o.sources.overhead_budget_pct, 100.0);
}

/// Two windows of 50 hits whose own work (CPU minus 27 µs a hit) is a quarter of the own work per
/// hit of the whole recording, at a 2% budget: every count of `pid` scales by 4.
fn two_windows_at_a_quarter(pid: u32) -> ([DutyOutcome; 1], OverheadPlan) {
    let window = WindowSample {
        cpu: Duration::from_nanos(26_012_500),
        wall: Duration::ZERO,
        hits: 50,
        entries: 0,
        other_entries: 0,
        hit_ns: None,
        watch: Duration::ZERO,
    };
    let duty = [DutyOutcome {
        pid,
        active: Duration::from_millis(250),
        span: Duration::from_secs(1),
        hits: 500,
        all_hits: 0,
        entries: 0,
        overhead: 0.012,
        probe_cost: Duration::from_millis(12),
        own_work: Duration::from_secs(1),
        pooled_ns: 2e6,
        windows: 7,
        cpu: Duration::from_secs(1),
        watch: Duration::ZERO,
        watch_hits: 0,
        watch_measured: None,
        samples: vec![window, window],
        measured: None,
        hit_cost_ns: 27_000.0,
        always_on: false,
        reads: None,
    }];
    let plan = OverheadPlan {
        budget: Budget::from_pct(2.0),
        calibration: Calibration {
            hit_cost: Duration::from_micros(27),
            sample_cost: Some(Duration::from_micros(5)),
            watch_cost: None,
            age: Duration::ZERO,
        },
        perf_hz: Some(1_000),
        perf_overhead: 0.005,
        duty: DutyPlan {
            fraction: 0.015,
            hit_cost: Duration::from_micros(27),
            watch_cost: Duration::ZERO,
        },
    };
    (duty, plan)
}
