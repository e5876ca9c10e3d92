//! Every supported Go release, with the matrix program built the ways services are built:
//! default, stripped (`-ldflags=-s -w`), PIE, and cgo (linked by the system linker). Each
//! combination is recorded and must show the shared map's line ranked, the false-sharing line
//! found, map types named and frames symbolized.

use std::path::PathBuf;

use super::{go::build, support::*};

/// The toolchains: `CLPROF_GO_MATRIX` = `VERSION=GO_BINARY,…` (`cargo xtask test` sets it from
/// what the bootstrap installed).
fn toolchains() -> Vec<(String, PathBuf)> {
    let spec = std::env::var("CLPROF_GO_MATRIX").expect(
        "CLPROF_GO_MATRIX (VERSION=GO_BINARY,…) names the Go releases to test; `cargo xtask test` sets it",
    );
    spec.split(',')
        .filter(|s| !s.is_empty())
        .map(|item| {
            let (version, go) = item
                .split_once('=')
                .unwrap_or_else(|| panic!("CLPROF_GO_MATRIX item {item:?} is not VERSION=PATH"));
            (version.to_owned(), PathBuf::from(go))
        })
        .collect()
}

/// The ways each program is built: name, `go build` flags, cgo.
const BUILDS: [(&str, &[&str], bool); 4] = [
    ("default", &[], false),
    ("stripped", &["-ldflags=-s -w"], false),
    ("pie", &["-buildmode=pie"], false),
    ("cgo", &[], true),
];

/// The `maps` entry of the map at `addr`.
fn map_entry(report: &serde_json::Value, addr: u64) -> Option<&serde_json::Value> {
    let want = format!("{addr:#x}");
    report["maps"]
        .as_array()?
        .iter()
        .find(|m| m["addr"] == want.as_str())
}

fn has_frame(line: &serde_json::Value, function: &str) -> bool {
    line["top_frames"]
        .as_array()
        .is_some_and(|f| f.iter().any(|f| f["function"] == function))
}

/// Records one build; Ok(a summary) or Err(what is wrong).
fn check(
    version: &str,
    go: &std::path::Path,
    build_name: &str,
    flags: &[&str],
    cgo: bool,
) -> Result<String, String> {
    let path = build("matrix", go, &format!("go{version}"), flags, cgo);
    let prog = Program::start(&path, &["60s"]);
    let addrs = prog.addresses();
    let (shared, a, b) = (addrs[0], addrs[1], addrs[2]);
    if !prog.banner.contains(&format!("cgo {cgo}")) {
        return Err(format!(
            "the program says {:?}, built with cgo {cgo}",
            prog.banner
        ));
    }
    // Probes always on: the test is about every release and build, and at the default budget
    // a VM charging 18 µs a hit leaves windows too short to be sure of the shared line's
    // transfers in 2 s.
    let report = record_json_with(prog.pid(), 2, &["--budget", "100"]);
    let target = &report["targets"][0];
    let want_source = if build_name == "stripped" {
        "gopclntab"
    } else {
        "symtab"
    };
    if target["symbols_source"] != want_source {
        return Err(format!(
            "symbols_source {} (want {want_source})",
            target["symbols_source"]
        ));
    }
    if !target["go_version"]
        .as_str()
        .is_some_and(|v| v.starts_with(&format!("go{version}")))
    {
        return Err(format!("go_version {}", target["go_version"]));
    }
    let lines = report["lines"].as_array().cloned().unwrap_or_default();
    let rank = |addr: u64| {
        let want = format!("{addr:#x}");
        lines.iter().position(|l| {
            l["objects"]
                .as_array()
                .is_some_and(|o| o.iter().any(|o| o["addr"] == want.as_str()))
        })
    };
    let shared_rank = rank(shared).ok_or("the shared map's line is not in the report")?;
    let shared_line = &lines[shared_rank];
    if shared_rank > 2 || shared_line["transfers"].as_u64().unwrap_or(0) == 0 {
        return Err(format!(
            "shared map's line ranked {} with {}",
            shared_rank + 1,
            shared_line["transfers"]
        ));
    }
    let false_line = lines
        .iter()
        .find(|l| {
            let objs: Vec<&str> = l["objects"]
                .as_array()
                .map(|o| o.iter().filter_map(|o| o["addr"].as_str()).collect())
                .unwrap_or_default();
            objs.contains(&format!("{a:#x}").as_str()) && objs.contains(&format!("{b:#x}").as_str())
        })
        .ok_or("no line holds both false-sharing maps")?;
    if false_line["threads"].as_u64().unwrap_or(0) < 2 {
        return Err(format!(
            "false-sharing line has {} writer threads",
            false_line["threads"]
        ));
    }
    for (addr, want) in [(shared, "map[int]int"), (a, "map[int32]int")] {
        let got = map_entry(&report, addr).map(|m| m["go_type"].clone());
        if got.as_ref().and_then(|t| t.as_str()) != Some(want) {
            return Err(format!("map {addr:#x} type {got:?}, want {want}"));
        }
    }
    if !has_frame(shared_line, "main.sharer")
        || !has_frame(false_line, "clproftest/testkit.WriteOwn")
    {
        return Err(format!(
            "frames not symbolized: {} / {}",
            shared_line["top_frames"], false_line["top_frames"]
        ));
    }
    Ok(format!(
        "shared line #{} ({} transfers), false sharing {} threads",
        shared_rank + 1,
        shared_line["transfers"],
        false_line["threads"]
    ))
}

#[test]
fn every_go_release_and_build_is_profiled() {
    let mut rows = Vec::new();
    let mut failed = 0;
    for (version, go) in toolchains() {
        for (name, flags, cgo) in BUILDS {
            let result = check(&version, &go, name, flags, cgo);
            failed += usize::from(result.is_err());
            rows.push(format!(
                "go{version:<8} {name:<9} {}",
                match result {
                    Ok(s) => format!("ok: {s}"),
                    Err(e) => format!("FAILED: {e}"),
                }
            ));
        }
    }
    let table = rows.join("\n");
    eprintln!("{table}");
    assert!(
        rows.len() >= 8,
        "fewer than two Go releases in CLPROF_GO_MATRIX:\n{table}"
    );
    assert_eq!(failed, 0, "matrix:\n{table}");
}
