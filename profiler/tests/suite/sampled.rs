//! Lines from the data addresses of timer samples: no PMU and nothing named. The cpu-clock
//! samples clprof takes at its defaults are decoded at their IP, their addresses computed from
//! their registers in the kernel and folded per line (`sampled_lines`).

use super::{
    go::{program, test_both_go_versions, Go},
    support::*,
};

/// Runs the Go test program `name` with `args` under `clprof record` at its defaults: its
/// banner's address, and the report.
fn record_defaults(name: &str, go: Go, args: &[&str]) -> (u64, serde_json::Value) {
    let out = run_ok(
        &mut Record::quiet_for("60s")
            .budget("2")
            .json()
            .launch(&program(name, go), args)
            .command(),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The program's lines come first on the shared stdout, then the JSON report.
    let json_at = stdout
        .find("\n{")
        .unwrap_or_else(|| panic!("no report after the program's output: {stdout}"));
    let (own, json) = stdout.split_at(json_at + 1);
    let addr = own
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|a| u64::from_str_radix(a.trim_start_matches("0x"), 16).ok())
        .unwrap_or_else(|| panic!("no address in the banner: {own}"));
    let report = serde_json::from_str(json)
        .unwrap_or_else(|e| panic!("clprof printed invalid JSON ({e}): {json}"));
    (addr, report)
}

/// The words (0 to 7) listed under `field` of one thread's entry.
fn words(thread: &serde_json::Value, field: &str) -> Vec<u64> {
    array(thread, field)
        .iter()
        .filter_map(|w| w.as_u64())
        .collect()
}

fn neighbouring_atomics_are_found_as_false_sharing(go: Go) {
    let (hot, report) = record_defaults("atomicpair", go, &["4s"]);
    let line = hot & !63;
    let sampled = array(&report, "sampled_lines");
    let top = sampled
        .first()
        .unwrap_or_else(|| panic!("no sampled line: {}", report["sources"]));
    assert_eq!(
        top["line"],
        format!("{line:#x}").as_str(),
        "the counters' line is not ranked first: {sampled:?}"
    );
    let samples = u64_of(top, "samples");
    assert!(
        u64_of(top, "locked") * 10 >= samples * 9,
        "the adds are locked read-modify-writes: {top}"
    );
    assert_eq!(top["sharing"], "false-sharing", "{top}");
    // Each goroutine wrote its own counter: a.a is word (hot % 64) / 8, b the next one.
    let first = (hot % 64) / 8;
    let mut written: Vec<Vec<u64>> = array(top, "words")
        .iter()
        .map(|t| words(t, "written"))
        .collect();
    written.sort();
    assert_eq!(written, [vec![first], vec![first + 1]], "{top}");
    let names: Vec<(u64, &str)> = array(top, "names")
        .iter()
        .map(|n| (u64_of(n, "word"), n["name"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        names,
        [(first, "main.hot.a"), (first + 1, "main.hot.b")],
        "the counters are named by global and field: {top}"
    );
    let site = &array(top, "accesses")[0];
    assert_eq!(site["frame"]["function"], "main.worker", "{top}");
    assert_eq!(
        u64_of(&site["frame"], "line"),
        marked_line("atomicpair", "CONTENDED ADD"),
        "{top}"
    );
    let sources = &report["sources"]["data_addresses"];
    assert!(u64_of(sources, "operand_samples") >= samples, "{sources}");
    assert!(u64_of(sources, "decoded_ips") >= 1, "{sources}");
}
test_both_go_versions!(neighbouring_atomics_are_found_as_false_sharing);
