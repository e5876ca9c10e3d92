//! The lines the perf samples' data addresses fell in, for the report: each line's samples by
//! access kind and its share of the target's samples, its threads and the words each touched,
//! what those say of its sharing, and the instructions sampled touching it; joined to the
//! ranked lines.

use std::collections::HashMap;

use profiler_common::{
    operand::DataAccessKind,
    sampled::{LineIpKey, LineStackKey, SampledLine},
    Counter, LineKey, TRACKED_TIDS,
};

use crate::{
    collect::Collected,
    folded::Counters,
    report::{
        hex, rank, stacks::Stacks, AccessSite, DataAddressSources, DataSamples, LineReport,
        ObjectKind, SampledSharing, ThreadWords, WordName,
    },
    report::{primitives, sampled_stacks::stacks_by_line},
    symbolize::Frame,
};

/// Sampled lines a report takes, by samples (lines the probes or watchpoints saw join theirs).
pub const TOP_SAMPLED_LINES: usize = 50;
/// Accessing instructions kept per line.
const TOP_ACCESSES: usize = 5;

/// A line's data samples, by (pid, line address).
pub type SampledLines = Vec<((u32, u64), DataSamples)>;

/// The [`TOP_SAMPLED_LINES`] `lines` with the most samples, descending, with the instructions
/// that touched them (from `line_ips`) and the stacks some samples took (from `line_stacks`);
/// each line's share is of its target's perf samples, `totals` by pid.
pub fn sampled_lines(
    lines: &[(LineKey, SampledLine)],
    line_ips: &[(LineIpKey, u64)],
    line_stacks: &[(LineStackKey, u64)],
    totals: &HashMap<u32, u64>,
    stacks: &mut Stacks<'_, '_>,
) -> SampledLines {
    let mut top: Vec<&(LineKey, SampledLine)> =
        lines.iter().filter(|(_, s)| s.samples > 0).collect();
    top.sort_unstable_by(|a, b| b.1.samples.cmp(&a.1.samples).then(a.0.cmp(&b.0)));
    top.truncate(TOP_SAMPLED_LINES);
    let names = word_names(stacks, &top);
    let mut accesses = accesses_by_line(line_ips, stacks, &top, &names);
    let mut by_stack = stacks_by_line(line_stacks, stacks, &top);
    top.into_iter()
        .map(|(key, stats)| {
            let total = totals.get(&key.pid).copied().unwrap_or(0);
            let mut report = line_report(stats, total);
            report.accesses = accesses.remove(&(key.pid, key.line)).unwrap_or_default();
            report.stacks = by_stack.remove(&(key.pid, key.line)).unwrap_or_default();
            report.names = (0..8u8)
                .filter_map(|w| {
                    let name = names.get(&(key.pid, key.line + 8 * u64::from(w)))?;
                    Some(WordName {
                        word: w,
                        name: name.clone(),
                    })
                })
                .collect();
            ((key.pid, key.line), report)
        })
        .collect()
}

/// Joins the `sampled` lines to `lines`: each to the line of its address, or as a line of its
/// own where nothing else saw it; the lines it added.
pub fn join(lines: &mut Vec<LineReport>, sampled: SampledLines) -> usize {
    let mut index: HashMap<(u32, String), usize> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| ((l.pid, l.line.clone()), i))
        .collect();
    let mut added = 0;
    for ((pid, line), data) in sampled {
        let i = *index.entry((pid, hex(line))).or_insert_with(|| {
            added += 1;
            lines.push(rank::empty_line(pid, line));
            lines.len() - 1
        });
        lines[i].data_samples = Some(data);
    }
    added
}

/// The names of the words the samples touched in `lines`, by (pid, address): one lookup in
/// each process's binary.
fn word_names(
    stacks: &Stacks<'_, '_>,
    lines: &[&(LineKey, SampledLine)],
) -> HashMap<(u32, u64), String> {
    let mut by_pid: HashMap<u32, Vec<u64>> = HashMap::new();
    for (key, stats) in lines {
        let touched = stats.touched_words();
        let words = (0..8u64).filter(|w| touched & (1 << w) != 0);
        by_pid
            .entry(key.pid)
            .or_default()
            .extend(words.map(|w| key.line + 8 * w));
    }
    by_pid
        .into_iter()
        .flat_map(|(pid, addrs)| {
            let names = stacks.global_names(pid, &addrs);
            names.into_iter().map(move |(a, n)| ((pid, a), n))
        })
        .collect()
}

/// One line's figures, without its accesses and names; `total` is its target's perf samples.
fn line_report(s: &SampledLine, total: u64) -> DataSamples {
    DataSamples {
        samples: s.samples,
        share: share(s.samples, total),
        loads: s.of_kind(DataAccessKind::Load),
        stores: s.of_kind(DataAccessKind::Store),
        updates: s.of_kind(DataAccessKind::Update),
        locked: s.of_kind(DataAccessKind::Locked),
        unknown_kind: s.unknown_kind,
        threads: s.threads.estimated_threads(),
        threads_exact: s.threads.tids_exact(),
        cpus: s.threads.cpu_count(),
        words: thread_words(s),
        names: Vec::new(),
        sharing: sharing(s),
        accesses: Vec::new(),
        stacks: Vec::new(),
    }
}

/// `samples` of `total`, to six digits; 0 where the total is unknown (a total below `samples`,
/// from a full map of samples per IP, counts as `samples`).
fn share(samples: u64, total: u64) -> f64 {
    if total == 0 {
        return 0.0;
    }
    (samples as f64 / total.max(samples) as f64 * 1e6).round() / 1e6
}

/// The words each exactly tracked thread touched and wrote.
fn thread_words(s: &SampledLine) -> Vec<ThreadWords> {
    let bits = |mask: u8| (0..8u8).filter(|w| mask & (1 << w) != 0).collect();
    (0..TRACKED_TIDS)
        .take_while(|&i| s.threads.tids[i] != 0)
        .map(|i| ThreadWords {
            tid: s.threads.tids[i],
            touched: bits(s.touched[i]),
            written: bits(s.written[i]),
        })
        .collect()
}

/// What the words say of the line's sharing: of the exactly tracked threads where more were
/// sampled.
pub fn sharing(s: &SampledLine) -> SampledSharing {
    let threads = s.threads.tids.iter().take_while(|&&t| t != 0).count();
    // Beyond the exactly tracked threads, the tracked ones' words stand for all.
    if s.samples < SampledSharing::MIN_SAMPLES {
        SampledSharing::Unknown
    } else if threads < 2 {
        SampledSharing::OneThread
    } else if s.written.iter().all(|&w| w == 0) {
        SampledSharing::ReadShared
    } else if s.shared_written_word() {
        SampledSharing::TrueSharing
    } else {
        SampledSharing::FalseSharing
    }
}

/// The instructions sampled touching each of `lines`, from the samples per line and IP
/// (`line_ips`), most sampled first; `names` are the globals holding the lines' words, by (pid,
/// word address).
fn accesses_by_line(
    line_ips: &[(LineIpKey, u64)],
    stacks: &mut Stacks<'_, '_>,
    lines: &[&(LineKey, SampledLine)],
    names: &HashMap<(u32, u64), String>,
) -> HashMap<(u32, u64), Vec<AccessSite>> {
    let wanted: std::collections::HashSet<(u32, u64)> =
        lines.iter().map(|(k, _)| (k.pid, k.line)).collect();
    let by_ip: Vec<((u32, u64, u64), u64)> = line_ips
        .iter()
        .filter(|(k, _)| wanted.contains(&(k.pid, k.line)))
        .map(|(k, n)| ((k.pid, k.line, k.ip), *n))
        .collect();
    let heap = heap_fields(stacks, &by_ip);
    type Sites = HashMap<(Frame, Option<String>), u64>;
    let mut out: HashMap<(u32, u64), Sites> = HashMap::new();
    for ((pid, line, ip), count) in by_ip {
        let before = stacks.in_access(ip);
        let frames = stacks.frames_at(pid, before);
        let frame = primitives::caller(&frames)
            .cloned()
            .unwrap_or_else(|| stacks.frame_at(pid, before));
        // Go gives an intrinsic (an atomic add) the position of its call site, so the inline
        // chain of the method it was called from starts at the instruction after it.
        // An access to a global is named by the global first: the code around it may be a
        // primitive's whose receiver the global only points to.
        let global = stacks.global_reached(pid, ip);
        let object = global
            .and_then(|a| names.get(&(pid, a & !7)).cloned())
            .or_else(|| primitives::touched(&frames))
            .or_else(|| primitives::touched(&stacks.frames_at(pid, ip)))
            .or_else(|| heap.get(&(pid, ip)).cloned());
        let site = (frame, object);
        *out.entry((pid, line)).or_default().entry(site).or_default() += count;
    }
    out.into_iter()
        .map(|(key, sites)| {
            let mut sites: Vec<AccessSite> = sites
                .into_iter()
                .map(|((frame, object), samples)| AccessSite {
                    frame,
                    object,
                    samples,
                })
                .collect();
            sites.sort_unstable_by(|a, b| {
                b.samples
                    .cmp(&a.samples)
                    .then_with(|| a.frame.function.cmp(&b.frame.function))
            });
            sites.truncate(TOP_ACCESSES);
            (key, sites)
        })
        .collect()
}

/// The struct fields the DWARF names at the sampled IPs of `by_ip`, by (pid, IP): one pass over
/// each process's binary.
fn heap_fields(
    stacks: &mut Stacks<'_, '_>,
    by_ip: &[((u32, u64, u64), u64)],
) -> HashMap<(u32, u64), String> {
    let mut ips: HashMap<u32, Vec<u64>> = HashMap::new();
    for ((pid, _, ip), _) in by_ip {
        ips.entry(*pid).or_default().push(*ip);
    }
    let mut out = HashMap::new();
    for (pid, mut ips) in ips {
        ips.sort_unstable();
        ips.dedup();
        let names = stacks.heap_fields(pid, &ips);
        out.extend(names.into_iter().map(|(ip, name)| ((pid, ip), name)));
    }
    out
}

/// What became of the sampled IPs and their samples (the named share is filled in once the
/// lines are joined, see [`named_share`]).
pub fn data_address_sources(collected: &Collected, counters: &Counters) -> DataAddressSources {
    let d = collected.decoded;
    DataAddressSources {
        decoded_ips: d.accesses,
        ips_without_access: d.no_access,
        unreadable_ips: d.unreadable,
        operand_samples: counters.get(Counter::OperandSamples),
        address_samples: counters.get(Counter::PerfAddrSamples),
        undecoded_samples: counters.get(Counter::UndecodedSamples),
        named_share: 0.0,
    }
}

/// The share of the data samples of `lines` whose object was named: every sample of a line
/// holding a named global word or a Go map the probes saw, and in other lines those of accesses
/// that name what they touched (a primitive, a field). (The accesses kept per line are the most
/// sampled ones: the rest count as unnamed.)
pub fn named_share(lines: &[LineReport]) -> f64 {
    let (mut named, mut all) = (0u64, 0u64);
    for line in lines {
        let Some(data) = &line.data_samples else {
            continue;
        };
        all += data.samples;
        let in_a_map = line
            .objects
            .iter()
            .any(|o| matches!(o.kind, ObjectKind::GoMap | ObjectKind::GoMapSlot));
        named += if !data.names.is_empty() || in_a_map {
            data.samples
        } else {
            let by_code = data.accesses.iter().filter(|a| a.object.is_some());
            by_code.map(|a| a.samples).sum::<u64>().min(data.samples)
        };
    }
    if all == 0 {
        return 0.0;
    }
    (named as f64 / all as f64 * 1e4).round() / 1e4
}

#[cfg(test)]
#[path = "sampled_tests.rs"]
mod tests;
