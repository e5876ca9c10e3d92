//! Userspace folding: joins the kernel's per-line and per-object stats with the map layouts and
//! the sampled stacks into ranked [`LineReport`]s.

use std::collections::{BTreeMap, HashMap};

use profiler_common::{AssignKind, LineKey, LineStats, ObjectKey, ObjectStats, CACHE_LINE_BYTES};

use crate::{
    report::{hex, FrameReport, LineReport, ObjectReport},
    symbolize::Frame,
    target::MapLayout,
};

/// What the kernel maps held at the end of a recording.
#[derive(Clone, Debug, Default)]
pub struct KernelSnapshot {
    pub lines: Vec<(LineKey, LineStats)>,
    pub objects: Vec<(ObjectKey, ObjectStats)>,
}

/// A sampled write, reduced to what ranking needs.
#[derive(Clone, Debug)]
pub struct FoldedSample {
    pub pid: u32,
    /// Lines the write dirtied (0 = none).
    pub lines: [u64; 2],
    /// The code that called the map assign (first frame outside the runtime's assign).
    pub caller: Option<Frame>,
    /// How many sampled events this stands for.
    pub count: u64,
}

/// Orders lines as the schema requires: transfers, then writes, descending; ties by address.
pub fn rank(lines: &mut [LineReport]) {
    lines.sort_by(|a, b| {
        b.transfers
            .cmp(&a.transfers)
            .then(b.writes.cmp(&a.writes))
            .then(a.pid.cmp(&b.pid))
            .then(a.line.cmp(&b.line))
    });
}

/// Builds the ranked line reports. `layouts` gives each pid's map header layout.
pub fn fold_lines(
    snapshot: &KernelSnapshot,
    layouts: &HashMap<u32, MapLayout>,
    samples: &[FoldedSample],
    max_frames: usize,
) -> Vec<LineReport> {
    let objects = objects_by_pid(&snapshot.objects);
    let frames = frames_by_line(samples);
    let mut out: Vec<LineReport> = snapshot
        .lines
        .iter()
        .filter(|(_, s)| s.writes > 0)
        .map(|(key, stats)| {
            let layout = layouts.get(&key.pid);
            let line_objects = match (layout, objects.get(&key.pid)) {
                (Some(layout), Some(objs)) => objects_in_line(key.line, objs, layout),
                _ => Vec::new(),
            };
            let (samples, top_frames) = match frames.get(&(key.pid, key.line)) {
                Some((n, by_frame)) => (*n, top(by_frame, max_frames)),
                None => (0, Vec::new()),
            };
            LineReport {
                line: hex(key.line),
                pid: key.pid,
                writes: stats.writes,
                samples,
                threads: stats.writers.thread_count(),
                threads_exact: stats.writers.tids_exact(),
                cpus: stats.writers.cpu_count(),
                transfers: stats.transfers,
                growth_writes: None,
                concurrent_writers: None,
                l1_miss_samples: None,
                objects: line_objects,
                top_frames,
            }
        })
        .collect();
    rank(&mut out);
    out
}

type ObjectsByAddr<'a> = BTreeMap<u64, &'a ObjectStats>;

fn objects_by_pid(objects: &[(ObjectKey, ObjectStats)]) -> HashMap<u32, ObjectsByAddr<'_>> {
    let mut by_pid: HashMap<u32, ObjectsByAddr<'_>> = HashMap::new();
    for (key, stats) in objects {
        by_pid.entry(key.pid).or_default().insert(key.addr, stats);
    }
    by_pid
}

/// Objects whose header overlaps `[line, line + 64)`, with the fields that lie in it.
fn objects_in_line(
    line: u64,
    objects: &ObjectsByAddr<'_>,
    layout: &MapLayout,
) -> Vec<ObjectReport> {
    let end = line + CACHE_LINE_BYTES;
    let first = line.saturating_sub(layout.header_size.saturating_sub(1));
    objects
        .range(first..end)
        .filter_map(|(&addr, stats)| {
            let in_line = |off: u64, size: u64| addr + off < end && addr + off + size.max(1) > line;
            let fields: Vec<String> = layout
                .fields
                .iter()
                .filter(|f| in_line(f.offset, f.size))
                .map(|f| f.name.clone())
                .collect();
            if fields.is_empty() {
                return None;
            }
            let written_fields = layout
                .written
                .iter()
                .filter(|f| in_line(f.offset, f.size))
                .map(|f| f.name.clone())
                .collect();
            Some(ObjectReport {
                kind: "go-map".to_owned(),
                addr: hex(addr),
                fields,
                written_fields,
                writes: stats.writes,
                writers: stats.writers.thread_count(),
                assign: AssignKind::ALL
                    .get(stats.kind as usize)
                    .map(|k| k.symbol().to_owned()),
            })
        })
        .collect()
}

type FrameCounts = HashMap<Frame, u64>;

fn frames_by_line(samples: &[FoldedSample]) -> HashMap<(u32, u64), (u64, FrameCounts)> {
    let mut by_line: HashMap<(u32, u64), (u64, FrameCounts)> = HashMap::new();
    for sample in samples {
        for &line in sample.lines.iter().filter(|&&l| l != 0) {
            let entry = by_line.entry((sample.pid, line)).or_default();
            entry.0 += sample.count;
            if let Some(frame) = &sample.caller {
                *entry.1.entry(frame.clone()).or_default() += sample.count;
            }
        }
    }
    by_line
}

fn top(counts: &FrameCounts, n: usize) -> Vec<FrameReport> {
    let mut frames: Vec<FrameReport> = counts
        .iter()
        .map(|(f, &samples)| FrameReport {
            function: f.function.clone(),
            file: f.file.clone(),
            line: f.line,
            samples,
        })
        .collect();
    frames.sort_by(|a, b| {
        b.samples
            .cmp(&a.samples)
            .then_with(|| a.function.cmp(&b.function))
            .then_with(|| a.line.cmp(&b.line))
    });
    frames.truncate(n);
    frames
}

#[cfg(test)]
#[path = "fold_tests.rs"]
mod tests;
