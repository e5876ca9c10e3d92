//! The watched words joined to the ranked lines: every line holding a watched word gets its
//! `watch` (per word: writes, writer threads, transfers, the writing code), its writer threads
//! and transfers include the watched writers, and a word written by code the probes do not see
//! becomes an object of kind `watched`. A watched line no probe wrote is added to the lines.

use std::collections::{BTreeMap, HashMap};

use profiler_common::{line_of, LineKey, LineStats, Writers};

use crate::{
    folded::{KernelSnapshot, WatchSnapshot},
    report::{
        hex, rank, FrameReport, LineReport, ObjectKind, ObjectReport, WatchReport,
        WatchedWordReport,
    },
    symbolize::Frame,
    watch::{WatchOutcome, WatchedWord},
};

/// Writing instructions (with their callers) named per word, at most.
const SITES_PER_WORD: usize = 3;

/// A writing instruction of one word: (IP after it, its sampled stack id, its writes).
type SiteWrites = (u64, i64, u64);

/// What the report needs to know about a writing instruction.
pub struct Site {
    /// Its source frames (inlined innermost first), then its callers from a sampled stack.
    pub frames: Vec<Frame>,
    /// How many of `frames` are the instruction's own (the rest are callers).
    pub own: usize,
    /// It is in a probed function (a map assign): the probes see its writes.
    pub probed: bool,
}

/// Names writing instructions: `site(pid, ip_after, stack_id)`, with `ip_after` the address
/// the trap reported (the instruction after the write).
pub trait DescribeSite {
    fn site(&mut self, pid: u32, ip_after: u64, stack_id: i64) -> Site;
}

/// Adds what `outcome` watched to `lines` (ranked again).
pub fn join(
    lines: &mut Vec<LineReport>,
    outcome: &WatchOutcome,
    watched: &WatchSnapshot,
    probed: &KernelSnapshot,
    describe: &mut dyn DescribeSite,
) {
    let mut seen = Seen::of(watched);
    let probed_lines: HashMap<LineKey, &LineStats> =
        probed.lines.iter().map(|(k, s)| (*k, s)).collect();
    let mut by_line: BTreeMap<(u32, u64), Vec<&WatchedWord>> = BTreeMap::new();
    for w in &outcome.words {
        by_line
            .entry((w.pid, line_of(w.word.addr)))
            .or_default()
            .push(w);
    }
    for ((pid, line), mut words) in by_line {
        words.sort_by_key(|w| w.word.addr);
        let mut reports = Vec::new();
        let mut objects = Vec::new();
        for w in &words {
            let (report, object) = seen.word(pid, w, describe);
            reports.push(report);
            objects.extend(object);
        }
        let watch = WatchReport {
            active_s: reports.iter().map(|r| r.active_s).fold(0.0, f64::max),
            words: reports,
        };
        let line_seen = seen.lines.get(&(pid, line)).copied();
        let key = LineKey { pid, _pad: 0, line };
        let entry = match lines
            .iter()
            .position(|l| l.pid == pid && l.line == hex(line))
        {
            Some(i) => &mut lines[i],
            None => {
                lines.push(rank::empty_line(pid, line));
                lines.last_mut().expect("just pushed")
            }
        };
        let probe_writers = probed_lines.get(&key).map(|s| s.writers);
        if let Some(line_seen) = line_seen {
            let writers = probe_writers.unwrap_or_default().union(&line_seen.writers);
            set_writers(entry, &writers);
            entry.transfers = entry.transfers.max(line_seen.transfers);
            entry.contention = rank::score(entry);
        }
        entry.objects.extend(objects);
        entry.watch = Some(watch);
    }
    rank::rank(lines);
}

/// What the watchpoints saw, looked up by (pid, word), (pid, line) and, for the writing
/// instructions, taken per (pid, word).
struct Seen<'a> {
    words: HashMap<(u32, u64), &'a LineStats>,
    lines: HashMap<(u32, u64), &'a LineStats>,
    sites: HashMap<(u32, u64), Vec<SiteWrites>>,
}

impl<'a> Seen<'a> {
    fn of(watched: &'a WatchSnapshot) -> Seen<'a> {
        let mut sites: HashMap<(u32, u64), Vec<SiteWrites>> = HashMap::new();
        for (k, s) in &watched.sites {
            sites
                .entry((k.pid, k.word))
                .or_default()
                .push((k.ip_after, s.stack_id, s.writes));
        }
        Seen {
            words: watched
                .words
                .iter()
                .map(|(k, s)| ((k.pid, k.addr), s))
                .collect(),
            lines: watched
                .lines
                .iter()
                .map(|(k, s)| ((k.pid, k.line), s))
                .collect(),
            sites,
        }
    }

    /// The report of watched word `w` of process `pid`, and the object of its writes by code
    /// the probes do not see (none when the probes saw every write).
    fn word(
        &mut self,
        pid: u32,
        w: &WatchedWord,
        describe: &mut dyn DescribeSite,
    ) -> (WatchedWordReport, Option<ObjectReport>) {
        let stats = self.words.get(&(pid, w.word.addr)).copied();
        let mut word_sites = self.sites.remove(&(pid, w.word.addr)).unwrap_or_default();
        word_sites.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
        let mut frames = Vec::new();
        let mut unseen: Option<FrameReport> = None;
        let mut unseen_writes = 0;
        for (i, &(ip_after, stack_id, writes)) in word_sites.iter().enumerate() {
            let site = describe.site(pid, ip_after, stack_id);
            if !site.probed {
                unseen_writes += writes;
                if unseen.is_none() {
                    unseen = writer_frame(&site).map(|f| rank::frame_report(f, writes));
                }
            }
            if i < SITES_PER_WORD {
                frames.extend(site.frames.iter().map(|f| rank::frame_report(f, writes)));
            }
        }
        let writers = stats.map_or(0, |s| s.writers.estimated_threads());
        let object = (unseen_writes > 0).then(|| ObjectReport {
            kind: ObjectKind::Watched,
            addr: hex(w.word.addr),
            fields: vec![w.name.clone()],
            written_fields: vec![w.name.clone()],
            writes: unseen_writes,
            writers,
            assign: None,
            owner: None,
            writer: unseen,
        });
        let report = WatchedWordReport {
            addr: hex(w.word.addr),
            len: w.word.len as u8,
            name: w.name.clone(),
            writes: stats.map_or(0, |s| s.writes),
            threads: writers,
            transfers: stats.map_or(0, |s| s.transfers),
            active_s: round3(w.active.as_secs_f64()),
            frames,
        };
        (report, object)
    }
}

/// The frame that names a writer: the innermost of the instruction's own frames outside the
/// atomic packages (whose inlined helpers hold the instruction of an atomic add), else the
/// innermost.
fn writer_frame(site: &Site) -> Option<&Frame> {
    let own = &site.frames[..site.own.min(site.frames.len())];
    own.iter()
        .find(|f| !is_atomic_helper(&f.function))
        .or_else(|| own.first())
}

fn is_atomic_helper(function: &str) -> bool {
    [
        "sync/atomic.",
        "internal/runtime/atomic.",
        "runtime/internal/atomic.",
    ]
    .iter()
    .any(|p| function.starts_with(p))
}

fn set_writers(line: &mut LineReport, writers: &Writers) {
    line.threads = writers.estimated_threads();
    line.threads_exact = writers.tids_exact();
    line.cpus = writers.cpu_count();
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
#[path = "watch_tests.rs"]
mod tests;
