//! `clprof diff`: two recordings of one program, matched by what lives in their lines.

use std::{path::Path, process::Output};

use serde_json::Value;

use super::{
    go::{program, test_both_go_versions, Go},
    support::{clprof, record_json_with, Program},
};

/// Records `adjacentmaps` (its two maps false-sharing a line, or `apart`) for 3 s into `path`,
/// with `options` (none: the default budget).
fn record_adjacentmaps(go: Go, apart: bool, path: &Path, options: &[&str]) {
    let args: &[&str] = if apart { &["60s", "apart"] } else { &["60s"] };
    let prog = Program::start(&program("adjacentmaps", go), args);
    let lines: Vec<u64> = prog.addresses().iter().map(|a| a / 64).collect();
    assert_eq!(
        lines[0] == lines[1],
        !apart,
        "the program placed its maps as asked: {}",
        prog.banner
    );
    let report = record_json_with(prog.pid(), 3, options);
    std::fs::write(path, serde_json::to_vec(&report).expect("json")).expect("write the report");
}

fn diff(before: &Path, after: &Path, extra: &[&str]) -> Output {
    clprof()
        .arg("diff")
        .arg(before)
        .arg(after)
        .args(["--format", "json"])
        .args(extra)
        .output()
        .expect("run clprof diff")
}

fn diff_json(out: &Output) -> Value {
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "clprof diff printed invalid JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// The entry of the line the two map headers share: two `go-map` objects.
fn shared_line(diff: &Value) -> &Value {
    diff["matched"]
        .as_array()
        .expect("matched")
        .iter()
        .find(|m| {
            let objects = m["identity"]["objects"].as_array().expect("objects");
            objects.len() == 2 && objects.iter().all(|o| o["kind"] == "go-map")
        })
        .unwrap_or_else(|| panic!("no line of two map headers: {diff:#}"))
}

/// Probes always on: every write seen.
const ALWAYS_ON: &[&str] = &["--budget", "100", "--sample-every", "16"];

/// At the default budget, as a user records: with the probes always on, their own cost sets
/// this program's pace, which drifts between runs on a VM by more than the 10% floor (up to
/// 50% here); at the default budget the estimates carry their uncertainty, which the diff uses.
fn same_program_twice_matches_its_lines(go: Go) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    record_adjacentmaps(go, false, &a, &[]);
    record_adjacentmaps(go, false, &b, &[]);
    let out = diff(&a, &b, &[]);
    assert!(out.status.success(), "{out:?}");
    let d = diff_json(&out);
    assert_eq!(d["schema"], "clprof-diff/1");
    let line = shared_line(&d);
    assert!(
        line["before"].is_object() && line["after"].is_object(),
        "{line:#}"
    );
    assert_eq!(line["identity"]["exe"], "adjacentmaps", "{line:#}");
    for o in line["identity"]["objects"].as_array().expect("objects") {
        assert_eq!(o["go_type"], "map[int32]int", "{o}");
    }
    assert_eq!(line["change"], "same", "{line:#}");
    // The same line is costliest in both: first.
    assert_eq!(d["matched"][0]["identity"], line["identity"], "{d:#}");
    // The table says so too.
    let text = clprof()
        .arg("diff")
        .args([&a, &b])
        .output()
        .expect("run clprof diff");
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(
        text.contains("adjacentmaps: go-map map[int32]int"),
        "{text}"
    );
    assert!(text.lines().any(|l| l.starts_with("total: ")), "{text}");
}

test_both_go_versions!(same_program_twice_matches_its_lines);

fn fixed_program_resolves_the_false_sharing(go: Go) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (unfixed, fixed) = (
        dir.path().join("unfixed.json"),
        dir.path().join("fixed.json"),
    );
    record_adjacentmaps(go, false, &unfixed, ALWAYS_ON);
    record_adjacentmaps(go, true, &fixed, ALWAYS_ON);

    let out = diff(&unfixed, &fixed, &["--fail-if-worse", "10"]);
    let d = diff_json(&out);
    let line = shared_line(&d);
    assert_eq!(line["change"], "resolved", "{line:#}");
    assert!(line["after"].is_null(), "{line:#}");
    assert_eq!(d["total"]["change"], "better", "{:#}", d["total"]);

    // The other way round, the shared line is new: the gate fails and says why.
    let out = diff(&fixed, &unfixed, &["--fail-if-worse", "10"]);
    let d = diff_json(&out);
    assert_eq!(shared_line(&d)["change"], "new", "{d:#}");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("worse by more than 10%"), "{err}");
    assert!(
        err.lines()
            .any(|l| l.contains("new: ") && l.contains("adjacentmaps: go-map")),
        "{err}"
    );
}

test_both_go_versions!(fixed_program_resolves_the_false_sharing);

#[test]
fn a_missing_profile_is_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let other = dir.path().join("x.json");
    std::fs::write(&other, "{}").expect("write");
    let out = clprof()
        .args(["diff", "missing.json"])
        .arg(&other)
        .output()
        .expect("run clprof diff");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("cannot read missing.json"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // A JSON file that is not a profile: the fix is named.
    let out = clprof()
        .arg("diff")
        .args([&other, &other])
        .output()
        .expect("run clprof diff");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("clprof record --format json"), "{err}");
}
