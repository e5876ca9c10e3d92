//! What moving one cache line between two CPUs costs on this machine: a ping-pong of one line
//! between two threads pinned to the two CPUs. Each one-way handoff is one transfer of the line
//! (the writer must own it, so it comes from the other CPU's cache): the time per handoff is
//! the transfer cost, handoff latency included, as a contended line pays it.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Barrier,
    },
    time::{Duration, Instant},
};

use thiserror::Error;

/// Round trips in one run (well under a millisecond).
pub const ROUNDS: u64 = 5_000;
/// Runs per CPU pair, [`PAUSE`] apart; the median counts (a vCPU descheduled in a run makes
/// that run slow).
pub const RUNS: usize = 11;
/// Pause between two runs: a VM's host moves its vCPUs, and a handoff between them then takes
/// 5 times as long for a hundred milliseconds or more; spread over 1 s, the runs' median is
/// the usual figure.
const PAUSE: Duration = Duration::from_millis(100);
/// Longest a thread waits for the other's handoff before the run is given up.
const STALL: Duration = Duration::from_millis(500);

#[derive(Debug, Error)]
pub enum TransferError {
    #[error("cannot pin a thread to CPU {cpu}: {source}")]
    Pin {
        cpu: u32,
        #[source]
        source: std::io::Error,
    },
    #[error("the ping-pong between CPUs {a} and {b} stalled (a CPU was not given to its thread)")]
    Stalled { a: u32, b: u32 },
    #[error("cannot start a measuring thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// One pair's measurement.
#[derive(Clone, Debug, PartialEq)]
pub struct PairCost {
    /// Median over the runs of the time per one-way handoff (ns).
    pub ns: f64,
    /// Each run's figure (ns), in the order run.
    pub runs: Vec<f64>,
}

impl PairCost {
    /// Median absolute deviation of the runs from their median, over the median: how far a
    /// typical run lies from the figure. Runs made while the host had moved a vCPU (up to half
    /// of them) move it little, unlike the interquartile range, which one run in four moves.
    pub fn spread(&self) -> f64 {
        if self.runs.is_empty() || self.ns <= 0.0 {
            return 0.0;
        }
        let deviations: Vec<f64> = self.runs.iter().map(|r| (r - self.ns).abs()).collect();
        median(deviations) / self.ns
    }
}

/// A line of its own: nothing else shares its 128 bytes (the adjacent-line prefetcher pairs
/// lines).
#[repr(align(128))]
struct Line(AtomicU64);

/// Measures the transfer cost between CPUs `a` and `b`: [`RUNS`] runs of [`ROUNDS`] round trips.
pub fn measure(a: u32, b: u32) -> Result<PairCost, TransferError> {
    let mut runs = Vec::with_capacity(RUNS);
    for i in 0..RUNS {
        if i > 0 {
            std::thread::sleep(PAUSE);
        }
        runs.push(run(a, b)?);
    }
    Ok(PairCost {
        ns: median(runs.clone()),
        runs,
    })
}

/// The middle value (the upper one of an even count); 0 for none.
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// One run: the time per handoff (ns).
fn run(a: u32, b: u32) -> Result<f64, TransferError> {
    let line = Arc::new(Line(AtomicU64::new(0)));
    let ready = Arc::new(Barrier::new(2));
    let spawn = |cpu: u32, first: u64| {
        let (line, ready) = (line.clone(), ready.clone());
        std::thread::Builder::new()
            .name("clprof-transfer".into())
            .spawn(move || -> Result<Duration, TransferError> {
                pin(cpu)?;
                realtime();
                ready.wait();
                let began = Instant::now();
                // Thread `first` = 0 writes odd values, the other even ones; each waits for the
                // value the other wrote.
                for round in 0..ROUNDS {
                    let want = 2 * round + first;
                    if !wait_for(&line.0, want) {
                        return Err(TransferError::Stalled { a, b });
                    }
                    line.0.store(want + 1, Ordering::Release);
                }
                Ok(began.elapsed())
            })
            .map_err(TransferError::Thread)
    };
    let ping = spawn(a, 0)?;
    let pong = spawn(b, 1)?;
    let stalled = || TransferError::Stalled { a, b };
    let ping = ping.join().map_err(|_| stalled())?;
    let pong = pong.join().map_err(|_| stalled())?;
    let (ping, _) = (ping?, pong?);
    Ok(ping.as_nanos() as f64 / (2 * ROUNDS) as f64)
}

/// Spins until `line` holds `want`; false when it gave up after [`STALL`].
fn wait_for(line: &AtomicU64, want: u64) -> bool {
    let mut spins = 0u32;
    let mut since: Option<Instant> = None;
    while line.load(Ordering::Acquire) != want {
        std::hint::spin_loop();
        spins = spins.wrapping_add(1);
        if spins.is_multiple_of(4096) {
            let began = *since.get_or_insert_with(Instant::now);
            if began.elapsed() > STALL {
                return false;
            }
        }
    }
    true
}

/// Gives the calling thread the lowest real-time priority (SCHED_FIFO 1), where allowed: the
/// target's busy threads on the same CPUs would otherwise take turns with the ping-pong and
/// every handoff would wait for the scheduler. A run lasts under a millisecond.
fn realtime() {
    let param = libc::sched_param { sched_priority: 1 };
    // SAFETY: pid 0 is the calling thread; `param` is a valid sched_param.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) } != 0 {
        tracing::debug!(
            "line-transfer thread stays at normal priority: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// Pins the calling thread to `cpu`.
fn pin(cpu: u32) -> Result<(), TransferError> {
    // SAFETY: a zeroed cpu_set_t is an empty set; CPU_SET stays within it for cpu < CPU_SETSIZE.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    if cpu as usize >= libc::CPU_SETSIZE as usize {
        return Err(TransferError::Pin {
            cpu,
            source: std::io::Error::from_raw_os_error(libc::EINVAL),
        });
    }
    // SAFETY: as above.
    unsafe { libc::CPU_SET(cpu as usize, &mut set) };
    // SAFETY: pid 0 is the calling thread; `set` is a valid cpu_set_t of the size given.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc != 0 {
        return Err(TransferError::Pin {
            cpu,
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(())
}
