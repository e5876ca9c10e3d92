//! `--all-go` finds processes as they start: the exec tracepoint attaches a Go program started
//! after clprof, whatever the window length, and its exit is noticed at once.

use std::{process::Stdio, time::Duration};

use super::{
    daemon::{all_go_daemon, get},
    go::{program, Go},
    support::*,
};

/// `/targets` as JSON; None while nothing answers.
fn targets(port: u16) -> Option<serde_json::Value> {
    let (status, body) = get(port, "/targets")?;
    assert_eq!(status, 200, "/targets: {}", String::from_utf8_lossy(&body));
    Some(serde_json::from_slice(&body).expect("/targets is JSON"))
}

/// The state `/targets` gives `pid`, if listed.
fn state_of(port: u16, pid: u32) -> Option<String> {
    let listed = targets(port)?;
    array(&listed, "targets")
        .iter()
        .find(|t| t["pid"].as_u64() == Some(u64::from(pid)))
        .map(|t| t["state"].as_str().unwrap_or_default().to_owned())
}

#[test]
fn a_go_program_started_after_the_daemon_is_listed_within_3_s() {
    // Built first: the Go toolchain's own processes would be followed too.
    let sharedmap = program("sharedmap", Go::New);
    // The default window (60 s): nothing is found at a window start during the test.
    let (port, _daemon) = all_go_daemon(&["--budget", "100"]);
    let mut prog = Program::start(&sharedmap, &["60s"]);
    let pid = prog.pid();
    let listed = eventually(Duration::from_secs(3), || {
        state_of(port, pid).as_deref() == Some("recording")
    });
    assert!(
        listed,
        "pid {pid}, started after the daemon, is not recording in /targets 3 s later: {:?}",
        targets(port)
    );
    let _ = prog.child.kill();
    let _ = prog.child.wait();
    let exited = eventually(Duration::from_secs(3), || {
        state_of(port, pid).as_deref() == Some("exited")
    });
    assert!(
        exited,
        "pid {pid} was killed but /targets does not say exited 3 s later: {:?}",
        targets(port)
    );
}

#[test]
fn record_all_go_records_a_program_started_while_recording() {
    let sharedmap = program("sharedmap", Go::Old);
    let mut record = clprof()
        .args([
            "record",
            "--all-go",
            "--budget",
            "100",
            "--sample-every",
            "16",
        ])
        .args(["--duration", "5s", "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start clprof record --all-go");
    // Started once clprof says it records: found by its exec, not by the start-up scan.
    let (said, drain) = wait_until_recording(&mut record);
    let prog = Program::start(&sharedmap, &["60s"]);
    let out = record.wait_with_output().expect("clprof record --all-go");
    let rest = drain.join().unwrap_or_default();
    assert!(
        out.status.success(),
        "clprof record --all-go failed: {said}{rest}"
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let pid = prog.pid();
    let target = array(&report, "targets")
        .iter()
        .find(|t| t["pid"].as_u64() == Some(u64::from(pid)))
        .unwrap_or_else(|| panic!("pid {pid}, started while recording, is not a target"));
    let map = prog.addresses()[0];
    let line = line_with_object(&report, map)
        .unwrap_or_else(|| panic!("no line holds its map {map:#x}; target: {target}"));
    assert!(
        u64_of(line, "writes") > 0,
        "its map's line has no writes: {line}"
    );
}
