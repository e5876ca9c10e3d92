//! Scale: a target with 256 OS threads and a constant churn of short-lived maps, recorded with
//! every probe always on, runs to completion while clprof stays within 256 MiB and counts what
//! its kernel maps could not hold.

use std::{os::unix::process::ExitStatusExt as _, process::Stdio};

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
    let mut child = clprof()
        .args(["record", "--quiet", "--budget", "100", "--duration", "120s"])
        .args(["--format", "json", "-o"])
        .arg(&json)
        .arg("--")
        .arg(&churn)
        .arg("8s")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start clprof record");
    let pid = child.id() as libc::pid_t;
    let out_pipe = child.stdout.take().expect("piped stdout");
    let err_pipe = child.stderr.take().expect("piped stderr");
    let out = std::thread::spawn(move || std::io::read_to_string(out_pipe).unwrap_or_default());
    let err = std::thread::spawn(move || std::io::read_to_string(err_pipe).unwrap_or_default());
    // wait4 for clprof's own peak resident set.
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid, and wait4 writes it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, writing into valid locals.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4: {}", std::io::Error::last_os_error());
    // Reaped already: this only lets the handle go (it answers ECHILD).
    let _ = child.wait();
    let (out, err) = (
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    );
    let status = std::process::ExitStatus::from_raw(status);
    assert!(status.success(), "clprof record failed ({status}): {err}");
    assert!(
        out.contains("done"),
        "the target did not run to completion; its output: {out}"
    );
    let rss = usage.ru_maxrss as u64 * 1024;
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
