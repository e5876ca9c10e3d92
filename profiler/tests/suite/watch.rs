//! `--watch`: hardware write watchpoints on named globals and addresses, with real debug
//! registers, on Go (both toolchains) and C programs.

use std::time::Duration;

use super::{
    go::{c_program, program, rust_program, test_both_go_versions, Go},
    support::*,
};

/// The line of `report` holding the watched word at `addr`, and that word.
fn watched_word(report: &serde_json::Value, addr: u64) -> (&serde_json::Value, &serde_json::Value) {
    let hex = format!("{addr:#x}");
    for line in array(report, "lines") {
        if let Some(words) = line["watch"]["words"].as_array() {
            if let Some(w) = words.iter().find(|w| w["addr"] == hex.as_str()) {
                return (line, w);
            }
        }
    }
    panic!("no watched word at {hex}: {report}")
}

fn has_frame_at(word: &serde_json::Value, file_suffix: &str, line: u64) -> bool {
    array(word, "frames")
        .iter()
        .any(|f| f["file"].as_str().is_some_and(|p| p.ends_with(file_suffix)) && f["line"] == line)
}

fn adjacent_atomic_fields_show_both_words_and_writers(go: Go) {
    let prog = Program::start(&program("watchglobal", go), &["60s"]);
    let x = prog.addresses()[0];
    // An unlimited budget keeps the watchpoints on the whole time.
    let report = record_json_with(prog.pid(), 3, &["--budget", "100", "--watch", "main.x:16"]);
    let add_line = marked_line("watchglobal", "WATCHED ADD");
    let (line, a) = watched_word(&report, x);
    let (_, b) = watched_word(&report, x + 8);
    for (w, name) in [(a, "main.x"), (b, "main.x+8")] {
        assert_eq!(w["name"], name, "{w}");
        assert_eq!(w["len"], 8, "{w}");
        assert!(u64_of(w, "writes") > 0, "{w}");
        assert_eq!(w["threads"], 1, "one goroutine per field: {w}");
        assert!(
            has_frame_at(w, "watchglobal/main.go", add_line),
            "the atomic add at main.go:{add_line} wrote it: {w}"
        );
    }
    assert_eq!(line["threads"], 2, "two writers share the line: {line}");
    assert_eq!(line["cpus"], 2, "{line}");
    assert!(u64_of(line, "transfers") > 0, "{line}");
    let watched: Vec<&serde_json::Value> = array(line, "objects")
        .iter()
        .filter(|o| o["kind"] == "watched")
        .collect();
    assert_eq!(watched.len(), 2, "no map assign writes them: {line}");
    for o in watched {
        assert_eq!(o["writer"]["function"], "main.worker", "{o}");
        assert_eq!(o["writer"]["line"], add_line, "{o}");
    }
    assert!(
        line["watch"]["active_s"].as_f64().unwrap_or(0.0) > 1.0,
        "two words fit the registers: watched the whole time: {line}"
    );
}
test_both_go_versions!(adjacent_atomic_fields_show_both_words_and_writers);

fn a_counter_sharing_a_map_header_line_is_found_by_auto(go: Go) {
    let prog = Program::start(&program("watchshared", go), &["60s"]);
    let [map, counter] = prog.addresses()[..] else {
        panic!("banner: {}", prog.banner)
    };
    // Default settings: `--watch auto` and the default budget.
    let report = record_json_with(prog.pid(), 6, &[]);
    let line = line_with_object(&report, map).unwrap_or_else(|| panic!("{report}"));
    let header = array(line, "objects")
        .iter()
        .find(|o| o["kind"] == "go-map")
        .unwrap_or_else(|| panic!("{line}"));
    assert_eq!(
        header["writers"], 1,
        "the map probes see one writer: {header}"
    );
    assert_eq!(
        line["threads"], 2,
        "the watchpoints see the counter's writer: {line}"
    );
    let add_line = marked_line("watchshared", "COUNTER ADD");
    let watched = array(line, "objects")
        .iter()
        .find(|o| o["kind"] == "watched" && o["addr"] == format!("{counter:#x}").as_str())
        .unwrap_or_else(|| panic!("no watched object at the counter {counter:#x}: {line}"));
    assert_eq!(
        watched["writer"]["function"], "main.counterWriter",
        "{watched}"
    );
    assert_eq!(watched["writer"]["line"], add_line, "{watched}");
    assert_eq!(watched["writers"], 1, "{watched}");
}
test_both_go_versions!(a_counter_sharing_a_map_header_line_is_found_by_auto);

#[test]
fn a_c_global_is_watched_by_name() {
    let bin = c_program("counters");
    let prog = Program::start(&bin, &["60"]);
    let addrs = prog.addresses();
    let report = record_json_with(prog.pid(), 2, &["--budget", "100", "--watch", "shared:16"]);
    assert!(report["targets"][0]["go_version"].is_null());
    let (line, a) = watched_word(&report, addrs[0]);
    let (_, b) = watched_word(&report, addrs[1]);
    for w in [a, b] {
        assert!(u64_of(w, "writes") > 0, "{w}");
        assert!(
            array(w, "frames")
                .iter()
                .any(|f| f["function"] == "counter_add"),
            "counter_add writes the counters: {w}"
        );
    }
    assert_eq!(a["name"], "shared");
    assert_eq!(b["name"], "shared+8");
    assert_eq!(line["threads"], 2, "{line}");
    assert!(u64_of(line, "transfers") > 0, "{line}");
}

#[test]
fn a_rust_static_is_watched_by_its_path() {
    let bin = rust_program("rust_counters");
    let prog = Program::start(&bin, &["60"]);
    let addrs = prog.addresses();
    let report = record_json_with(
        prog.pid(),
        2,
        &["--budget", "100", "--watch", "rust_counters::STATS"],
    );
    let (line, a) = watched_word(&report, addrs[0]);
    let (_, b) = watched_word(&report, addrs[1]);
    assert_eq!(a["name"], "rust_counters::STATS");
    assert_eq!(b["name"], "rust_counters::STATS+8");
    for w in [a, b] {
        assert!(u64_of(w, "writes") > 0, "{w}");
        assert!(
            array(w, "frames").iter().any(|f| f["file"]
                .as_str()
                .is_some_and(|p| p.ends_with("rust_counters.rs"))),
            "the worker's fetch_add writes the counters: {w}"
        );
    }
    assert_eq!(line["threads"], 2, "{line}");
}

#[test]
fn watch_off_arms_nothing() {
    let prog = Program::start(&program("watchshared", Go::New), &["60s"]);
    let report = record_json_with(prog.pid(), 2, &["--watch", "off"]);
    assert!(
        array(&report, "lines").iter().all(|l| l["watch"].is_null()),
        "--watch off: {report}"
    );
    assert!(
        report["targets"][0]["watch_hits"].is_null(),
        "nothing calibrated or counted: {}",
        report["targets"][0]
    );
}

#[test]
fn more_words_than_registers_are_rotated_and_the_report_says_so() {
    let prog = Program::start(&program("watchglobal", Go::Old), &["60s"]);
    let x = prog.addresses()[0];
    // 48 bytes: six words on four registers.
    let spec = format!("{x:#x}:48");
    let report = record_json_with(prog.pid(), 3, &["--budget", "100", "--watch", &spec]);
    let (line, a) = watched_word(&report, x);
    let active = line["watch"]["active_s"].as_f64().expect("active_s");
    assert!(
        active > 0.0 && active < 2.9,
        "a rotated word is watched part of the time: {line}"
    );
    assert!(u64_of(a, "writes") > 0, "{a}");
    let words = array(&line["watch"], "words").len();
    assert_eq!(words, 6, "{line}");
    assert!(
        array(&report, "notices")
            .iter()
            .any(|n| n.as_str().is_some_and(|n| n.contains("rotated"))),
        "{}",
        report["notices"]
    );
}

/// Perf-event fds held by process `pid`.
fn perf_event_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter(|e| {
                    std::fs::read_link(e.path())
                        .is_ok_and(|l| l.to_string_lossy().contains("perf_event"))
                })
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn sigkill_leaves_no_watchpoint_armed() {
    let prog = Program::start(&program("watchglobal", Go::Old), &["60s"]);
    let x = prog.addresses()[0];
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut clprof = Record::quiet_for("60s")
        .budget("2")
        .pid(prog.pid())
        .args(["--events", "none", "--watch", "main.x:16"])
        .command()
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start clprof");
    // One breakpoint event per watched word and CPU.
    assert!(
        eventually(Duration::from_secs(20), || perf_event_fds(clprof.id())
            >= 2 * cpus),
        "the watchpoints were never armed"
    );
    clprof.kill().expect("SIGKILL clprof");
    clprof.wait().expect("reap clprof");
    // Were its two registers still taken, four words could not all be watched at once.
    let spec = format!("{:#x}:16", x + 16);
    let report = record_json_with(
        prog.pid(),
        1,
        &[
            "--budget",
            "100",
            "--events",
            "none",
            "--watch",
            "main.x:16",
            "--watch",
            &spec,
        ],
    );
    let notices = report["notices"].to_string();
    assert!(!notices.contains("were free"), "{notices}");
    assert!(
        !notices.contains("rotated"),
        "four words on four registers: {notices}"
    );
    let (line, _) = watched_word(&report, x);
    assert!(u64_of(line, "transfers") > 0, "{line}");
}

/// CPU time of process `pid` so far (user + system, from `/proc/PID/stat`).
fn process_cpu(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/PID/stat");
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .expect("stat format")
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_nanos(ticks * 1_000_000_000 / hz)
}

/// The two counters of watchglobal's `x`, added: the increments it made so far.
fn increments(pid: u32, x: u64) -> u64 {
    use std::io::{Read, Seek, SeekFrom};
    let mut mem = std::fs::File::open(format!("/proc/{pid}/mem")).expect("open /proc/PID/mem");
    mem.seek(SeekFrom::Start(x)).expect("seek to x");
    let mut bytes = [0u8; 16];
    mem.read_exact(&mut bytes).expect("read x");
    let a = i64::from_ne_bytes(bytes[..8].try_into().unwrap());
    let b = i64::from_ne_bytes(bytes[8..].try_into().unwrap());
    (a + b) as u64
}

/// Increments per CPU second of the program over `span`: its work rate (each increment follows
/// the same fixed work).
fn work_rate(pid: u32, x: u64, span: Duration) -> f64 {
    let (c0, n0) = (process_cpu(pid), increments(pid, x));
    std::thread::sleep(span);
    let (c1, n1) = (process_cpu(pid), increments(pid, x));
    (n1 - n0) as f64 / (c1 - c0).as_secs_f64()
}

#[test]
fn watching_stays_within_the_budget_as_estimated_and_as_measured() {
    let prog = Program::start(&program("watchglobal", Go::New), &["60s"]);
    let x = prog.addresses()[0];
    let alone = work_rate(prog.pid(), x, Duration::from_secs(2));
    let budget = 5.0;
    let clprof = Record::quiet_for("9s")
        .json()
        .budget("5")
        .pid(prog.pid())
        .args(["--events", "none", "--watch", "main.x:16"])
        .command()
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start clprof");
    // Past loading and calibrating: the watchpoints are armed once recording starts.
    std::thread::sleep(Duration::from_secs(4));
    let watched = work_rate(prog.pid(), x, Duration::from_secs(3));
    let out = clprof.wait_with_output().expect("clprof");
    assert!(out.status.success(), "clprof failed");
    // The program's own rate drifts by a few percent: the baseline is the mean of before and
    // after.
    let alone = (alone + work_rate(prog.pid(), x, Duration::from_secs(2))) / 2.0;
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let target = &report["targets"][0];
    assert!(
        u64_of(target, "watch_hits") > 0,
        "nothing was watched: {target}"
    );
    assert!(u64_of(target, "watch_hit_cost_ns") > 0, "{target}");
    let estimated = target["estimated_overhead_pct"].as_f64().expect("estimate");
    let measured = 100.0 * (alone / watched - 1.0);
    println!(
        "budget {budget}%: estimated {estimated:.2}%, measured {measured:.2}% ({alone:.0} vs {watched:.0} increments per CPU second)"
    );
    assert!(
        estimated <= 2.0 * budget,
        "estimated {estimated}%: {target}"
    );
    // Unwatched this program would lose over half its work rate to the traps.
    assert!(
        measured <= 3.0 * budget,
        "measured {measured:.1}% against a {budget}% budget: {target}"
    );
}
