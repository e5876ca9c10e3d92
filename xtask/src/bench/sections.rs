//! The sections of BENCHMARKS.md on the demo workload (slowdown, detection, fold rate,
//! symbolization) and the targets, with the figures the summary shares.

use std::fmt::Write as _;

use anyhow::Result;

use super::{
    results::{detection_steps, Results, Run},
    service::Steps,
    stats::median,
};

/// The median of the runs' operations.
pub fn ops(runs: &[Run]) -> Option<f64> {
    median(runs.iter().map(|r| r.ops as f64).collect())
}

/// The value of `key` among the `key=value` pairs a cargo bench printed.
pub fn value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The value of `key` as a number.
pub fn num(pairs: &[(String, String)], key: &str) -> Option<f64> {
    value(pairs, key)?.parse().ok()
}

/// How far the line-transfer figures of runs that each measured afresh lie apart.
pub fn transfer_line(r: &Results) -> Option<String> {
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

/// How soon the shared cache was ranked first over the detection rounds.
pub fn detection_text(r: &Results) -> String {
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

/// "Target slowdown": the medians, every run, and what clprof's reports said it cost.
pub fn slowdown_section(md: &mut String, r: &Results) -> Result<()> {
    slowdown_table(md, r)?;
    slowdown_runs(md, r)?;
    budget_report(md, r)?;
    calibration_lines(md, r)
}

/// The heading, how the workload ran, and the table of median operations and slowdowns.
fn slowdown_table(md: &mut String, r: &Results) -> Result<()> {
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
    if let Some(a) = ops(&r.alone) {
        writeln!(md, "| alone | {a:.0} | 1.000x |")?;
        for (name, m) in [
            ("clprof, default budget (2%)", ops(&r.default_budget)),
            ("clprof, --budget 100", ops(&r.full_budget)),
        ] {
            if let Some(m) = m {
                writeln!(md, "| {name} | {m:.0} | {:.3}x |", a / m)?;
            }
        }
    }
    Ok(())
}

/// Every run's operations, the operations per CPU time, and the run-to-run spread.
fn slowdown_runs(md: &mut String, r: &Results) -> Result<()> {
    writeln!(
        md,
        "\nEvery run (ops): alone {}; default budget {}; --budget 100 {}.\n",
        ops_list(&r.alone),
        ops_list(&r.default_budget),
        ops_list(&r.full_budget)
    )?;
    if let (Some(a), Some(d)) = (ops_per_cpu_ms(&r.alone), ops_per_cpu_ms(&r.default_budget)) {
        writeln!(
            md,
            "Per CPU-second of the workload (ops over its own CPU time): alone {a:.0} ops/ms, \
             default budget {d:.0} ops/ms: **{:.3}x**.\n",
            a / d
        )?;
    }
    writeln!(
        md,
        "Run-to-run spread of ops (max/min - 1): alone {}, default budget {}.\n",
        spread(&r.alone),
        spread(&r.default_budget)
    )?;
    Ok(())
}

/// The runs' operations, comma-separated.
fn ops_list(runs: &[Run]) -> String {
    runs.iter()
        .map(|r| r.ops.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The median of operations per ms of the workload's own CPU time, over runs that measured it.
fn ops_per_cpu_ms(runs: &[Run]) -> Option<f64> {
    median(
        runs.iter()
            .filter(|r| r.cpu_ms > 0)
            .map(|r| r.ops as f64 / r.cpu_ms as f64)
            .collect(),
    )
}

/// Most over fewest operations, less one, in percent; "n/a" when a run completed none.
fn spread(runs: &[Run]) -> String {
    let min = runs.iter().map(|r| r.ops).min().unwrap_or(0) as f64;
    let max = runs.iter().map(|r| r.ops).max().unwrap_or(0) as f64;
    if min > 0.0 {
        format!("{:.0}%", (max / min - 1.0) * 100.0)
    } else {
        "n/a".to_owned()
    }
}

/// What clprof's own reports said at the default budget: probes' time, cost, the cache's rank.
fn budget_report(md: &mut String, r: &Results) -> Result<()> {
    let runs = &r.default_budget;
    let est = median(
        runs.iter()
            .filter_map(|r| r.estimated_overhead_pct)
            .collect(),
    );
    let frac = median(runs.iter().filter_map(|r| r.active_fraction).collect());
    let windows = median(
        runs.iter()
            .filter_map(|r| r.windows.map(|w| w as f64))
            .collect(),
    );
    let first = runs.iter().filter(|r| r.cache_rank == Some(0)).count();
    writeln!(
        md,
        "At the default budget clprof's own report said (medians): probes attached {:.2}% of the \
         time in {:.0} windows, estimated overhead {:.2}%; the shared cache's line was ranked \
         first in {first} of {} runs.",
        frac.unwrap_or(f64::NAN) * 100.0,
        windows.unwrap_or(f64::NAN),
        est.unwrap_or(f64::NAN),
        runs.len()
    )?;
    Ok(())
}

/// The costs clprof calibrated on this machine and the spread of the line-transfer figures.
fn calibration_lines(md: &mut String, r: &Results) -> Result<()> {
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
    Ok(())
}

/// "Detection": the shortest recording that ranked the shared cache first.
pub fn detection_section(md: &mut String, r: &Results) -> Result<()> {
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
    Ok(())
}

/// "Userspace fold rate": events folded per second on one core.
pub fn fold_section(md: &mut String, r: &Results) -> Result<()> {
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
    Ok(())
}

/// "Symbolization": clprof against binutils addr2line, one row per Go build.
pub fn symbolization_section(md: &mut String, r: &Results) -> Result<()> {
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
    Ok(())
}

/// "Targets": each target with what was measured and whether it was met.
pub fn targets_section(md: &mut String, r: &Results) -> Result<()> {
    writeln!(
        md,
        "## Targets\n\n| target | measured | verdict |\n|---|---|---|"
    )?;
    slowdown_target(md, r)?;
    detection_target(md, r)?;
    fold_target(md, r)?;
    symbolization_target(md, r)?;
    service_target(md, r)?;
    start_target(md, r)?;
    won_target(md, r)
}

/// Every program's predicted share within ±20% of what its fix won.
fn won_target(md: &mut String, r: &Results) -> Result<()> {
    let ratios: Vec<(String, Option<f64>)> =
        r.won.iter().map(|m| (m.label.clone(), m.ratio())).collect();
    let within = |x: &Option<f64>| x.is_some_and(|x| (0.8..=1.2).contains(&x));
    let held = ratios.iter().filter(|(_, x)| within(x)).count();
    let missed: Vec<String> = ratios
        .iter()
        .filter(|(_, x)| !within(x))
        .map(|(label, x)| {
            format!(
                "{label} ({})",
                x.map_or("-".to_owned(), |x| format!("{x:.2}"))
            )
        })
        .collect();
    verdict(
        md,
        "predicted within ±20% of what the fix won, every program",
        format!("{held} of {}", ratios.len()),
        !ratios.is_empty() && missed.is_empty(),
        missed.join(", "),
    )
}

/// The slowdown at the default budget against 1.02x.
fn slowdown_target(md: &mut String, r: &Results) -> Result<()> {
    let slow = match (ops(&r.alone), ops(&r.default_budget)) {
        (Some(a), Some(d)) => a / d,
        _ => f64::NAN,
    };
    verdict(
        md,
        "slowdown ≤ 1.02x at the default budget",
        format!("{slow:.3}x"),
        slow <= 1.02,
        format!("over by {:.1} points", (slow - 1.02) * 100.0),
    )
}

/// Every detection round ranked the shared line first within 5 s.
fn detection_target(md: &mut String, r: &Results) -> Result<()> {
    let det_ok = !r.detection_ms.is_empty()
        && r.detection_ms
            .iter()
            .all(|d| d.is_some_and(|ms| ms <= 5_000));
    verdict(
        md,
        "shared line ranked first within 5 s",
        detection_text(r),
        det_ok,
        "see Detection".to_owned(),
    )
}

/// The fold rate against 5M events/s.
fn fold_target(md: &mut String, r: &Results) -> Result<()> {
    let fold = num(&r.fold, "fold_events_per_sec").unwrap_or(0.0);
    verdict(
        md,
        "fold rate ≥ 5M events/s",
        format!("{:.2}M/s", fold / 1e6),
        fold >= 5e6,
        format!("{:.0}% of the target", fold / 5e4),
    )
}

/// Symbolization of the Go 1.19 build against 10x binutils with identical answers.
fn symbolization_target(md: &mut String, r: &Results) -> Result<()> {
    let speedup = num(&r.symbolize, "symbolize_speedup").unwrap_or(0.0);
    let identical = num(&r.symbolize, "symbolize_identical").unwrap_or(0.0);
    let all = num(&r.symbolize, "symbolize_addresses").unwrap_or(f64::NAN);
    let speed = if speedup >= 10.0 {
        format!("speed {speedup:.1}x met")
    } else {
        format!("speed {speedup:.1}x ({:.0}% of the target)", speedup * 10.0)
    };
    verdict(
        md,
        "symbolization ≥ 10x binutils, identical answers (Go 1.19 binary)",
        format!("{speedup:.1}x; identical at {identical:.0} of {all:.0}"),
        speedup >= 10.0 && identical == all,
        format!(
            "{speed}; answers differ at {:.0} of {all:.0} (see Notes)",
            all - identical
        ),
    )
}

/// The stripped service's time to probes attached and clprof's peak memory.
fn service_target(md: &mut String, r: &Results) -> Result<()> {
    let attach = median(r.service.attach_ms.iter().map(|&ms| ms as f64).collect());
    let peak = r
        .service
        .peak_rss_kib
        .iter()
        .max()
        .map(|&k| k as f64 / 1024.0);
    verdict(
        md,
        "stripped ~50 MB service: probes attached < 1 s, memory < 100 MB",
        format!(
            "{} ms (median), peak RSS {} MiB",
            attach.map_or("?".to_owned(), |a| format!("{a:.0}")),
            peak.map_or("?".to_owned(), |p| format!("{p:.1}"))
        ),
        attach.is_some_and(|a| a < 1000.0) && peak.is_some_and(|p| p < 100.0),
        "see Stripped service".to_owned(),
    )
}

/// Start to `recording` with the calibration kept, on the small program and on prometheus.
fn start_target(md: &mut String, r: &Results) -> Result<()> {
    let small = warm_start_ms(&r.service.small_steps);
    let service = warm_start_ms(&r.service.service_steps);
    let ms = |v: Option<f64>| v.map_or("?".to_owned(), |v| format!("{v:.0} ms"));
    verdict(
        md,
        "start to `recording`: ≤ 0.3 s on a small Go program, ≤ 0.5 s on prometheus",
        format!("{} and {} (medians)", ms(small), ms(service)),
        small.is_some_and(|s| s <= 300.0) && service.is_some_and(|s| s <= 500.0),
        "see Stripped service".to_owned(),
    )
}

/// The median time to `recording` (ms) over the rounds that kept the calibration.
fn warm_start_ms(steps: &[Steps]) -> Option<f64> {
    median(
        steps
            .iter()
            .filter(|s| !s.calibrated)
            .map(|s| s.recording as f64)
            .collect(),
    )
}

/// One row of the targets table: "met", or "missed" with what fell short.
fn verdict(md: &mut String, target: &str, measured: String, met: bool, miss: String) -> Result<()> {
    let verdict = if met {
        "met".to_owned()
    } else {
        format!("missed: {miss}")
    };
    writeln!(md, "| {target} | {measured} | {verdict} |")?;
    Ok(())
}
