//! The verdict per line: what kind of contention it shows, by rules applied in order (the first
//! that holds decides; README, "Verdicts"):
//!
//! 1. `race`: an assign found another writer inside a map of the line (`concurrent_writers`),
//!    or a lookup or iteration step found one inside a map whose header is in the line
//!    (`read_races`).
//! 2. `private`: the line stays in one cache: its moves (transfers and remote reads) are under
//!    [`PRIVATE_MOVE_SHARE`] of its accesses (writes and reads), or one thread wrote it and no
//!    read came from another CPU (its moves are that thread's own migrations).
//! 3. `undecided`: fewer than [`MIN_MOVES_SEEN`] moves were seen: too few to tell the kinds
//!    below apart.
//! 4. `growth`: writes during growth are a large share of the line's writes (of those made in
//!    the sampled windows, where the probes ran in windows: a launched program's start-up fill,
//!    seen whole outside them, is no steady growth): at least
//!    [`CLASSIC_GROWTH_SHARE`] of them for classic maps (an assign that starts while the map is
//!    evacuating does evacuation work), at least [`SWISS_GROWTH_SHARE`] for swiss maps (each
//!    counted growth rehashes a whole table). A map one thread fills is private, however it
//!    grows: the verdicts are about contention.
//! 5. `read-write-sharing`: remote reads move it more often than writes do.
//! 6. `true-sharing`: an object in it was written by two threads or more (or fewer than two
//!    written objects are known in it, so the writers share one).
//! 7. `false-sharing`: otherwise: two objects or more, each written by one thread, and the line
//!    moves between the threads writing them.
//!
//! All counts are the estimates over the whole recording (`est_*`) where the probes ran in
//! windows, else the counts as seen.
//!
//! A line the probes and watchpoints did not see takes its verdict from its data samples'
//! sharing (`data_samples.sharing`): `false-sharing` and `true-sharing` as they say,
//! `read-shared` and `one-thread` are `private`, `unknown` (fewer than 8 samples, or threads
//! beyond the tracked ones) is `undecided`. Where the probes saw the line but found it
//! `private` or `undecided`, a data-sample verdict of false or true sharing takes over: the
//! samples see accesses the probes do not (a lock or a counter beside a map's header). So does
//! it where the only writers known are watched words: watchpoints count threads, and a
//! goroutine moves between threads, while the samples tell goroutines apart. A data-sample
//! verdict of false sharing also takes over from `growth`: threads writing words of their own
//! are not one map growing. Where both find the line falsely or truly shared, the probes'
//! verdict stands and the samples' time costs it.

use std::collections::HashMap;

use crate::{
    inspect::LayoutFlavor,
    perf::SampleMeaning,
    report::{parse_hex, LineReport, MapReport, ObjectKind, SampledSharing, Verdict},
};

/// Classic maps: share of a line's writes made during growth from which it is `growth`. A map
/// that keeps growing writes about 8% of its assigns during evacuation; one that stopped
/// growing, none.
pub const CLASSIC_GROWTH_SHARE: f64 = 0.02;
/// Swiss maps: growths per write from which a line is `growth`. Each growth rehashes a table of
/// 8 to 1,024 slots, so one per 1,000 writes moves about as many entries as the writes insert.
pub const SWISS_GROWTH_SHARE: f64 = 0.001;
/// Moves per access under which a line is `private`.
pub const PRIVATE_MOVE_SHARE: f64 = 0.001;
/// Moves a line needs seen (not estimated) before its kind of sharing is told.
pub const MIN_MOVES_SEEN: u64 = 8;

/// The maps of a report by (pid, header address).
pub type MapIndex<'a> = HashMap<(u32, u64), &'a MapReport>;

/// Indexes `maps` by (pid, header address).
pub fn index(maps: &[MapReport]) -> MapIndex<'_> {
    maps.iter()
        .filter_map(|m| Some(((m.pid, parse_hex(&m.addr)?), m)))
        .collect()
}

/// Transfers over the whole recording: the estimate, or the count where larger (watchpoints
/// count every transfer of the words they watch).
pub fn transfers(line: &LineReport) -> u64 {
    line.est.transfers.unwrap_or(0).max(line.transfers)
}

/// Remote reads over the whole recording; 0 where reads were not probed.
pub fn remote_reads(line: &LineReport) -> u64 {
    line.est.remote_reads.or(line.remote_reads).unwrap_or(0)
}

/// The line's moves between caches: transfers plus remote reads.
pub fn moves(line: &LineReport) -> u64 {
    transfers(line) + remote_reads(line)
}

/// The verdict on `line`, whose process's maps are `flavor` (None: custom probes only).
pub fn verdict(line: &LineReport, maps: &MapIndex<'_>, flavor: Option<LayoutFlavor>) -> Verdict {
    judgement(line, maps, flavor, SampleMeaning::Time).0
}

/// The verdict on `line` (see [`verdict`]), and whether its data samples, which stand for
/// `samples`, decided it.
pub fn judgement(
    line: &LineReport,
    maps: &MapIndex<'_>,
    flavor: Option<LayoutFlavor>,
    samples: SampleMeaning,
) -> (Verdict, bool) {
    let sampled = line
        .data_samples
        .as_ref()
        .map(|d| match samples.shows_sharing() {
            true => sampled_verdict(d.sharing),
            false => Verdict::Undecided,
        });
    if !probed(line) {
        return match sampled {
            Some(v) => (v, samples.shows_sharing()),
            None => (Verdict::Private, false),
        };
    }
    let probed = probed_verdict(line, maps, flavor);
    if probed == Verdict::Race {
        return (probed, false);
    }
    // Watchpoints count writers by thread, and a goroutine moves between threads; the data
    // samples tell goroutines apart and see which words each wrote.
    let only_watched = !line
        .objects
        .iter()
        .any(|o| o.writes > 0 && o.kind != ObjectKind::Watched);
    match sampled {
        Some(v @ (Verdict::FalseSharing | Verdict::TrueSharing))
            if only_watched || matches!(probed, Verdict::Private | Verdict::Undecided) =>
        {
            (v, true)
        }
        // Threads writing words of their own: no one map's growth moves the line. The growth
        // the probes counted can be a start-up fill their first window saw whole (a launched
        // program's maps: 6% of the writes seen, none after), while the samples weigh the
        // whole recording alike.
        Some(Verdict::FalseSharing) if probed == Verdict::Growth => (Verdict::FalseSharing, true),
        // Both see the line shared: the probes' verdict names its objects, the samples'
        // time costs it (every access, where the moves count only the probed ones).
        Some(Verdict::FalseSharing | Verdict::TrueSharing)
            if matches!(probed, Verdict::FalseSharing | Verdict::TrueSharing) =>
        {
            (probed, true)
        }
        _ => (probed, false),
    }
}

/// The probes or the watchpoints saw the line accessed.
fn probed(line: &LineReport) -> bool {
    line.writes > 0 || line.reads.unwrap_or(0) > 0 || line.watch.is_some()
}

/// The verdict the data samples' `sharing` gives.
pub fn sampled_verdict(sharing: SampledSharing) -> Verdict {
    match sharing {
        SampledSharing::FalseSharing => Verdict::FalseSharing,
        SampledSharing::TrueSharing => Verdict::TrueSharing,
        SampledSharing::ReadShared | SampledSharing::OneThread => Verdict::Private,
        SampledSharing::Unknown => Verdict::Undecided,
    }
}

/// The verdict from what the probes and watchpoints saw.
fn probed_verdict(line: &LineReport, maps: &MapIndex<'_>, flavor: Option<LayoutFlavor>) -> Verdict {
    if races(line, maps) {
        return Verdict::Race;
    }
    let (transfers, remote) = (transfers(line), remote_reads(line));
    let accesses =
        line.est.writes.unwrap_or(0).max(line.writes) + line.est.reads.or(line.reads).unwrap_or(0);
    let moves = transfers + remote;
    if moves == 0
        || (moves as f64) < PRIVATE_MOVE_SHARE * accesses as f64
        || (line.threads <= 1 && remote == 0)
    {
        return Verdict::Private;
    }
    if moves_seen(line) < MIN_MOVES_SEEN {
        return Verdict::Undecided;
    }
    if grows(line, flavor) {
        return Verdict::Growth;
    }
    if remote > transfers {
        return Verdict::ReadWriteSharing;
    }
    let written: Vec<_> = line.objects.iter().filter(|o| o.writes > 0).collect();
    if written.len() < 2 || written.iter().any(|o| o.writers >= 2) {
        Verdict::TrueSharing
    } else {
        Verdict::FalseSharing
    }
}

/// The moves counted, not estimated: transfers (the probes' or the watchpoints', whichever
/// counted more) and remote reads.
pub fn moves_seen(line: &LineReport) -> u64 {
    let watched: u64 = line
        .watch
        .as_ref()
        .map_or(0, |w| w.words.iter().map(|w| w.transfers).sum());
    line.transfers.max(watched) + line.remote_reads.unwrap_or(0)
}

/// Writers inside one map at once, seen on this line or on a map whose header it holds.
fn races(line: &LineReport, maps: &MapIndex<'_>) -> bool {
    if line.concurrent_writers.unwrap_or(0) > 0 {
        return true;
    }
    line.objects
        .iter()
        .filter(|o| o.kind == ObjectKind::GoMap)
        .filter_map(|o| maps.get(&(line.pid, parse_hex(&o.addr)?)))
        .any(|m| m.concurrent_writers > 0 || m.read_races.unwrap_or(0) > 0)
}

/// Writes during growth are a large share of the line's writes: of those made in the sampled
/// windows where there were any (the steady share), else of all seen.
fn grows(line: &LineReport, flavor: Option<LayoutFlavor>) -> bool {
    let (Some(growth), Some(flavor)) = (line.growth_writes, flavor) else {
        return false;
    };
    let (growth, writes) = match line.sampled.writes {
        0 => (growth, line.writes),
        sampled => (line.sampled.growth_writes, sampled),
    };
    if growth == 0 || writes == 0 {
        return false;
    }
    let share = match flavor {
        LayoutFlavor::Classic => CLASSIC_GROWTH_SHARE,
        LayoutFlavor::Swiss => SWISS_GROWTH_SHARE,
    };
    growth as f64 >= share * writes as f64
}

#[cfg(test)]
#[path = "verdict_tests.rs"]
mod tests;
