//! `--events`: clprof's own perf events feeding the BPF perf_event program (attached with
//! PERF_EVENT_IOC_SET_BPF). This machine has no hardware PMU, so these run cpu-clock.

use super::{
    go::{program, Go},
    support::*,
};

fn record_events(pid: u32, events: &str) -> (serde_json::Value, String) {
    let out = run_ok(
        &mut Record::quiet_for("2s")
            .json()
            .args(["--events", events])
            .pid(pid)
            .command(),
    );
    let report = serde_json::from_slice(&out.stdout).expect("JSON");
    (report, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn cpu_clock_samples_land_in_the_busy_function() {
    for go in [Go::Old, Go::New] {
        let prog = Program::start(&program("spin", go), &["60s"]);
        let (report, _) = record_events(prog.pid(), "cpu-clock");
        assert_eq!(report["sources"]["perf"], "cpu-clock");
        let functions = report["functions"].as_array().expect("functions");
        assert!(
            !functions.is_empty(),
            "no perf samples reached the BPF program: {report}"
        );
        assert_eq!(
            functions[0]["function"], "main.spin",
            "{}",
            report["functions"]
        );
        assert!(
            functions[0]["samples"].as_u64().is_some_and(|n| n > 100),
            "{}",
            functions[0]
        );
        for line in report["lines"].as_array().expect("lines") {
            assert!(
                line["l1_miss_samples"].is_null(),
                "cpu-clock has no data addresses: {line}"
            );
        }
        assert!(
            report["notices"]
                .to_string()
                .contains("not hardware L1 misses"),
            "{}",
            report["notices"]
        );
    }
}

/// The `[uprobes]` (XOL) page of `pid`, from its maps.
fn xol_area(pid: u32) -> Option<(u64, u64)> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).ok()?;
    let line = maps.lines().find(|l| l.ends_with("[uprobes]"))?;
    let (start, end) = line.split_whitespace().next()?.split_once('-')?;
    Some((
        u64::from_str_radix(start, 16).ok()?,
        u64::from_str_radix(end, 16).ok()?,
    ))
}

#[test]
fn samples_single_stepping_a_probe_are_named_after_the_probed_function() {
    for go in [Go::Old, Go::New] {
        let prog = Program::start(&program("sharedmap", go), &["60s"]);
        let (report, _) = record_events(prog.pid(), "cpu-clock");
        let (xol_start, xol_end) = xol_area(prog.pid())
            .unwrap_or_else(|| panic!("{go:?}: the probed process has no [uprobes] mapping"));
        let functions = array(&report, "functions");
        let mut probe_rows = 0;
        let mut unidentified = 0;
        for f in functions {
            let name = f["function"].as_str().expect("function is a string");
            let addr = name
                .strip_prefix("0x")
                .and_then(|h| u64::from_str_radix(h, 16).ok());
            assert!(
                addr.is_none_or(|a| a < xol_start || a >= xol_end),
                "{go:?}: an unsymbolized address in the [uprobes] page is ranked: {f}\n{functions:#?}"
            );
            if name.starts_with("[clprof probe] ") {
                assert_eq!(f["file"], "[uprobes]", "{go:?}: {f}");
                probe_rows += u64_of(f, "samples");
            }
            if name.starts_with("[uprobes]") {
                unidentified += u64_of(f, "samples");
            }
        }
        let fast64 = functions
            .iter()
            .find(|f| f["function"] == "[clprof probe] runtime.mapassign_fast64")
            .unwrap_or_else(|| {
                panic!("{go:?}: no [clprof probe] runtime.mapassign_fast64 row in {functions:#?}")
            });
        assert!(u64_of(fast64, "samples") > 0, "{go:?}: {fast64}");
        let sources = &report["sources"];
        let trampoline = u64_of(sources, "probe_trampoline_samples");
        let all = u64_of(sources, "perf_samples");
        assert!(
            probe_rows > 0 && probe_rows <= trampoline && trampoline <= all,
            "{go:?}: [clprof probe] rows {probe_rows}, probe_trampoline_samples {trampoline}, perf_samples {all}"
        );
        // A thread whose hit no program remembered single-steps unidentified: a few samples of
        // the page at most (15 once, in one run of three), never most of them.
        assert!(
            unidentified * 5 <= trampoline,
            "{go:?}: {unidentified} of the [uprobes] page's {trampoline} samples have no probe \
             identified: {functions:#?}"
        );
    }
}

#[test]
fn auto_picks_cpu_clock_here_and_says_so() {
    let prog = Program::start(&program("spin", Go::New), &["60s"]);
    let (report, _) = record_events(prog.pid(), "auto");
    assert_eq!(report["sources"]["perf"], "cpu-clock");
    assert_eq!(report["sources"]["pmu_available"], false);
    let out = run_ok(&mut Record::quiet_for("1s").pid(prog.pid()).command());
    let table = String::from_utf8_lossy(&out.stdout);
    let header: String = table.lines().take(4).collect::<Vec<_>>().join("\n");
    assert!(
        header.contains("cpu-clock"),
        "table header names the source: {header}"
    );
    assert!(
        table.contains("TOP FUNCTIONS BY cpu-clock samples (software"),
        "{table}"
    );
}

#[test]
fn forced_pebs_fails_with_the_reason() {
    let prog = Program::start(&program("spin", Go::New), &["60s"]);
    let out = Record::new()
        .args(["--events", "pebs", "--duration", "1s"])
        .pid(prog.pid())
        .command()
        .output()
        .expect("run clprof");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("pebs") && err.contains("cpu-clock"), "{err}");
}
