//! Folded stacks (`frame;frame;…;leaf count`, root first) and SVG flamegraphs (inferno).
//!
//! Each sampled write stack ends with synthetic frames for what it wrote:
//! `…;runtime.mapassign_fast64;[go-map 0xc000014150 flags,count];[line 0xc000014140] 812`.
//! A line's transfers (or writes) are shared among its sampled stacks in proportion to their
//! samples (largest remainders, so each line's total is exact); lines written but never sampled
//! get one `[unsampled]` stack, so the folded total equals the report's total.

use std::collections::HashMap;

use crate::report::{LineReport, Report, StackReport};

/// What a stack's count measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Weight {
    /// Cache-line ownership transfers (the contention).
    Transfers,
    /// Writes.
    Writes,
    /// Sampled writes.
    Samples,
}

impl Weight {
    fn of(self, line: &LineReport) -> u64 {
        match self {
            Weight::Transfers => line.transfers,
            Weight::Writes => line.writes,
            Weight::Samples => line.samples,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Weight::Transfers => "transfers",
            Weight::Writes => "writes",
            Weight::Samples => "samples",
        }
    }
}

/// Splits `total` over `parts` in proportion, exactly (largest remainders).
pub(super) fn apportion(total: u64, parts: &[u64]) -> Vec<u64> {
    let sum: u64 = parts.iter().sum();
    if sum == 0 {
        return vec![0; parts.len()];
    }
    let exact: Vec<(u64, u128)> = parts
        .iter()
        .map(|&p| {
            let scaled = total as u128 * p as u128;
            ((scaled / sum as u128) as u64, scaled % sum as u128)
        })
        .collect();
    let mut out: Vec<u64> = exact.iter().map(|e| e.0).collect();
    let mut left = total - out.iter().sum::<u64>();
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by(|&a, &b| exact[b].1.cmp(&exact[a].1).then(a.cmp(&b)));
    for i in order {
        if left == 0 {
            break;
        }
        out[i] += 1;
        left -= 1;
    }
    out
}

fn leaf(stack_object: &str, kind: &str, fields: &[String]) -> String {
    if fields.is_empty() {
        format!("[{kind} {stack_object}]")
    } else {
        format!("[{kind} {stack_object} {}]", fields.join(","))
    }
}

/// The folded lines (without counts of zero) of the first `top` lines (all when None), sorted.
pub fn folded_lines(report: &Report, weight: Weight, top: Option<usize>) -> Vec<String> {
    let mut by_line: HashMap<(u32, &str), Vec<&StackReport>> = HashMap::new();
    for s in &report.stacks {
        by_line.entry((s.pid, s.line.as_str())).or_default().push(s);
    }
    let mut out = Vec::new();
    for line in report.lines.iter().take(top.unwrap_or(usize::MAX)) {
        let total = weight.of(line);
        match by_line.get(&(line.pid, line.line.as_str())) {
            Some(stacks) => {
                let parts: Vec<u64> = stacks.iter().map(|s| s.samples).collect();
                for (s, n) in stacks.iter().zip(apportion(total, &parts)) {
                    if n == 0 {
                        continue;
                    }
                    // Root first: each location's inlined frames outermost first.
                    let mut frames: Vec<String> = s
                        .frames
                        .iter()
                        .flat_map(|loc| loc.lines.iter().rev())
                        .map(|f| f.function.replace(';', ":"))
                        .collect();
                    frames.push(leaf(&s.object, s.object_kind.as_str(), &s.fields));
                    frames.push(format!("[line {}]", line.line));
                    out.push(format!("{} {n}", frames.join(";")));
                }
            }
            None if total > 0 => {
                out.push(format!("[unsampled];[line {}] {total}", line.line));
            }
            None => {}
        }
    }
    out.sort();
    out
}

/// Folded stacks, one per line of text.
pub fn folded(report: &Report, weight: Weight, top: Option<usize>) -> String {
    let mut s = folded_lines(report, weight, top).join("\n");
    s.push('\n');
    s
}

/// An SVG flamegraph titled with the targets and the source.
pub fn svg(report: &Report, weight: Weight, top: Option<usize>) -> std::io::Result<String> {
    let lines = folded_lines(report, weight, top);
    let targets: Vec<String> = report
        .targets
        .iter()
        .map(|t| format!("{} (pid {})", t.exe, t.pid))
        .collect();
    let mut options = inferno::flamegraph::Options::default();
    options.title = format!(
        "clprof: {} by cache-line {} (uprobes on map assigns; perf: {})",
        targets.join(", "),
        weight.name(),
        report.sources.perf
    );
    options.count_name = weight.name().to_owned();
    let mut out = Vec::new();
    if lines.is_empty() {
        // inferno refuses empty input; an empty profile still renders as a titled picture.
        let empty = ["[no sampled writes] 1".to_owned()];
        inferno::flamegraph::from_lines(&mut options, empty.iter().map(String::as_str), &mut out)?;
    } else {
        inferno::flamegraph::from_lines(&mut options, lines.iter().map(String::as_str), &mut out)?;
    }
    String::from_utf8(out).map_err(std::io::Error::other)
}

#[cfg(test)]
#[path = "folded_tests.rs"]
mod tests;
