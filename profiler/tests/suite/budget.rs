//! The overhead budget: duty-cycled probes on a hot map workload, always-on probes at 100%.

use super::{
    go::{program, test_both_go_versions, Go},
    support::*,
};

fn record_with_budget(pid: u32, secs: u32, budget: &str) -> serde_json::Value {
    record_json_with(pid, secs, &["--budget", budget])
}

fn f64_of(v: &serde_json::Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number in {v}"))
}

fn default_budget_cycles_probes_and_still_ranks_the_shared_cache_first(go: Go) {
    let prog = Program::start(&program("servicemix", go), &["60s"]);
    let map = prog.addresses()[0];
    let report = record_with_budget(prog.pid(), 5, "2");
    let sources = &report["sources"];
    assert_eq!(f64_of(sources, "overhead_budget_pct"), 2.0, "{sources}");
    assert!(u64_of(sources, "probe_hit_cost_ns") > 0, "{sources}");
    if sources["perf"] == "cpu-clock" {
        assert!(u64_of(sources, "perf_sample_hz") >= 1, "{sources}");
        assert!(u64_of(sources, "perf_sample_cost_ns") > 0, "{sources}");
    }
    let target = &report["targets"][0];
    let fraction = f64_of(target, "probe_active_fraction");
    assert!(
        fraction > 0.0 && fraction < 0.5,
        "a hot map loop must be probed only part of the time: {target}"
    );
    assert!(
        u64_of(target, "probe_windows") >= 2,
        "probes should come back after the first window: {target}"
    );
    let overhead = f64_of(target, "estimated_overhead_pct");
    assert!(
        overhead > 0.0 && overhead <= 4.0,
        "estimated overhead {overhead}% is not near the 2% budget: {target}"
    );
    assert_eq!(
        sources["probe_active_fraction"],
        target["probe_active_fraction"]
    );
    let first = first_probed(&report);
    let shared = line_with_object(&report, map)
        .unwrap_or_else(|| panic!("no line holds the shared cache {map:#x}: {report}"));
    assert_eq!(
        shared["line"], first["line"],
        "the shared cache's line is not ranked first of the probed lines: {first}"
    );
    // Above it rank only lines the samples show shared, costed by their sampled CPU time: the
    // lock that guards the cache, and the runtime's semaphore lock its sleepers take.
    for line in array(&report, "lines") {
        if line["line"] == first["line"] {
            break;
        }
        let sharing = &line["data_samples"]["sharing"];
        assert!(
            (sharing == "true-sharing" || sharing == "false-sharing")
                && line["cost"]["basis"] == "samples",
            "a line ranked above the shared cache's is not one the samples show shared: {line}"
        );
    }
    let lock = array(&report, "lines").iter().any(|l| {
        l["data_samples"]["accesses"]
            .as_array()
            .is_some_and(|a| a.iter().any(|a| a["object"] == "sync.Mutex.state"))
    });
    assert!(
        lock,
        "the cache's sync.Mutex is not among the lines: {report}"
    );
    assert!(u64_of(first, "transfers") > 0, "{first}");
    // The estimate scales the writes seen in the sampled windows; a line written steadily all
    // along has about the target's share of its writes there.
    let (writes, est) = (u64_of(first, "writes"), u64_of(first, "est_writes"));
    let scale = f64_of(target, "est_scale");
    let ratio = est as f64 / (writes as f64 * scale);
    assert!(
        scale > 1.0 && est >= writes && (0.5..=2.0).contains(&ratio),
        "est_writes {est} should be about writes {writes} × est_scale {scale}: {first}"
    );
    assert!(f64_of(first, "est_writes_rel_err") > 0.0, "{first}");
    assert_eq!(target["probe_hit_cost_source"], "measured", "{target}");
}

test_both_go_versions!(default_budget_cycles_probes_and_still_ranks_the_shared_cache_first);

#[test]
fn full_budget_keeps_probes_attached() {
    let prog = Program::start(&program("servicemix", Go::New), &["60s"]);
    let report = record_with_budget(prog.pid(), 2, "100%");
    let sources = &report["sources"];
    assert_eq!(f64_of(sources, "overhead_budget_pct"), 100.0, "{sources}");
    let target = &report["targets"][0];
    assert_eq!(u64_of(target, "probe_windows"), 1, "{target}");
    assert!(f64_of(target, "probe_active_fraction") > 0.95, "{target}");
    // Always on, the probes cost far more than 2% of this loop, and the report says so.
    assert!(f64_of(target, "estimated_overhead_pct") > 10.0, "{target}");
    let first = first_probed(&report);
    assert_eq!(first["est_writes"], first["writes"], "{first}");
}
