//! Lines from the data addresses of timer samples: no PMU and nothing named. The cpu-clock
//! samples clprof takes at its defaults are decoded at their IP, their addresses computed from
//! their registers in the kernel and folded per line (`lines[].data_samples`), and the lines
//! they find rank with the probes' by what they cost.

use std::path::Path;

use super::{
    go::{build, program, program_with, test_both_go_versions, Go},
    support::*,
};

/// Runs the Go test program `name` with `args` under `clprof record` at its defaults: its
/// banner's address, and the report.
fn record_defaults(name: &str, go: Go, args: &[&str]) -> (u64, serde_json::Value) {
    record_path(&program(name, go), args)
}

/// [`record_defaults`] for the program at `path`.
fn record_path(path: &Path, args: &[&str]) -> (u64, serde_json::Value) {
    record_path_with(path, &[], args)
}

/// [`record_path`] with the clprof options `options`.
fn record_path_with(path: &Path, options: &[&str], args: &[&str]) -> (u64, serde_json::Value) {
    let (own, report) = record_banner(path, options, args);
    (banner_addr(&own, 0), report)
}

/// The address on line `n` of a program's banner (`NAME ADDR`).
fn banner_addr(own: &str, n: usize) -> u64 {
    own.lines()
        .nth(n)
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|a| u64::from_str_radix(a.trim_start_matches("0x"), 16).ok())
        .unwrap_or_else(|| panic!("no address on line {n} of the banner: {own}"))
}

/// Runs the program at `path` with `args` under `clprof record` with `options`: what the
/// program printed before the report, and the report.
fn record_banner(path: &Path, options: &[&str], args: &[&str]) -> (String, serde_json::Value) {
    let out = run_ok(
        &mut Record::quiet_for("60s")
            .budget("2")
            .json()
            .args(options)
            .launch(path, args)
            .command(),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The program's lines come first on the shared stdout, then the JSON report.
    let json_at = stdout
        .find("\n{")
        .unwrap_or_else(|| panic!("no report after the program's output: {stdout}"));
    let (own, json) = stdout.split_at(json_at + 1);
    let report = serde_json::from_str(json)
        .unwrap_or_else(|e| panic!("clprof printed invalid JSON ({e}): {json}"));
    (own.to_owned(), report)
}

/// The words (0 to 7) listed under `field` of one thread's entry.
fn words(thread: &serde_json::Value, field: &str) -> Vec<u64> {
    array(thread, field)
        .iter()
        .filter_map(|w| w.as_u64())
        .collect()
}

/// The line ranked first in `report`, asserted to be the line holding `addr` (`what` says
/// whose), judged `verdict` at a cost from its samples with advice saying `fix`; its data
/// samples.
fn ranked_first<'a>(
    report: &'a serde_json::Value,
    addr: u64,
    what: &str,
    (verdict, fix): (&str, &str),
) -> &'a serde_json::Value {
    let lines = array(report, "lines");
    let top = lines
        .first()
        .unwrap_or_else(|| panic!("{what}: no line: {}", report["sources"]));
    let brief: Vec<String> = lines
        .iter()
        .take(5)
        .map(|l| format!("{} {} {}", l["line"], l["verdict"], l["cost"]))
        .collect();
    assert_eq!(
        top["line"],
        format!("{:#x}", addr & !63).as_str(),
        "{what}: its line is not ranked first: {brief:?}"
    );
    assert_eq!(top["verdict"], verdict, "{what}: {top}");
    assert_eq!(top["cost"]["basis"], "samples", "{what}: {top}");
    let pct = top["cost"]["target_cpu_pct"].as_f64().unwrap_or(0.0);
    assert!(
        pct > 1.0,
        "{what}: the line's accesses take over 1% of the CPU: {top}"
    );
    let advice = top["advice"].as_str().unwrap_or_default();
    assert!(
        advice.contains(fix),
        "{what}: the advice names {fix:?}: {advice}"
    );
    let data = &top["data_samples"];
    assert!(
        data.is_object(),
        "{what}: no data samples on the top line: {top}"
    );
    data
}

fn neighbouring_atomics_are_found_as_false_sharing(go: Go) {
    let (hot, report) = record_defaults("atomicpair", go, &["4s"]);
    let top = ranked_first(
        &report,
        hot,
        "the counters",
        ("false-sharing", "cpu.CacheLinePad"),
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
    assert_eq!(
        u64_of(sources, "address_samples"),
        0,
        "a timer sample carries no address of its own: {sources}"
    );
    assert!(u64_of(sources, "decoded_ips") >= 1, "{sources}");
    the_paths_to_the_counters_are_drawn(&report, top);
}
test_both_go_versions!(neighbouring_atomics_are_found_as_false_sharing);

fn a_busy_line_one_goroutine_keeps_costs_next_to_nothing(go: Go) {
    // A third goroutine adds to a counter of its own, with no work between its adds: its line
    // takes a large share of the samples, and fixing it would win nothing.
    let path = program("atomicpair", go);
    let (own, report) = record_banner(&path, &[], &["4s", "8", "busy"]);
    let (hot, busy) = (banner_addr(&own, 0), banner_addr(&own, 1));
    let top = ranked_first(
        &report,
        hot,
        "the counters beside a busy one",
        ("false-sharing", "cpu.CacheLinePad"),
    );
    let lines = array(&report, "lines");
    let shared_pct = lines[0]["cost"]["target_cpu_pct"].as_f64().unwrap_or(0.0);
    let want = format!("{:#x}", busy & !63);
    let (rank, line) = lines
        .iter()
        .enumerate()
        .find(|(_, l)| l["line"] == want.as_str())
        .unwrap_or_else(|| panic!("the busy counter's line {want} is not reported: {lines:#?}"));
    let data = &line["data_samples"];
    assert_eq!(data["sharing"], "one-thread", "the busy line: {line}");
    // Its adds take a large share of the CPU (a third here, against half for the pair's), so
    // time on a line alone would rank it near the top.
    let busy_share = data["share"].as_f64().unwrap_or(0.0);
    assert!(
        busy_share >= 0.1,
        "the busy line took a tenth of the samples or more: {line}\npair: {top}"
    );
    assert!(rank > 0, "the busy line ranks below the pair's: {lines:#?}");
    let pct = line["cost"]["target_cpu_pct"].as_f64().unwrap_or(0.0);
    assert!(
        pct <= shared_pct / 20.0 && pct < 0.5,
        "the busy line costs next to nothing ({pct}% against the pair's {shared_pct}%): {line}"
    );
    assert_ne!(line["verdict"], "false-sharing", "{line}");
    assert_ne!(line["verdict"], "true-sharing", "{line}");
}
test_both_go_versions!(a_busy_line_one_goroutine_keeps_costs_next_to_nothing);

/// The stacks the counters' samples took end at the add in `main.worker`, below the goroutine
/// that runs it; the flamegraph weighted by data samples draws them under the counters' names,
/// summing to the line's samples.
fn the_paths_to_the_counters_are_drawn(report: &serde_json::Value, top: &serde_json::Value) {
    let stacks = array(top, "stacks");
    let first = stacks
        .first()
        .unwrap_or_else(|| panic!("no stack kept for the counters' samples: {top}"));
    let frames = array(first, "frames");
    let innermost = |loc: &serde_json::Value| loc["lines"][0]["function"].clone();
    assert_eq!(
        frames.last().map(innermost),
        Some("main.worker".into()),
        "the stack ends at the add: {first}"
    );
    assert!(frames.len() >= 2, "the worker's caller too: {first}");

    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("report.json");
    std::fs::write(&json, report.to_string()).expect("write the report");
    let out = run_ok(clprof().arg("report").arg(&json).args([
        "--format",
        "folded",
        "--weight",
        "data-samples",
    ]));
    let folded = String::from_utf8_lossy(&out.stdout);
    let line = format!("[line {}]", top_line(report));
    let rows: Vec<&str> = folded.lines().filter(|l| l.contains(&line)).collect();
    assert!(
        rows.iter()
            .all(|r| r.contains(";[sampled main.hot.a,main.hot.b];")),
        "the counters are named in every path to them: {rows:?}"
    );
    assert!(
        rows.iter().any(|r| r.contains(";main.worker;[sampled ")),
        "a path ends in the worker: {rows:?}"
    );
    let count = |r: &&str| r.rsplit(' ').next().and_then(|n| n.parse::<u64>().ok());
    let drawn: u64 = rows.iter().filter_map(count).sum();
    assert_eq!(drawn, u64_of(top, "samples"), "{folded}");
}

/// The address of the line ranked first.
fn top_line(report: &serde_json::Value) -> String {
    array(report, "lines")[0]["line"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn fields_of_a_heap_object_are_named_from_the_receiver(go: Go) {
    let (stats, report) = record_defaults("heapstats", go, &["4s"]);
    let top = ranked_first(
        &report,
        stats,
        "the heap object's counters",
        ("false-sharing", "cpu.CacheLinePad"),
    );
    assert_eq!(top["sharing"], "false-sharing", "{top}");
    assert!(
        array(top, "names").is_empty(),
        "no global holds the object: {top}"
    );
    let named: Vec<(&str, &str)> = array(top, "accesses")
        .iter()
        .filter_map(|a| Some((a["frame"]["function"].as_str()?, a["object"].as_str()?)))
        .collect();
    for (function, field) in [
        ("main.(*stats).hit", "main.stats.hits"),
        ("main.(*stats).miss", "main.stats.misses"),
    ] {
        assert!(
            named.contains(&(function, field)),
            "{field} named at its add in {function} from the receiver's DWARF location: {top}"
        );
    }
    let share = report["sources"]["data_addresses"]["named_share"]
        .as_f64()
        .unwrap_or(0.0);
    assert!(share > 0.5, "most sampled accesses named: {share}");
}
test_both_go_versions!(fields_of_a_heap_object_are_named_from_the_receiver);

fn neighbouring_atomics_in_cgo_code_are_found(go: Go) {
    let prog = build("cgopair", &go.binary(), &format!("{go:?}"), &[], true);
    let (hot, report) = record_path(&prog, &["4s"]);
    let top = ranked_first(
        &report,
        hot,
        "the C counters",
        ("false-sharing", "cpu.CacheLinePad"),
    );
    let functions: Vec<&str> = array(top, "accesses")
        .iter()
        .filter_map(|a| a["frame"]["function"].as_str())
        .collect();
    assert_eq!(
        functions.first().copied(),
        Some("add_many"),
        "the C function made the adds: {top}"
    );
    let names: Vec<&str> = array(top, "names")
        .iter()
        .filter_map(|n| n["name"].as_str())
        .collect();
    assert_eq!(names, ["hot.a", "hot.b"], "the C global's fields: {top}");
}
test_both_go_versions!(neighbouring_atomics_in_cgo_code_are_found);

/// Asserts the top sampled line of `report` is the reader count of the RWMutex at `mutex`,
/// shared by the readers and named from the code that touches it.
fn assert_reader_count_first(what: &str, mutex: u64, report: &serde_json::Value) {
    let reader_count = mutex + 16;
    let top = ranked_first(
        report,
        reader_count,
        what,
        ("true-sharing", "atomic.Pointer"),
    );
    assert_eq!(top["sharing"], "true-sharing", "{what}: {top}");
    let word = (reader_count % 64) / 8;
    let writers = array(top, "words")
        .iter()
        .filter(|t| words(t, "written").contains(&word))
        .count();
    assert!(
        writers >= 2,
        "{what}: both readers add to the reader count: {top}"
    );
    // RLock's add is named from the code; Go 1.19 does not always mark RUnlock's as inlined.
    let accesses = array(top, "accesses");
    assert!(
        accesses
            .iter()
            .any(|a| a["object"] == "sync.RWMutex.readerCount"),
        "{what}: {top}"
    );
    assert_eq!(
        accesses[0]["frame"]["function"], "main.reader",
        "{what}: {top}"
    );
}

fn read_locks_are_found_on_the_reader_count(go: Go) {
    let (mutex, report) = record_defaults("rwconfig", go, &["4s"]);
    assert_reader_count_first("read locks", mutex, &report);
    // The map pointer beside the mutex is read through the global `cfg` points to the struct:
    // named from the global's type.
    let top = &array(&report, "lines")[0]["data_samples"];
    let lookup = marked_line("rwconfig", "LOOKUP");
    assert!(
        array(top, "accesses").iter().any(|a| {
            a["frame"]["line"].as_u64() == Some(lookup) && a["object"] == "main.config.values"
        }),
        "the lookup's load of cfg.values is named: {top}"
    );
}
test_both_go_versions!(read_locks_are_found_on_the_reader_count);

#[test]
fn a_stripped_binary_names_the_reader_count_from_its_code() {
    let prog = program_with("rwconfig", Go::New, &["-ldflags=-s -w"]);
    let (mutex, report) = record_path(&prog, &["4s"]);
    assert_reader_count_first("stripped", mutex, &report);
}

fn a_counter_behind_a_contended_mutex_is_found_on_the_mutex(go: Go) {
    let (mutex, report) = record_defaults("mutexcounter", go, &["4s"]);
    let top = ranked_first(&report, mutex, "the mutex", ("true-sharing", "sync.Mutex"));
    assert_eq!(top["sharing"], "true-sharing", "{top}");
    assert!(u64_of(top, "threads") >= 2, "{top}");
    let objects: Vec<&str> = array(top, "accesses")
        .iter()
        .filter_map(|a| a["object"].as_str())
        .collect();
    assert!(
        objects.contains(&"sync.Mutex.state"),
        "the lock word is named from Lock/Unlock: {top}"
    );
}
test_both_go_versions!(a_counter_behind_a_contended_mutex_is_found_on_the_mutex);

/// A function of a contended `sync.Mutex`'s slow path: spinning, sleeping and waking.
fn in_slow_path(function: &str) -> bool {
    let f = function.to_ascii_lowercase();
    f.ends_with("(*mutex).lockslow")
        || f.ends_with("(*mutex).unlockslow")
        || f.contains("semacquire")
        || f.contains("semrelease")
        || f.contains("procyield")
}

fn four_goroutines_fighting_over_a_mutex_wait_on_its_line(go: Go) {
    // Four goroutines on two CPUs: some spin for the lock, some sleep on its semaphore.
    let (mutex, report) = record_defaults("mutexcounter", go, &["4s", "shared", "4"]);
    let top = ranked_first(
        &report,
        mutex,
        "the mutex four goroutines take",
        ("true-sharing", "sync.Mutex"),
    );
    let waiting: u64 = array(&report, "functions")
        .iter()
        .filter(|f| in_slow_path(f["function"].as_str().unwrap_or("")))
        .map(|f| u64_of(f, "samples"))
        .sum();
    let on_line: u64 = array(top, "accesses")
        .iter()
        .filter(|a| in_slow_path(a["frame"]["function"].as_str().unwrap_or("")))
        .map(|a| u64_of(a, "samples"))
        .sum();
    assert!(
        waiting > 0 && on_line * 2 > waiting,
        "the lock's line carries most of the slow path's {waiting} samples, not {on_line}: \
         {top}\nfunctions: {}",
        report["functions"]
    );
}
test_both_go_versions!(four_goroutines_fighting_over_a_mutex_wait_on_its_line);

/// The path of samples whose data address comes with them (PEBS, IBS), checked where no PMU is
/// with the page-fault software event: the kernel hands the program each fault's address as it
/// hands a PEBS record's. The stores into fresh pages are folded at the faulting addresses, each
/// named at the store itself (an exact IP, not one past the access) with its kind; nothing is
/// computed from registers and nothing is shown as an L1-miss figure.
fn addresses_that_come_with_the_samples_are_folded_as_they_are(go: Go) {
    let prog = program("pagetouch", go);
    let (offset, report) = record_path_with(&prog, &["--events", "page-faults"], &["3s"]);
    assert_eq!(
        report["sources"]["perf"], "page-faults",
        "{}",
        report["sources"]
    );
    let sources = &report["sources"]["data_addresses"];
    assert_eq!(u64_of(sources, "operand_samples"), 0, "{sources}");
    let with_address = u64_of(sources, "address_samples");
    let sampled: Vec<&serde_json::Value> = array(&report, "lines")
        .iter()
        .filter(|l| l["data_samples"].is_object())
        .collect();
    let at_stores: Vec<&serde_json::Value> = sampled
        .iter()
        .copied()
        .filter(|l| {
            let line = l["line"]
                .as_str()
                .unwrap_or_default()
                .trim_start_matches("0x");
            u64::from_str_radix(line, 16).is_ok_and(|a| a % 4096 == offset & !63)
        })
        .collect();
    let samples = |ls: &[&serde_json::Value]| -> u64 {
        ls.iter()
            .map(|l| u64_of(&l["data_samples"], "samples"))
            .sum()
    };
    let (stored, all) = (samples(&at_stores), samples(&sampled));
    assert!(
        stored > 0 && stored * 2 >= all && with_address >= stored,
        "the stores' lines (page offset {offset:#x}) hold most sampled faults: {stored} of {all} \
         ({with_address} with an address): {sources}"
    );
    let touch = marked_line("pagetouch", "TOUCH");
    let mut stores = 0;
    for line in &at_stores {
        let data = &line["data_samples"];
        assert!(
            line["l1_miss_samples"].is_null(),
            "no L1-miss figure: {line}"
        );
        assert_eq!(
            line["verdict"], "undecided",
            "a first touch is no sharing: {line}"
        );
        // A fault sampled before its IP was decoded has no kind yet.
        stores += u64_of(data, "stores");
        assert_eq!(
            u64_of(data, "stores") + u64_of(data, "unknown_kind"),
            u64_of(data, "samples"),
            "the faults are the stores: {line}"
        );
        let word = (offset % 64) / 8;
        assert!(
            array(data, "words")
                .iter()
                .all(|t| words(t, "touched") == [word]),
            "the store touched word {word}: {line}"
        );
        let site = &array(data, "accesses")[0];
        assert_eq!(site["frame"]["function"], "main.touch", "{line}");
        assert_eq!(
            u64_of(&site["frame"], "line"),
            touch,
            "at the store: {line}"
        );
    }
    assert!(
        stores * 2 >= stored,
        "most faults decoded as the store: {stores} of {stored}"
    );
}
test_both_go_versions!(addresses_that_come_with_the_samples_are_folded_as_they_are);
