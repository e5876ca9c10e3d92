//! The table's section of lines found from the perf samples' data addresses.

use std::fmt::Write as _;

use crate::report::{Report, SampledLineReport, ThreadWords};

use super::numbers::thousands;

/// Lines by the samples' data addresses, at most `top`, with each line's words per thread and
/// the source lines that touched it.
pub fn sampled_section(s: &mut String, report: &Report, top: usize) {
    let what = match report.sources.perf.as_str() {
        "cpu-clock" => "cpu-clock samples decoded at their instruction: where accesses waited",
        "pebs-l1-miss" | "ibs-op" => "hardware data addresses",
        other => other,
    };
    let all = report.sources.perf_samples.unwrap_or(0).max(1);
    let _ = writeln!(s, "LINES BY SAMPLED DATA ADDRESS ({what}; any object)");
    let _ = writeln!(
        s,
        "{:>3}  {:<18} {:>7} {:>8} {:>6} {:<14} {:>8} {:>8} {:>8} {:>8} {:>7} {:>4}",
        "#",
        "LINE",
        "PID",
        "SAMPLES",
        "SHARE",
        "SHARING",
        "LOCKED",
        "UPDATES",
        "STORES",
        "LOADS",
        "THREADS",
        "CPUS"
    );
    for (rank, line) in report.sampled_lines.iter().take(top).enumerate() {
        line_rows(s, rank + 1, line, all);
    }
}

fn line_rows(s: &mut String, rank: usize, line: &SampledLineReport, all: u64) {
    let threads = if line.threads_exact {
        line.threads.to_string()
    } else {
        format!("~{}", line.threads)
    };
    let _ = writeln!(
        s,
        "{:>3}  {:<18} {:>7} {:>8} {:>5.1}% {:<14} {:>8} {:>8} {:>8} {:>8} {:>7} {:>4}",
        rank,
        line.line,
        line.pid,
        thousands(line.samples),
        100.0 * line.samples as f64 / all as f64,
        line.sharing.as_str(),
        thousands(line.locked),
        thousands(line.updates),
        thousands(line.stores),
        thousands(line.loads),
        threads,
        line.cpus
    );
    if !line.names.is_empty() {
        let names: Vec<String> = line
            .names
            .iter()
            .map(|n| format!("{} {}", n.word, n.name))
            .collect();
        let _ = writeln!(s, "       words hold: {}", names.join(", "));
    }
    if !line.words.is_empty() {
        let words: Vec<String> = line.words.iter().map(words_text).collect();
        let _ = writeln!(s, "       words by thread: {}", words.join(" | "));
    }
    for site in &line.accesses {
        let f = &site.frame;
        let at = match (&f.file, f.line) {
            (Some(file), Some(n)) => format!("{file}:{n}"),
            (Some(file), None) => file.clone(),
            _ => "?".to_owned(),
        };
        let object = site
            .object
            .as_ref()
            .map_or(String::new(), |o| format!("  ({o})"));
        let _ = writeln!(
            s,
            "       {:>8}  {}  {at}{object}",
            thousands(site.samples),
            f.function
        );
    }
}

/// One thread's words: those written, then those only read in parentheses.
fn words_text(t: &ThreadWords) -> String {
    let list = |w: &[u8]| {
        w.iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let read: Vec<u8> = t
        .touched
        .iter()
        .copied()
        .filter(|w| !t.written.contains(w))
        .collect();
    match (t.written.is_empty(), read.is_empty()) {
        (false, true) => format!("wrote {}", list(&t.written)),
        (true, false) => format!("read {}", list(&read)),
        _ => format!("wrote {} read {}", list(&t.written), list(&read)),
    }
}
