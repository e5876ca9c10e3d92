//! Flamegraph exports and re-rendering saved profiles.

use std::{os::unix::fs::PermissionsExt as _, path::Path, process::Command};

use super::{
    go::{program, Go},
    support::*,
};

/// Records the false-sharing program once: (table printed by record, JSON path, temp dir).
fn recorded() -> (String, std::path::PathBuf, tempfile::TempDir) {
    let prog = Program::start(&program("adjacentmaps", Go::New), &["60s"]);
    let dir = tempfile::tempdir().expect("tempdir");
    // Readable by an unprivileged user for the round trip below.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let json = dir.path().join("profile.json");
    let out = run_ok(
        clprof()
            .args([
                "record",
                "--quiet",
                "--budget",
                "100",
                "--duration",
                "2s",
                "--json-out",
            ])
            .arg(&json)
            .args(["--pid", &prog.pid().to_string()]),
    );
    (String::from_utf8_lossy(&out.stdout).into_owned(), json, dir)
}

fn report(json: &Path, args: &[&str]) -> String {
    let out = run_ok(clprof().arg("report").arg(json).args(args));
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn total(json: &Path, field: &str) -> u64 {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(json).expect("profile")).expect("JSON");
    v["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| l[field].as_u64().expect("count"))
        .sum()
}

#[test]
fn folded_stacks_parse_and_sum_to_the_report_totals() {
    let (_, json, _dir) = recorded();
    for (weight, field) in [("transfers", "transfers"), ("writes", "writes")] {
        let folded = report(&json, &["--format", "folded", "--weight", weight]);
        let mut sum = 0;
        for line in folded.lines() {
            let (stack, count) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("no count: {line}"));
            let count: u64 = count
                .parse()
                .unwrap_or_else(|_| panic!("bad count: {line}"));
            let frames: Vec<&str> = stack.split(';').collect();
            assert!(frames.iter().all(|f| !f.is_empty()), "empty frame: {line}");
            assert!(
                frames.last().is_some_and(|f| f.starts_with("[line 0x")),
                "{line}"
            );
            sum += count;
        }
        assert_eq!(
            sum,
            total(&json, field),
            "{weight}: folded total = report total"
        );
        assert!(
            folded.contains(";clproftest/testkit.WriteOwn;runtime.mapassign_fast32;[go-map 0x"),
            "{folded}"
        );
    }
}

#[test]
fn svg_is_well_formed_and_names_the_hot_frames() {
    let (_, json, _dir) = recorded();
    let svg = report(&json, &["--format", "svg"]);
    // inferno writes a DOCTYPE; allow it, check everything else.
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(&svg, options).expect("well-formed SVG");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    assert!(svg.contains("testkit.WriteOwn"), "hot frame missing");
    assert!(
        svg.contains("clprof: "),
        "title names clprof and the target"
    );
}

#[test]
fn report_round_trips_the_recorded_table_without_root() {
    let (table, json, _dir) = recorded();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_clprof"))
        .arg("report")
        .arg(&json)
        .output()
        .expect("setpriv");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), table);
}

#[test]
fn completions_are_printed_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let out = run_ok(clprof().args(["completions", shell]));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("clprof") && text.contains("record"),
            "{shell}: {text}"
        );
    }
}

/// `go tool pprof ARGS FILE` with the test's Go toolchain; its stdout.
pub(super) fn go_pprof(args: &[&str], file: &Path) -> String {
    let go = std::env::var("CLPROF_GO_NEW").unwrap_or_else(|_| "go".to_owned());
    let home = tempfile::tempdir().expect("tempdir");
    let out = Command::new(&go)
        .args(["tool", "pprof"])
        .args(args)
        .arg(file)
        .env("HOME", home.path())
        .env("PPROF_TMPDIR", home.path())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {go} tool pprof: {e}"));
    assert!(
        out.status.success(),
        "go tool pprof {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn pprof_output_is_read_by_go_tool_pprof() {
    let (_, json, dir) = recorded();
    let pb = dir.path().join("profile.pb.gz");
    run_ok(
        clprof()
            .arg("report")
            .arg(&json)
            .args(["--format", "pprof", "-o"])
            .arg(&pb),
    );
    let top = go_pprof(&["-top", "-sample_index=transfers"], &pb);
    assert!(top.contains("Type: transfers"), "{top}");
    let first_row = top
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("flat"))
        .nth(1)
        .unwrap_or_else(|| panic!("no rows: {top}"));
    // The map assign and its caller share the transfers; which of the two leads depends on
    // how the machine schedules the writers (a loaded machine once put the caller first).
    assert!(
        ["runtime.mapassign_fast32", "testkit.WriteOwn"]
            .iter()
            .any(|f| first_row.ends_with(f)),
        "top function: {first_row}"
    );
    assert!(top.contains("runtime.mapassign_fast32"), "{top}");
    assert!(top.contains("testkit.WriteOwn"), "{top}");
    for index in ["writes", "samples", "data_samples", "cost"] {
        let t = go_pprof(&["-top", &format!("-sample_index={index}")], &pb);
        assert!(t.contains(&format!("Type: {index}")), "{t}");
    }
    // The cost is CPU time: pprof shows its total as a duration.
    let cost = go_pprof(&["-top", "-sample_index=cost"], &pb);
    let total = cost
        .lines()
        .find_map(|l| {
            l.split_once(" total")?
                .0
                .rsplit_once(" of ")
                .map(|p| p.1.to_owned())
        })
        .unwrap_or_else(|| panic!("no total: {cost}"));
    assert!(
        total.ends_with("ns") || total.ends_with("us") || total.ends_with('s'),
        "the cost's total is a duration: {total:?} in {cost}"
    );
    assert_ne!(total, "0", "the lines cost something: {cost}");
    let traces = go_pprof(&["-traces"], &pb);
    assert!(traces.contains("object_kind:  go-map"), "{traces}");
    assert!(traces.contains("fields:"), "{traces}");
    assert!(traces.contains("line:  0x"), "{traces}");
}
