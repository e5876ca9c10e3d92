//! Targets unharmed: Go standard-library packages' own test suites, which this project did not
//! write, pass under `clprof record --budget 100 -- TEST` (every map probe always on, watchpoints
//! on the top lines) exactly as they pass alone: same `--- PASS/FAIL/SKIP` lines, `PASS` at the end.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use super::{
    go::{test_both_go_versions, Go},
    support::*,
};

/// Map-heavy packages whose tests take a few seconds here, alone and under clprof.
const PACKAGES: [&str; 3] = ["text/template", "net/url", "expvar"];

/// The flags both runs give the test binary.
const TEST_FLAGS: [&str; 2] = ["-test.count=1", "-test.v"];

/// `go env GOROOT` of `go`.
pub fn goroot(go: &Path) -> PathBuf {
    let out = Command::new(go)
        .args(["env", "GOROOT"])
        .env("GOTOOLCHAIN", "local")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} ({e})", go.display()));
    assert!(out.status.success(), "{} env GOROOT failed", go.display());
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// `go test -c` of standard-library package `pkg` into `dir` (no network: GOPROXY=off), with a
/// build cache kept between test runs.
pub fn build_std_test(go: &Path, pkg: &str, dir: &Path) -> PathBuf {
    let out = dir.join(format!("{}.test", pkg.replace('/', "_")));
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("go-programs/gocache-std");
    let status = Command::new(go)
        .args(["test", "-c", "-o"])
        .arg(&out)
        .arg(pkg)
        .env("GOCACHE", cache)
        .env("GOPATH", dir.join("gopath"))
        .env("HOME", dir)
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "")
        .env("CGO_ENABLED", "0")
        .status()
        .unwrap_or_else(|e| panic!("cannot run {} ({e})", go.display()));
    assert!(
        status.success(),
        "go test -c {pkg} with {} failed",
        go.display()
    );
    out
}

/// The `--- PASS: name`, `--- FAIL: name` and `--- SKIP: name` lines of `-test.v` output,
/// without their timings.
pub fn results(stdout: &str) -> BTreeSet<String> {
    stdout
        .lines()
        .map(str::trim_start)
        .filter(|l| {
            ["--- PASS: ", "--- FAIL: ", "--- SKIP: "]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .map(|l| match l.rfind(" (") {
            Some(i) => l[..i].to_owned(),
            None => l.to_owned(),
        })
        .collect()
}

/// Whether a test binary's output ends with its `PASS` line.
pub fn passed(stdout: &str) -> bool {
    stdout.lines().rev().find(|l| !l.trim().is_empty()) == Some("PASS")
}

fn text(out: &Output) -> String {
    format!(
        "{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn std_tests_pass_unharmed(go: Go) {
    let dir = tempfile::tempdir().expect("tempdir");
    let go_bin = go.binary();
    let src = goroot(&go_bin).join("src");
    for pkg in PACKAGES {
        let test = build_std_test(&go_bin, pkg, dir.path());
        let pkg_dir = src.join(pkg);
        let alone = Command::new(&test)
            .args(TEST_FLAGS)
            .current_dir(&pkg_dir)
            .output()
            .expect("run the test binary");
        let alone_out = String::from_utf8_lossy(&alone.stdout).into_owned();
        assert!(
            alone.status.success() && passed(&alone_out),
            "{pkg} ({go:?}) fails without clprof, so it cannot be compared:\n{}",
            tail(&text(&alone), 40)
        );
        let report_path = dir.path().join(format!("{}.json", pkg.replace('/', "_")));
        let under = Record::quiet_for("10m")
            .json()
            .output(&report_path)
            .launch(&test, &TEST_FLAGS)
            .command()
            .current_dir(&pkg_dir)
            .output()
            .expect("run clprof");
        let under_out = String::from_utf8_lossy(&under.stdout).into_owned();
        assert!(
            under.status.success(),
            "clprof record -- {pkg}.test ({go:?}) failed ({}; the test binary's own exit code \
             when it ended by itself):\n{}",
            under.status,
            tail(&text(&under), 40)
        );
        let (want, got) = (results(&alone_out), results(&under_out));
        let only_alone: Vec<_> = want.difference(&got).collect();
        let only_under: Vec<_> = got.difference(&want).collect();
        assert!(
            only_alone.is_empty() && only_under.is_empty() && passed(&under_out),
            "{pkg} ({go:?}) under clprof differs from its run alone\n\
             only alone: {only_alone:#?}\nonly under clprof: {only_under:#?}\n\
             last lines under clprof:\n{}",
            tail(&text(&under), 40)
        );
        assert!(!want.is_empty(), "{pkg} ({go:?}) ran no tests");
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&report_path).expect("clprof's report"))
                .expect("clprof's JSON report");
        // Counted even for a target that exits before the first counter reading.
        let hits = report["targets"][0]["probe_hits"].as_u64().unwrap_or(0);
        assert!(
            hits > 0,
            "clprof saw no map writes in {pkg}.test ({go:?}): the run proves nothing: {}",
            report["targets"]
        );
    }
}

test_both_go_versions!(std_tests_pass_unharmed);
