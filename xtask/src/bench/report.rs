//! BENCHMARKS.md from the measurements of `cargo xtask bench`: machine, command, results as
//! ratios, the targets with a verdict each. Hand-written notes below the notes marker of an
//! existing BENCHMARKS.md are kept.

use std::{fmt::Write as _, process::Command};

use anyhow::Result;

use super::{
    results::Results,
    sections::{self, detection_text, num, ops, transfer_line},
    service::ServiceStart,
    stats::median,
    watch::{self, AFTER_S, GAP_S, LEAD_S, MARGIN_S, RECORD_S, ROUNDS, SETTLE_S},
};
use crate::{bootstrap::Tools, util};

const NOTES_MARKER: &str = "<!-- notes: kept by cargo xtask bench -->";

/// The headline figures, one line each.
pub fn summary(r: &Results) -> String {
    let mut s = String::new();
    let alone = ops(&r.alone);
    for (name, runs) in [
        ("default budget", &r.default_budget),
        ("--budget 100", &r.full_budget),
    ] {
        if let (Some(a), Some(b)) = (alone, ops(runs)) {
            let _ = writeln!(s, "slowdown at {name}: {:.3}x", a / b);
        }
    }
    let _ = writeln!(s, "detection: {}", detection_text(r));
    if let Some(line) = transfer_line(r) {
        let _ = writeln!(s, "{line}");
    }
    if let Some(rate) = num(&r.fold, "fold_events_per_sec") {
        let _ = writeln!(s, "fold rate: {:.2}M events/s", rate / 1e6);
    }
    for (name, pairs) in [("Go 1.19", &r.symbolize), ("Go 1.27", &r.symbolize_new)] {
        if let Some(x) = num(pairs, "symbolize_speedup") {
            let _ = writeln!(
                s,
                "symbolization ({name} binary): {x:.1}x binutils addr2line"
            );
        }
    }
    if let Some(line) = watch_ratios(&r.watch) {
        let _ = writeln!(s, "watch hit cost, calibrated / paid: {line}");
    }
    s
}

/// What `cmd args` prints, or "unknown" when it fails.
fn sh(cmd: &str, args: &[&str]) -> String {
    util::output(Command::new(cmd).args(args)).unwrap_or_else(|_| "unknown".to_owned())
}

/// The machine as list items: CPU, memory, PMU, virtualization, kernel, Go.
fn machine(tools: &Tools) -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown".to_owned());
    let cpus = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").parse::<u64>().ok())
        })
        .map_or("unknown".to_owned(), |kb| {
            format!("{:.1} GiB", kb as f64 / 1048576.0)
        });
    let pmu = if std::path::Path::new("/sys/bus/event_source/devices/cpu").exists() {
        "hardware PMU present"
    } else {
        "no hardware PMU (perf falls back to cpu-clock)"
    };
    let virt = sh("systemd-detect-virt", &[]);
    let go = sh(&tools.go_new.display().to_string(), &["version"]);
    format!(
        "- CPU: {model}, {cpus} CPUs; memory {mem}; {pmu}; virtualization: {virt}\n\
         - kernel: {}\n- Go: {go} (the workload: `demo/workload`, 4 workers, GOMAXPROCS default)\n",
        sh("uname", &["-sr"])
    )
}

/// The whole BENCHMARKS.md.
pub fn markdown(r: &Results, tools: &Tools) -> Result<String> {
    let mut md = String::new();
    heading(&mut md, tools)?;
    sections::slowdown_section(&mut md, r)?;
    sections::detection_section(&mut md, r)?;
    sections::fold_section(&mut md, r)?;
    sections::symbolization_section(&mut md, r)?;
    service_section(&mut md, &r.service)?;
    super::accuracy::markdown(&mut md, &r.accuracy)?;
    watch_section(&mut md, &r.watch)?;
    super::sampled::markdown(&mut md, &r.sampled)?;
    super::won::markdown(&mut md, &r.won)?;
    sections::targets_section(&mut md, r)?;
    notes_section(&mut md)?;
    Ok(md)
}

/// The title, when and how it was measured, and the machine.
fn heading(md: &mut String, tools: &Tools) -> Result<()> {
    let date = sh("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    writeln!(md, "# clprof benchmarks\n")?;
    writeln!(
        md,
        "Measured by `cargo xtask bench` (as root) on {date}. Run it again to reproduce; it \
         rewrites this file except the notes at the end.\n"
    )?;
    writeln!(md, "## Machine\n\n{}", machine(tools))?;
    Ok(())
}

/// "Notes": the hand-written notes below the marker of the existing BENCHMARKS.md, kept.
fn notes_section(md: &mut String) -> Result<()> {
    let old = std::fs::read_to_string(util::repo_root().join("BENCHMARKS.md")).unwrap_or_default();
    let notes = old
        .split_once(NOTES_MARKER)
        .map(|(_, n)| n.trim_start().to_owned())
        .unwrap_or_default();
    writeln!(md, "\n## Notes\n\n{NOTES_MARKER}\n{notes}")?;
    Ok(())
}

/// The stripped service's start and memory table, for BENCHMARKS.md and `bench --only start`.
pub fn service_section(md: &mut String, m: &ServiceStart) -> Result<()> {
    writeln!(md, "## Stripped service\n")?;
    writeln!(
        md,
        "Debian's prometheus ({:.1} MB, Go 1.19, stripped, externally linked) on loopback, \
         recorded {} times for 1 s by the release `clprof record --pid`: time from clprof's start \
         to its `recording` line (printed once every probe and perf event is attached: binary \
         read, functions found in `.gopclntab`, layout, symbolizer opened, calibration), and \
         clprof's peak resident memory (`VmHWM`, the symbolizer included).\n",
        m.binary_bytes as f64 / 1e6,
        m.attach_ms.len()
    )?;
    let list = |v: &[u64]| v.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
    writeln!(
        md,
        "Start to probes attached: {} ms. Peak RSS: {} KiB.\n",
        list(&m.attach_ms),
        list(&m.peak_rss_kib)
    )?;
    writeln!(
        md,
        "The start step by step (ms from clprof's start to the end of each step, from its debug \
         log; the programs load on a thread of their own while the target is inspected; the \
         first service round calibrates, an empty cache folder; the small program writes a \
         map every millisecond or so and is otherwise idle; the demo workload keeps both CPUs \
         busy, so the verifier shares them with it; each recorded by pid):\n"
    )?;
    writeln!(
        md,
        "| target | round | calibrated | target inspected | programs loaded | session opened | recording |"
    )?;
    writeln!(md, "|---|---|---|---|---|---|---|")?;
    let at = |v: Option<u64>| v.map_or("?".to_owned(), |v| v.to_string());
    let rows = [
        ("prometheus", &m.service_steps),
        ("small Go program", &m.small_steps),
        ("demo workload (busy)", &m.busy_steps),
    ];
    for (name, steps) in rows {
        for (i, s) in steps.iter().enumerate() {
            writeln!(
                md,
                "| {name} | {i} | {} | {} | {} | {} | {} |",
                if s.calibrated { "yes" } else { "kept" },
                at(s.resolved),
                at(s.loaded),
                at(s.opened),
                s.recording
            )?;
        }
    }
    writeln!(md)?;
    Ok(())
}

/// "median R (min–max A–B, N rounds)" of the rounds' calibrated / paid ratios.
fn watch_ratios(w: &watch::Results) -> Option<String> {
    let ratios: Vec<f64> = w.rounds.iter().filter_map(|r| r.ratio()).collect();
    let min = ratios.iter().copied().reduce(f64::min)?;
    let max = ratios.iter().copied().reduce(f64::max)?;
    let n = ratios.len();
    Some(format!(
        "median {:.2} (min–max {min:.2}–{max:.2}, {n} rounds)",
        median(ratios)?
    ))
}

/// The watchpoint hit cost table, for BENCHMARKS.md and `cargo xtask bench --only watch`.
pub fn watch_section(md: &mut String, w: &watch::Results) -> Result<()> {
    writeln!(md, "## Watchpoint hit cost against ground truth\n")?;
    writeln!(
        md,
        "`xtask/bench/watchcost.c` (gcc -O2) loops over an atomic add to a 64-byte-aligned \
         global, `shared_word`, and a 50-step spin, and prints every 5,000 iterations its \
         thread's CPU time per iteration. It runs on while `clprof record --pid --budget 100 \
         --watch shared_word:8` records it {ROUNDS} times for {RECORD_S} s, {GAP_S} s apart. \
         Calibrated = the report's `watch_hit_cost_ns` (measured at clprof's start, on a word of \
         its own). Paid = the median CPU time per iteration from {SETTLE_S} s into a recording \
         to {MARGIN_S} s before its end, less the median over the {LEAD_S} s before it and from \
         {MARGIN_S} to {AFTER_S} s after it: each iteration writes the word once. Ratio = \
         calibrated / paid.\n"
    )?;
    writeln!(
        md,
        "| round | watched writes | calibrated | paid | ratio |\n|---:|---:|---:|---:|---:|"
    )?;
    let us = |ns: Option<f64>| ns.map_or("-".to_owned(), |ns| format!("{:.2} µs", ns / 1000.0));
    for (i, r) in w.rounds.iter().enumerate() {
        writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            i + 1,
            r.hits.map_or("-".to_owned(), |h| h.to_string()),
            us(r.calibrated_ns.map(|ns| ns as f64)),
            us(r.paid_ns()),
            r.ratio().map_or("-".to_owned(), |x| format!("{x:.2}"))
        )?;
    }
    match watch_ratios(w) {
        Some(line) => writeln!(md, "\nCalibrated / paid: {line}.\n")?,
        None => writeln!(md, "\nNo round gave both costs.\n")?,
    }
    Ok(())
}
