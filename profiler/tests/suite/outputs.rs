//! Every file clprof writes, to every kind of path: `record -o`, `--json-out`,
//! `--save-samples`, the daemon's `--out-dir` windows and `latest.json`, and `report -o`.

use std::{path::Path, process::Stdio, time::Duration};

use profiler_common::SampleEvent;

use super::{
    go::{program, Go},
    paths::{mknod, names, shape, Prepared, SmallFs, KINDS},
    support::*,
};

/// The record options that write files.
const RECORD_WRITERS: [&str; 3] = ["-o", "--json-out", "--save-samples"];

/// Checks what a writer produced: a JSON report, or a stream of whole sample events.
fn check_contents(writer: &str, what: &str, bytes: &[u8]) {
    if writer == "--save-samples" {
        let size = std::mem::size_of::<SampleEvent>();
        assert!(
            !bytes.is_empty() && bytes.len().is_multiple_of(size),
            "{what}: {} bytes are not whole {size}-byte events",
            bytes.len()
        );
        return;
    }
    let report: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_else(|e| {
        panic!(
            "{what}: not a JSON report ({e}): {}",
            String::from_utf8_lossy(bytes)
        )
    });
    assert_eq!(report["schema"], "clprof/1", "{what}");
}

#[test]
fn record_writes_every_kind_of_path_with_each_writer() {
    let prog = Program::start(&program("sharedmap", Go::New), &["60s"]);
    // Each run gives each writer a different kind; four runs give every writer every kind.
    for run in 0..KINDS.len() {
        let dir = tempfile::tempdir().expect("tempdir");
        let prepared: Vec<(&str, Prepared)> = RECORD_WRITERS
            .iter()
            .enumerate()
            .map(|(i, &writer)| {
                let kind = KINDS[(run + i) % KINDS.len()];
                let name = format!("{}.out", writer.trim_start_matches('-'));
                (writer, Prepared::make(kind, dir.path(), &name))
            })
            .collect();
        let mut cmd = clprof();
        cmd.args(["record", "--quiet", "--pid", &prog.pid().to_string()])
            .args(["--duration", "1s", "--budget", "100", "--sample-every", "1"])
            .args(["--format", "json"]);
        for (writer, p) in &prepared {
            cmd.arg(writer).arg(&p.path);
        }
        let out = run_ok(&mut cmd);
        assert!(out.stdout.is_empty(), "-o was given, yet stdout got output");
        for (writer, p) in prepared {
            let what = format!("{writer} {:?}", p.kind);
            if let Some(bytes) = p.received() {
                check_contents(writer, &what, &bytes);
            }
        }
    }
}

#[test]
fn record_refuses_a_directory_or_a_missing_parent_before_recording() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sub = dir.path().join("reports");
    std::fs::create_dir(&sub).expect("mkdir");
    std::fs::write(sub.join("keep"), "x").expect("write");
    let missing = dir.path().join("missing/out.json");
    for writer in RECORD_WRITERS {
        for (path, says) in [(&sub, "is a directory"), (&missing, "does not exist")] {
            let before = shape(&sub);
            let out = clprof()
                .args(["record", "--pid", "1", "--duration", "60s", writer])
                .arg(path)
                .output()
                .expect("run clprof");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{writer} {}: {err}", path.display());
            assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
            assert!(
                err.contains(writer) && err.contains(says),
                "{writer} {}: unclear: {err}",
                path.display()
            );
            assert_eq!(shape(&sub), before);
            assert_eq!(names(&sub), ["keep"]);
            assert_eq!(names(dir.path()), ["reports"], "something was created");
        }
    }
}

/// A full disk: the writer fails in one line, exit 1, and the file it would have replaced is as
/// it was. With `--save-samples` the report itself is still written.
#[test]
fn record_on_a_full_disk_keeps_the_old_file_and_says_so() {
    let prog = Program::start(&program("sharedmap", Go::New), &["60s"]);
    // One page: the existing file fills it, so no new byte fits.
    let fs = SmallFs::mount(4096);
    for writer in RECORD_WRITERS {
        let path = fs.path().join("out");
        std::fs::write(&path, "old").expect("write");
        let before = shape(&path);
        let out = clprof()
            .args(["record", "--quiet", "--pid", &prog.pid().to_string()])
            .args(["--duration", "1s", "--budget", "100", "--sample-every", "1"])
            .args(["--format", "json", writer])
            .arg(&path)
            .output()
            .expect("run clprof");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{writer} on a full disk: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(
            err.contains(writer)
                && err.contains("No space left on device")
                && err.contains("the existing file was left unchanged"),
            "{writer}: unclear: {err}"
        );
        assert_eq!(std::fs::read(&path).expect("read"), b"old", "{writer}");
        assert_eq!(shape(&path), before, "{writer}");
        assert_eq!(names(fs.path()), ["out"], "{writer}: temporary file left");
        if writer == "--save-samples" {
            check_contents("-o", "the report beside failed samples", &out.stdout);
        }
    }
}

#[test]
fn report_writes_stdout_for_dash_and_devices_in_place() {
    let prog = Program::start(&program("sharedmap", Go::New), &["60s"]);
    let saved = tempfile::NamedTempFile::new().expect("tempfile");
    let out = run_ok(
        clprof()
            .args(["record", "--quiet", "--pid", &prog.pid().to_string()])
            .args(["--duration", "1s", "--budget", "100", "--format", "json"]),
    );
    std::fs::write(saved.path(), &out.stdout).expect("save the profile");

    let to_stdout = run_ok(
        clprof()
            .args(["report", "--format", "json", "-o", "-"])
            .arg(saved.path()),
    );
    check_contents("-o", "report -o -", &to_stdout.stdout);
    let dir = tempfile::tempdir().expect("tempdir");
    for kind in KINDS {
        let p = Prepared::make(kind, dir.path(), &format!("{kind:?}"));
        run_ok(
            clprof()
                .args(["report", "--format", "json", "-o"])
                .arg(&p.path)
                .arg(saved.path()),
        );
        if let Some(bytes) = p.received() {
            check_contents("-o", &format!("report -o {kind:?}"), &bytes);
        }
    }
}

/// The daemon's window files and `latest.json`: each run makes `latest.json` and the first
/// window's file as two different kinds of path, and the second window's name a directory.
#[test]
fn daemon_out_dir_writes_every_kind_of_path() {
    let prog = Program::start(&program("sharedmap", Go::New), &["60s"]);
    for run in 0..KINDS.len() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out_dir = dir.path().join("windows");
        std::fs::create_dir(&out_dir).expect("mkdir");
        let latest = Prepared::make(KINDS[run], &out_dir, "latest.json");
        let first = Prepared::make(
            KINDS[(run + 1) % KINDS.len()],
            &out_dir,
            "window-000001.json",
        );
        // A window name taken by a directory: that window is not saved; the daemon goes on.
        let blocked = out_dir.join("window-000002.json");
        std::fs::create_dir(&blocked).expect("mkdir");
        std::fs::write(blocked.join("keep"), "x").expect("write");
        let blocked_before = shape(&blocked);
        let third = out_dir.join("window-000003.json");

        let daemon = clprof()
            .args(["daemon", "--quiet", "--pid", &prog.pid().to_string()])
            .args([
                "--listen",
                "127.0.0.1:0",
                "--window",
                "1s",
                "--budget",
                "100",
            ])
            .arg("--out-dir")
            .arg(&out_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start clprof daemon");
        let written = eventually(Duration::from_secs(60), || third.exists());
        // SAFETY: signals the daemon this test started.
        unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
        let out = daemon.wait_with_output().expect("wait for the daemon");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(written, "{} never appeared: {stderr}", third.display());
        assert!(out.status.success(), "daemon exit {}: {stderr}", out.status);
        assert!(
            stderr.contains("window 2 not saved") && stderr.contains("is a directory"),
            "no warning for the blocked window: {stderr}"
        );

        let what = |p: &Prepared, name: &str| format!("{name} as {:?}", p.kind);
        let (latest_what, first_what) = (what(&latest, "latest.json"), what(&first, "window 1"));
        // A FIFO's reader reads one window; later windows find no reader and skip it.
        for (p, what) in [(latest, latest_what), (first, first_what)] {
            if let Some(bytes) = p.received() {
                check_contents("--out-dir", &what, &bytes);
            }
        }
        let third_bytes = std::fs::read(&third).expect("read");
        check_contents("--out-dir", "window 3", &third_bytes);
        assert_eq!(shape(&blocked), blocked_before);
        assert_eq!(names(&blocked), ["keep"]);
        assert!(
            names(&out_dir).iter().all(|n| !n.contains("tmp")),
            "temporary files left: {:?}",
            names(&out_dir)
        );
    }
}

#[test]
fn daemon_refuses_an_out_dir_that_is_a_file_or_a_directory_latest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("file");
    std::fs::write(&file, "x").expect("write");
    let with_dir_latest = dir.path().join("out");
    std::fs::create_dir_all(with_dir_latest.join("latest.json")).expect("mkdir");
    let null = dir.path().join("null");
    mknod(&null, libc::S_IFCHR, 1, 3);
    for (out_dir, says) in [
        (&file, "is not a directory"),
        (&null, "is not a directory"),
        (&with_dir_latest, "is a directory"),
    ] {
        let out = clprof()
            .args(["daemon", "--pid", "1", "--out-dir"])
            .arg(out_dir)
            .output()
            .expect("run clprof");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{}: {err}", out_dir.display());
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(err.contains(says), "{}: unclear: {err}", out_dir.display());
    }
    assert_eq!(std::fs::read(&file).expect("read"), b"x");
    assert_eq!(
        names(&with_dir_latest.join("latest.json")),
        Vec::<String>::new()
    );
    assert!(Path::new(&null).exists());
}
