//! Building the [`Report`] at the end of a recording: kernel state + samples + symbols.

use std::collections::HashMap;

use profiler_common::{access::AccessKind, Counter};

use crate::{
    collect::{Collected, SampleKey, StopReason},
    folded::{Counters, KernelSnapshot, WatchSnapshot},
    perf::PerfSource,
    readout::{ProbeHits, Readout},
    report::judge::Judge,
    report::keep::{keep_top, top_lines, watched_lines},
    report::overhead::Overhead,
    report::rank::{self, LineBuilder, MapExtras, Measured, ProcessInfo, SampledWrite},
    report::stacks::Stacks,
    report::{
        hex, judge, parse_hex, Drops, LineReport, MapReport, ObjectKind, RaceKind, RaceReport,
        RecordingOverhead, Report, Sources, StackLocation, StackReport, TargetInfo, TargetOverhead,
        UprobeSource, SCHEMA,
    },
    report::{perf, sampled, watch},
    symbolize::Frame,
    target::Target,
};

/// Frames per line in reports.
const TOP_FRAMES: usize = 5;
/// Caller frames kept for a map's first assign and for races.
const STACK_FRAMES: usize = 6;
/// Races kept per map.
const RACES_PER_MAP: usize = 5;
/// Frames kept per flamegraph stack.
const MAX_STACK_DEPTH: usize = 64;

/// The report of what was collected from `targets` and read back in `readout`, the recording
/// having started at `started_at`.
pub fn build(
    mut readout: Readout,
    targets: &mut [Target],
    collected: &Collected,
    started_at: chrono::DateTime<chrono::Utc>,
) -> Report {
    // The kernel's copies go as soon as every line is in the report's terms (below).
    let snapshot = std::mem::take(&mut readout.snapshot);
    let measured = Measured {
        perf: readout.perf != PerfSource::None,
        addresses: readout.perf.has_miss_address(),
    };
    let processes = processes(targets, readout.probes_access);
    let overhead = Overhead::of(&collected.duty, &readout.overhead);
    let infos: Vec<TargetInfo> = targets
        .iter()
        .map(|t| target_info(t, collected, overhead.target(t.pid)))
        .collect();
    let line_transfer_ns = readout
        .transfer
        .as_ref()
        .map(|t| round1(t.line_transfer_ns));
    let mut stacks = Stacks::new(&readout.stacks, &readout.xol_areas, targets)
        .with_sample_ip(readout.perf.sample_ip());
    let samples = sampled_writes(&mut stacks, collected);
    let extras = map_extras(&mut stacks, &snapshot, collected);
    let mut maps = rank::rank_maps(&snapshot, &processes, &extras, measured);
    overhead.scale_maps(&mut maps);
    read_entries(&mut maps, &processes, collected);
    let elapsed_s = collected.elapsed.as_secs_f64();
    let meaning = readout.perf.meaning();
    let judge = Judge::new(&infos, line_transfer_ns, &maps, elapsed_s, meaning);
    let builder = LineBuilder::new(&snapshot, &processes, &samples, TOP_FRAMES, measured);
    let watched = watched_lines(collected);
    let (mut lines, mut seen) = top_lines(&snapshot, &builder, &overhead, &judge, &watched);
    seen += join_watched(
        &mut lines,
        collected,
        readout.watched.as_ref(),
        &snapshot,
        &mut stacks,
    );
    // Every line and object is in the report's terms now: the kernel's copies (tens of
    // megabytes when the maps are full) go before the stacks are written.
    let drops = drops(&readout.counters, &snapshot);
    drop(snapshot);
    let write_stacks = write_stacks(&mut stacks, collected, &processes);
    let mut perf = perf::PerfParts::of(measured.perf, &mut stacks, &readout, collected);
    seen += sampled::join(&mut lines, std::mem::take(&mut perf.sampled_lines));
    if let Some(d) = perf.data_addresses.as_mut() {
        d.named_share = sampled::named_share(&lines);
    }
    let events = readout.counters.get(Counter::Events);
    let perf_samples = measured
        .perf
        .then(|| readout.counters.get(Counter::PerfSamples));
    let mut report = Report {
        schema: SCHEMA.to_owned(),
        started_at: started_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        duration_s: elapsed_s,
        targets: infos,
        sources: sources(&readout, overhead.sources, perf_samples, &mut perf),
        drops: Drops {
            samples_overflow: collected.overflow,
            ..drops
        },
        events,
        samples: readout.counters.get(Counter::Samples),
        lines,
        maps,
        functions: perf.functions,
        stacks: write_stacks,
        notices: all_notices(collected, events, &readout, &overhead),
    };
    judge::judge(&mut report);
    if let Some(notice) = keep_top(&mut report, seen) {
        report.notices.push(notice);
    }
    report
}

/// Joins what the watchpoints saw (`watched`, read back with the `collected` outcome) to
/// `lines`; the lines it added, which only watched words were in.
fn join_watched(
    lines: &mut Vec<LineReport>,
    collected: &Collected,
    watched: Option<&WatchSnapshot>,
    snapshot: &KernelSnapshot,
    stacks: &mut Stacks<'_, '_>,
) -> usize {
    let (Some(outcome), Some(watched)) = (&collected.watch, watched) else {
        return 0;
    };
    let before = lines.len();
    watch::join(lines, outcome, watched, snapshot, stacks);
    lines.len() - before
}

/// Every notice of the report: the recording's (with whether a PMU was there, the events seen
/// and the perf source), the processes left out for want of a slot, the overhead's.
fn all_notices(
    collected: &Collected,
    events: u64,
    readout: &Readout,
    overhead: &Overhead,
) -> Vec<String> {
    notices(collected, readout.pmu_available, events, &readout.perf)
        .into_iter()
        .chain(left_out(&readout.refused))
        .chain(overhead.notices())
        .collect()
}

/// The report's sources: the probes' hits, the perf events and what their samples gave
/// (`perf`, whose data-address summary moves here), the transfer costs.
fn sources(
    readout: &Readout,
    overhead: RecordingOverhead,
    perf_samples: Option<u64>,
    perf: &mut perf::PerfParts,
) -> Sources {
    let transfer = readout.transfer.as_ref();
    Sources {
        uprobes: uprobe_sources(&readout.hits),
        perf: readout.perf.name().to_owned(),
        pmu_available: readout.pmu_available,
        overhead,
        perf_samples,
        probe_trampoline_samples: perf.trampoline,
        line_transfer_ns: transfer.map(|t| round1(t.line_transfer_ns)),
        line_transfer: transfer.map(|t| t.classes.clone()).unwrap_or_default(),
        data_addresses: perf.data_addresses.take(),
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// What the report needs of each target's process: its map layout, and whether its reads were
/// probed.
fn processes(targets: &[Target], probes_access: bool) -> HashMap<u32, ProcessInfo> {
    targets
        .iter()
        .map(|t| {
            let layout = t.binary.as_ref().map(|b| b.layout.clone());
            let reads = probes_access
                && t.binary
                    .as_ref()
                    .is_some_and(|b| !b.access_funcs.is_empty());
            (t.pid, ProcessInfo { layout, reads })
        })
        .collect()
}

/// The sampled writes a probe saw, each with the function that made it.
fn sampled_writes(stacks: &mut Stacks<'_, '_>, collected: &Collected) -> Vec<SampledWrite> {
    collected
        .samples
        .iter()
        .filter(|(key, _)| key.flags.is_probed_write())
        .map(|(key, &count)| SampledWrite {
            pid: key.pid,
            lines: key.lines,
            caller: stacks
                .callers(key.pid, key.stack_id, key.return_addr, 1)
                .into_iter()
                .next(),
            count,
        })
        .collect()
}

/// The probes' hits added up per probed function of each binary, in the order first counted.
fn uprobe_sources(hits: &[ProbeHits]) -> Vec<UprobeSource> {
    let mut uprobes: Vec<UprobeSource> = Vec::new();
    for site in hits {
        match uprobes
            .iter_mut()
            .find(|u| u.binary == site.binary && u.symbol == site.symbol)
        {
            Some(u) => u.hits += site.hits,
            None => uprobes.push(UprobeSource {
                binary: site.binary.clone(),
                symbol: site.symbol.clone(),
                hits: site.hits,
            }),
        }
    }
    uprobes
}

/// Each map's entry count, read from the memory of its process where that still runs.
fn read_entries(
    maps: &mut [MapReport],
    processes: &HashMap<u32, ProcessInfo>,
    collected: &Collected,
) {
    let mut memories: HashMap<u32, Option<crate::inspect::Memory>> = HashMap::new();
    for map in maps {
        if collected.exited.contains_key(&map.pid) {
            continue;
        }
        let Some(layout) = processes.get(&map.pid).and_then(|p| p.layout.as_ref()) else {
            continue;
        };
        let memory = memories
            .entry(map.pid)
            .or_insert_with(|| crate::inspect::Memory::open(map.pid));
        if let (Some(memory), Some(addr)) = (memory, parse_hex(&map.addr)) {
            map.entries = crate::inspect::entries(layout, |offset| memory.read_u64(addr + offset));
        }
    }
}

fn target_info(t: &Target, collected: &Collected, overhead: TargetOverhead) -> TargetInfo {
    let layout = t.binary.as_ref().map(|b| &b.layout);
    TargetInfo {
        pid: t.pid,
        ns_pid: t.ns_pid,
        container: t.container.clone(),
        exe: t.exe.clone(),
        go_version: t.binary.as_ref().and_then(|b| b.go_version.clone()),
        map_layout: layout.map(|l| l.flavor),
        layout_source: layout.map(|l| l.source),
        symbols_source: t.binary.as_ref().map(|b| b.symbols_source),
        exited: collected.exited.contains_key(&t.pid),
        build_id: t.binary.as_ref().and_then(|b| b.build_id.clone()),
        overhead,
    }
}

fn notices(collected: &Collected, pmu: bool, events: u64, source: &PerfSource) -> Vec<String> {
    let mut notices = Vec::new();
    let secs = collected.elapsed.as_secs_f64();
    match &collected.stop {
        StopReason::Duration => {}
        StopReason::Signal(name) => notices.push(format!(
            "interrupted by {name} after {secs:.1}s: partial report"
        )),
        StopReason::TargetsExited => notices.push(format!(
            "every target {}; recording stopped after {secs:.1}s",
            if collected.execd.is_empty() {
                "exited"
            } else {
                "exited or exec'd another program"
            }
        )),
    }
    let mut exited: Vec<_> = collected.exited.iter().collect();
    exited.sort();
    for (pid, at) in exited {
        let at = at.as_secs_f64();
        notices.push(if collected.execd.contains(pid) {
            format!(
                "pid {pid} exec'd another program {at:.1}s into the recording: the report holds what its first program did until then; profile the new one by its pid"
            )
        } else {
            format!(
                "pid {pid} exited {at:.1}s into the recording: the report holds what was seen until then"
            )
        });
    }
    let watched = collected.watch.as_ref().is_some_and(|w| w.registers > 0);
    if !pmu {
        notices.push(format!(
            "no hardware PMU on this machine: no L1-miss sampling; contention is measured from {}",
            if watched {
                "the probes and the write watchpoints"
            } else {
                "map-assign uprobes only"
            }
        ));
    }
    match source {
        PerfSource::CpuClock => notices.push(
            "perf source is cpu-clock: software timer samples show where CPU time goes, not hardware L1 misses".to_owned(),
        ),
        PerfSource::PageFaults => notices.push(
            "perf source is page faults: samples are where threads first touch memory, not contention".to_owned(),
        ),
        PerfSource::L1dReadMiss => notices.push(
            "perf source is the generic L1D read-miss event: samples carry instruction addresses only, so no line gets l1_miss_samples".to_owned(),
        ),
        _ => {}
    }
    if events == 0 && !watched {
        notices.push("no probed writes were seen: is the target writing Go maps?".to_owned());
    }
    if let Some(watch) = &collected.watch {
        notices.extend(watch.notices.iter().cloned());
    }
    notices
}

/// The notice naming the processes left out for want of a free target slot, if any.
fn left_out(refused: &[(u32, String)]) -> Option<String> {
    if refused.is_empty() {
        return None;
    }
    let named: Vec<String> = refused
        .iter()
        .map(|(pid, comm)| match comm.is_empty() {
            true => format!("pid {pid}"),
            false => format!("pid {pid} ({comm})"),
        })
        .collect();
    Some(format!(
        "{} process(es) left out: clprof records at most {} at once: {}",
        refused.len(),
        profiler_common::MAX_TARGETS,
        named.join(", ")
    ))
}

/// Losses: failed inserts plus entries the LRU maps evicted (created minus still present).
fn drops(counters: &Counters, snapshot: &KernelSnapshot) -> Drops {
    let evicted_lines = counters
        .get(Counter::LinesCreated)
        .saturating_sub(snapshot.lines.len() as u64);
    let evicted_objects = counters
        .get(Counter::ObjectsCreated)
        .saturating_sub(snapshot.objects.len() as u64);
    Drops {
        ringbuf: counters.get(Counter::RingbufDrops),
        map_full: counters.get(Counter::MapFull) + evicted_lines + evicted_objects,
        stacks: counters.get(Counter::StackDrops),
        samples_overflow: 0,
    }
}

/// The sampled write stacks, root first and ending with the probed function, per line written.
fn write_stacks(
    stacks: &mut Stacks<'_, '_>,
    collected: &Collected,
    processes: &HashMap<u32, ProcessInfo>,
) -> Vec<StackReport> {
    // (pid, frames, line, object): symbolization can make different stack ids the same stack.
    type StackKey = (u32, Vec<StackLocation>, u64, u64);
    let mut merged: HashMap<StackKey, StackReport> = HashMap::new();
    for (key, &count) in &collected.samples {
        if !key.flags.is_probed_write() {
            continue;
        }
        let mut frames = stacks.locations(key.pid, key.stack_id, key.return_addr, MAX_STACK_DEPTH);
        if frames.is_empty() {
            // The stack was not stored: keep the probed function so the write still shows.
            let probed = rank::assign_symbol(key.kind).unwrap_or("custom probe");
            frames.push(StackLocation {
                addr: hex(0),
                lines: vec![Frame {
                    function: probed.to_owned(),
                    file: None,
                    line: None,
                }],
            });
        }
        frames.reverse();
        let layout = processes.get(&key.pid).and_then(|p| p.layout.as_ref());
        for &line in key.lines.iter().filter(|&&l| l != 0) {
            let (kind, fields) = if key.flags.is_slot() {
                (ObjectKind::GoMapSlot, vec!["value".to_owned()])
            } else if key.flags.is_custom() {
                (ObjectKind::Custom, Vec::new())
            } else {
                let fields = layout
                    .map(|l| {
                        l.written
                            .iter()
                            .filter(|f| profiler_common::line_of(key.object + f.offset) == line)
                            .map(|f| f.name.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                (ObjectKind::GoMap, fields)
            };
            let entry = merged
                .entry((key.pid, frames.clone(), line, key.object))
                .or_insert_with(|| StackReport {
                    pid: key.pid,
                    frames: frames.clone(),
                    line: hex(line),
                    object: hex(key.object),
                    object_kind: kind,
                    fields,
                    samples: 0,
                });
            entry.samples += count;
        }
    }
    let mut out: Vec<StackReport> = merged.into_values().collect();
    out.sort_by(|a, b| {
        b.samples.cmp(&a.samples).then_with(|| {
            (a.pid, &a.line, &a.object, &a.frames).cmp(&(b.pid, &b.line, &b.object, &b.frames))
        })
    });
    out
}

/// What the thread that found the writer flag set was doing, by its probe's cookie kind.
fn race_kind(kind: u32) -> RaceKind {
    match AccessKind::of_cookie_kind(kind) {
        Some(AccessKind::Read) => RaceKind::ReadWrite,
        Some(AccessKind::IterInit | AccessKind::IterNext) => RaceKind::IterateWrite,
        // Assigns, deletes and clears write.
        _ => RaceKind::WriteWrite,
    }
}

/// First assigns, races and Go types of the maps.
fn map_extras(
    stacks: &mut Stacks<'_, '_>,
    snapshot: &KernelSnapshot,
    collected: &Collected,
) -> HashMap<(u32, u64), MapExtras> {
    let mut extras: HashMap<(u32, u64), MapExtras> = HashMap::new();
    for (key, stats) in &snapshot.objects {
        if stats.object_kind != profiler_common::OBJECT_GO_MAP {
            continue;
        }
        let entry = extras.entry((key.pid, key.addr)).or_default();
        entry.go_type = stacks.type_name(key.pid, stats.type_addr);
        if let Some(first) = collected.first.get(&(key.pid, key.addr)) {
            entry.first_assign =
                stacks.callers(key.pid, first.stack_id, first.return_addr, STACK_FRAMES);
        }
        if let Some(made) = collected.made.get(&(key.pid, key.addr)) {
            entry.made_at = stacks.callers(key.pid, made.stack_id, made.return_addr, STACK_FRAMES);
        }
    }
    let mut races: Vec<&SampleKey> = collected
        .samples
        .keys()
        .filter(|k| k.flags.is_race() && !k.flags.is_slot())
        .collect();
    races.sort_by_key(|k| (k.pid, k.object, k.tid, k.other_tid, k.stack_id));
    for race in races {
        let entry = extras.entry((race.pid, race.object)).or_default();
        if entry.races.len() >= RACES_PER_MAP {
            continue;
        }
        let to_reports =
            |frames: Vec<Frame>| frames.iter().map(|f| rank::frame_report(f, 1)).collect();
        entry.races.push(RaceReport {
            kind: race_kind(race.kind),
            tid: race.tid,
            other_tid: (race.other_tid != 0).then_some(race.other_tid),
            frames: to_reports(stacks.callers(
                race.pid,
                race.stack_id,
                race.return_addr,
                STACK_FRAMES,
            )),
            other_frames: to_reports(stacks.callers(
                race.pid,
                race.other_stack_id,
                0,
                STACK_FRAMES,
            )),
        });
    }
    extras
}

#[cfg(test)]
#[path = "build_tests.rs"]
mod tests;
