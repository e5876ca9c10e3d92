use super::*;
use crate::diff::{diff, test_reports::program};
use crate::report::{hex, FrameReport};

#[test]
fn differences_must_beat_three_sigma_and_a_tenth_of_the_larger_cost() {
    // Tight errors: the 10% floor decides.
    assert_eq!(judge(100.0, 0.1, 109.0, 0.1), Change::Same);
    assert_eq!(judge(100.0, 0.1, 112.0, 0.1), Change::Worse);
    assert_eq!(judge(100.0, 0.1, 88.0, 0.1), Change::Better);
    // Wide errors: 3σ of the difference decides (σ = 10 each: 3 × 14.1 = 42.4).
    assert_eq!(judge(100.0, 10.0, 140.0, 10.0), Change::Same);
    assert_eq!(judge(100.0, 10.0, 145.0, 10.0), Change::Worse);
    assert_eq!(judge(0.0, 0.0, 0.0, 0.0), Change::Same);
}

#[test]
fn a_line_no_longer_contended_is_resolved() {
    let before = program(1, 0xc000014000, 50_000.0, 20_000.0);
    let mut after = program(2, 0xc000014000, 50_000.0, 20_000.0);
    after.lines[0].verdict = Verdict::Private;
    let d = diff(&before, "b", &after, "a");
    assert_eq!(d.matched[0].change, Change::Resolved);
    assert!(d.matched[0].after.is_some(), "still there, as private");
    after.lines[0].verdict = Verdict::Growth;
    assert_eq!(
        diff(&before, "b", &after, "a").matched[0].change,
        Change::Same
    );
}

#[test]
fn the_gate_fails_on_what_got_worse_beyond_noise_and_the_percentage() {
    let before = program(1, 0xc000014000, 50_000.0, 20_000.0);
    // The stats line: +30% (beyond the noise); the cache lines: +5% (within it).
    let after = program(2, 0xc000014000, 65_000.0, 21_000.0);
    let d = diff(&before, "b", &after, "a");
    assert_eq!(d.matched[0].change, Change::Worse);
    assert_eq!(d.matched[1].change, Change::Same);
    let worse = regressions(&d, 10.0);
    assert_eq!(worse.len(), 2, "{worse:#?}");
    assert_eq!(
        worse[0],
        Regression::Total {
            before: 90_000.0,
            after: 107_000.0
        }
    );
    assert!(
        worse[1]
            .describe(d.compared_by)
            .starts_with("worse: 50.0 → 65.0 µs/s (+30.0%): workload: go-map"),
        "{}",
        worse[1].describe(d.compared_by)
    );
    assert_eq!(
        regressions(&d, 25.0).len(),
        1,
        "the total grew by 18.9% only"
    );
    assert!(regressions(&d, 50.0).is_empty());
    // Cheaper is never a failure.
    assert!(regressions(&diff(&after, "a", &before, "b"), 0.0).is_empty());
}

#[test]
fn lines_are_sorted_by_the_larger_of_their_costs() {
    let before = program(1, 0xc000014000, 10_000.0, 20_000.0);
    let after = program(2, 0xc000014000, 90_000.0, 20_000.0);
    let d = diff(&before, "b", &after, "a");
    assert_eq!(d.matched[0].identity.objects[0].kind, "go-map");
    assert_eq!(d.matched[0].change_pct, Some(800.0));
}

#[test]
fn the_same_objects_at_other_offsets_of_their_line_are_the_same_line() {
    let before = program(1, 0xc000014000, 50_000.0, 20_000.0);
    let mut after = program(2, 0xc000014000, 52_000.0, 20_000.0);
    let identities = diff(&before, "b", &after, "a").matched.len();
    // In the second run the two headers sit 16 bytes further in: other fields share the line.
    after.lines[0].objects[0].fields = vec!["used".to_owned(), "seed".to_owned()];
    after.lines[0].objects[1].fields = vec!["used".to_owned(), "seed".to_owned()];
    // And its sampled stacks named the goroutine's wrapper as the maker of one of them.
    after.maps[1].made_at.clear();
    after.maps[1].first_assign = vec![FrameReport {
        function: "main.main.gowrap1".to_owned(),
        file: None,
        line: None,
        samples: 1,
    }];
    let d = diff(&before, "b", &after, "a");
    let stats = &d.matched[0];
    assert!(
        stats.before.is_some() && stats.after.is_some(),
        "{:#?}",
        d.matched
    );
    assert_eq!(stats.change, Change::Same);
    assert_eq!(
        d.matched.len(),
        identities,
        "nothing left unmatched: {:#?}",
        d.matched
    );
    // A second line of the same objects on one side leaves the pairing open: no guess.
    let mut twice = after.clone();
    let mut other = twice.lines[0].clone();
    other.line = hex(0xc000015000);
    other.objects[0].fields = vec!["dirPtr".to_owned()];
    twice.lines.push(other);
    let d = diff(&before, "b", &twice, "a");
    assert!(
        d.matched.iter().all(|m| m.before.is_none()
            || m.after.is_none()
            || m.identity.objects[0].kind != "go-map"),
        "{:#?}",
        d.matched
    );
}
