//! Map reads, deletes, iteration and clears (the access probes) and the sharing model built on
//! them: a line written on one CPU and read on others is contended although it has one writer.

use super::{
    go::{program, test_both_go_versions, Go},
    support::*,
};

/// The line of the report holding the header of the map at `addr`, and its rank (0 = first).
fn ranked_line(report: &serde_json::Value, addr: u64) -> (usize, &serde_json::Value) {
    let line = line_with_object(report, addr)
        .unwrap_or_else(|| panic!("no line holds the map {addr:#x}: {report}"));
    let rank = array(report, "lines")
        .iter()
        .position(|l| l == line)
        .expect("the line is in the lines");
    (rank, line)
}

fn a_read_mostly_map_ranks_above_a_private_one(go: Go) {
    let prog = Program::start(&program("readmostly", go), &["60s"]);
    let [shared, private] = prog.addresses()[..] else {
        panic!("banner: {}", prog.banner)
    };
    // Default settings: every map probe, the default budget.
    let report = record_json_with(prog.pid(), 6, &[]);
    let (shared_rank, shared_line) = ranked_line(&report, shared);
    let (private_rank, private_line) = ranked_line(&report, private);
    eprintln!("shared #{shared_rank}: {shared_line}\nprivate #{private_rank}: {private_line}");
    assert!(
        shared_rank < private_rank,
        "the read-mostly map (#{shared_rank}) ranks above the private one (#{private_rank})"
    );
    assert!(
        u64_of(shared_line, "reader_threads") >= 3,
        "three reader threads: {shared_line}"
    );
    assert!(
        u64_of(shared_line, "remote_reads") > 0,
        "readers on another CPU than the writer's read remotely: {shared_line}"
    );
    assert!(
        u64_of(shared_line, "contention") > u64_of(private_line, "contention"),
        "{shared_line}\n{private_line}"
    );
    // One thread reads and writes the private map: no CPU but its own holds the line.
    let (reads, remote) = (
        u64_of(private_line, "reads"),
        u64_of(private_line, "remote_reads"),
    );
    assert!(reads > 0, "the private map is read: {private_line}");
    assert!(
        remote * 100 <= reads.max(100),
        "{remote} remote reads of {reads}: only thread migrations may move the line"
    );
}
test_both_go_versions!(a_read_mostly_map_ranks_above_a_private_one);

/// `reads N deletes N iterations N clears N map 0xADDR`, the program's own count.
struct Counted {
    reads: u64,
    deletes: u64,
    iterations: u64,
    clears: u64,
    map: u64,
}

fn parse_counted(line: &str) -> Counted {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["reads", r, "deletes", d, "iterations", i, "clears", c, "map", m] => Counted {
            reads: r.parse().expect("reads"),
            deletes: d.parse().expect("deletes"),
            iterations: i.parse().expect("iterations"),
            clears: c.parse().expect("clears"),
            map: u64::from_str_radix(m.trim_start_matches("0x"), 16).expect("map address"),
        },
        _ => panic!("unexpected ground-truth line {line:?}"),
    }
}

fn lookups_deletes_iterations_and_clears_are_counted(go: Go) {
    let out = run_ok(
        &mut Record::quiet_for("60s")
            .json()
            .args(["--watch", "off"])
            .launch(&program("mapops", go), &["3s"])
            .command(),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let (own, json) = stdout
        .split_once('\n')
        .unwrap_or_else(|| panic!("no ground-truth line: {stdout}"));
    let truth = parse_counted(own);
    let report: serde_json::Value = serde_json::from_str(json)
        .unwrap_or_else(|e| panic!("clprof printed invalid JSON ({e}): {json}"));
    let want = format!("{:#x}", truth.map);
    let map = array(&report, "maps")
        .iter()
        .find(|m| m["addr"] == want.as_str())
        .unwrap_or_else(|| panic!("map {want} is not in the report: {report}"));
    // --budget 100 sees every call; a goroutine whose stack grows enters a function twice.
    for (field, counted) in [
        ("reads", truth.reads),
        ("deletes", truth.deletes),
        ("iterations", truth.iterations),
        ("clears", truth.clears),
    ] {
        let seen = u64_of(map, field);
        assert!(
            seen >= counted && seen <= counted + counted / 100 + 5,
            "{field}: clprof saw {seen}, the program counted {counted}: {map}"
        );
    }
    let (_, line) = ranked_line(&report, truth.map);
    assert!(
        u64_of(line, "reads") >= truth.reads,
        "lookups and iteration steps read the header line: {line}"
    );
}
test_both_go_versions!(lookups_deletes_iterations_and_clears_are_counted);

#[test]
fn go_writes_probes_the_assigns_alone() {
    let prog = Program::start(&program("readmostly", Go::New), &["60s"]);
    let report = record_json_with(prog.pid(), 2, &["--probe", "go-writes", "--watch", "off"]);
    let symbols: Vec<&str> = array(&report["sources"], "uprobes")
        .iter()
        .filter_map(|u| u["symbol"].as_str())
        .collect();
    assert!(
        symbols.iter().all(|s| s.starts_with("runtime.mapassign")),
        "{symbols:?}"
    );
    let line = &array(&report, "lines")[0];
    assert!(line["reads"].is_null(), "reads not measured: {line}");
    assert!(array(&report, "maps")[0]["reads"].is_null());
}

/// Runs `readrace` in `mode` under clprof from its first instruction (the runtime may kill it
/// within milliseconds) until a race of `kind` with the writer inside named is reported, at
/// most 8 times; returns that race.
fn race_of(go: Go, mode: &str, kind: &str) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    for _ in 0..8 {
        last = record_launched_json("5s", &program("readrace", go), &["2s", mode]);
        // The thread inside is named when it was still inside as the reader looked.
        let race = array(&last, "maps")
            .iter()
            .flat_map(|m| array(m, "races").iter())
            .find(|r| r["kind"] == kind && r["other_tid"].is_u64())
            .cloned();
        if let Some(race) = race {
            return race;
        }
    }
    panic!("no {kind} race in 8 runs: {}", last["maps"]);
}

fn a_read_racing_a_write_is_a_read_write_race(go: Go) {
    let race = race_of(go, "read", "read-write");
    assert!(
        array(&race, "frames")
            .iter()
            .any(|f| f["function"] == "main.reader"),
        "the reader's stack: {race}"
    );
    let (tid, other) = (u64_of(&race, "tid"), u64_of(&race, "other_tid"));
    assert!(tid > 0 && other > 0 && tid != other, "both sides: {race}");
}
test_both_go_versions!(a_read_racing_a_write_is_a_read_write_race);

fn a_range_loop_racing_a_write_is_an_iterate_write_race(go: Go) {
    let race = race_of(go, "iterate", "iterate-write");
    assert!(
        array(&race, "frames")
            .iter()
            .any(|f| f["function"] == "main.ranger"),
        "the ranging loop's stack: {race}"
    );
    let (tid, other) = (u64_of(&race, "tid"), u64_of(&race, "other_tid"));
    assert!(tid > 0 && other > 0 && tid != other, "both sides: {race}");
}
test_both_go_versions!(a_range_loop_racing_a_write_is_an_iterate_write_race);
