//! What moving a cache line between CPUs costs here: measured at start by a ping-pong between
//! two pinned threads, per class of CPU pair, cached per host, reported in `sources`.

use std::path::Path;

use super::{
    go::{program, Go},
    support::*,
};

/// Records `pid` for a second with the line-transfer cache in `cache`: the report's `sources`.
fn sources_with_cache(pid: u32, cache: &Path) -> serde_json::Value {
    let out = run_ok(
        clprof()
            .env("CLPROF_CACHE_DIR", cache)
            .args(["record", "--quiet", "--pid", &pid.to_string()])
            .args(["--duration", "1s", "--format", "json", "--watch", "off"]),
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "clprof printed invalid JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    report["sources"].clone()
}

fn transfer_ns(sources: &serde_json::Value) -> f64 {
    sources["line_transfer_ns"]
        .as_f64()
        .unwrap_or_else(|| panic!("no line_transfer_ns: {sources}"))
}

#[test]
fn the_line_transfer_cost_is_measured_per_class_and_cached() {
    let prog = Program::start(&program("sharedmap", Go::New), &["60s"]);
    let (a, b) = (
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    );
    // Two measurements from scratch (each with a cache of its own). How closely they agree is a
    // figure of the host, not a property of clprof: `cargo xtask bench` reports it.
    let first = sources_with_cache(prog.pid(), a.path());
    let second = sources_with_cache(prog.pid(), b.path());
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    for sources in [&first, &second] {
        let ns = transfer_ns(sources);
        assert!(ns > 0.0, "a transfer costs something: {sources}");
        let classes = array(sources, "line_transfer");
        assert!(
            !classes.is_empty() || cpus < 2,
            "one class per kind of CPU pair: {sources}"
        );
        for class in classes {
            assert!(class["ns"].as_f64().is_some_and(|ns| ns > 0.0), "{class}");
            assert!(class["class"].is_string(), "{class}");
            // The runs of one measurement agree: their interquartile range under the median.
            let spread = class["spread"].as_f64().expect("spread");
            assert!(
                (0.0..1.0).contains(&spread),
                "the runs of one measurement disagree: {class}"
            );
        }
    }
    assert!(
        a.path().join("line-transfer.json").exists(),
        "the measurement is cached"
    );
    let cached = sources_with_cache(prog.pid(), a.path());
    assert_eq!(
        cached["line_transfer"], first["line_transfer"],
        "the second recording on this host takes the cached figures"
    );
}
