//! Faults clprof must survive: a second clprof on the same target, debug registers held by
//! another perf user, more targets than the kernel side holds, and a target that forks, execs
//! another program or exits in the middle of a recording.

use std::os::fd::{FromRawFd as _, OwnedFd};

use perf_event_open_sys::{bindings as b, perf_event_open};

use super::{
    go::{program, Go},
    support::*,
};

/// The report's notices, joined.
fn notices(report: &serde_json::Value) -> String {
    array(report, "notices")
        .iter()
        .filter_map(|n| n.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The writes seen on the line of `map` (the program's map header), or a panic saying so.
fn map_line_writes(report: &serde_json::Value, map: u64) -> u64 {
    let line = line_with_object(report, map)
        .unwrap_or_else(|| panic!("no line holds the map {map:#x}: {}", notices(report)));
    u64_of(line, "writes")
}

#[test]
fn two_clprof_instances_on_one_target_both_record_it() {
    let prog = Program::start(&program("sharedmap", Go::New), &["60s"]);
    let map = prog.addresses()[0];
    let pid = prog.pid();
    let first = std::thread::spawn(move || record_json(pid, 4));
    std::thread::sleep(std::time::Duration::from_millis(300));
    let second = record_json(pid, 4);
    let first = first.join().expect("the first clprof");
    for (which, report) in [("first", &first), ("second", &second)] {
        assert!(
            map_line_writes(report, map) > 0,
            "the {which} clprof saw no writes to the shared map"
        );
    }
}

/// Write breakpoints on every debug register of every online CPU, as a debugger or another
/// perf user would hold them; released when dropped.
struct HeldRegisters {
    _held: Vec<OwnedFd>,
}

static WATCHED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl HeldRegisters {
    fn take_all() -> HeldRegisters {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut fds = Vec::new();
        for cpu in 0..cpus {
            for _ in 0..4 {
                let mut attr = b::perf_event_attr {
                    size: std::mem::size_of::<b::perf_event_attr>() as u32,
                    type_: b::PERF_TYPE_BREAKPOINT,
                    bp_type: b::HW_BREAKPOINT_W,
                    ..Default::default()
                };
                attr.bp_addr = std::ptr::addr_of!(WATCHED) as u64;
                attr.bp_len = 8;
                attr.sample_period = 1;
                attr.set_exclude_kernel(1);
                // SAFETY: a valid, initialised attr whose size matches its type; system-wide on
                // one CPU, no group.
                let fd = unsafe {
                    perf_event_open(
                        &mut attr,
                        -1,
                        cpu as i32,
                        -1,
                        b::PERF_FLAG_FD_CLOEXEC as libc::c_ulong,
                    )
                };
                assert!(
                    fd >= 0,
                    "cannot hold debug register {} of CPU {cpu}: {}",
                    fds.len() % 4,
                    std::io::Error::last_os_error()
                );
                // SAFETY: a new descriptor, owned from here on.
                fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
        HeldRegisters { _held: fds }
    }
}

#[test]
fn debug_registers_held_elsewhere_give_a_notice_and_the_rest_still_works() {
    let prog = Program::start(&program("sharedmap", Go::Old), &["60s"]);
    let map = prog.addresses()[0];
    let held = HeldRegisters::take_all();
    let report = record_json_with(prog.pid(), 3, &["--budget", "100", "--watch", "auto"]);
    drop(held);
    let said = notices(&report);
    assert!(
        said.contains("debug register"),
        "no notice that the debug registers were taken: {said}"
    );
    assert!(
        map_line_writes(&report, map) > 0,
        "with the debug registers taken, the probes saw no writes"
    );
}

#[test]
fn targets_beyond_the_kernel_side_are_left_out_by_name() {
    let limit = profiler_common::MAX_TARGETS as usize;
    let idle = program("idlemap", Go::New);
    let programs: Vec<Program> = (0..limit + 2)
        .map(|_| Program::start(&idle, &["120s"]))
        .collect();
    let pids: Vec<String> = programs.iter().map(|p| p.pid().to_string()).collect();
    let mut record = Record::quiet_for("2s").json();
    for pid in &pids {
        record = record.args(["--pid", pid]);
    }
    let out = run_ok(&mut record.command());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let recorded = array(&report, "targets").len();
    assert_eq!(recorded, limit, "targets recorded beside the limit");
    let said = notices(&report);
    let left_out = &pids[limit..];
    for pid in left_out {
        assert!(
            said.contains(&format!("pid {pid} (idlemap)")),
            "pid {pid} was left out but the notices do not name it: {said}"
        );
    }
    assert!(said.contains("2 process(es) left out"), "{said}");
}

/// Tells the `forkexec` program to fork, then exec `sleep`.
fn fork_then_exec(prog: &Program) {
    // SAFETY: kill(2) on a child of this process.
    let sent = unsafe { libc::kill(prog.pid() as i32, libc::SIGUSR1) };
    assert_eq!(
        sent,
        0,
        "cannot signal the program: {}",
        std::io::Error::last_os_error()
    );
}

/// `clprof record --pid` of the `forkexec` program `prog` (with `extra` options) until the
/// target ends, telling it to fork and exec once recording: the JSON report.
fn record_through_exec(prog: &Program, extra: &[&str]) -> serde_json::Value {
    use std::{process::Stdio, time::Duration};

    let mut record = clprof()
        .args(["record", "--pid", &prog.pid().to_string()])
        .args(["--duration", "30s", "--format", "json"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start clprof record");
    let (said, drain) = wait_until_recording(&mut record);
    std::thread::sleep(Duration::from_millis(500));
    fork_then_exec(prog);
    let out = record.wait_with_output().expect("clprof record");
    let rest = drain.join().unwrap_or_default();
    assert!(out.status.success(), "clprof record failed: {said}{rest}");
    serde_json::from_slice(&out.stdout).expect("JSON report")
}

#[test]
fn a_target_that_forks_then_execs_another_program_mid_window_is_survived() {
    use std::{process::Stdio, time::Duration};

    // The daemon: once it serves, its first window gets the fork and, a second later, the
    // exec; the program then sleeps 2 s as `sleep` and exits, which ends a daemon given only
    // its pid.
    let prog = Program::start(&program("forkexec", Go::Old), &["2"]);
    let map = prog.addresses()[0];
    let out_dir = tempfile::tempdir().expect("tempdir");
    let port = super::daemon::free_port();
    let mut daemon = clprof()
        .args(["daemon", "--quiet", "--pid", &prog.pid().to_string()])
        .args(["--budget", "100", "--window", "20s", "--out-dir"])
        .arg(out_dir.path())
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start clprof daemon");
    let serving = eventually(Duration::from_secs(60), || {
        super::daemon::get(port, "/healthz").is_some()
    });
    assert!(serving, "the daemon did not serve within 60 s");
    std::thread::sleep(Duration::from_millis(500));
    fork_then_exec(&prog);
    let ended = eventually(Duration::from_secs(60), || {
        matches!(daemon.try_wait(), Ok(Some(_)))
    });
    if !ended {
        let _ = daemon.kill();
    }
    let out = daemon.wait_with_output().expect("clprof daemon");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        ended,
        "the daemon did not stop once its target exited: {stderr}"
    );
    assert!(out.status.success(), "clprof daemon failed: {stderr}");
    let first = std::fs::read(out_dir.path().join("window-000001.json"))
        .unwrap_or_else(|e| panic!("the first window was not written: {e}; {stderr}"));
    let first: serde_json::Value = serde_json::from_slice(&first).expect("window JSON");
    assert!(
        map_line_writes(&first, map) > 0,
        "the window holding the fork and the exec lost the writes before them"
    );

    // record: the same on Go 1.27, ending with the target's exit.
    let prog = Program::start(&program("forkexec", Go::New), &["1"]);
    let map = prog.addresses()[0];
    let report = record_through_exec(&prog, &["--budget", "100"]);
    assert!(
        map_line_writes(&report, map) > 0,
        "writes before the fork and the exec were lost"
    );
    let said = notices(&report);
    assert!(
        said.contains("exited"),
        "the target's end is not noticed: {said}"
    );
}

#[test]
fn a_target_that_execs_another_go_program_keeps_running_unharmed() {
    // forkexec (Go 1.27) execs sharedmap (Go 1.19) in its own place: the pid stays, and
    // `/proc/PID/exe` now names a Go binary of about the same size, in which the first
    // binary's probe offsets would land mid-instruction. At the default budget the probes are
    // detached and attached again window after window: clprof must keep them in the first
    // binary, notice the exec and end the target's recording there.
    let next = program("sharedmap", Go::Old);
    let next = next.to_str().expect("UTF-8 path");
    let mut prog = Program::start(&program("forkexec", Go::New), &["1", next, "4s"]);
    let map = prog.addresses()[0];
    let report = record_through_exec(&prog, &[]);
    let status = prog.child.wait().expect("waiting for the target");
    assert!(
        status.success(),
        "the program exec'd under clprof did not run to completion: {status}"
    );
    assert!(
        map_line_writes(&report, map) > 0,
        "writes before the exec were lost"
    );
    let said = notices(&report);
    assert!(
        said.contains(&format!("pid {} exec'd another program", prog.pid())),
        "the exec is not noticed: {said}"
    );
}

#[test]
fn under_all_go_a_target_that_execs_another_go_program_is_taken_up_again() {
    use super::daemon::{all_go_daemon, get};
    use std::time::Duration;

    // Built first: the Go toolchain's own processes would be followed too.
    let next = program("sharedmap", Go::Old);
    let first = program("forkexec", Go::New);
    let (port, _daemon) = all_go_daemon(&["--window", "2s"]);
    // Every `/targets` entry as (pid, exe, state).
    let listed = || -> Vec<(u64, String, String)> {
        let Some((200, body)) = get(port, "/targets") else {
            return Vec::new();
        };
        let json: serde_json::Value = serde_json::from_slice(&body).expect("/targets is JSON");
        array(&json, "targets")
            .iter()
            .map(|t| {
                let s = |f: &str| t[f].as_str().unwrap_or_default().to_owned();
                (t["pid"].as_u64().unwrap_or(0), s("exe"), s("state"))
            })
            .collect()
    };
    let has = |pid: u32, exe: &str, state: &str| {
        listed()
            .iter()
            .any(|(p, e, s)| *p == u64::from(pid) && e.ends_with(exe) && s == state)
    };
    let next = next.to_str().expect("UTF-8 path");
    let mut prog = Program::start(&first, &["1", next, "30s"]);
    let pid = prog.pid();
    assert!(
        eventually(Duration::from_secs(10), || has(
            pid,
            "forkexec",
            "recording"
        )),
        "pid {pid} is not recorded: {:?}",
        listed()
    );
    fork_then_exec(&prog);
    // The exec comes a second after the signal; a window (2 s) later the new program is in.
    let taken = eventually(Duration::from_secs(15), || {
        has(pid, "forkexec", "exited") && has(pid, "sharedmap", "recording")
    });
    assert!(
        taken,
        "pid {pid} exec'd sharedmap: /targets should list its forkexec exited and its \
         sharedmap recording: {:?}",
        listed()
    );
    let _ = prog.child.kill();
    let status = prog.child.wait().expect("waiting for the target");
    assert!(
        status.code().is_none(),
        "the exec'd program ended on its own before it was stopped: {status}"
    );
}
