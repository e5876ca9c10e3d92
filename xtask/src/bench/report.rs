//! BENCHMARKS.md from the measurements of `cargo xtask bench`: machine, command, results as
//! ratios, the targets with a verdict each. Hand-written notes below the notes marker of an
//! existing BENCHMARKS.md are kept.

use std::{fmt::Write as _, process::Command};

use anyhow::Result;

use super::{
    results::{detection_steps, Results, Run},
    service::{ServiceStart, Steps},
    stats::median,
    watch::{self, AFTER_S, GAP_S, LEAD_S, MARGIN_S, RECORD_S, ROUNDS, SETTLE_S},
};
use crate::{bootstrap::Tools, util};

const NOTES_MARKER: &str = "<!-- notes: kept by cargo xtask bench -->";

fn ops(runs: &[Run]) -> Option<f64> {
    median(runs.iter().map(|r| r.ops as f64).collect())
}

fn value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn num(pairs: &[(String, String)], key: &str) -> Option<f64> {
    value(pairs, key)?.parse().ok()
}

/// The headline figures, one line each.
/// How far the line-transfer figures of runs that each measured afresh lie apart.
fn transfer_line(r: &Results) -> Option<String> {
    let ns: Vec<f64> = r
        .default_budget
        .iter()
        .chain(&r.full_budget)
        .filter_map(|run| run.line_transfer_ns)
        .collect();
    let lo = ns.iter().copied().reduce(f64::min)?;
    let hi = ns.iter().copied().reduce(f64::max)?;
    let mid = median(ns.clone())?;
    Some(format!(
        "Line transfer, measured afresh by each of the {} recordings: median {mid:.1} ns, \
         {lo:.1}–{hi:.1} ns, highest over lowest {:.2}× (a vCPU the host moves during the \
         measurement makes it slower).",
        ns.len(),
        hi / lo.max(f64::MIN_POSITIVE)
    ))
}

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

fn detection_text(r: &Results) -> String {
    let found: Vec<f64> = r.detection_ms.iter().flatten().map(|&m| m as f64).collect();
    match median(found) {
        Some(ms) if r.detection_ms.iter().all(Option::is_some) => {
            format!(
                "shared cache ranked first after {:.2} s (median of {})",
                ms / 1000.0,
                r.detection_ms.len()
            )
        }
        Some(ms) => format!(
            "ranked first in {} of {} rounds (median {:.2} s); not within 5 s in the others",
            r.detection_ms.iter().filter(|d| d.is_some()).count(),
            r.detection_ms.len(),
            ms / 1000.0
        ),
        None => "not ranked first within 5 s".to_owned(),
    }
}

fn sh(cmd: &str, args: &[&str]) -> String {
    util::output(Command::new(cmd).args(args)).unwrap_or_else(|_| "unknown".to_owned())
}

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
    let date = sh("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    writeln!(md, "# clprof benchmarks\n")?;
    writeln!(
        md,
        "Measured by `cargo xtask bench` (as root) on {date}. Run it again to reproduce; it \
         rewrites this file except the notes at the end.\n"
    )?;
    writeln!(md, "## Machine\n\n{}", machine(tools))?;

    let alone = ops(&r.alone);
    let default = ops(&r.default_budget);
    let full = ops(&r.full_budget);
    writeln!(md, "## Target slowdown\n")?;
    writeln!(
        md,
        "The demo workload (a mutex-guarded shared cache, private per-worker maps, two stats maps \
         sharing a line) runs 6 s and prints the operations it completed: alone, under `clprof \
         record` at the default budget (2%), and under `--budget 100` (probes always on), in \
         rotating order, {} rounds. Ratios are medians alone / medians under clprof.\n",
        r.rounds
    )?;
    writeln!(md, "| run | median ops | slowdown |\n|---|---:|---:|")?;
    if let Some(a) = alone {
        writeln!(md, "| alone | {a:.0} | 1.000x |")?;
        for (name, m) in [
            ("clprof, default budget (2%)", default),
            ("clprof, --budget 100", full),
        ] {
            if let Some(m) = m {
                writeln!(md, "| {name} | {m:.0} | {:.3}x |", a / m)?;
            }
        }
    }
    let each = |runs: &[Run]| -> String {
        runs.iter()
            .map(|r| r.ops.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    writeln!(
        md,
        "\nEvery run (ops): alone {}; default budget {}; --budget 100 {}.\n",
        each(&r.alone),
        each(&r.default_budget),
        each(&r.full_budget)
    )?;
    let per_cpu = |runs: &[Run]| {
        median(
            runs.iter()
                .filter(|r| r.cpu_ms > 0)
                .map(|r| r.ops as f64 / r.cpu_ms as f64)
                .collect(),
        )
    };
    if let (Some(a), Some(d)) = (per_cpu(&r.alone), per_cpu(&r.default_budget)) {
        writeln!(
            md,
            "Per CPU-second of the workload (ops over its own CPU time): alone {a:.0} ops/ms, \
             default budget {d:.0} ops/ms: **{:.3}x**.\n",
            a / d
        )?;
    }
    let spread = |runs: &[Run]| -> String {
        let min = runs.iter().map(|r| r.ops).min().unwrap_or(0) as f64;
        let max = runs.iter().map(|r| r.ops).max().unwrap_or(0) as f64;
        if min > 0.0 {
            format!("{:.0}%", (max / min - 1.0) * 100.0)
        } else {
            "n/a".to_owned()
        }
    };
    writeln!(
        md,
        "Run-to-run spread of ops (max/min - 1): alone {}, default budget {}.\n",
        spread(&r.alone),
        spread(&r.default_budget)
    )?;
    let est = median(
        r.default_budget
            .iter()
            .filter_map(|r| r.estimated_overhead_pct)
            .collect(),
    );
    let frac = median(
        r.default_budget
            .iter()
            .filter_map(|r| r.active_fraction)
            .collect(),
    );
    let windows = median(
        r.default_budget
            .iter()
            .filter_map(|r| r.windows.map(|w| w as f64))
            .collect(),
    );
    let first = r
        .default_budget
        .iter()
        .filter(|r| r.cache_rank == Some(0))
        .count();
    writeln!(
        md,
        "At the default budget clprof's own report said (medians): probes attached {:.2}% of the \
         time in {:.0} windows, estimated overhead {:.2}%; the shared cache's line was ranked \
         first in {first} of {} runs.",
        frac.unwrap_or(f64::NAN) * 100.0,
        windows.unwrap_or(f64::NAN),
        est.unwrap_or(f64::NAN),
        r.default_budget.len()
    )?;
    if let Some((hit, sample, hz)) = r.calibration {
        writeln!(
            md,
            "Calibration on this machine: one uprobe hit costs {:.1} µs; one perf sample {}; \
             perf sampling at {} Hz.",
            hit as f64 / 1000.0,
            sample.map_or("n/a".to_owned(), |ns| format!(
                "{:.1} µs",
                ns as f64 / 1000.0
            )),
            hz.map_or("n/a".to_owned(), |h| h.to_string())
        )?;
    }
    if let Some(line) = transfer_line(r) {
        writeln!(md, "{line}")?;
    }

    writeln!(md, "\n## Detection\n")?;
    writeln!(
        md,
        "The workload runs on; `clprof record --pid` (default budget) records it for {} ms \
         until the shared cache's line (its header address, printed by the workload) is ranked \
         first; {} fresh processes. Result: {}.\n",
        detection_steps(),
        r.detection_ms.len(),
        detection_text(r)
    )?;

    writeln!(md, "## Userspace fold rate\n")?;
    writeln!(
        md,
        "`cargo bench -p profiler --bench fold` folds an event stream recorded from the workload \
         (`--budget 100 --sample-every 1 --save-samples`): {} events, {} distinct keys, on one \
         core: **{:.2}M events/s**.\n",
        value(&r.fold, "fold_stream_events").unwrap_or("?"),
        value(&r.fold, "fold_distinct_keys").unwrap_or("?"),
        num(&r.fold, "fold_events_per_sec").unwrap_or(f64::NAN) / 1e6
    )?;

    writeln!(md, "## Symbolization\n")?;
    writeln!(
        md,
        "`cargo bench -p profiler --bench symbolize`: 10,000 addresses inside a workload \
         binary's functions, symbolized cold (binary loaded each run) by clprof and by binutils \
         `addr2line -a -f -i` (one process for all), medians of 5 alternating runs; answers \
         compared frame by frame (inlined frames included).\n"
    )?;
    writeln!(
        md,
        "| binary | clprof | addr2line | speedup | identical function/file/line | identical \
         file/line | addr2line without a line |\n|---|---:|---:|---:|---:|---:|---:|"
    )?;
    for (name, pairs) in [
        ("Go 1.19 (DWARF 4)", &r.symbolize),
        ("Go 1.27 (DWARF 5)", &r.symbolize_new),
    ] {
        writeln!(
            md,
            "| {name} | {} s | {} s | **{:.1}x** | {} | {} | {} |",
            value(pairs, "symbolize_clprof_s").unwrap_or("?"),
            value(pairs, "symbolize_addr2line_s").unwrap_or("?"),
            num(pairs, "symbolize_speedup").unwrap_or(f64::NAN),
            value(pairs, "symbolize_identical").unwrap_or("?"),
            value(pairs, "symbolize_identical_locations").unwrap_or("?"),
            value(pairs, "symbolize_addr2line_without_line").unwrap_or("?"),
        )?;
    }
    writeln!(md)?;
    service_section(&mut md, &r.service)?;
    super::accuracy::markdown(&mut md, &r.accuracy)?;
    watch_section(&mut md, &r.watch)?;

    writeln!(
        md,
        "## Targets\n\n| target | measured | verdict |\n|---|---|---|"
    )?;
    let slow = match (alone, default) {
        (Some(a), Some(d)) => a / d,
        _ => f64::NAN,
    };
    verdict(
        &mut md,
        "slowdown ≤ 1.02x at the default budget",
        format!("{slow:.3}x"),
        slow <= 1.02,
        format!("over by {:.1} points", (slow - 1.02) * 100.0),
    )?;
    let det_ok = !r.detection_ms.is_empty()
        && r.detection_ms
            .iter()
            .all(|d| d.is_some_and(|ms| ms <= 5_000));
    verdict(
        &mut md,
        "shared line ranked first within 5 s",
        detection_text(r),
        det_ok,
        "see Detection".to_owned(),
    )?;
    let fold = num(&r.fold, "fold_events_per_sec").unwrap_or(0.0);
    verdict(
        &mut md,
        "fold rate ≥ 5M events/s",
        format!("{:.2}M/s", fold / 1e6),
        fold >= 5e6,
        format!("{:.0}% of the target", fold / 5e4),
    )?;
    let speedup = num(&r.symbolize, "symbolize_speedup").unwrap_or(0.0);
    let identical = num(&r.symbolize, "symbolize_identical").unwrap_or(0.0);
    let all = num(&r.symbolize, "symbolize_addresses").unwrap_or(f64::NAN);
    let speed = if speedup >= 10.0 {
        format!("speed {speedup:.1}x met")
    } else {
        format!("speed {speedup:.1}x ({:.0}% of the target)", speedup * 10.0)
    };
    verdict(
        &mut md,
        "symbolization ≥ 10x binutils, identical answers (Go 1.19 binary)",
        format!("{speedup:.1}x; identical at {identical:.0} of {all:.0}"),
        speedup >= 10.0 && identical == all,
        format!(
            "{speed}; answers differ at {:.0} of {all:.0} (see Notes)",
            all - identical
        ),
    )?;
    let attach = median(r.service.attach_ms.iter().map(|&ms| ms as f64).collect());
    let peak = r
        .service
        .peak_rss_kib
        .iter()
        .max()
        .map(|&k| k as f64 / 1024.0);
    verdict(
        &mut md,
        "stripped ~50 MB service: probes attached < 1 s, memory < 100 MB",
        format!(
            "{} ms (median), peak RSS {} MiB",
            attach.map_or("?".to_owned(), |a| format!("{a:.0}")),
            peak.map_or("?".to_owned(), |p| format!("{p:.1}"))
        ),
        attach.is_some_and(|a| a < 1000.0) && peak.is_some_and(|p| p < 100.0),
        "see Stripped service".to_owned(),
    )?;
    let warm = |steps: &[Steps]| {
        median(
            steps
                .iter()
                .filter(|s| !s.calibrated)
                .map(|s| s.recording as f64)
                .collect(),
        )
    };
    let (small, service) = (warm(&r.service.small_steps), warm(&r.service.service_steps));
    let ms = |v: Option<f64>| v.map_or("?".to_owned(), |v| format!("{v:.0} ms"));
    verdict(
        &mut md,
        "start to `recording`: ≤ 0.3 s on a small Go program, ≤ 0.5 s on prometheus",
        format!("{} and {} (medians)", ms(small), ms(service)),
        small.is_some_and(|s| s <= 300.0) && service.is_some_and(|s| s <= 500.0),
        "see Stripped service".to_owned(),
    )?;

    let old = std::fs::read_to_string(util::repo_root().join("BENCHMARKS.md")).unwrap_or_default();
    let notes = old
        .split_once(NOTES_MARKER)
        .map(|(_, n)| n.trim_start().to_owned())
        .unwrap_or_default();
    writeln!(md, "\n## Notes\n\n{NOTES_MARKER}\n{notes}")?;
    Ok(md)
}

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

fn verdict(md: &mut String, target: &str, measured: String, met: bool, miss: String) -> Result<()> {
    let verdict = if met {
        "met".to_owned()
    } else {
        format!("missed: {miss}")
    };
    writeln!(md, "| {target} | {measured} | {verdict} |")?;
    Ok(())
}
