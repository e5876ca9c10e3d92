//! Folded stacks (`frame;frame;…;leaf count`, root first) and SVG flamegraphs (inferno).
//!
//! Each sampled write stack ends with synthetic frames for what it wrote:
//! `…;runtime.mapassign_fast64;[go-map 0xc000014150 flags,count];[line 0xc000014140] 812`.
//! A line's transfers (or writes) are shared among its sampled stacks in proportion to their
//! samples (largest remainders, so each line's total is exact); lines written but never sampled
//! get one `[unsampled]` stack, so the folded total equals the report's total.
//!
//! Weighted by data samples, each line's perf samples (the CPU time spent on instructions that
//! touched it) are shared among the user stacks some of them took, ending
//! `…;main.worker;[sampled main.hot.a,main.hot.b];[line 0x5a1e40] 131`; where no stack was kept,
//! among its accessing instructions.

use std::collections::HashMap;

use crate::report::{CostBasis, LineReport, Report, StackLocation, StackReport};

/// What a stack's count measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Weight {
    /// Cache-line ownership transfers (the contention).
    Transfers,
    /// Writes.
    Writes,
    /// Sampled writes.
    Samples,
    /// Perf samples whose data address fell in the line: CPU time spent accessing it.
    DataSamples,
    /// What the line cost over the recording (ns of CPU time): on the stacks of its data
    /// samples where they cost it, else on the probes'.
    Cost,
}

impl Weight {
    fn of(self, report: &Report, line: &LineReport) -> u64 {
        match self {
            Weight::Transfers => line.transfers,
            Weight::Writes => line.writes,
            Weight::Samples => line.samples,
            Weight::DataSamples => line.data_samples.as_ref().map_or(0, |d| d.samples),
            Weight::Cost => cost_ns(report, line),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Weight::Transfers => "transfers",
            Weight::Writes => "writes",
            Weight::Samples => "samples",
            Weight::DataSamples => "data-samples",
            Weight::Cost => "cost",
        }
    }

    /// What the counts are, for the flamegraph.
    fn count_name(self) -> &'static str {
        match self {
            Weight::Cost => "ns",
            other => other.name(),
        }
    }

    /// Whether `line`'s count goes on the stacks of its data samples.
    fn on_data_samples(self, line: &LineReport) -> bool {
        match self {
            Weight::DataSamples => true,
            Weight::Cost => line.cost.is_some_and(|c| c.basis == CostBasis::Samples),
            _ => false,
        }
    }
}

/// The CPU time `line` cost over its target's recording (ns): 0 without a cost.
pub(super) fn cost_ns(report: &Report, line: &LineReport) -> u64 {
    let seconds = report
        .targets
        .iter()
        .find(|t| t.pid == line.pid)
        .and_then(|t| t.overhead.recorded_s)
        .unwrap_or(report.duration_s);
    line.cost
        .map_or(0.0, |c| c.cpu_ns_per_s * seconds)
        .max(0.0)
        .round() as u64
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

/// `[kind names]`, or `[kind]` without names.
fn leaf_of_kind(kind: &str, names: &[&str]) -> String {
    if names.is_empty() {
        format!("[{kind}]")
    } else {
        format!("[{kind} {}]", names.join(","))
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
        let total = weight.of(report, line);
        if total == 0 {
            continue;
        }
        if weight.on_data_samples(line) {
            sampled_stacks(line, total, &mut out);
            continue;
        }
        match by_line.get(&(line.pid, line.line.as_str())) {
            Some(stacks) => {
                let parts: Vec<u64> = stacks.iter().map(|s| s.samples).collect();
                for (s, n) in stacks.iter().zip(apportion(total, &parts)) {
                    if n == 0 {
                        continue;
                    }
                    let mut frames = root_first(&s.frames);
                    frames.push(leaf(&s.object, s.object_kind.as_str(), &s.fields));
                    frames.push(format!("[line {}]", line.line));
                    out.push(format!("{} {n}", frames.join(";")));
                }
            }
            None => out.push(format!("[unsampled];[line {}] {total}", line.line)),
        }
    }
    merged(out)
}

/// `rows` with the rows of one stack (the same frames after symbolization) summed into one,
/// sorted.
fn merged(rows: Vec<String>) -> Vec<String> {
    let mut by_stack: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    for row in rows {
        if let Some((stack, n)) = row.rsplit_once(' ') {
            *by_stack.entry(stack.to_owned()).or_default() += n.parse::<u64>().unwrap_or(0);
        }
    }
    by_stack
        .into_iter()
        .map(|(stack, n)| format!("{stack} {n}"))
        .collect()
}

/// The function names of `locations` (root first), each location's inlined frames outermost
/// first.
fn root_first(locations: &[StackLocation]) -> Vec<String> {
    locations
        .iter()
        .flat_map(|loc| loc.lines.iter().rev())
        .map(|f| f.function.replace(';', ":"))
        .collect()
}

/// Folds the `total` data samples of `line` over the stacks its samples took, or over its
/// accessing instructions where no stack was kept.
fn sampled_stacks(line: &LineReport, total: u64, out: &mut Vec<String>) {
    let Some(data) = &line.data_samples else {
        return;
    };
    let tail = [
        leaf_of_kind("sampled", &data.object_names()),
        format!("[line {}]", line.line),
    ];
    let paths: Vec<(Vec<String>, u64)> = if data.stacks.is_empty() {
        data.accesses
            .iter()
            .map(|a| (vec![a.frame.function.replace(';', ":")], a.samples))
            .collect()
    } else {
        data.stacks
            .iter()
            .map(|s| (root_first(&s.frames), s.samples))
            .collect()
    };
    if paths.is_empty() {
        out.push(format!("[unstacked];{} {total}", tail.join(";")));
        return;
    }
    let parts: Vec<u64> = paths.iter().map(|p| p.1).collect();
    for ((mut frames, _), n) in paths.into_iter().zip(apportion(total, &parts)) {
        if n > 0 {
            frames.extend(tail.iter().cloned());
            out.push(format!("{} {n}", frames.join(";")));
        }
    }
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
    let source = match weight {
        Weight::DataSamples => "data addresses of perf samples",
        Weight::Cost => "CPU time the lines cost, from samples or moves",
        _ => "uprobes on map assigns",
    };
    options.title = format!(
        "clprof: {} by cache-line {} ({source}; perf: {})",
        targets.join(", "),
        weight.name(),
        report.sources.perf
    );
    options.count_name = weight.count_name().to_owned();
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
