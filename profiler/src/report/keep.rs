//! What a report keeps of a full line map: the lines that can make its top
//! [`MAX_REPORT_LINES`], cut as they are built, and the final cut of lines, maps and stacks.

use std::collections::HashSet;

use crate::{
    collect::Collected,
    folded::KernelSnapshot,
    report::{
        judge::Judge, overhead::Overhead, parse_hex, rank, rank::LineBuilder, LineReport, Report,
    },
};

/// Lines, and maps, a report keeps at most: the highest ranked. A churn of short-lived maps
/// fills the kernel maps with tens of thousands of lines nobody reads one by one; a report of
/// all of them took 72 MB of JSON and over 256 MiB of memory to write.
pub const MAX_REPORT_LINES: usize = 1_000;

/// Cuts the report to its top [`MAX_REPORT_LINES`] lines and maps (the stacks of the lines
/// left out go too); the notice saying so, if anything was cut, of the `lines` seen.
pub fn keep_top(report: &mut Report, lines: usize) -> Option<String> {
    let maps = report.maps.len();
    if lines <= MAX_REPORT_LINES && maps <= MAX_REPORT_LINES {
        return None;
    }
    report.lines.truncate(MAX_REPORT_LINES);
    report.maps.truncate(MAX_REPORT_LINES);
    let kept: std::collections::HashSet<(u32, &str)> = report
        .lines
        .iter()
        .map(|l| (l.pid, l.line.as_str()))
        .collect();
    let stacks = std::mem::take(&mut report.stacks);
    let stacks = stacks
        .into_iter()
        .filter(|s| kept.contains(&(s.pid, s.line.as_str())))
        .collect();
    report.stacks = stacks;
    Some(format!(
        "{lines} lines and {maps} maps were seen; the report keeps the top {MAX_REPORT_LINES} of each"
    ))
}

/// The lines that can make the report's top [`MAX_REPORT_LINES`], scaled, judged and ranked,
/// and how many lines were seen. Built one at a time and cut as they come, so that a churn
/// that fills the kernel's line map does not hold tens of thousands of reports at once; the
/// lines holding `watched` words are all kept (what they watched joins them later).
pub fn top_lines(
    snapshot: &KernelSnapshot,
    builder: &LineBuilder<'_>,
    overhead: &Overhead,
    judge: &Judge<'_>,
    watched: &HashSet<(u32, u64)>,
) -> (Vec<LineReport>, usize) {
    let (mut kept, mut seen) = (Vec::new(), 0);
    for (key, stats) in &snapshot.lines {
        let Some(mut line) = builder.line(key, stats) else {
            continue;
        };
        seen += 1;
        overhead.scale_line(&mut line);
        judge.line(&mut line);
        kept.push(line);
        if kept.len() >= 4 * MAX_REPORT_LINES {
            cut(&mut kept, watched);
        }
    }
    cut(&mut kept, watched);
    (kept, seen)
}

/// Ranks `lines` and keeps the top [`MAX_REPORT_LINES`] of those not holding a `watched` word,
/// and all of those that do.
fn cut(lines: &mut Vec<LineReport>, watched: &HashSet<(u32, u64)>) {
    rank::rank(lines);
    let mut others = 0;
    lines.retain(|l| {
        let holds = parse_hex(&l.line).is_some_and(|line| watched.contains(&(l.pid, line)));
        if !holds {
            others += 1;
        }
        holds || others <= MAX_REPORT_LINES
    });
}

/// The lines (pid, line address) the watchpoints watched words in.
pub fn watched_lines(collected: &Collected) -> HashSet<(u32, u64)> {
    collected
        .watch
        .iter()
        .flat_map(|o| &o.words)
        .map(|w| (w.pid, profiler_common::line_of(w.word.addr)))
        .collect()
}
