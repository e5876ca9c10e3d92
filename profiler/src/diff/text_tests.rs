use super::*;
use crate::diff::{diff, test_reports::program};

#[test]
fn the_table_shows_changes_costs_verdicts_and_totals() {
    let before = program(1, 0xc000014000, 50_000.0, 20_000.0);
    let mut after = program(2, 0xc000014000, 0.0, 20_000.0);
    after.lines.remove(0);
    let d = diff(&before, "before.json", &after, "after.json");
    let t = text(&d, None);
    assert!(
        t.starts_with("clprof diff (clprof-diff/1): cost = CPU time"),
        "{t}"
    );
    assert!(t.contains("before: before.json  10.0s from"), "{t}");
    let rows: Vec<&str> = t
        .lines()
        .filter(|l| l.starts_with("resolved") || l.starts_with("same"))
        .collect();
    assert_eq!(rows.len(), 2, "{t}");
    assert!(
        rows[0].contains("50.0") && rows[0].contains("false-sharing → -"),
        "{t}"
    );
    assert!(rows[0].contains("workload: go-map map[int32]int"), "{t}");
    assert!(
        rows[1].contains("true-sharing → true-sharing") && rows[1].ends_with("(×2 lines)"),
        "{t}"
    );
    assert!(
        t.contains("total: 90.0 → 40.0 µs/s (-55.6%): better"),
        "{t}"
    );
    assert!(text(&d, Some(1)).contains("… 1 more"));
}
