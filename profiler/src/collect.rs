//! Collection while recording: drains the sampled-event ring buffer as it fills (tokio `AsyncFd`),
//! forwards the eBPF side's logs into `tracing`, shows live counters on stderr, and decides when
//! to stop (duration over, Ctrl-C / SIGTERM, targets gone).

use std::{
    collections::{HashMap, HashSet},
    io::IsTerminal as _,
    time::{Duration, Instant},
};

use aya::maps::{MapData, RingBuf};
use profiler_common::{SampleEvent, SampleFlags};

use crate::{
    discover::follow::{Follow, Found},
    inspect,
    ip_operands::{DecodeCounts, IpDecoder},
    kernel::probes::Probes,
    output::{Output, WriteError},
    overhead::duty::{DutyCycler, DutyOutcome, DutyPlan},
    overhead::ledger::Ledger,
    session::{
        streams::{Signals, Streams},
        Session,
    },
    target::Target,
    watch::{auto::AutoWatch, WatchOutcome, Watcher},
};

/// Why recording ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// The requested duration elapsed.
    Duration,
    /// SIGINT or SIGTERM.
    Signal(&'static str),
    /// Every target exited.
    TargetsExited,
}

/// Sampled events folded by everything that tells them apart for reporting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SampleKey {
    pub pid: u32,
    pub kind: u32,
    pub object: u64,
    pub lines: [u64; 2],
    pub return_addr: u64,
    pub stack_id: i64,
    /// What kind of event.
    pub flags: SampleFlags,
    /// For races: who entered and who was inside.
    pub tid: u32,
    pub other_tid: u32,
    pub other_stack_id: i64,
}

impl From<&SampleEvent> for SampleKey {
    fn from(e: &SampleEvent) -> Self {
        let race = e.flags.is_race();
        SampleKey {
            pid: e.pid,
            kind: e.kind,
            object: e.object,
            lines: e.lines,
            return_addr: e.return_addr,
            stack_id: e.stack_id,
            flags: e.flags,
            // Thread ids matter only for races; elsewhere they would split identical samples.
            tid: if race { e.tid } else { 0 },
            other_tid: e.other_tid,
            other_stack_id: e.other_stack_id,
        }
    }
}

/// One sampled event of an object kept for where it happened: its earliest write, or where it
/// was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FirstSample {
    /// Monotonic time of the event (ns since boot).
    pub ktime_ns: u64,
    /// Id of its user stack in the stack map.
    pub stack_id: i64,
    /// The caller's return address (frame 1 of the stack).
    pub return_addr: u64,
}

impl From<&SampleEvent> for FirstSample {
    fn from(e: &SampleEvent) -> Self {
        FirstSample {
            ktime_ns: e.ktime_ns,
            stack_id: e.stack_id,
            return_addr: e.return_addr,
        }
    }
}

/// What collection produced.
pub struct Collected {
    /// Folded samples and their counts.
    pub samples: HashMap<SampleKey, u64>,
    /// Per (pid, object): its earliest sampled write.
    pub first: HashMap<(u32, u64), FirstSample>,
    /// Per (pid, map): where it was made, the last time one was made at that address.
    pub made: HashMap<(u32, u64), FirstSample>,
    pub stop: StopReason,
    /// How long probes were attached.
    pub elapsed: Duration,
    /// Targets that exited, with the time into the recording when that was noticed; those that
    /// exec'd another program are among them (their recording ends there too).
    pub exited: HashMap<u32, Duration>,
    /// Of those, the ones that exec'd another program.
    pub execd: HashSet<u32>,
    /// How each target's probes were run under the overhead budget.
    pub duty: Vec<DutyOutcome>,
    /// Samples not folded because the maximum of distinct keys was reached.
    pub overflow: u64,
    /// Why `--save-samples` failed (the first error; no more events were saved after it).
    pub save_error: Option<WriteError>,
    /// What the watchpoints watched, when `--watch` named anything.
    pub watch: Option<WatchOutcome>,
    /// What became of the sampled IPs decoded for their data accesses.
    pub decoded: DecodeCounts,
}

impl Collected {
    /// The user stacks the samples name: their writes', the racing writers', and where maps
    /// were first written and made.
    pub fn stack_ids(&self) -> impl Iterator<Item = i64> + '_ {
        let keys = self
            .samples
            .keys()
            .flat_map(|k| [k.stack_id, k.other_stack_id]);
        let firsts = self.first.values().chain(self.made.values());
        keys.chain(firsts.map(|f| f.stack_id))
    }
}

/// Settings of one collection run.
pub struct CollectOptions {
    pub duration: Duration,
    /// Show a live countdown on stderr (when it is a terminal).
    pub progress: bool,
    /// The overhead budget's terms for the probes.
    pub duty: DutyPlan,
    /// The targets' accounts, carried from one collection run to the next (a daemon's windows).
    pub ledger: Ledger,
    /// Also write every sampled event here, raw (`--save-samples`); finished when the run ends.
    pub save_samples: Option<Output>,
    /// SIGINT and SIGTERM, caught since before the probes were attached.
    pub signals: Signals,
    /// The write watchpoints, armed; rotated while recording and disarmed at its end.
    pub watcher: Option<Watcher>,
    /// Watchpoints to arm on the top lines once the probes have ranked some (`--watch auto`).
    pub auto_watch: Option<AutoWatch>,
    /// New processes to attach and exits to note as they happen (`--all-go`); recording then
    /// goes on when every target has exited.
    pub follow: Option<Follow>,
}

/// Runs until the duration elapses, a signal arrives or every target has exited, then closes the
/// window (the probes come off) and drains what was sampled. The data accesses at the IPs the
/// perf samples hit in `targets` (and in processes followed meanwhile) are decoded as they appear.
pub async fn collect(
    session: &mut Session,
    streams: &mut Streams,
    options: &mut CollectOptions,
    targets: &[Target],
) -> std::io::Result<Collected> {
    let probes = &mut session.probes;
    let start = Instant::now();
    let deadline = tokio::time::Instant::now() + options.duration;
    let Streams { events, logger } = streams;
    let Signals {
        interrupt: sigint,
        terminate: sigterm,
    } = &mut options.signals;
    // The eBPF side wakes the collector only when the ring buffer fills up; this drains it.
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut lives = Lives::of(probes.pids());
    let following = options.follow.is_some();
    let mut samples = Samples::saving_to(options.save_samples.take());
    let progress = Progress::new(options.progress, options.duration);
    let mut duty = DutyCycler::start(probes, options.duty, &options.ledger);
    let mut decoder = IpDecoder::new(session.source.sample_ip());

    let stop = loop {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => break StopReason::Duration,
            _ = tokio::time::sleep_until(duty.next_check()) => {
                duty.step(probes);
                step_watcher(&mut options.watcher, &duty, probes);
            }
            found = next_found(&mut options.follow) => match (found, options.follow.as_mut()) {
                (Some(found), Some(follow)) => {
                    lives.found(found, follow, probes, &mut duty, start.elapsed());
                }
                // The reader stopped: exits are still seen below.
                _ => options.follow = None,
            },
            _ = sigint.recv() => break StopReason::Signal("SIGINT"),
            _ = sigterm.recv() => break StopReason::Signal("SIGTERM"),
            guard = events.readable_mut() => {
                let mut guard = guard?;
                samples.drain(guard.get_inner_mut());
                guard.clear_ready();
            }
            guard = async { logger.as_mut().expect("guarded by the if").readable_mut().await }, if logger.is_some() => {
                let mut guard = guard?;
                guard.get_inner_mut().flush();
                guard.clear_ready();
            }
            _ = tick.tick() => {
                samples.drain(events.get_mut());
                probes.refresh_xol();
                let now = start.elapsed();
                arm_auto_watch(probes, &mut options.auto_watch, &mut options.watcher, now);
                step_watcher(&mut options.watcher, &duty, probes);
                lives.look(probes, &mut duty, now);
                let joined = options.follow.as_ref().map_or(&[][..], Follow::joined);
                decoder.step(probes, |pid| targets.iter().chain(joined).find(|t| t.pid == pid));
                progress.update(probes, now, samples.total);
                if !following && lives.all_exited() {
                    break StopReason::TargetsExited;
                }
            }
        }
    };
    let elapsed = start.elapsed();
    let mut duty = duty.finish(probes, &mut options.ledger);
    let watch = options.watcher.take().map(Watcher::finish);
    session.close_window(&mut duty);
    samples.drain(events.get_mut());
    if let Some(logger) = logger.as_mut() {
        logger.get_mut().flush();
    }
    progress.finish();
    let mut collected = samples.collected(stop, elapsed, lives, duty, watch);
    collected.decoded = decoder.counts;
    Ok(collected)
}

/// Lets the watchpoints follow the probes' duty cycle, then rotates them.
fn step_watcher(watcher: &mut Option<Watcher>, duty: &DutyCycler, probes: &mut Probes) {
    if let Some(watcher) = watcher.as_mut() {
        watcher.gate(&|pid| duty.is_attached(pid));
        watcher.step(probes);
    }
}

/// What the follower found next; never, without one.
async fn next_found(follow: &mut Option<Follow>) -> Option<Found> {
    match follow {
        Some(follow) => follow.next().await,
        None => std::future::pending().await,
    }
}

/// The targets of one collection run: which are recorded, which exited (and when, into the run),
/// which of those exec'd another program.
struct Lives {
    pids: Vec<u32>,
    exited: HashMap<u32, Duration>,
    execd: HashSet<u32>,
}

impl Lives {
    fn of(pids: Vec<u32>) -> Self {
        Lives {
            pids,
            exited: HashMap::new(),
            execd: HashSet::new(),
        }
    }

    /// Every target has exited (and there was one).
    fn all_exited(&self) -> bool {
        !self.pids.is_empty() && self.exited.len() == self.pids.len()
    }

    /// Notes the targets that exited or exec'd another program since the last look; an exec'd
    /// one's account ends (its probes stay in the program it ran, which is gone from it).
    fn look(&mut self, probes: &mut Probes, duty: &mut DutyCycler, now: Duration) {
        for &pid in &self.pids {
            if self.exited.contains_key(&pid) {
                continue;
            }
            if !inspect::is_alive(pid) {
                tracing::info!(pid, "target exited");
                self.exited.insert(pid, now);
            } else if probes.replaced(pid) {
                tracing::info!(pid, "target exec'd another program");
                self.exited.insert(pid, now);
                self.execd.insert(pid);
                duty.end(probes, pid);
            }
        }
    }

    /// Attaches a new Go process (its account starts now), or notes a target's exit.
    fn found(
        &mut self,
        found: Found,
        follow: &mut Follow,
        probes: &mut Probes,
        duty: &mut DutyCycler,
        now: Duration,
    ) {
        match found {
            Found::Started { target, exec_ns } => {
                if let Some(pid) = follow.join(probes, *target, exec_ns) {
                    duty.add(probes, pid);
                    self.pids.push(pid);
                }
            }
            Found::Exited { pid } => {
                if self.pids.contains(&pid) && !self.exited.contains_key(&pid) {
                    tracing::info!(pid, "target exited");
                    self.exited.insert(pid, now);
                    follow.exited(pid);
                }
            }
        }
    }
}

/// Arms the `--watch auto` watchpoints when they are due and some line is ranked.
fn arm_auto_watch(
    probes: &Probes,
    auto_watch: &mut Option<AutoWatch>,
    watcher: &mut Option<Watcher>,
    elapsed: Duration,
) {
    let Some(auto) = auto_watch.as_ref() else {
        return;
    };
    if watcher.is_some() || !auto.due(elapsed) {
        return;
    }
    match auto.arm(probes) {
        Ok(Some(armed)) => {
            tracing::debug!(at = ?elapsed, "watchpoints armed on the top lines");
            *watcher = Some(armed);
            *auto_watch = None;
        }
        Ok(None) => {}
        Err(e) => {
            tracing::warn!("--watch auto: {e:#}");
            *auto_watch = None;
        }
    }
}

/// Distinct sample keys (and first-write objects) one recording or daemon window folds at most:
/// about 25 MB. Further samples with new keys are counted in `drops.samples_overflow`.
pub const MAX_SAMPLE_KEYS: usize = 200_000;

/// Samples folded as they arrive.
#[derive(Default)]
pub struct Samples {
    pub folded: HashMap<SampleKey, u64>,
    pub first: HashMap<(u32, u64), FirstSample>,
    /// Per (pid, map): the latest `runtime.makemap*` return that gave that address.
    pub made: HashMap<(u32, u64), FirstSample>,
    pub total: u64,
    /// Samples not folded: `folded` was full.
    pub overflow: u64,
    /// Where every event is also written as received (`--save-samples`).
    save: Option<std::io::BufWriter<Output>>,
    /// The first error writing `save` (which is then dropped, leaving an old file as it was).
    save_error: Option<WriteError>,
}

impl Samples {
    /// Folds samples and also writes each raw event to `save`.
    pub fn saving_to(save: Option<Output>) -> Self {
        Samples {
            save: save.map(std::io::BufWriter::new),
            ..Samples::default()
        }
    }

    fn drain(&mut self, ring: &mut RingBuf<MapData>) {
        while let Some(item) = ring.next() {
            let Some(event) = SampleEvent::read_from(&item) else {
                continue;
            };
            if let Some(save) = &mut self.save {
                use std::io::Write as _;
                if let Err(e) = save.write_all(&item[..std::mem::size_of::<SampleEvent>()]) {
                    tracing::debug!("--save-samples: {e}; no more events are saved");
                    self.save_error = Some(save.get_ref().error(e));
                    self.save = None;
                }
            }
            self.add(&event);
        }
    }

    /// What the run collected: these samples (their `--save-samples` output completed), why
    /// and when it stopped, its targets' fates, their duty outcomes and what was watched.
    fn collected(
        mut self,
        stop: StopReason,
        elapsed: Duration,
        lives: Lives,
        duty: Vec<DutyOutcome>,
        watch: Option<WatchOutcome>,
    ) -> Collected {
        let save_error = self.finish_saved();
        Collected {
            samples: self.folded,
            first: self.first,
            made: self.made,
            stop,
            elapsed,
            exited: lives.exited,
            execd: lives.execd,
            duty,
            overflow: self.overflow,
            save_error,
            watch,
            decoded: DecodeCounts::default(),
        }
    }

    /// Completes the `--save-samples` output; the first error writing it, if any.
    fn finish_saved(&mut self) -> Option<WriteError> {
        if let Some(save) = self.save.take() {
            let finished = match save.into_inner() {
                Ok(out) => out.finish(),
                Err(e) => {
                    let (source, save) = e.into_parts();
                    Err(save.get_ref().error(source))
                }
            };
            if let Err(e) = finished {
                self.save_error.get_or_insert(e);
            }
        }
        self.save_error.take()
    }

    /// Folds a stream of raw events (as `--save-samples` writes them); a partial last record
    /// is ignored.
    pub fn fold_stream(&mut self, bytes: &[u8]) {
        for record in bytes.chunks_exact(std::mem::size_of::<SampleEvent>()) {
            if let Some(event) = SampleEvent::read_from(record) {
                self.add(&event);
            }
        }
    }

    /// Folds one event.
    pub fn add(&mut self, event: &SampleEvent) {
        self.total += 1;
        if event.flags.is_made() {
            // Not a write: where a map was made. A later map at the same address replaces it.
            let made = FirstSample::from(event);
            if self.made.len() < MAX_SAMPLE_KEYS
                || self.made.contains_key(&(event.pid, event.object))
            {
                self.made
                    .entry((event.pid, event.object))
                    .and_modify(|m| {
                        if made.ktime_ns >= m.ktime_ns {
                            *m = made;
                        }
                    })
                    .or_insert(made);
            }
            return;
        }
        let key = SampleKey::from(event);
        let full = self.folded.len() >= MAX_SAMPLE_KEYS;
        match self.folded.get_mut(&key) {
            Some(n) => *n += 1,
            None if full => {
                self.overflow += 1;
                return;
            }
            None => {
                self.folded.insert(key, 1);
            }
        }
        // A map's first write: reads (sampled when racing) are not writes.
        if !event.flags.is_slot()
            && !event.flags.is_read()
            && event.stack_id >= 0
            && (self.first.len() < MAX_SAMPLE_KEYS
                || self.first.contains_key(&(event.pid, event.object)))
        {
            let first = FirstSample::from(event);
            self.first
                .entry((event.pid, event.object))
                .and_modify(|f| {
                    if first.ktime_ns < f.ktime_ns {
                        *f = first;
                    }
                })
                .or_insert(first);
        }
    }
}

/// The live countdown on stderr (indicatif): hidden when stderr is not a terminal or with
/// `--quiet`.
struct Progress(Option<indicatif::ProgressBar>);

impl Progress {
    fn new(wanted: bool, duration: Duration) -> Self {
        if !wanted || !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = indicatif::ProgressBar::new(duration.as_millis() as u64);
        let style = indicatif::ProgressStyle::with_template("clprof: {bar:24} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        bar.set_style(style);
        Progress(Some(bar))
    }

    fn update(&self, probes: &Probes, elapsed: Duration, sampled: u64) {
        let Some(bar) = &self.0 else { return };
        let Ok(c) = probes.maps().counters() else {
            return;
        };
        use profiler_common::Counter::*;
        let total = bar.length().unwrap_or(0);
        let done = (elapsed.as_millis() as u64).min(total);
        bar.set_position(done);
        bar.set_message(format!(
            "{:.1}s left, {} events, {} sampled, drops: ringbuf {} map-full {}",
            (total - done) as f64 / 1000.0,
            c.get(Events),
            sampled,
            c.get(RingbufDrops),
            c.get(MapFull),
        ));
    }

    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
#[path = "collect_tests.rs"]
mod tests;
