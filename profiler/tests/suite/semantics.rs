//! Go map semantics (growth, races, value slots, latency) and custom probes on C code.

use super::{
    go::{c_program, program, test_both_go_versions, Go},
    support::*,
};

fn map_growth_is_counted_on_its_lines(go: Go) {
    let prog = Program::start(&program("growmap", go), &["60s"]);
    let report = record_json(prog.pid(), 3);
    let grown = array(&report, "maps")
        .iter()
        .filter(|m| u64_of(m, "growth_writes") > 0)
        .count();
    assert!(grown > 0, "no map with growth writes: {}", report["maps"]);
    let line = array(&report, "lines")
        .iter()
        .find(|l| l["growth_writes"].as_u64().unwrap_or(0) > 0)
        .unwrap_or_else(|| panic!("no line with growth writes: {report}"));
    assert!(
        array(line, "objects").iter().any(|o| o["kind"] == "go-map"),
        "{line}"
    );
}
test_both_go_versions!(map_growth_is_counted_on_its_lines);

/// Runs the racy program under clprof (it may die within milliseconds of Go's own check, so it
/// is launched with probes in place before its first instruction) and returns the report.
fn record_race(go: Go) -> serde_json::Value {
    record_launched_json("5s", &program("racemap", go), &["2s"])
}

fn unlocked_writers_are_seen_racing(go: Go) {
    // Whether a race is seen before the runtime kills the program is timing: Go's check can
    // also fire at the end of a write, where the entry probe has nothing to see. A few runs
    // make a miss on every one of them vanishingly unlikely.
    let mut report = record_race(go);
    for _ in 0..7 {
        let seen = array(&report, "maps")
            .iter()
            .any(|m| u64_of(m, "concurrent_writers") > 0);
        if seen {
            break;
        }
        report = record_race(go);
    }
    let map = array(&report, "maps")
        .iter()
        .find(|m| u64_of(m, "concurrent_writers") > 0)
        .unwrap_or_else(|| panic!("no map with concurrent writers: {}", report["maps"]));
    let race = &array(map, "races")[0];
    assert!(u64_of(race, "tid") > 0, "{race}");
    assert_ne!(race["other_tid"], race["tid"], "{race}");
    assert!(
        array(race, "frames")
            .iter()
            .any(|f| f["function"] == "main.writer"),
        "{race}"
    );
    let line = array(&report, "lines")
        .iter()
        .find(|l| l["concurrent_writers"].as_u64().is_some_and(|n| n > 0))
        .unwrap_or_else(|| panic!("no line with concurrent writers: {report}"));
    assert!(u64_of(line, "writes") > 0);
    assert_eq!(line["verdict"], "race", "{line}");
    let advice = line["advice"].as_str().unwrap_or_else(|| panic!("{line}"));
    assert!(advice.contains("sync.Mutex"), "{advice}");
}
test_both_go_versions!(unlocked_writers_are_seen_racing);

/// Starts the racy program with its writers held back 0.5 s, records it by pid at once (the
/// default budget) and returns the report.
fn record_race_by_pid(go: Go) -> serde_json::Value {
    // The first recording on a host calibrates (about half a second more) and keeps it for an
    // hour: one recording first, as any earlier one within the hour would.
    static CALIBRATED: std::sync::Once = std::sync::Once::new();
    CALIBRATED.call_once(|| {
        run_ok(
            &mut Record::quiet_for("1s")
                .budget("2")
                .launch(&program("idlemap", go), &["1s"])
                .command(),
        );
    });
    let prog = Program::start(&program("racemap", go), &["10s", "500ms"]);
    let out = Record::quiet_for("3s")
        .budget("2")
        .json()
        .pid(prog.pid())
        .command()
        .output()
        .expect("run clprof");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "clprof did not record a program that races 0.5 s after its start (is its start \
         slower than that?): {stderr}"
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("clprof printed invalid JSON ({e}): {stderr}"))
}

fn a_race_half_a_second_after_start_is_seen_by_pid(go: Go) {
    // clprof starts in well under 0.5 s, so the probes are in before the writers start; a
    // target that has not hit its probes yet keeps them, so the race's first moments are
    // watched. Go's check can also fire where the entry probe has nothing to see: a few runs.
    let seen = |r: &serde_json::Value| {
        array(r, "maps")
            .iter()
            .any(|m| u64_of(m, "concurrent_writers") > 0)
    };
    let mut report = record_race_by_pid(go);
    for _ in 0..7 {
        if seen(&report) {
            break;
        }
        report = record_race_by_pid(go);
    }
    assert!(
        seen(&report),
        "no map with concurrent writers: {}",
        report["maps"]
    );
    let line = array(&report, "lines")
        .iter()
        .find(|l| l["concurrent_writers"].as_u64().is_some_and(|n| n > 0))
        .unwrap_or_else(|| panic!("no line with concurrent writers: {report}"));
    assert_eq!(line["verdict"], "race", "{line}");
}
test_both_go_versions!(a_race_half_a_second_after_start_is_seen_by_pid);

/// The largest `threads` among lines that hold a value slot.
fn max_slot_line_threads(report: &serde_json::Value) -> u64 {
    array(report, "lines")
        .iter()
        .filter(|l| {
            array(l, "objects")
                .iter()
                .any(|o| o["kind"] == "go-map-slot")
        })
        .map(|l| u64_of(l, "threads"))
        .max()
        .unwrap_or_else(|| panic!("no slot lines at all: {report}"))
}

fn shared_value_slots_show_two_threads_disjoint_ones_do_not(go: Go) {
    let same = Program::start(&program("slotmap", go), &["60s", "same"]);
    let report = record_json(same.pid(), 2);
    drop(same);
    assert_eq!(
        max_slot_line_threads(&report),
        2,
        "same keys: a slot line written by both"
    );
    let map = array(&report, "maps")
        .iter()
        .max_by_key(|m| u64_of(m, "writes"))
        .unwrap_or_else(|| panic!("no maps: {report}"));
    let latency = &map["latency"];
    assert!(u64_of(latency, "count") > 0, "{map}");
    assert!(u64_of(latency, "p50_ns") > 0, "{map}");
    assert!(
        u64_of(latency, "p99_ns") >= u64_of(latency, "p50_ns"),
        "{map}"
    );

    let disjoint = Program::start(&program("slotmap", go), &["60s", "disjoint"]);
    // What the RET probes charge to the slots: watchpoints (on by default) would add the other
    // writers of a line's keys and tophash bytes, which disjoint value slots can share.
    let report = record_json_with(
        disjoint.pid(),
        2,
        &["--budget", "100", "--sample-every", "16", "--watch", "off"],
    );
    assert_eq!(
        max_slot_line_threads(&report),
        1,
        "disjoint keys: every slot line has one writer"
    );
}
test_both_go_versions!(shared_value_slots_show_two_threads_disjoint_ones_do_not);

fn maps_are_identified(go: Go) {
    let prog = Program::start(&program("sharedmap", go), &["60s"]);
    let addr = format!("{:#x}", prog.addresses()[0]);
    let report = record_json(prog.pid(), 2);
    let map = array(&report, "maps")
        .iter()
        .find(|m| m["addr"] == addr.as_str())
        .unwrap_or_else(|| panic!("map {addr} missing: {}", report["maps"]));
    assert_eq!(map["go_type"], "map[int]int", "{map}");
    assert_eq!(map["key_kind"], "fast64", "{map}");
    assert_eq!(map["writers"], 2, "{map}");
    assert!(
        array(map, "first_assign")
            .iter()
            .any(|f| f["function"] == "main.worker"),
        "{map}"
    );
}
test_both_go_versions!(maps_are_identified);

#[test]
fn custom_probe_on_a_c_function_finds_false_sharing() {
    let bin = c_program("counters");
    let prog = Program::start(&bin, &["60"]);
    let addrs = prog.addresses();
    let spec = format!("{}:counter_add:rdi", bin.display());
    let out = run_ok(
        &mut Record::quiet_for("2s")
            .json()
            .args(["--probe", &spec])
            .pid(prog.pid())
            .command(),
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(report["targets"][0]["go_version"].is_null());
    let line = line_with_object(&report, addrs[0]).unwrap_or_else(|| panic!("{report}"));
    let objects = array(line, "objects");
    for addr in &addrs {
        let o = objects
            .iter()
            .find(|o| o["addr"] == format!("{addr:#x}").as_str())
            .unwrap_or_else(|| panic!("{addr:#x} missing: {line}"));
        assert_eq!(o["kind"], "custom");
        assert_eq!(o["writers"], 1, "{o}");
    }
    assert_eq!(line["threads"], 2, "{line}");
    assert!(u64_of(line, "transfers") > 0, "{line}");
    assert!(
        line["growth_writes"].is_null(),
        "not measured for custom probes"
    );
    assert!(
        array(line, "top_frames")
            .iter()
            .any(|f| f["function"] == "worker"),
        "{line}"
    );
}

#[test]
fn bad_probe_spec_is_refused_with_the_grammar() {
    let out = Record::new()
        .pid(1)
        .args(["--probe", "./server:counter_add:xmm0"])
        .command()
        .output()
        .expect("run clprof");
    assert_eq!(out.status.code(), Some(2), "clap usage error");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("BIN:SYMBOL:REG"), "{err}");
}

#[test]
fn missing_probe_symbol_is_named() {
    let bin = c_program("counters");
    let spec = format!("{}:no_such_function:rdi", bin.display());
    let out = clprof()
        .args(["record", "--probe", &spec, "--pid", "1"])
        .output()
        .expect("run clprof");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no_such_function"), "{err}");
}
