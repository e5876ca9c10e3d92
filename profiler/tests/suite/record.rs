//! `clprof record` against live Go programs, with both Go toolchains.

use std::time::Duration;

use super::{
    go::{program, program_with, test_both_go_versions, Go},
    support::*,
};

fn check_target(report: &serde_json::Value, pid: u32, go: Go) {
    assert_eq!(report["schema"], "clprof/1");
    let target = &report["targets"][0];
    assert_eq!(target["pid"], pid);
    assert_eq!(target["ns_pid"], pid, "same pid namespace: {target}");
    assert_eq!(target["map_layout"], go.layout(), "{target}");
    assert!(
        target["go_version"]
            .as_str()
            .is_some_and(|v| v.starts_with(go.version_prefix())),
        "{target}"
    );
    let perf = report["sources"]["perf"].as_str().unwrap_or("");
    assert!(
        ["pebs-l1-miss", "ibs-op", "l1d-read-miss", "cpu-clock"].contains(&perf),
        "--events auto picks a source: {perf:?}"
    );
    assert!(u64_of(report, "events") > 0, "no events recorded: {report}");
}

fn shared_map_line_ranks_first_with_two_threads(go: Go) {
    let prog = Program::start(&program("sharedmap", go), &["60s"]);
    let map = prog.addresses()[0];
    let report = record_json(prog.pid(), 3);
    check_target(&report, prog.pid(), go);
    // The mutex the writers take may rank above, by its sampled CPU time.
    let first = first_probed(&report);
    let objects: Vec<&str> = first["objects"]
        .as_array()
        .expect("objects array")
        .iter()
        .filter_map(|o| o["addr"].as_str())
        .collect();
    assert!(
        objects.contains(&format!("{map:#x}").as_str()),
        "shared map {map:#x} not in the first line: {first}"
    );
    assert_eq!(first["threads"], 2, "{first}");
    assert!(u64_of(first, "transfers") > 0, "{first}");
    assert!(u64_of(first, "samples") > 0, "{first}");
    let frames = first["top_frames"].as_array().expect("top_frames");
    assert!(
        frames.iter().any(|f| f["function"] == "main.worker"),
        "main.worker not among the writers' frames: {first}"
    );
}

test_both_go_versions!(shared_map_line_ranks_first_with_two_threads);

fn map_written_by_one_thread_has_one_thread(go: Go) {
    let prog = Program::start(&program("singlewriter", go), &["60s"]);
    let map = prog.addresses()[0];
    let report = record_json(prog.pid(), 2);
    check_target(&report, prog.pid(), go);
    let line = line_with_object(&report, map)
        .unwrap_or_else(|| panic!("no line holds map {map:#x}: {report}"));
    assert_eq!(line["threads"], 1, "{line}");
    assert!(u64_of(line, "writes") > 0, "{line}");
}

test_both_go_versions!(map_written_by_one_thread_has_one_thread);

fn two_map_headers_sharing_a_line_show_up_together(go: Go) {
    let prog = Program::start(&program("adjacentmaps", go), &["60s"]);
    let addrs = prog.addresses();
    let (a, b) = (addrs[0], addrs[1]);
    assert_eq!(
        a / 64,
        b / 64,
        "the program promised one line: {}",
        prog.banner
    );
    let report = record_json(prog.pid(), 3);
    check_target(&report, prog.pid(), go);
    let line =
        line_with_object(&report, b).unwrap_or_else(|| panic!("no line holds {b:#x}: {report}"));
    assert_eq!(line["line"], format!("{:#x}", a & !63), "{line}");
    let objects = line["objects"].as_array().expect("objects");
    let find = |addr: u64| {
        objects
            .iter()
            .find(|o| o["addr"] == format!("{addr:#x}").as_str())
            .unwrap_or_else(|| panic!("{addr:#x} missing from {line}"))
    };
    for addr in [a, b] {
        let o = find(addr);
        assert_eq!(o["writers"], 1, "each map has its own writer: {o}");
        assert!(
            !o["written_fields"]
                .as_array()
                .expect("written_fields")
                .is_empty(),
            "{o}"
        );
    }
    assert_eq!(line["threads"], 2, "{line}");
    assert!(u64_of(line, "transfers") > 0, "{line}");
    assert_eq!(
        report["lines"][0]["line"], line["line"],
        "false-shared line ranks first"
    );
}

test_both_go_versions!(two_map_headers_sharing_a_line_show_up_together);

#[test]
fn launched_command_is_profiled_from_its_start() {
    let path = program("sharedmap", Go::New);
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("report.json");
    let out = run_ok(
        &mut Record::quiet_for("2s")
            .json()
            .output(&json)
            .launch(&path, &["30s"])
            .command(),
    );
    assert!(
        out.stdout.starts_with(b"map 0x"),
        "the program's own output passes through"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("report file")).expect("valid JSON");
    // Both writers from the start; a map main.init made and wrote can share their map's header
    // line, its writer a third thread.
    let first = first_probed(&report);
    assert!(
        first["threads"]
            .as_u64()
            .is_some_and(|t| (2..=3).contains(&t)),
        "{first}"
    );
    assert!(u64_of(&report, "events") > 0);
    let target = &report["targets"][0];
    assert_eq!(target["ns_pid"], target["pid"], "{target}");
}

#[test]
fn a_launched_command_that_ends_by_itself_gives_its_exit_code_and_its_hits() {
    // One map write, then exit 3 about 100 ms after its start: before clprof's first reading
    // of the target's counters.
    let path = program("idlemap", Go::New);
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("report.json");
    let out = Record::quiet_for("30s")
        .json()
        .output(&json)
        .launch(&path, &["1ms", "3"])
        .command()
        .output()
        .expect("running clprof");
    assert_eq!(
        out.status.code(),
        Some(3),
        "clprof record -- CMD ends with CMD's exit code: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("report file")).expect("valid JSON");
    let target = &report["targets"][0];
    assert_eq!(target["exited"], true, "{target}");
    assert!(
        target["probe_hits"].as_u64().is_some_and(|n| n > 0),
        "the hits of a target gone before the first reading are counted: {target}"
    );
}

#[test]
fn target_exiting_mid_record_yields_a_report_with_a_notice() {
    // Long enough for clprof to load, calibrate and attach on a loaded machine first.
    let prog = Program::start(&program("sharedmap", Go::Old), &["6s"]);
    let started = std::time::Instant::now();
    let report = record_json(prog.pid(), 30);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "recording did not stop when the target exited"
    );
    assert_eq!(report["targets"][0]["exited"], true);
    let notices = report["notices"].to_string();
    assert!(notices.contains("exited"), "{notices}");
    assert!(
        u64_of(&report, "events") > 0,
        "what was seen before the exit is reported"
    );
    assert!(!report["lines"].as_array().expect("lines").is_empty());
}

#[test]
fn sigint_detaches_and_writes_a_partial_report() {
    let prog = Program::start(&program("sharedmap", Go::New), &["60s"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("partial.json");
    let mut clprof = Record::quiet_for("60s")
        .pid(prog.pid())
        .json()
        .output(&json)
        .command()
        .spawn()
        .expect("start clprof");
    assert!(
        eventually(Duration::from_secs(10), clprof_program_loaded),
        "probes never loaded"
    );
    std::thread::sleep(Duration::from_secs(1));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(clprof.id() as i32, libc::SIGINT) };
    let status = clprof.wait().expect("wait clprof");
    assert!(status.success(), "clprof exit after SIGINT: {status}");
    assert!(
        !clprof_program_loaded(),
        "probe program still loaded after exit"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("partial report written"))
            .expect("JSON");
    assert!(
        report["notices"].to_string().contains("SIGINT"),
        "{}",
        report["notices"]
    );
    assert!(u64_of(&report, "events") > 0);
}

#[test]
fn sigkill_leaves_no_probe_behind() {
    let prog = Program::start(&program("sharedmap", Go::Old), &["60s"]);
    let mut clprof = Record::quiet_for("60s")
        .pid(prog.pid())
        .command()
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start clprof");
    assert!(
        eventually(Duration::from_secs(10), clprof_program_loaded),
        "probes never loaded"
    );
    clprof.kill().expect("SIGKILL clprof");
    clprof.wait().expect("reap clprof");
    assert!(
        eventually(Duration::from_secs(5), || !clprof_program_loaded()),
        "a probe program outlived clprof"
    );
}

#[test]
fn several_pids_are_recorded_at_once() {
    let shared = Program::start(&program("sharedmap", Go::Old), &["60s"]);
    let single = Program::start(&program("singlewriter", Go::New), &["60s"]);
    let out = run_ok(
        &mut Record::quiet_for("2s")
            .json()
            .pid(shared.pid())
            .pid(single.pid())
            .command(),
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let pids: Vec<u64> = report["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .filter_map(|t| t["pid"].as_u64())
        .collect();
    assert_eq!(pids, vec![shared.pid() as u64, single.pid() as u64]);
    let shared_line = line_with_object(&report, shared.addresses()[0]).expect("shared map line");
    assert_eq!(shared_line["pid"], shared.pid());
    assert_eq!(shared_line["threads"], 2);
    let single_line =
        line_with_object(&report, single.addresses()[0]).expect("single-writer map line");
    assert_eq!(single_line["pid"], single.pid());
    assert_eq!(single_line["threads"], 1);
}

#[test]
fn pie_binary_stacks_symbolize_through_the_load_bias() {
    let path = program_with("sharedmap", Go::New, &["-buildmode=pie"]);
    let prog = Program::start(&path, &["60s"]);
    let report = record_json(prog.pid(), 2);
    let line = line_with_object(&report, prog.addresses()[0]).expect("shared map line");
    let frames = line["top_frames"].as_array().expect("top_frames");
    assert!(
        frames.iter().any(|f| f["function"] == "main.worker"
            && f["file"]
                .as_str()
                .is_some_and(|p| p.ends_with("sharedmap/main.go"))),
        "PIE stacks not symbolized: {line}"
    );
}

#[test]
fn deleted_executable_is_still_profiled() {
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = dir.path().join("doomed");
    std::fs::copy(program("singlewriter", Go::Old), &copy).expect("copy program");
    let prog = Program::start(&copy, &["60s"]);
    std::fs::remove_file(&copy).expect("delete the running executable");
    let report = record_json(prog.pid(), 2);
    assert_eq!(report["targets"][0]["exe"], copy.display().to_string());
    let line = line_with_object(&report, prog.addresses()[0]).expect("map line");
    assert_eq!(line["threads"], 1, "{line}");
    assert!(
        line["top_frames"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["function"] == "main.main")),
        "stacks of the deleted binary are symbolized: {line}"
    );
}
