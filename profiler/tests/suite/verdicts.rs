//! A verdict, a cost and advice per line: false sharing between two maps' headers, one map
//! written by two threads under a mutex, a map that keeps growing (races: `semantics`).

use super::{
    go::{program, test_both_go_versions, Go},
    support::*,
};

/// Records `name` for 3 s with probes always on; the report.
fn record(name: &str, go: Go) -> serde_json::Value {
    let prog = Program::start(&program(name, go), &["60s"]);
    record_json(prog.pid(), 3)
}

/// The first line judged `verdict` (lines rank by cost).
fn judged<'a>(report: &'a serde_json::Value, verdict: &str) -> &'a serde_json::Value {
    array(report, "lines")
        .iter()
        .find(|l| l["verdict"] == verdict && l["writes"].as_u64().unwrap_or(0) > 0)
        .unwrap_or_else(|| panic!("no line judged {verdict}: {}", report["lines"]))
}

fn cost_ns_per_s(line: &serde_json::Value) -> f64 {
    line["cost"]["cpu_ns_per_s"]
        .as_f64()
        .unwrap_or_else(|| panic!("no cost: {line}"))
}

fn two_map_headers_in_one_line_are_false_sharing(go: Go) {
    let report = record("adjacentmaps", go);
    let line = &array(&report, "lines")[0];
    assert_eq!(
        line["verdict"], "false-sharing",
        "the costliest line: {line}"
    );
    assert!(cost_ns_per_s(line) > 0.0, "{line}");
    assert!(
        line["cost"]["target_cpu_pct"]
            .as_f64()
            .is_some_and(|p| p > 0.0),
        "{line}"
    );
    let advice = line["advice"].as_str().unwrap_or_else(|| panic!("{line}"));
    assert_eq!(
        advice.matches("the header of map[int32]int").count()
            + advice.matches("The header of map[int32]int").count(),
        2,
        "the advice names both maps: {advice}"
    );
    assert!(advice.contains("pad"), "{advice}");
    // The lines rank by cost, the undecided ones after the others.
    let lines = array(&report, "lines");
    let undecided = |l: &serde_json::Value| l["verdict"] == "undecided";
    let first_undecided = lines.iter().position(undecided).unwrap_or(lines.len());
    assert!(lines[first_undecided..].iter().all(undecided), "{lines:?}");
    for part in [&lines[..first_undecided], &lines[first_undecided..]] {
        let costs: Vec<f64> = part.iter().map(cost_ns_per_s).collect();
        assert!(costs.windows(2).all(|w| w[0] >= w[1]), "{costs:?}");
    }
}
test_both_go_versions!(two_map_headers_in_one_line_are_false_sharing);

fn one_map_of_two_writers_under_a_mutex_is_true_sharing(go: Go) {
    let report = record("sharedmap", go);
    let line = judged(&report, "true-sharing");
    assert!(
        array(line, "objects")
            .iter()
            .any(|o| o["kind"] == "go-map" && u64_of(o, "writers") == 2),
        "{line}"
    );
    assert!(cost_ns_per_s(line) > 0.0, "{line}");
    let advice = line["advice"].as_str().unwrap_or_else(|| panic!("{line}"));
    assert!(
        advice.contains("written by 2 threads") && advice.contains("Shard it 2 ways"),
        "{advice}"
    );
    assert!(
        advice.contains("main.worker"),
        "the writers' function: {advice}"
    );
    // The program writes keys modulo 4,096 into its one map: it holds 4,096 entries.
    let map = array(&report, "maps")
        .iter()
        .find(|m| u64_of(m, "writers") == 2)
        .unwrap_or_else(|| panic!("no map of two writers: {}", report["maps"]));
    assert_eq!(map["entries"], 4096, "{map}");
}
test_both_go_versions!(one_map_of_two_writers_under_a_mutex_is_true_sharing);

fn a_growing_map_is_growth(go: Go) {
    let report = record("growmap", go);
    let line = judged(&report, "growth");
    assert!(u64_of(line, "growth_writes") > 0, "{line}");
    let advice = line["advice"].as_str().unwrap_or_else(|| panic!("{line}"));
    assert!(advice.contains("make(map[int]int, "), "{advice}");
}
test_both_go_versions!(a_growing_map_is_growth);

fn maps_are_named_where_they_were_made(go: Go) {
    // Launched with the probes in place, so the maps' `make` runs under them.
    let report = record_launched_json("3s", &program("adjacentmaps", go), &["10s"]);
    let line = &array(&report, "lines")[0];
    assert_eq!(line["verdict"], "false-sharing", "{line}");
    // Both maps of the line were made by testkit.AdjacentMaps, called from main.main.
    for object in array(line, "objects")
        .iter()
        .filter(|o| o["kind"] == "go-map")
    {
        let map = array(&report, "maps")
            .iter()
            .find(|m| m["addr"] == object["addr"])
            .unwrap_or_else(|| panic!("no map {}: {}", object["addr"], report["maps"]));
        let made_at = array(map, "made_at");
        assert_eq!(
            made_at.first().map(|f| &f["function"]),
            Some(&serde_json::json!("clproftest/testkit.AdjacentMaps")),
            "{map}"
        );
        assert!(
            made_at.iter().any(|f| f["function"] == "main.main"),
            "{map}"
        );
    }
    let advice = line["advice"].as_str().unwrap_or_else(|| panic!("{line}"));
    assert!(
        advice.contains("made in clproftest/testkit.AdjacentMaps (testkit.go:"),
        "{advice}"
    );
}
test_both_go_versions!(maps_are_named_where_they_were_made);
