//! Measures, on this machine and at start, what clprof's instruments cost the threads they hit:
//! one uprobe hit (a self-probe on a tiny function of clprof itself, the custom-probe program
//! folding a write as it would for a target) and one perf sample (a cpu-clock event on a
//! spinning thread of clprof, feeding the perf program as a target's samples would). Each is the
//! minimum over several runs: the intrinsic cost, without other load's noise. The overhead budget
//! is metered with these.
//!
//! Measuring takes a few hundred milliseconds, too long before every recording (a process that
//! fails half a second after it starts would be gone), so the figures are kept per host, kernel,
//! CPU model, CPU set and eBPF object for [`MAX_AGE`] (`calibration.json` in the cache folder,
//! beside the line-transfer cost). They only start things off: the probes' hit cost is measured
//! in each target's own threads once it has made enough assigns, the watchpoints' too.

use std::{
    hint::black_box,
    path::Path,
    time::{Duration, Instant},
};

use profiler_common::{
    Cookie, Counter, Register, TargetConfig, CALIBRATION_SLOT, CUSTOM_KIND, NO_FIELD, NO_PROBE_ID,
    PROGRAM_CUSTOM,
};

use serde::{Deserialize, Serialize};

use crate::{
    inspect::{self, TargetError},
    kernel::{
        error::AttachError,
        links::thread_cpu,
        probes::{self, Probes},
    },
    machine::{
        busy::{self, CpuTimes},
        cache::{Cache, HostKey},
    },
    perf::{
        self,
        breakpoint::{Breakpoints, Word},
        PerfError, PerfEvents, PerfSource, Sampling,
    },
};

/// Calls of the probed function per run.
const CALLS: u32 = 300;
/// Writes to the watched word per run.
const WATCH_WRITES: u32 = 1_000;
/// Rounds of [`RUNS`] bare and watched runs, a few milliseconds apart: a round can land wholly
/// in a slow spell of the CPU it runs on (35% dearer here), and the cheapest round counts.
const WATCH_ROUNDS: usize = 4;
/// Runs; the cheapest counts.
const RUNS: usize = 5;
/// Sampling period of the perf calibration (50 µs of CPU: 20 kHz).
const PERF_PERIOD_NS: u64 = 50_000;
/// Rounds of [`RUNS`] runs the perf calibration may take before its cost is given as
/// [`MIN_SAMPLE_COST`] (unmeasurable under the load of the moment).
const SAMPLE_ATTEMPTS: usize = 4;
/// Least a perf sample is taken to cost: the timer interrupt and the perf program cost more
/// than this on every machine measured (5 to 25 µs on these VMs). A smaller figure comes from
/// runs disturbed by other load; taken as is, it would set the sampling rate at the 4 kHz cap
/// and cost a target several times its budget.
const MIN_SAMPLE_COST: Duration = Duration::from_micros(2);
/// Length of one spin of the perf calibration.
const SPIN: Duration = Duration::from_millis(25);
/// How long a calibration serves later recordings on the same host (what a trap costs drifts
/// over hours on these VMs: 6 to 27 µs a uprobe hit from one day to the next).
pub const MAX_AGE: Duration = Duration::from_secs(3600);
/// The cache file, in the cache folder.
const CACHE_FILE: &str = "calibration.json";

/// The function clprof probes in itself. `#[no_mangle]` keeps its symbol findable in
/// `/proc/self/exe`; it writes through its pointer argument (RDI), as a probed target would.
#[no_mangle]
#[inline(never)]
pub extern "C" fn clprof_calibration_site(counter: &mut u64) {
    let counter: *mut u64 = counter;
    // SAFETY: from a live, exclusive reference; volatile so the store is not optimized away.
    unsafe { counter.write_volatile(counter.read_volatile().wrapping_add(1)) }
}

/// What calibration measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Calibration {
    /// Cost of one uprobe hit to the probed thread (trap, eBPF program, return).
    pub hit_cost: Duration,
    /// Cost of one perf sample to the sampled thread; None without perf events.
    pub sample_cost: Option<Duration>,
    /// Cost of one watchpoint hit to the writing thread (trap, watch program, return); None
    /// when nothing is to be watched, or no debug register was free to measure it.
    pub watch_cost: Option<Duration>,
    /// How long before this recording it was measured (zero: measured for it).
    pub age: Duration,
}

/// Relative uncertainty of the calibrated watchpoint hit cost as a target pays it: the cost of
/// the trap drifts over seconds on these VMs (3.4 to 5.3 µs), and against a program counting
/// its own writes the calibration was 0.77 to 1.26 times what it paid (5 of 8 within 5%).
pub const WATCH_COST_REL_ERR: f64 = 0.15;

/// Whether the watchpoint hit cost is calibrated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchCalibration {
    /// Nothing is to be watched.
    Skip,
    /// Watchpoints are used where they work (`--watch auto`): when they do not, the cost is
    /// None and nothing is watched.
    IfAvailable,
    /// Named words are to be watched: watchpoints that do not work are an error.
    Required,
}

/// Why calibration failed.
#[derive(Debug, thiserror::Error)]
pub enum CalibrationError {
    #[error("calibration: {0}")]
    Attach(#[from] AttachError),
    #[error("calibration: {0}")]
    Target(#[from] TargetError),
    #[error("calibration: {0}")]
    Perf(#[from] PerfError),
    #[error("calibration: the self-probe counted {got} hits for {want} calls (is /proc/self/exe the running binary?)")]
    Hits { got: u64, want: u64 },
    #[error("calibration: the watchpoint counted {got} writes for {want} (is another program on the same breakpoint?)")]
    WatchHits { got: u64, want: u64 },
}

/// What a hit, a sample and a watchpoint hit cost on this host: kept from a recording of the
/// last [`MAX_AGE`] on this host with this eBPF object, else measured now on clprof itself and
/// kept. `perf` is the perf source the recording will use, None for none; the watchpoint cost is
/// calibrated as `watch` asks.
pub fn calibrate(
    probes: &mut Probes,
    perf: Option<&PerfSource>,
    watch: WatchCalibration,
) -> Result<Calibration, CalibrationError> {
    let key = HostKey::current();
    let cache = Cache::named(CACHE_FILE);
    let object = probes::object_fingerprint();
    let needs_sample = !matches!(perf, None | Some(PerfSource::None));
    if let Some((kept, at)) = cache.load::<Kept>(&key, Some(MAX_AGE)) {
        if let Some(calibration) = kept.serves(object, needs_sample, watch, at) {
            tracing::info!(
                hit_cost_ns = calibration.hit_cost.as_nanos() as u64,
                sample_cost_ns = calibration.sample_cost.map(|c| c.as_nanos() as u64),
                watch_cost_ns = calibration.watch_cost.map(|c| c.as_nanos() as u64),
                age_s = calibration.age.as_secs(),
                "calibration of this host kept from an earlier recording"
            );
            return Ok(calibration);
        }
    }
    let before = CpuTimes::now();
    let calibration = calibrate_now(probes, perf, watch)?;
    let others = before
        .zip(CpuTimes::now())
        .and_then(|(b, a)| b.others_share_since(&a, busy::tick()));
    match others {
        // Measured beside other work: disturbed (a kept sample cost of 853 ns once set the
        // rate at its cap), and later recordings would meter their budget with it for an hour.
        Some(share) if share > busy::QUIET_SHARE => tracing::info!(
            others_pct = (share * 100.0).round(),
            "calibration measured while other work used the CPUs: not kept for later recordings"
        ),
        _ => cache.store(key, &Kept::of(&calibration, object, watch)),
    }
    Ok(calibration)
}

/// A calibration as the cache keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Kept {
    /// [`probes::object_fingerprint`] of the eBPF object measured with.
    object: u64,
    hit_cost_ns: u64,
    sample_cost_ns: Option<u64>,
    watch: KeptWatch,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum KeptWatch {
    NotMeasured,
    /// No watchpoint could be used when measured.
    Unusable,
    Ns(u64),
}

impl Kept {
    fn of(c: &Calibration, object: u64, watch: WatchCalibration) -> Self {
        Kept {
            object,
            hit_cost_ns: c.hit_cost.as_nanos() as u64,
            sample_cost_ns: c.sample_cost.map(|d| d.as_nanos() as u64),
            watch: match (watch, c.watch_cost) {
                (WatchCalibration::Skip, _) => KeptWatch::NotMeasured,
                (_, None) => KeptWatch::Unusable,
                (_, Some(d)) => KeptWatch::Ns(d.as_nanos() as u64),
            },
        }
    }

    /// The calibration this serves, measured `at`, for an eBPF object with `object` as its
    /// fingerprint, with a sample cost when `needs_sample` and a watchpoint cost as `watch`
    /// asks; None when it lacks any of these.
    fn serves(
        &self,
        object: u64,
        needs_sample: bool,
        watch: WatchCalibration,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Option<Calibration> {
        if self.object != object || (needs_sample && self.sample_cost_ns.is_none()) {
            return None;
        }
        let watch_cost = match (watch, self.watch) {
            (WatchCalibration::Skip, _) => None,
            (_, KeptWatch::Ns(ns)) => Some(Duration::from_nanos(ns)),
            (WatchCalibration::IfAvailable, KeptWatch::Unusable) => None,
            _ => return None,
        };
        let age = chrono::Utc::now().signed_duration_since(at);
        Some(Calibration {
            hit_cost: Duration::from_nanos(self.hit_cost_ns),
            sample_cost: self
                .sample_cost_ns
                .filter(|_| needs_sample)
                .map(Duration::from_nanos),
            watch_cost,
            age: age.to_std().unwrap_or_default(),
        })
    }
}

/// Measures now, on clprof itself (registered as a target under [`CALIBRATION_SLOT`], removed
/// afterwards with everything it folded).
fn calibrate_now(
    probes: &mut Probes,
    perf: Option<&PerfSource>,
    watch: WatchCalibration,
) -> Result<Calibration, CalibrationError> {
    let pid = std::process::id();
    let config = TargetConfig {
        sample_every: 0,
        writing_offset: NO_FIELD,
        growth_offset: NO_FIELD,
        slot: CALIBRATION_SLOT,
        ..TargetConfig::default()
    };
    probes.configure(pid, config)?;
    let result = measure(probes, pid, perf, watch);
    let cleanup = probes
        .drop_target(pid)
        .and_then(|()| probes.forget_pid(pid))
        .and_then(|()| probes.reset_counters_and_events());
    let calibration = result?;
    cleanup?;
    tracing::info!(
        hit_cost_ns = calibration.hit_cost.as_nanos() as u64,
        sample_cost_ns = calibration.sample_cost.map(|c| c.as_nanos() as u64),
        watch_cost_ns = calibration.watch_cost.map(|c| c.as_nanos() as u64),
        "calibrated"
    );
    Ok(calibration)
}

fn measure(
    probes: &mut Probes,
    pid: u32,
    perf: Option<&PerfSource>,
    watch: WatchCalibration,
) -> Result<Calibration, CalibrationError> {
    let hit_cost = measure_hit(probes, pid)?;
    let sample_cost = match perf {
        None | Some(PerfSource::None) => None,
        Some(_) => Some(measure_sample(probes)?),
    };
    let watch_cost = match watch {
        WatchCalibration::Skip => None,
        WatchCalibration::Required => measure_watch(probes)?,
        WatchCalibration::IfAvailable => measure_watch(probes).unwrap_or_else(|e| {
            tracing::info!("watchpoints unusable here, nothing will be watched: {e}");
            None
        }),
    };
    Ok(Calibration {
        hit_cost,
        sample_cost,
        watch_cost,
        age: Duration::ZERO,
    })
}

fn measure_hit(probes: &mut Probes, pid: u32) -> Result<Duration, CalibrationError> {
    let exe = Path::new("/proc/self/exe");
    let site = inspect::find_symbol(exe, "clprof_calibration_site")?;
    let mut counter = 0u64;
    let bare = min_time(|| call_site(&mut counter));
    let cookie = Cookie {
        kind: CUSTOM_KIND,
        probe_id: NO_PROBE_ID,
        register: Register::Rdi as u32,
        offset: 0,
    };
    let before = probes.maps().target_hits(CALIBRATION_SLOT)?;
    probes.attach_at(
        PROGRAM_CUSTOM,
        exe,
        pid,
        site.file_offset,
        cookie,
        "clprof_calibration_site",
    );
    probes.attach_pid(pid, false)?;
    let probed = min_time(|| call_site(&mut counter));
    probes.detach_pid(pid);
    let got = probes.maps().target_hits(CALIBRATION_SLOT)? - before;
    let want = u64::from(CALLS) * RUNS as u64;
    if got != want {
        return Err(CalibrationError::Hits { got, want });
    }
    Ok(probed.saturating_sub(bare) / CALLS)
}

fn measure_sample(probes: &mut Probes) -> Result<Duration, CalibrationError> {
    use std::os::fd::AsFd as _;
    let events =
        PerfEvents::open_this_thread(&PerfSource::CpuClock, Sampling::Period(PERF_PERIOD_NS))?;
    let prog = probes
        .perf_program_fd()?
        .try_clone_to_owned()
        .map_err(|e| PerfError::Unavailable(format!("perf program fd: {e}")))?;
    events.attach_bpf(prog.as_fd())?;
    events.disable();
    let rounds = rounds_in(SPIN);
    // The cheapest bare and sampled spins: the runs least disturbed by other load. When
    // the targets keep every CPU busy, no run may be undisturbed and the sampled minimum can
    // even come out below the bare one: then more runs are added, up to SAMPLE_ATTEMPTS.
    let (mut bare, mut sampled, mut samples) = (Duration::MAX, Duration::MAX, 1);
    for _ in 0..SAMPLE_ATTEMPTS {
        for _ in 0..RUNS {
            bare = bare.min(spin(rounds));
            let before = probes.maps().counters()?.get(Counter::PerfSamples);
            events.enable()?;
            let took = spin(rounds);
            events.disable();
            let n = probes.maps().counters()?.get(Counter::PerfSamples) - before;
            if took < sampled {
                (sampled, samples) = (took, n.max(1));
            }
        }
        if sampled > bare {
            break;
        }
    }
    Ok((sampled.saturating_sub(bare) / samples as u32).max(MIN_SAMPLE_COST))
}

/// The word clprof watches in itself to time a watchpoint hit.
static WATCHED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Times writes to [`WATCHED`] with and without a write watchpoint on it (the watch program
/// folding them as for a target); None when no debug register is free.
fn measure_watch(probes: &mut Probes) -> Result<Option<Duration>, CalibrationError> {
    use std::sync::atomic::Ordering;
    let word = Word {
        addr: WATCHED.as_ptr() as u64,
        len: 8,
    };
    let cpus = perf::online_cpus()?;
    let mut breakpoints = Breakpoints::open(&[word], &cpus, probes.watch_program_fd()?)?;
    if breakpoints.is_empty() {
        tracing::info!("no debug register free: the watchpoint hit cost is not calibrated");
        return Ok(None);
    }
    let write = || {
        for i in 0..u64::from(WATCH_WRITES) {
            WATCHED.store(black_box(i), Ordering::Relaxed);
        }
    };
    let mut cost = Duration::MAX;
    for round in 0..WATCH_ROUNDS {
        if round > 0 {
            std::thread::sleep(Duration::from_millis(3));
        }
        let bare = min_time(write);
        let before = probes.maps().target_watch_hits(CALIBRATION_SLOT)?;
        breakpoints.enable(0)?;
        let watched = min_time(write);
        breakpoints.disable_all();
        let got = probes.maps().target_watch_hits(CALIBRATION_SLOT)? - before;
        let want = u64::from(WATCH_WRITES) * RUNS as u64;
        if got != want {
            return Err(CalibrationError::WatchHits { got, want });
        }
        cost = cost.min(watched.saturating_sub(bare) / WATCH_WRITES);
    }
    Ok(Some(cost))
}

/// CPU time of the fastest of [`RUNS`] runs of `f` on this thread: the trap handling a hit takes
/// is charged to the thread, and time other threads ran on its CPU (busy targets) is not.
fn min_time(mut f: impl FnMut()) -> Duration {
    (0..RUNS)
        .map(|_| {
            let start = thread_cpu();
            f();
            thread_cpu().saturating_sub(start)
        })
        .min()
        .unwrap_or_default()
}

fn call_site(counter: &mut u64) {
    let site = black_box(clprof_calibration_site as extern "C" fn(&mut u64));
    for _ in 0..CALLS {
        site(counter);
    }
}

/// Fixed work: `rounds` rounds of a multiply-add chain; returns the time it took.
fn spin(rounds: u64) -> Duration {
    let start = Instant::now();
    let mut x = 1u64;
    for _ in 0..rounds {
        for _ in 0..1_000 {
            x = black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
        }
    }
    start.elapsed()
}

/// How many [`spin`] rounds take about `len`.
fn rounds_in(len: Duration) -> u64 {
    let probe = 200;
    let took = spin(probe).max(Duration::from_nanos(1));
    (probe as f64 * len.as_secs_f64() / took.as_secs_f64()).ceil() as u64
}
