//! Collection while recording: drains the sampled-event ring buffer as it fills (tokio `AsyncFd`),
//! forwards the eBPF side's logs into `tracing`, shows live counters on stderr, and decides when
//! to stop (duration over, Ctrl-C / SIGTERM, targets gone).

use std::{
    collections::HashMap,
    io::IsTerminal as _,
    time::{Duration, Instant},
};

use aya::maps::{MapData, RingBuf};
use profiler_common::{SampleEvent, SAMPLE_CONCURRENT, SAMPLE_SLOT};
use tokio::{
    io::unix::AsyncFd,
    signal::unix::{signal, SignalKind},
};

use crate::{attach::Probes, target};

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
    /// `SAMPLE_*` bits.
    pub flags: u32,
    /// For races: who entered and who was inside.
    pub tid: u32,
    pub other_tid: u32,
    pub other_stack_id: i64,
}

impl From<&SampleEvent> for SampleKey {
    fn from(e: &SampleEvent) -> Self {
        let race = e.flags & SAMPLE_CONCURRENT != 0;
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

/// The earliest sampled write of an object: (time, stack id, return address).
pub type FirstSample = (u64, i64, u64);

/// What collection produced.
pub struct Collected {
    /// Folded samples and their counts.
    pub samples: HashMap<SampleKey, u64>,
    /// Per (pid, object): its earliest sampled write.
    pub first: HashMap<(u32, u64), FirstSample>,
    pub stop: StopReason,
    /// How long probes were attached.
    pub elapsed: Duration,
    /// Targets that exited, with the time into the recording when that was noticed.
    pub exited: HashMap<u32, Duration>,
}

/// Settings of one collection run.
pub struct CollectOptions {
    pub duration: Duration,
    /// Show a live countdown on stderr (when it is a terminal).
    pub progress: bool,
}

type Logger = aya_log::EbpfLogger<&'static dyn log::Log>;

/// Runs until the duration elapses, a signal arrives or every target has exited, then detaches
/// the probes.
pub async fn collect(
    probes: &mut Probes,
    events: RingBuf<MapData>,
    logger: Option<Logger>,
    options: &CollectOptions,
) -> std::io::Result<Collected> {
    let start = Instant::now();
    let deadline = tokio::time::Instant::now() + options.duration;
    // SAFETY: both own their fd (a BPF ring buffer map) and keep it open and unchanged for as
    // long as the AsyncFd owns them.
    let mut events = unsafe { AsyncFd::register(events) }?;
    let mut logger = match logger {
        Some(l) => Some(unsafe { AsyncFd::register(l) }?),
        None => None,
    };
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let progress = Progress::new(options.progress, options.duration);
    let pids: Vec<u32> = probes.pids().to_vec();
    let mut exited: HashMap<u32, Duration> = HashMap::new();
    let mut samples = Samples::default();

    let stop = loop {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => break StopReason::Duration,
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
                for &pid in &pids {
                    if !exited.contains_key(&pid) && !target::is_alive(pid) {
                        tracing::info!(pid, "target exited");
                        exited.insert(pid, start.elapsed());
                    }
                }
                progress.update(probes, start.elapsed(), samples.total);
                if !pids.is_empty() && exited.len() == pids.len() {
                    break StopReason::TargetsExited;
                }
            }
        }
    };
    let elapsed = start.elapsed();
    // Detach first so the last drain sees every event that will ever be sampled.
    probes.detach_all();
    samples.drain(events.get_mut());
    if let Some(logger) = logger.as_mut() {
        logger.get_mut().flush();
    }
    progress.finish();
    Ok(Collected {
        samples: samples.folded,
        first: samples.first,
        stop,
        elapsed,
        exited,
    })
}

/// Samples folded as they arrive.
#[derive(Default)]
struct Samples {
    folded: HashMap<SampleKey, u64>,
    first: HashMap<(u32, u64), FirstSample>,
    total: u64,
}

impl Samples {
    fn drain(&mut self, ring: &mut RingBuf<MapData>) {
        while let Some(item) = ring.next() {
            if item.len() < std::mem::size_of::<SampleEvent>() {
                continue;
            }
            // SAFETY: the kernel wrote a whole SampleEvent (repr(C), any bit pattern valid).
            let event: SampleEvent = unsafe { std::ptr::read_unaligned(item.as_ptr().cast()) };
            self.add(&event);
        }
    }

    fn add(&mut self, event: &SampleEvent) {
        self.total += 1;
        *self.folded.entry(SampleKey::from(event)).or_default() += 1;
        if event.flags & SAMPLE_SLOT == 0 && event.stack_id >= 0 {
            let first = (event.ktime_ns, event.stack_id, event.return_addr);
            self.first
                .entry((event.pid, event.object))
                .and_modify(|f| {
                    if first.0 < f.0 {
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
        let Ok(c) = probes.counters() else { return };
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
