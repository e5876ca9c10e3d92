use super::*;
use crate::report::{test_report, DataSamples, SampledSharing, Verdict};

/// `report` with a transfer cost (40 ns), its target's CPU time (10 s in 5 s) and no race.
fn costed(mut report: Report) -> Report {
    report.sources.line_transfer_ns = Some(40.0);
    report.targets[0].overhead.recorded_s = Some(5.0);
    report.targets[0].overhead.cpu_s = Some(10.0);
    report.maps[0].concurrent_writers = 0;
    report
}

#[test]
fn lines_get_a_verdict_a_cost_and_rank_by_cost() {
    let mut report = costed(test_report::sample());
    // A second line: fewer moves counted, but more estimated.
    let mut second = report.lines[0].clone();
    second.line = "0xc000014180".to_owned();
    (second.transfers, second.est.transfers) = (2, Some(100));
    second.contention = 2;
    report.lines.push(second);
    judge(&mut report);
    let costs: Vec<f64> = report
        .lines
        .iter()
        .map(|l| l.cost.expect("cost").cpu_ns_per_s)
        .collect();
    // Over 5 s at 40 ns: 100 transfers + 6 remote reads, then 16 transfers + 6 remote reads.
    assert_eq!(costs, vec![106.0 * 40.0 / 5.0, 22.0 * 40.0 / 5.0]);
    let pct = report.lines[0].cost.expect("cost").target_cpu_pct;
    assert!((pct - 848.0 / 2e9 * 100.0).abs() < 1e-9, "{pct}");
    for line in &report.lines {
        assert_eq!(
            line.verdict,
            Verdict::TrueSharing,
            "map written by two threads"
        );
        assert!(line.advice.is_some());
    }
}

#[test]
fn a_private_line_costs_nothing_a_fix_could_win() {
    let mut report = costed(test_report::sample());
    // One writer thread, no remote reads: its transfers are its own moves between CPUs.
    report.lines[0].threads = 1;
    report.lines[0].remote_reads = Some(0);
    judge(&mut report);
    assert_eq!(report.lines[0].verdict, Verdict::Private);
    assert_eq!(report.lines[0].cost, Some(cost::NOTHING));
    assert_eq!(report.lines[0].advice, None);
}

#[test]
fn without_a_transfer_cost_lines_have_verdicts_but_no_cost() {
    let mut report = test_report::sample();
    report.targets[0].overhead.recorded_s = Some(5.0);
    report.targets[0].overhead.cpu_s = Some(10.0);
    judge(&mut report);
    assert_eq!(report.lines[0].cost, None);
    assert_ne!(report.lines[0].verdict, Verdict::Private);
}

#[test]
fn a_line_costs_what_its_verdict_rests_on() {
    // The probes' line with data samples of one thread: its moves cost it.
    let mut report = costed(test_report::with_sampled_line());
    report.lines[0].data_samples = Some(DataSamples {
        sharing: SampledSharing::OneThread,
        ..test_report::data_samples()
    });
    judge(&mut report);
    let l = &report.lines.iter().find(|l| l.line == "0xc000014140");
    let l = l.expect("the probes' line");
    assert_eq!(
        (l.verdict, l.cost.expect("cost").basis),
        (Verdict::TrueSharing, crate::report::CostBasis::Moves)
    );
    // With data samples that find it shared too (a tenth of the CPU): the probes' verdict, the
    // samples' cost.
    let mut report = costed(test_report::with_sampled_line());
    report.lines[0].data_samples = Some(DataSamples {
        share: 0.1,
        ..test_report::data_samples()
    });
    judge(&mut report);
    let by = |line: &str| {
        let l = report.lines.iter().find(|l| l.line == line).expect("line");
        (l.verdict, l.cost.expect("cost").basis)
    };
    assert_eq!(
        by("0xc000014140"),
        (Verdict::TrueSharing, crate::report::CostBasis::Samples)
    );
    // The line only the samples saw: judged and costed by them (40% of 2 CPUs).
    assert_eq!(
        by("0x59c500"),
        (Verdict::FalseSharing, crate::report::CostBasis::Samples)
    );
    assert_eq!(report.lines[0].line, "0x59c500", "it costs more: first");
    let cost = report.lines[0].cost.expect("cost");
    assert_eq!(cost.cpu_ns_per_s, 0.4 * 2e9);
}

#[test]
fn only_timer_samples_cost_a_line_and_page_faults_judge_none() {
    let verdict_and_basis = |perf: &str| {
        let mut report = costed(test_report::with_sampled_line());
        report.sources.perf = perf.to_owned();
        judge(&mut report);
        let l = report
            .lines
            .iter()
            .find(|l| l.line == "0x59c500")
            .expect("the sampled line");
        (l.verdict, l.cost.map(|c| c.basis))
    };
    use crate::report::CostBasis::{Moves, Samples};
    assert_eq!(
        verdict_and_basis("cpu-clock"),
        (Verdict::FalseSharing, Some(Samples))
    );
    // Misses show who touched which word, but their share is no share of the CPU time.
    let (verdict, basis) = verdict_and_basis("pebs-l1-miss");
    assert_eq!(verdict, Verdict::FalseSharing);
    assert_ne!(basis, Some(Samples));
    // A page fault is a first touch: it says nothing of sharing.
    let (verdict, basis) = verdict_and_basis("page-faults");
    assert_eq!(verdict, Verdict::Undecided);
    assert!(matches!(basis, None | Some(Moves)), "{basis:?}");
}
