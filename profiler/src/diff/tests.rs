use super::{test_reports::program, *};
use crate::report;

#[test]
fn two_runs_at_different_addresses_match_line_for_line() {
    let before = program(100, 0xc000014000, 50_000.0, 20_000.0);
    let after = program(200, 0x7f0000a00000, 51_000.0, 19_500.0);
    let d = diff(&before, "a.json", &after, "b.json");
    assert_eq!(d.schema, SCHEMA);
    assert_eq!(d.compared_by, ComparedBy::CpuTime);
    assert_eq!(d.matched.len(), 2, "{d:#?}");
    for m in &d.matched {
        assert_eq!(m.change, Change::Same, "{m:#?}");
    }
    // Costliest first: the false-shared stats line, then the cache's two bucket lines.
    let stats = &d.matched[0];
    assert_eq!(
        stats.before.as_ref().unwrap().verdict,
        Verdict::FalseSharing
    );
    assert_eq!(stats.identity.objects.len(), 2);
    let cache = &d.matched[1];
    assert_eq!(cache.before.as_ref().unwrap().lines, 2);
    assert_eq!(cache.before.as_ref().unwrap().cpu_ns_per_s, Some(40_000.0));
    assert_eq!(d.before.total_cost_ns_per_s, Some(90_000.0));
    assert_eq!(d.total.after_ns_per_s, Some(90_000.0));
    assert_eq!(d.total.change, Change::Same);
    assert_eq!(d.before.file, "a.json");
}

#[test]
fn a_fix_that_separates_the_maps_resolves_their_line() {
    let before = program(100, 0xc000014000, 50_000.0, 20_000.0);
    let mut after = program(200, 0xc000014000, 0.0, 20_000.0);
    // Fixed: the two maps apart, each alone in a line that stays in one cache.
    let stats = after.lines.remove(0);
    for (i, o) in stats.objects.into_iter().enumerate() {
        let addr = 0xc000020000 + 128 * i as u64;
        let mut l = test_reports::line(200, addr, vec![o], 0, Some(0.0), Verdict::Private);
        l.objects[0].addr = report::hex(addr);
        after.maps[i].addr = report::hex(addr);
        after.lines.push(l);
    }
    let d = diff(&before, "before.json", &after, "after.json");
    let changes: Vec<(Change, &str)> = d
        .matched
        .iter()
        .map(|m| (m.change, m.identity.label.as_str()))
        .collect();
    assert_eq!(d.matched[0].change, Change::Resolved, "{changes:#?}");
    assert!(d.matched[0].after.is_none());
    assert_eq!(
        changes.iter().filter(|(c, _)| *c == Change::New).count(),
        2,
        "{changes:#?}"
    );
    assert_eq!(d.total.change, Change::Better);
    assert!(regressions(&d, 10.0).is_empty(), "new lines cost nothing");
    // The other way round, the false sharing is new and the gate fails on it and the total.
    let d = diff(&after, "after.json", &before, "before.json");
    let worse = regressions(&d, 10.0);
    assert_eq!(worse.len(), 2, "{worse:#?}");
    assert!(matches!(worse[0], compare::Regression::Total { .. }));
}

#[test]
fn the_json_has_the_documented_fields() {
    let before = program(100, 0xc000014000, 50_000.0, 20_000.0);
    let d = diff(&before, "a.json", &report::test_report::sample(), "b.json");
    let v: serde_json::Value = serde_json::from_str(&json(&d)).expect("json");
    let mut keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "after",
            "before",
            "compared_by",
            "matched",
            "schema",
            "total"
        ]
    );
    assert_eq!(v["schema"], "clprof-diff/1");
    assert_eq!(v["matched"][0]["change"], "resolved");
    assert!(v["matched"][0]["after"].is_null());
    assert_eq!(v["matched"][0]["before"]["verdict"], "false-sharing");
    assert!(v["matched"][0]["identity"]["label"].is_string());
    assert_eq!(v["matched"][0]["identity"]["objects"][0]["kind"], "go-map");
    for k in ["before_ns_per_s", "after_ns_per_s", "change_pct", "change"] {
        assert!(v["total"].get(k).is_some(), "total.{k}");
    }
    let back: Diff = serde_json::from_value(v).expect("round trip");
    assert_eq!(back, d);
}
