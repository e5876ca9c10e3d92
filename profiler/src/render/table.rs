//! The text report: a perf-c2c-like table of the most contended lines, each followed by the
//! objects (and their fields) that live in it and the code that wrote it.

use std::fmt::Write as _;

use profiler_common::TRACKED_TIDS;

use crate::report::{FrameReport, LineReport, ObjectKind, RaceKind, Report, TargetInfo};

use super::numbers::{duration_text, thousands};

/// An object's or map's writer count: exact up to [`TRACKED_TIDS`], so a larger one is the
/// kernel sketch's estimate and shows as `~N`.
fn writers_text(writers: u32) -> String {
    if writers > TRACKED_TIDS as u32 {
        format!("~{writers}")
    } else {
        writers.to_string()
    }
}

fn perf_source(report: &Report) -> String {
    let pmu = if report.sources.pmu_available {
        "hardware PMU present"
    } else {
        "no hardware PMU on this machine"
    };
    match report.sources.perf.as_str() {
        "none" => format!("perf events: none ({pmu}; no L1-miss data)"),
        "cpu-clock" => {
            format!("perf events: cpu-clock software sampling ({pmu}; not hardware L1 misses)")
        }
        "page-faults" => format!(
            "perf events: page-fault software sampling ({pmu}; first touches of memory, not \
             contention)"
        ),
        other => format!("perf events: {other} ({pmu})"),
    }
}

/// A target's pid, with its pid inside its own pid namespace when that differs, and its
/// container.
fn target_pid(t: &TargetInfo) -> String {
    let pid = match t.ns_pid {
        Some(ns) if ns != t.pid => format!("{} (pid {ns} in its namespace)", t.pid),
        _ => t.pid.to_string(),
    };
    match &t.container {
        Some(c) => {
            let pod = c
                .pod_uid
                .as_ref()
                .map_or(String::new(), |uid| format!(", pod {uid}"));
            let short = c.id.get(..12).unwrap_or(&c.id);
            format!("{pid} [container {short} ({}){pod}]", c.runtime.as_str())
        }
        None => pid,
    }
}

/// Renders the header and the first `top` lines.
pub fn table(report: &Report, top: usize) -> String {
    let mut s = String::new();
    header(&mut s, report);
    let _ = writeln!(s);
    if report.lines.is_empty() {
        let _ = writeln!(s, "no written cache lines recorded");
    } else {
        lines_section(&mut s, report, top);
    }
    if !report.maps.is_empty() {
        let _ = writeln!(s);
        maps_section(&mut s, report, top);
    }
    if !report.functions.is_empty() {
        let _ = writeln!(s);
        functions_section(&mut s, report, top);
    }
    for notice in &report.notices {
        let _ = writeln!(s, "notice: {notice}");
    }
    s
}

/// The report's title, its targets, what was sampled and probed, and what was dropped.
fn header(s: &mut String, report: &Report) {
    let _ = writeln!(
        s,
        "clprof cache-line contention report ({}), {:.1}s from {}",
        report.schema, report.duration_s, report.started_at
    );
    for t in &report.targets {
        let exited = if t.exited { "  [exited]" } else { "" };
        match t.map_layout.map(|l| l.as_str()) {
            Some(layout) => {
                let _ = writeln!(
                    s,
                    "target: pid {} {}  {}  {layout} maps (layout from {}{}){exited}",
                    target_pid(t),
                    t.exe,
                    t.go_version.as_deref().unwrap_or("go version unknown"),
                    t.layout_source.map_or("?", |s| s.as_str()),
                    match t.symbols_source {
                        Some(crate::inspect::SymbolsSource::Gopclntab) => {
                            ", functions from .gopclntab: stripped"
                        }
                        _ => "",
                    },
                );
            }
            None => {
                let _ = writeln!(
                    s,
                    "target: pid {} {}  (custom probes only){exited}",
                    target_pid(t),
                    t.exe
                );
            }
        }
    }
    let hits: u64 = report.sources.uprobes.iter().map(|u| u.hits).sum();
    let _ = writeln!(
        s,
        "sources: uprobes on {} function(s), {} hits; {}",
        report.sources.uprobes.len(),
        thousands(hits),
        perf_source(report)
    );
    if let Some(ns) = report.sources.line_transfer_ns {
        let classes: Vec<String> = report
            .sources
            .line_transfer
            .iter()
            .map(|c| format!("{} {:.1} ns", c.class.as_str(), c.ns))
            .collect();
        let _ = writeln!(
            s,
            "line transfer: {ns:.1} ns a move ({}); COST/s is the CPU time lines cost per second",
            classes.join(", ")
        );
    }
    super::table_sampled::data_address_header(s, report);
    let _ = writeln!(
        s,
        "events: {}, sampled with stacks: {}; drops: ringbuf {}, map-full {}, stacks {}",
        thousands(report.events),
        thousands(report.samples),
        thousands(report.drops.ringbuf),
        thousands(report.drops.map_full),
        thousands(report.drops.stacks)
    );
}

/// The column heads, then the first `top` lines.
fn lines_section(s: &mut String, report: &Report, top: usize) {
    let _ = writeln!(
        s,
        "{:>3}  {:<18} {:>7} {:>10} {:>8} {:<18} {:>12} {:>12} {:>6} {:>12} {:>10} {:>7} {:>4} {:>8} {:>8} {:>8}",
        "#",
        "LINE",
        "PID",
        "COST/s",
        "CPU%",
        "VERDICT",
        "WRITES",
        "TRANSFERS",
        "XFER%",
        "READS",
        "REMOTE",
        "THREADS",
        "CPUS",
        "SAMPLES",
        "GROWING",
        "RACING"
    );
    for (rank, line) in report.lines.iter().take(top).enumerate() {
        line_rows(s, rank + 1, line);
    }
    if report.lines.len() > top {
        let _ = writeln!(
            s,
            "... {} more line(s); --top N shows more",
            report.lines.len() - top
        );
    }
}

fn line_rows(s: &mut String, rank: usize, line: &LineReport) {
    // Transfers come from the probes' writes or, when more, the watched ones: so do the writes
    // they are a share of.
    let watched: u64 = line
        .watch
        .as_ref()
        .map_or(0, |w| w.words.iter().map(|w| w.writes).sum());
    let writes = line.writes.max(watched);
    let pct = if writes == 0 {
        0.0
    } else {
        100.0 * line.transfers as f64 / writes as f64
    };
    // Beyond the exactly tracked threads the count is the kernel sketch's estimate.
    let threads = if line.threads_exact {
        line.threads.to_string()
    } else {
        format!("~{}", line.threads)
    };
    let opt = |v: Option<u64>| v.map_or("-".to_owned(), thousands);
    let _ = writeln!(
        s,
        "{:>3}  {:<18} {:>7} {:>10} {:>8} {:<18} {:>12} {:>12} {:>5.1}% {:>12} {:>10} {:>7} {:>4} {:>8} {:>8} {:>8}",
        rank,
        line.line,
        line.pid,
        line.cost.map_or("-".to_owned(), |c| duration_text(c.cpu_ns_per_s)),
        line.cost
            .map_or("-".to_owned(), |c| format!("{:.3}%", c.target_cpu_pct)),
        line.verdict.as_str(),
        thousands(line.writes),
        thousands(line.transfers),
        pct,
        opt(line.reads),
        opt(line.remote_reads),
        threads,
        line.cpus,
        thousands(line.samples),
        opt(line.growth_writes),
        opt(line.concurrent_writers)
    );
    if let Some(advice) = &line.advice {
        let _ = writeln!(s, "       advice: {advice}");
    }
    object_rows(s, line);
    watch_rows(s, line);
    super::table_sampled::data_rows(s, line);
    frame_rows(s, line);
}

/// The objects in the line: map value slots (one row per owning map), custom probes' objects,
/// then the others (map headers and the like) with the fields they write here.
fn object_rows(s: &mut String, line: &LineReport) {
    // Value slots: one row per owning map (a line can hold several slots of it).
    let mut slots: Vec<(&str, usize, u64, u32)> = Vec::new();
    for o in line.objects.iter().filter(|o| o.owner.is_some()) {
        let owner = o.owner.as_deref().unwrap_or("?");
        match slots.iter_mut().find(|s| s.0 == owner) {
            Some(s) => {
                s.1 += 1;
                s.2 += o.writes;
                s.3 = s.3.max(o.writers);
            }
            None => slots.push((owner, 1, o.writes, o.writers)),
        }
    }
    for (owner, n, writes, writers) in slots {
        let _ = writeln!(
            s,
            "       go-map-slot x{n} (values of map {owner})  {} writes, up to {} thread(s) per slot",
            thousands(writes),
            writers_text(writers)
        );
    }
    for o in line.objects.iter().filter(|o| o.kind == ObjectKind::Custom) {
        let _ = writeln!(
            s,
            "       custom {}  {} writes by {} thread(s)",
            o.addr,
            thousands(o.writes),
            writers_text(o.writers)
        );
    }
    for o in line.objects.iter().filter(|o| {
        o.owner.is_none() && o.kind != ObjectKind::Custom && o.kind != ObjectKind::Watched
    }) {
        let written = if o.written_fields.is_empty() {
            "none of its written fields here".to_owned()
        } else {
            format!("writes [{}] here", o.written_fields.join(","))
        };
        let _ = writeln!(
            s,
            "       {} {}  {} writes by {} thread(s) via {}; {}; fields in line: {}",
            o.kind,
            o.addr,
            thousands(o.writes),
            writers_text(o.writers),
            o.assign.as_deref().unwrap_or("?"),
            written,
            o.fields.join(" ")
        );
    }
}

/// The code that wrote the line, each function with its share of the line's samples.
fn frame_rows(s: &mut String, line: &LineReport) {
    for f in &line.top_frames {
        let share = if line.samples == 0 {
            0.0
        } else {
            100.0 * f.samples as f64 / line.samples as f64
        };
        let loc = match (&f.file, f.line) {
            (Some(file), Some(l)) => format!("{file}:{l}"),
            (Some(file), None) => file.clone(),
            _ => "?".to_owned(),
        };
        let _ = writeln!(s, "       {share:>5.1}%  {}  {loc}", f.function);
    }
}

/// The line's watched words, each with the writers the probes do not see under it.
fn watch_rows(s: &mut String, line: &LineReport) {
    let Some(watch) = &line.watch else {
        return;
    };
    let quiet = watch.words.iter().filter(|w| w.writes == 0).count();
    for w in watch.words.iter().filter(|w| w.writes > 0) {
        let _ = writeln!(
            s,
            "       watched {} ({}, {} B)  {} writes by {} thread(s), {} transfers in {:.1} s watched",
            w.name,
            w.addr,
            w.len,
            thousands(w.writes),
            writers_text(w.threads),
            thousands(w.transfers),
            w.active_s
        );
        for o in line
            .objects
            .iter()
            .filter(|o| o.kind == ObjectKind::Watched && o.addr == w.addr)
        {
            let by = o.writer.as_ref().map_or("?".to_owned(), frame_text);
            let _ = writeln!(
                s,
                "         written outside map assigns: {} writes, most by {by}",
                thousands(o.writes)
            );
        }
    }
    if quiet > 0 {
        let _ = writeln!(
            s,
            "       watched … ({quiet} more word(s) of the line: not written)"
        );
    }
}

fn frame_text(f: &FrameReport) -> String {
    match (&f.file, f.line) {
        (Some(file), Some(l)) => format!("{} ({file}:{l})", f.function),
        _ => f.function.clone(),
    }
}

/// The maps: type, key kind, growth, races (with both threads) and assign latency.
fn maps_section(s: &mut String, report: &Report, top: usize) {
    let _ = writeln!(
        s,
        "{:<16} {:>7} {:<22} {:<9} {:>10} {:>10} {:>8} {:>7} {:>7} {:>8} {:>8} {:>9} {:>9}",
        "MAP",
        "PID",
        "TYPE",
        "KEYS",
        "WRITES",
        "READS",
        "DELETES",
        "RANGES",
        "THREADS",
        "GROWING",
        "RACING",
        "P50",
        "P99"
    );
    let opt = |v: Option<u64>| v.map_or("-".to_owned(), thousands);
    let ns = |v: u64| format!("{:.1}us", v as f64 / 1000.0);
    for m in report.maps.iter().take(top) {
        let (p50, p99) = m
            .latency
            .as_ref()
            .map_or(("-".to_owned(), "-".to_owned()), |l| {
                (ns(l.p50_ns), ns(l.p99_ns))
            });
        let _ = writeln!(
            s,
            "{:<16} {:>7} {:<22} {:<9} {:>10} {:>10} {:>8} {:>7} {:>7} {:>8} {:>8} {:>9} {:>9}",
            m.addr,
            m.pid,
            m.go_type.as_deref().unwrap_or("?"),
            m.key_kind,
            thousands(m.writes),
            opt(m.reads),
            opt(m.deletes.map(|d| d + m.clears.unwrap_or(0))),
            opt(m.iterations),
            writers_text(m.writers),
            thousands(m.growth_writes),
            thousands(m.concurrent_writers + m.read_races.unwrap_or(0)),
            p50,
            p99
        );
        let made = m
            .made_at
            .iter()
            .find(|f| !f.function.starts_with("runtime."));
        if let Some(f) = made {
            let _ = writeln!(s, "       made at {}", frame_text(f));
        }
        if let Some(f) = m.first_assign.first() {
            let _ = writeln!(s, "       first written at {}", frame_text(f));
        }
        for r in &m.races {
            let other = r
                .other_tid
                .map_or("another thread".to_owned(), |t| format!("tid {t}"));
            let at = r.frames.first().map_or("?".to_owned(), frame_text);
            let other_at = r
                .other_frames
                .first()
                .map_or("(not sampled)".to_owned(), frame_text);
            let doing = match r.kind {
                RaceKind::WriteWrite => "writing",
                RaceKind::ReadWrite => "reading",
                RaceKind::IterateWrite => "iterating",
            };
            let _ = writeln!(
                s,
                "       race ({}): tid {} {doing} at {at} entered while {other} was writing, at {other_at}",
                race_kind_name(r.kind),
                r.tid
            );
        }
    }
    if report.maps.len() > top {
        let _ = writeln!(s, "... {} more map(s)", report.maps.len() - top);
    }
}

/// The race kind as the JSON names it.
fn race_kind_name(kind: RaceKind) -> &'static str {
    match kind {
        RaceKind::WriteWrite => "write-write",
        RaceKind::ReadWrite => "read-write",
        RaceKind::IterateWrite => "iterate-write",
    }
}

/// Functions by perf samples, with the source named (software samples are never shown as
/// hardware figures).
fn functions_section(s: &mut String, report: &Report, top: usize) {
    let what = match report.sources.perf.as_str() {
        "cpu-clock" => "cpu-clock samples (software: where CPU time goes, not L1 misses)",
        "l1d-read-miss" => "L1D read-miss samples (hardware, instruction addresses only)",
        "pebs-l1-miss" => "L1-miss load samples (hardware PEBS)",
        "ibs-op" => "IBS op samples (hardware)",
        "page-faults" => "page-fault samples (software: first touches of memory)",
        other => other,
    };
    let total: u64 = report.functions.iter().map(|f| f.samples).sum();
    let _ = writeln!(s, "TOP FUNCTIONS BY {what}");
    for f in report.functions.iter().take(top) {
        let share = 100.0 * f.samples as f64 / total.max(1) as f64;
        let _ = writeln!(
            s,
            "  {share:>5.1}% {:>8}  {}  {}",
            thousands(f.samples),
            f.function,
            f.file.as_deref().unwrap_or("?")
        );
    }
    let sources = &report.sources;
    if let (Some(steps @ 1..), Some(all)) = (sources.probe_trampoline_samples, sources.perf_samples)
    {
        let _ = writeln!(
            s,
            "  probe overhead: {:.1}% of the targets' {} samples ({}) were threads single-stepping a probed instruction in the kernel's [uprobes] page: the [clprof probe] rows",
            100.0 * steps as f64 / all.max(1) as f64,
            thousands(all),
            thousands(steps),
        );
    }
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
