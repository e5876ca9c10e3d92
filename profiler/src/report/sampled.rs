//! The lines the perf samples' data addresses fell in, for the report: each line's samples by
//! access kind, its threads and the words each touched, what those say of its sharing, and the
//! instructions sampled touching it.

use std::collections::HashMap;

use profiler_common::{
    operand::DataAccessKind, sampled::SampledLine, Counter, LineKey, SampleFlags, TRACKED_TIDS,
};

use crate::{
    collect::Collected,
    folded::Counters,
    report::primitives,
    report::{
        hex, stacks::Stacks, AccessSite, DataAddressSources, SampledLineReport, SampledSharing,
        ThreadWords, WordName,
    },
    symbolize::Frame,
};

/// Sampled lines kept in a report, by samples.
pub const TOP_SAMPLED_LINES: usize = 20;
/// Accessing instructions kept per line.
const TOP_ACCESSES: usize = 5;

/// The [`TOP_SAMPLED_LINES`] lines with the most samples, descending.
pub fn sampled_lines(
    lines: &[(LineKey, SampledLine)],
    collected: &Collected,
    stacks: &mut Stacks<'_, '_>,
) -> Vec<SampledLineReport> {
    let mut top: Vec<&(LineKey, SampledLine)> =
        lines.iter().filter(|(_, s)| s.samples > 0).collect();
    top.sort_unstable_by(|a, b| b.1.samples.cmp(&a.1.samples).then(a.0.cmp(&b.0)));
    top.truncate(TOP_SAMPLED_LINES);
    let mut accesses = accesses_by_line(collected, stacks, &top);
    let names = word_names(stacks, &top);
    top.into_iter()
        .map(|(key, stats)| {
            let mut report = line_report(key, stats);
            report.accesses = accesses.remove(&(key.pid, key.line)).unwrap_or_default();
            report.names = (0..8u8)
                .filter_map(|w| {
                    let name = names.get(&(key.pid, key.line + 8 * u64::from(w)))?;
                    Some(WordName {
                        word: w,
                        name: name.clone(),
                    })
                })
                .collect();
            report
        })
        .collect()
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

/// One line's figures, without its accesses.
fn line_report(key: &LineKey, s: &SampledLine) -> SampledLineReport {
    SampledLineReport {
        pid: key.pid,
        line: hex(key.line),
        samples: s.samples,
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
    }
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

/// What the words say of the line's sharing.
pub fn sharing(s: &SampledLine) -> SampledSharing {
    let threads = s.threads.tids.iter().take_while(|&&t| t != 0).count();
    if s.samples < SampledSharing::MIN_SAMPLES || !s.threads.tids_exact() {
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

/// The instructions sampled touching each of `lines`, from the perf samples' stacks (their
/// first address is the sampled IP), most sampled first.
fn accesses_by_line(
    collected: &Collected,
    stacks: &mut Stacks<'_, '_>,
    lines: &[&(LineKey, SampledLine)],
) -> HashMap<(u32, u64), Vec<AccessSite>> {
    let wanted: std::collections::HashSet<(u32, u64)> =
        lines.iter().map(|(k, _)| (k.pid, k.line)).collect();
    let mut by_ip: HashMap<(u32, u64, u64), u64> = HashMap::new();
    for (key, &count) in &collected.samples {
        let line = key.lines[0];
        if !key.flags.contains(SampleFlags::PERF) || !wanted.contains(&(key.pid, line)) {
            continue;
        }
        if let Some(ip) = stacks.top_ip(key.stack_id) {
            *by_ip.entry((key.pid, line, ip)).or_default() += count;
        }
    }
    type Sites = HashMap<(Frame, Option<String>), u64>;
    let mut out: HashMap<(u32, u64), Sites> = HashMap::new();
    for ((pid, line, ip), count) in by_ip {
        // The IP is one instruction past the access, or at it: the byte before lies in the
        // access (or on its source line).
        let before = ip.saturating_sub(1);
        let frames = stacks.frames_at(pid, before);
        let frame = primitives::caller(&frames)
            .cloned()
            .unwrap_or_else(|| stacks.frame_at(pid, before));
        // Go gives an intrinsic (an atomic add) the position of its call site, so the inline
        // chain of the method it was called from starts at the instruction after it.
        let object = primitives::touched(&frames)
            .or_else(|| primitives::touched(&stacks.frames_at(pid, ip)));
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

/// What became of the sampled IPs and their samples.
pub fn data_address_sources(collected: &Collected, counters: &Counters) -> DataAddressSources {
    let d = collected.decoded;
    DataAddressSources {
        decoded_ips: d.accesses,
        ips_without_access: d.no_access,
        unreadable_ips: d.unreadable,
        operand_samples: counters.get(Counter::OperandSamples),
        undecoded_samples: counters.get(Counter::UndecodedSamples),
    }
}
