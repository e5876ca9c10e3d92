//! Ranking: joins the kernel's per-line and per-object stats (what its programs folded) with the
//! map layouts and the sampled stacks into ranked [`LineReport`]s and [`MapReport`]s.

use std::collections::{BTreeMap, HashMap};

use profiler_common::{
    latency_bucket_upper, AssignKind, LatencyHist, LineKey, LineStats, ObjectKey, ObjectStats,
    CACHE_LINE_BYTES, OBJECT_CUSTOM, OBJECT_GO_MAP, OBJECT_GO_MAP_SLOT,
};

use crate::folded::KernelSnapshot;
use crate::{
    inspect::MapLayout,
    report::{
        hex, FrameReport, LatencyReport, LineEstimates, LineReport, MapReport, ObjectKind,
        ObjectReport, RaceReport,
    },
    symbolize::Frame,
};

/// A sampled write, reduced to what ranking needs.
#[derive(Clone, Debug)]
pub struct SampledWrite {
    pub pid: u32,
    /// Lines the write dirtied (0 = none).
    pub lines: [u64; 2],
    /// The code that called the map assign (first frame outside the runtime's assign).
    pub caller: Option<Frame>,
    /// How many sampled events this stands for.
    pub count: u64,
}

/// What the kernel cannot know about a process: its map layout.
#[derive(Clone, Debug, Default)]
pub struct ProcessInfo {
    /// None for processes probed with custom probes only.
    pub layout: Option<MapLayout>,
    /// Its map lookups, iteration, deletes and clears were probed.
    pub reads: bool,
}

/// Which optional measurements ran, so unmeasured values come out null.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Measured {
    /// Perf events ran.
    pub perf: bool,
    /// Their samples carry data addresses (PEBS, IBS).
    pub addresses: bool,
}

/// A line's contention score: every transfer and remote read moves the line from another
/// cache; an invalidation is a message without the data, counted as half.
pub fn contention(transfers: u64, remote_reads: u64, invalidations: u64) -> u64 {
    transfers + remote_reads + invalidations / 2
}

/// A line's contention from its report: from the estimates where the probes ran in windows (the
/// write and the read probes in windows of their own), else from the counts; transfers seen
/// by watchpoints as well as by probes count as the larger of the two.
pub fn score(line: &LineReport) -> u64 {
    contention(
        line.est.transfers.unwrap_or(0).max(line.transfers),
        line.est.remote_reads.or(line.remote_reads).unwrap_or(0),
        line.est.invalidations.or(line.invalidations).unwrap_or(0),
    )
}

/// A line nothing but its `pid` and address (`line`) is known of yet: the watchpoints or the
/// sampled data addresses saw it, the probes did not.
pub fn empty_line(pid: u32, line: u64) -> LineReport {
    LineReport {
        line: hex(line),
        pid,
        threads_exact: true,
        ..LineReport::default()
    }
}

/// Orders lines as the schema requires: those whose sharing was told before the `undecided`
/// (too little seen: a cost scaled from a handful of moves is mostly noise), then cost,
/// contention, then writes, descending; ties by address.
pub fn rank(lines: &mut [LineReport]) {
    let cost = |l: &LineReport| l.cost.map_or(0.0, |c| c.cpu_ns_per_s);
    let told = |l: &LineReport| l.verdict != crate::report::Verdict::Undecided;
    lines.sort_by(|a, b| {
        told(b)
            .cmp(&told(a))
            .then(cost(b).total_cmp(&cost(a)))
            .then(b.contention.cmp(&a.contention))
            .then(b.writes.cmp(&a.writes))
            .then(a.pid.cmp(&b.pid))
            .then(a.line.cmp(&b.line))
    });
}

/// Builds the ranked line reports.
pub fn rank_lines(
    snapshot: &KernelSnapshot,
    processes: &HashMap<u32, ProcessInfo>,
    samples: &[SampledWrite],
    max_frames: usize,
    measured: Measured,
) -> Vec<LineReport> {
    let builder = LineBuilder::new(snapshot, processes, samples, max_frames, measured);
    let mut out: Vec<LineReport> = snapshot
        .lines
        .iter()
        .filter_map(|(key, stats)| builder.line(key, stats))
        .collect();
    rank(&mut out);
    out
}

/// Builds line reports one at a time: the objects in each line and the code that wrote it.
pub struct LineBuilder<'a> {
    objects: HashMap<u32, ObjectsByAddr<'a>>,
    frames: HashMap<(u32, u64), (u64, FrameCounts)>,
    processes: &'a HashMap<u32, ProcessInfo>,
    max_frames: usize,
    measured: Measured,
}

impl<'a> LineBuilder<'a> {
    pub fn new(
        snapshot: &'a KernelSnapshot,
        processes: &'a HashMap<u32, ProcessInfo>,
        samples: &[SampledWrite],
        max_frames: usize,
        measured: Measured,
    ) -> Self {
        LineBuilder {
            objects: objects_by_pid(&snapshot.objects),
            frames: frames_by_line(samples),
            processes,
            max_frames,
            measured,
        }
    }

    /// The report of the line `key`, unranked and unjudged; None when it saw no write.
    pub fn line(&self, key: &LineKey, stats: &LineStats) -> Option<LineReport> {
        if stats.writes == 0 {
            return None;
        }
        let process = self.processes.get(&key.pid);
        let layout = process.and_then(|p| p.layout.as_ref());
        let line_objects = self
            .objects
            .get(&key.pid)
            .map(|objs| objects_in_line(key.line, objs, layout))
            .unwrap_or_default();
        let (samples, top_frames) = match self.frames.get(&(key.pid, key.line)) {
            Some((n, by_frame)) => (*n, top(by_frame, self.max_frames)),
            None => (0, Vec::new()),
        };
        // Growth and races are measured only through the Go map probes.
        let go = layout.is_some();
        let reads = process.is_some_and(|p| p.reads);
        Some(LineReport {
            line: hex(key.line),
            pid: key.pid,
            writes: stats.writes,
            samples,
            threads: stats.writers.estimated_threads(),
            threads_exact: stats.writers.tids_exact(),
            cpus: stats.writers.cpu_count(),
            transfers: stats.transfers,
            reads: reads.then_some(stats.reads),
            remote_reads: reads.then_some(stats.remote_reads),
            reader_threads: reads.then(|| stats.readers.estimated_threads()),
            invalidations: reads.then_some(stats.invalidations),
            contention: contention(stats.transfers, stats.remote_reads, stats.invalidations),
            est: LineEstimates::default(),
            growth_writes: go.then_some(stats.growth_writes),
            concurrent_writers: go.then_some(stats.concurrent_writers),
            l1_miss_samples: self.measured.addresses.then_some(stats.l1_miss_samples),
            verdict: Default::default(),
            cost: None,
            advice: None,
            objects: line_objects,
            top_frames,
            watch: None,
            data_samples: None,
            sampled: stats.sampled,
        })
    }
}

type ObjectsByAddr<'a> = BTreeMap<u64, &'a ObjectStats>;

fn objects_by_pid(objects: &[(ObjectKey, ObjectStats)]) -> HashMap<u32, ObjectsByAddr<'_>> {
    let mut by_pid: HashMap<u32, ObjectsByAddr<'_>> = HashMap::new();
    for (key, stats) in objects {
        by_pid.entry(key.pid).or_default().insert(key.addr, stats);
    }
    by_pid
}

/// Name of the probe kind in a cookie / object.
pub fn assign_symbol(kind: u32) -> Option<&'static str> {
    AssignKind::ALL.get(kind as usize).map(|k| k.symbol())
}

/// Objects overlapping `[line, line + 64)`: map headers (by their layout), value slots and
/// custom objects (by their first byte), with the fields that lie in the line.
fn objects_in_line(
    line: u64,
    objects: &ObjectsByAddr<'_>,
    layout: Option<&MapLayout>,
) -> Vec<ObjectReport> {
    let end = line + CACHE_LINE_BYTES;
    let reach = layout.map_or(0, |l| l.header_size.saturating_sub(1));
    objects
        .range(line.saturating_sub(reach)..end)
        .filter_map(|(&addr, stats)| {
            let (kind, fields, written_fields, owner) = match stats.object_kind {
                OBJECT_GO_MAP => {
                    let layout = layout?;
                    let in_line =
                        |off: u64, size: u64| addr + off < end && addr + off + size.max(1) > line;
                    let names = |fields: &[crate::inspect::FieldInfo]| -> Vec<String> {
                        fields
                            .iter()
                            .filter(|f| in_line(f.offset, f.size))
                            .map(|f| f.name.clone())
                            .collect()
                    };
                    let fields = names(&layout.fields);
                    if fields.is_empty() {
                        return None;
                    }
                    (ObjectKind::GoMap, fields, names(&layout.written), None)
                }
                OBJECT_GO_MAP_SLOT if addr >= line => {
                    let value = vec!["value".to_owned()];
                    (
                        ObjectKind::GoMapSlot,
                        value.clone(),
                        value,
                        Some(hex(stats.owner)),
                    )
                }
                OBJECT_CUSTOM if addr >= line => (ObjectKind::Custom, Vec::new(), Vec::new(), None),
                _ => return None,
            };
            Some(ObjectReport {
                kind,
                addr: hex(addr),
                fields,
                written_fields,
                writes: stats.writes,
                writers: stats.writers.estimated_threads(),
                assign: assign_symbol(stats.kind).map(str::to_owned),
                owner,
                writer: None,
            })
        })
        .collect()
}

type FrameCounts = HashMap<Frame, u64>;

fn frames_by_line(samples: &[SampledWrite]) -> HashMap<(u32, u64), (u64, FrameCounts)> {
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
        .map(|(f, &samples)| frame_report(f, samples))
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

/// A frame as reports carry it.
pub fn frame_report(f: &Frame, samples: u64) -> FrameReport {
    FrameReport {
        function: f.function.clone(),
        file: f.file.clone(),
        line: f.line,
        samples,
    }
}

/// p50/p99 of a latency histogram (bucket upper bounds), None when empty.
pub fn percentiles(hist: &LatencyHist) -> Option<LatencyReport> {
    let count: u64 = hist.buckets.iter().map(|&c| c as u64).sum();
    if count == 0 {
        return None;
    }
    let at = |q: f64| {
        let rank = ((q * count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (bucket, &c) in hist.buckets.iter().enumerate() {
            seen += c as u64;
            if seen >= rank {
                return latency_bucket_upper(bucket);
            }
        }
        latency_bucket_upper(hist.buckets.len() - 1)
    };
    Some(LatencyReport {
        count,
        p50_ns: at(0.50),
        p99_ns: at(0.99),
    })
}

/// What userspace learned about one map besides the kernel's counts.
#[derive(Clone, Debug, Default)]
pub struct MapExtras {
    pub go_type: Option<String>,
    pub first_assign: Vec<Frame>,
    /// Caller frames where the map was made (a `runtime.makemap*` return).
    pub made_at: Vec<Frame>,
    pub races: Vec<RaceReport>,
}

/// Builds the per-map reports (Go map headers only).
pub fn rank_maps(
    snapshot: &KernelSnapshot,
    processes: &HashMap<u32, ProcessInfo>,
    extras: &HashMap<(u32, u64), MapExtras>,
    measured: Measured,
) -> Vec<MapReport> {
    let mut out: Vec<MapReport> = snapshot
        .objects
        .iter()
        .filter(|(_, s)| s.object_kind == OBJECT_GO_MAP)
        .map(|(key, stats)| {
            let extra = extras
                .get(&(key.pid, key.addr))
                .cloned()
                .unwrap_or_default();
            let mut lines: Vec<String> = processes
                .get(&key.pid)
                .and_then(|p| p.layout.as_ref())
                .map(|l| {
                    l.written
                        .iter()
                        .map(|f| hex(profiler_common::line_of(key.addr + f.offset)))
                        .collect()
                })
                .unwrap_or_default();
            lines.dedup();
            // A map only read while the probes were on has no assign kind.
            let assign = assign_symbol(stats.kind).unwrap_or("-");
            let reads = processes.get(&key.pid).is_some_and(|p| p.reads);
            MapReport {
                pid: key.pid,
                addr: hex(key.addr),
                go_type: extra.go_type,
                key_kind: match assign {
                    "-" => "unknown",
                    a => a.strip_prefix("runtime.mapassign_").unwrap_or("generic"),
                }
                .to_owned(),
                assign: assign.to_owned(),
                writes: stats.writes,
                est_writes: None,
                est_writes_rel_err: None,
                writers: stats.writers.estimated_threads(),
                growth_writes: stats.growth_writes,
                concurrent_writers: stats.concurrent_writers,
                reads: reads.then_some(stats.reads),
                est_reads: None,
                est_reads_rel_err: None,
                deletes: reads.then_some(stats.deletes),
                clears: reads.then_some(stats.clears),
                iterations: reads.then_some(stats.iterations),
                read_races: reads.then_some(stats.read_races),
                perf_samples: measured.perf.then_some(stats.perf_samples),
                lines,
                latency: snapshot.latency.get(key).and_then(percentiles),
                entries: None,
                made_at: extra.made_at.iter().map(|f| frame_report(f, 1)).collect(),
                first_assign: extra
                    .first_assign
                    .iter()
                    .map(|f| frame_report(f, 1))
                    .collect(),
                races: extra.races,
                sampled: stats.sampled,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.concurrent_writers
            .cmp(&a.concurrent_writers)
            .then(b.growth_writes.cmp(&a.growth_writes))
            .then(b.writes.cmp(&a.writes))
            .then(a.addr.cmp(&b.addr))
    });
    out
}

#[cfg(test)]
#[path = "rank_tests.rs"]
mod tests;
