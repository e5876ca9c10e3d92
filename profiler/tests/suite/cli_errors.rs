//! Trouble the user can cause gets one clear line and a nonzero exit.

use std::process::{Command, Output};

use super::support::clprof;

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_fails_with(out: Output, needle: &str) {
    let err = stderr_of(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "exit code for {needle:?}; stderr: {err}"
    );
    assert!(
        err.contains(needle),
        "stderr should contain {needle:?}: {err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

fn unused_pid() -> u32 {
    (4_000_000..4_100_000)
        .find(|p| !std::path::Path::new(&format!("/proc/{p}")).exists())
        .expect("a free pid")
}

#[test]
fn not_root_is_refused_with_the_fix() {
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_clprof"))
        .args(["record", "--pid", "1"])
        .output()
        .expect("setpriv (util-linux)");
    assert_fails_with(out, "must run as root");
}

#[test]
fn missing_pid_is_named() {
    let pid = unused_pid();
    let out = clprof()
        .args(["record", "--pid", &pid.to_string()])
        .output()
        .expect("run clprof");
    assert_fails_with(out, &format!("pid {pid} not found"));
}

#[test]
fn process_without_go_maps_is_refused() {
    let mut sleeper = Command::new("sleep").arg("30").spawn().expect("sleep");
    let out = clprof()
        .args(["record", "--pid", &sleeper.id().to_string()])
        .output()
        .expect("run clprof");
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    assert_fails_with(out, "no Go map functions in");
}

#[test]
fn command_without_go_maps_is_refused() {
    let out = clprof()
        .args(["record", "--duration", "1s", "--", "/bin/true"])
        .output()
        .expect("run clprof");
    assert_fails_with(out, "no Go map functions in /bin/true");
}

#[test]
fn unknown_command_is_named() {
    let out = clprof()
        .args(["record", "--", "no-such-program-clprof"])
        .output()
        .expect("run clprof");
    assert_fails_with(out, "command not found: no-such-program-clprof");
}

#[test]
fn budget_must_be_a_percentage() {
    let out = clprof()
        .args(["record", "--budget", "0", "--pid", "1"])
        .output()
        .expect("run clprof");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is not a percentage in (0, 100]"),
        "unclear --budget error: {err}"
    );
}

#[test]
fn nothing_to_profile_is_explained() {
    let out = clprof().arg("record").output().expect("run clprof");
    assert_fails_with(out, "give --pid PID, --all-go or -- CMD ARGS");
}

#[test]
fn probes_lists_every_map_assign_function_and_the_layout() {
    use super::{
        go::{program, Go},
        support::Program,
    };
    let prog = Program::start(&program("sharedmap", Go::Old), &["30s"]);
    let out = clprof()
        .args(["probes", "--pid", &prog.pid().to_string()])
        .output()
        .expect("run clprof probes");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(text.contains("go1.19"), "{text}");
    assert!(text.contains("runtime.hmap"), "{text}");
    assert!(
        text.contains("assign writes flags @8 and count @0"),
        "{text}"
    );
    let probed = text
        .lines()
        .filter(|l| l.trim_start().starts_with("probe runtime.mapassign"))
        .count();
    let missing = text
        .lines()
        .filter(|l| l.trim_start().starts_with("not probed"))
        .count();
    assert_eq!(probed + missing, 5, "{text}");
    assert!(text.contains("probe runtime.mapassign_fast64 "), "{text}");
}
