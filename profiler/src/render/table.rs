//! The text report: a perf-c2c-like table of the most contended lines, each followed by the
//! objects (and their fields) that live in it and the code that wrote it.

use std::fmt::Write as _;

use crate::report::{LineReport, Report};

/// `1234567` -> `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
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
        other => format!("perf events: {other} ({pmu})"),
    }
}

/// Renders the header and the first `top` lines.
pub fn table(report: &Report, top: usize) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "clprof cache-line contention report ({}), {:.1}s from {}",
        report.schema, report.duration_s, report.started_at
    );
    for t in &report.targets {
        let _ = writeln!(
            s,
            "target: pid {} {}  {}  {} maps (layout from {}){}",
            t.pid,
            t.exe,
            t.go_version.as_deref().unwrap_or("go version unknown"),
            t.map_layout.as_deref().unwrap_or("unknown"),
            t.layout_source.as_deref().unwrap_or("?"),
            if t.exited { "  [exited]" } else { "" }
        );
    }
    let hits: u64 = report.sources.uprobes.iter().map(|u| u.hits).sum();
    let _ = writeln!(
        s,
        "sources: uprobes on {} map-assign function(s), {} hits; {}",
        report.sources.uprobes.len(),
        thousands(hits),
        perf_source(report)
    );
    let _ = writeln!(
        s,
        "events: {}, sampled with stacks: {}; drops: ringbuf {}, map-full {}, stacks {}",
        thousands(report.events),
        thousands(report.samples),
        thousands(report.drops.ringbuf),
        thousands(report.drops.map_full),
        thousands(report.drops.stacks)
    );
    let _ = writeln!(s);
    if report.lines.is_empty() {
        let _ = writeln!(s, "no written cache lines recorded");
    } else {
        let _ = writeln!(
            s,
            "{:>3}  {:<18} {:>7} {:>12} {:>12} {:>6} {:>7} {:>4} {:>8}",
            "#", "LINE", "PID", "WRITES", "TRANSFERS", "XFER%", "THREADS", "CPUS", "SAMPLES"
        );
        for (rank, line) in report.lines.iter().take(top).enumerate() {
            line_rows(&mut s, rank + 1, line);
        }
        if report.lines.len() > top {
            let _ = writeln!(
                s,
                "... {} more line(s); --top N shows more",
                report.lines.len() - top
            );
        }
    }
    for notice in &report.notices {
        let _ = writeln!(s, "notice: {notice}");
    }
    s
}

fn line_rows(s: &mut String, rank: usize, line: &LineReport) {
    let pct = if line.writes == 0 {
        0.0
    } else {
        100.0 * line.transfers as f64 / line.writes as f64
    };
    let threads = if line.threads_exact {
        line.threads.to_string()
    } else {
        format!(">{}", line.threads)
    };
    let _ = writeln!(
        s,
        "{:>3}  {:<18} {:>7} {:>12} {:>12} {:>5.1}% {:>7} {:>4} {:>8}",
        rank,
        line.line,
        line.pid,
        thousands(line.writes),
        thousands(line.transfers),
        pct,
        threads,
        line.cpus,
        thousands(line.samples)
    );
    for o in &line.objects {
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
            o.writers,
            o.assign.as_deref().unwrap_or("?"),
            written,
            o.fields.join(" ")
        );
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
