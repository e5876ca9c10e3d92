//! Scale: a target with 256 OS threads and a constant churn of short-lived maps, recorded with
//! every probe always on, runs to completion while clprof stays within 256 MiB and counts what
//! its kernel maps could not hold; a daemon following a churn of processes keeps following.

use std::process::Stdio;

use super::{
    go::{program, Go},
    support::*,
};

/// clprof's resident set may not grow past this.
const MAX_RSS_BYTES: u64 = 256 << 20;

#[test]
fn a_256_thread_map_churn_runs_to_completion_within_256_mib() {
    let churn = program("churn", Go::New);
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("report.json");
    // Recorded by pid, as a running service would be.
    let mut target = std::process::Command::new(&churn)
        .arg("8s")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the churn");
    let target_out = target.stdout.take().expect("piped stdout");
    let out = std::thread::spawn(move || std::io::read_to_string(target_out).unwrap_or_default());
    let mut child = clprof()
        .args(["record", "--quiet", "--budget", "100", "--duration", "120s"])
        .args(["--format", "json", "-o"])
        .arg(&json)
        .args(["--pid", &target.id().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start clprof record");
    let err_pipe = child.stderr.take().expect("piped stderr");
    let err = std::thread::spawn(move || std::io::read_to_string(err_pipe).unwrap_or_default());
    // clprof's own peak resident set: its VmHWM, read until it exits (a high-water mark, so
    // the last reading holds the peak). Not wait4's: a child spawned by vfork starts with the
    // spawning process's peak (the kernel keeps the old mm's high-water mark at exec), here the
    // test binary's, hundreds of MiB late in a CI run.
    let peak = watch_peak_rss(child.id());
    let status = child.wait().expect("waiting for clprof");
    let target_status = target.wait().expect("waiting for the churn");
    let (out, err) = (
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    );
    assert!(
        target_status.success(),
        "the churn failed ({target_status}): {out}"
    );
    assert!(status.success(), "clprof record failed ({status}): {err}");
    assert!(
        out.contains("done"),
        "the target did not run to completion; its output: {out}"
    );
    let rss = peak.join().expect("the VmHWM reader");
    assert!(rss > 0, "clprof's VmHWM was never read");
    assert!(
        rss <= MAX_RSS_BYTES,
        "clprof's peak RSS was {} MiB, over {} MiB",
        rss >> 20,
        MAX_RSS_BYTES >> 20
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("report")).expect("JSON");
    let drops = &report["drops"];
    assert!(
        u64_of(drops, "map_full") > 0,
        "a churn of short-lived maps beyond the kernel maps' capacity counted no drops: {drops}"
    );
    assert!(
        array(&report, "lines").len() <= 1_000,
        "the report keeps the top 1,000 lines"
    );
    eprintln!(
        "peak RSS {} MiB; drops {drops}; target: {}",
        rss >> 20,
        out.lines().find(|l| l.starts_with("made")).unwrap_or("")
    );
}

/// Processes the churn below starts: each takes about ten probe ids, so this many use the
/// kernel side's 4,095 several times over.
const CHURNED: usize = 500;

#[test]
fn a_daemon_following_a_churn_of_processes_keeps_following_them() {
    use super::daemon::{all_go_daemon, get};
    use std::{collections::VecDeque, process::Command, time::Duration};

    // Built first: the Go toolchain's own processes would be followed too.
    let idlemap = program("idlemap", Go::New);
    let (port, _daemon) = all_go_daemon(&["--window", "2s"]);
    // Each lives 1 s; a few run at once.
    let mut running: VecDeque<std::process::Child> = VecDeque::new();
    let mut pids = Vec::new();
    for _ in 0..CHURNED {
        let child = Command::new(&idlemap)
            .arg("1s")
            .stdout(Stdio::null())
            .spawn()
            .expect("start idlemap");
        pids.push(child.id());
        running.push_back(child);
        while running.len() > 6 {
            let mut oldest = running.pop_front().expect("one running");
            oldest.wait().expect("reap idlemap");
        }
        std::thread::sleep(Duration::from_millis(150));
    }
    for mut child in running {
        child.wait().expect("reap idlemap");
    }
    let (status, body) = get(port, "/targets").expect("/targets answers");
    assert_eq!(status, 200);
    let listed: serde_json::Value = serde_json::from_slice(&body).expect("/targets is JSON");
    let followed: std::collections::HashSet<u64> = array(&listed, "targets")
        .iter()
        .filter_map(|t| t["pid"].as_u64())
        .collect();
    let last = &pids[CHURNED - 10..];
    let missed: Vec<_> = last
        .iter()
        .filter(|&&pid| !followed.contains(&u64::from(pid)))
        .collect();
    assert!(
        missed.is_empty(),
        "after {CHURNED} processes the daemon stopped following: of the last 10 started, \
         {missed:?} were never targets"
    );
}

/// Reads `pid`'s VmHWM (its peak resident set, bytes) every 10 ms on a thread of its own until
/// the process is gone; the thread returns the last value read (0 if none was).
fn watch_peak_rss(pid: u32) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let path = format!("/proc/{pid}/status");
        let mut peak = 0;
        while let Ok(status) = std::fs::read_to_string(&path) {
            let hwm = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
            match hwm {
                Some(kib) => peak = peak.max(kib * 1024),
                // A zombie has no memory left to read: it has exited.
                None => break,
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        peak
    })
}
