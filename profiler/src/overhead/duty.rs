//! Duty cycling while recording: keeps each target's [`Duty`] account with its CPU time and probe
//! hits, and attaches or detaches the target's uprobes when the account says so.

use std::time::{Duration, Instant};

use profiler_common::ProbeTime;

use crate::{
    inspect,
    kernel::{links::thread_cpu, probes::Probes},
    overhead::budget::{Action, Duty, Observation, WindowSample},
    overhead::estimate,
};

/// How long to wait before deciding again while earlier links are being closed.
const HOLD: Duration = Duration::from_millis(20);

/// What the overhead budget allows the probes, for every target.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DutyPlan {
    /// Fraction of each target's own CPU time its uprobes may take (>= 1: always on).
    pub fraction: f64,
    /// Calibrated cost of one uprobe hit.
    pub hit_cost: Duration,
    /// Calibrated cost of one watchpoint hit (zero when nothing is watched).
    pub watch_cost: Duration,
}

/// Longest time between two readings of a target's CPU time and hits, attached or not: what a
/// target that exits in between did last goes unseen.
const SEEN_EVERY: Duration = Duration::from_millis(20);

/// How one target's probes were run.
#[derive(Clone, Debug, PartialEq)]
pub struct DutyOutcome {
    pub pid: u32,
    /// Time the probes were attached.
    pub active: Duration,
    /// Time the target was recorded (until it exited or recording ended).
    pub span: Duration,
    /// Uprobe hits during the recording.
    pub hits: u64,
    /// Entry hits (the ones that observe) behind the folded counts: from the fold's start to the
    /// last detach, set by the collector once the probes are off (until then: the recording's).
    pub entries: u64,
    /// Probe cost over the target's own CPU time (0.01 = 1%).
    pub overhead: f64,
    /// Attach windows (the first one included).
    pub windows: u64,
    /// CPU time the target used during the recording (probe handlers included, watchpoint
    /// hits not: they are in `watch`).
    pub cpu: Duration,
    /// What its watchpoint hits cost it (hits × the calibrated cost of one).
    pub watch: Duration,
    /// Watchpoint hits in it.
    pub watch_hits: u64,
    /// The target's CPU time and hits in each window while all its probes were in place.
    pub samples: Vec<WindowSample>,
    /// The hit cost measured in its threads; None when too few assigns were timed.
    pub measured: Option<estimate::ProbeCost>,
    /// Cost of one probe hit the account used (ns): the measured one, else the calibrated one.
    pub hit_cost_ns: f64,
    /// Probes stayed attached the whole time (`--budget 100`).
    pub always_on: bool,
}

impl DutyOutcome {
    /// Fraction of the recorded time the probes were attached.
    pub fn active_fraction(&self) -> f64 {
        if self.span.is_zero() {
            return 1.0;
        }
        (self.active.as_secs_f64() / self.span.as_secs_f64()).min(1.0)
    }
}

struct Target {
    pid: u32,
    slot: u16,
    duty: Duty,
    cpu_at_start: Duration,
    hits_at_start: u64,
    watch_at_start: u64,
    entries_at_start: u64,
    time_at_start: ProbeTime,
    /// What its probes cost it inside closed windows (all probes in place), and the reading
    /// where the live window began: attaching and detaching, whose hits wait on the kernel's
    /// locks, stay out of the measured hit cost.
    time_in: ProbeTime,
    time_live: Option<ProbeTime>,
    /// The last reading of its probe time.
    time_now: ProbeTime,
    /// Closed windows whose probe time was booked.
    windows_timed: usize,
    /// Its CPU time, read thread by thread.
    reader: inspect::CpuReader,
    /// The last reading of its CPU time and hits.
    seen: Observation,
    /// Set once the process is gone (time into the recording).
    ended: Option<Duration>,
    /// No decision before this time (waiting for earlier links to close).
    hold_until: Duration,
}

/// Every target's account.
pub struct DutyCycler {
    start: Instant,
    /// Cost of one watchpoint hit.
    watch_cost: Duration,
    targets: Vec<Target>,
}

impl DutyCycler {
    /// Starts the accounts of every target of `probes`, whose probes are attached now.
    pub fn start(probes: &Probes, plan: DutyPlan) -> Self {
        let start = Instant::now();
        let targets = probes
            .targets()
            .into_iter()
            .map(|(pid, slot)| {
                let hits = probes.maps().target_hits(slot).unwrap_or(0);
                let entries = probes.maps().target_entries(slot).unwrap_or(0);
                let watch_hits = probes.maps().target_watch_hits(slot).unwrap_or(0);
                let mut reader = inspect::CpuReader::new(pid);
                let cpu = reader.read().unwrap_or_default();
                let time_at_start = probes.maps().probe_time(slot).unwrap_or_default();
                // The probes are attached: the first window is live.
                let time_live = Some(ProbeTime::default());
                let start_obs = Observation {
                    now: Duration::ZERO,
                    cpu: Duration::ZERO,
                    hits: 0,
                    entries: 0,
                    watch: Duration::ZERO,
                };
                Target {
                    pid,
                    slot,
                    duty: Duty::new(plan.fraction, plan.hit_cost, start_obs),
                    cpu_at_start: cpu,
                    hits_at_start: hits,
                    watch_at_start: watch_hits,
                    entries_at_start: entries,
                    time_at_start,
                    time_in: ProbeTime::default(),
                    time_live,
                    time_now: ProbeTime::default(),
                    windows_timed: 0,
                    seen: start_obs,
                    reader,
                    ended: None,
                    hold_until: Duration::ZERO,
                }
            })
            .collect();
        DutyCycler {
            start,
            watch_cost: plan.watch_cost,
            targets,
        }
    }

    /// When the next decision is due.
    pub fn next_check(&self) -> tokio::time::Instant {
        let next = self
            .targets
            .iter()
            .filter(|t| t.ended.is_none())
            .map(|t| {
                t.duty
                    .next_check()
                    .max(t.hold_until)
                    .min(t.seen.now + SEEN_EVERY)
            })
            .min()
            .unwrap_or(Duration::from_secs(3600));
        tokio::time::Instant::from_std(self.start + next)
    }

    /// Reads the target's CPU time, hits and probe time. A thread found since the last reading
    /// ran uncounted until now: the live window, if any, cannot be measured.
    fn observe(
        start: Instant,
        watch_cost: Duration,
        probes: &Probes,
        t: &mut Target,
    ) -> Option<Observation> {
        let threads = t.reader.threads();
        let cpu = t.reader.read()?;
        let hits = probes.maps().target_hits(t.slot).ok()?;
        let entries = probes.maps().target_entries(t.slot).ok()?;
        let watch_hits = probes.maps().target_watch_hits(t.slot).ok()?;
        if t.reader.threads() != threads {
            t.duty.spoil_window();
        }
        t.time_now = Self::probe_time(probes, t);
        Some(Observation {
            now: start.elapsed(),
            cpu: cpu.saturating_sub(t.cpu_at_start),
            hits: hits.saturating_sub(t.hits_at_start),
            entries: entries.saturating_sub(t.entries_at_start),
            watch: Duration::from_nanos(
                (watch_cost.as_nanos() as u64)
                    .saturating_mul(watch_hits.saturating_sub(t.watch_at_start)),
            ),
        })
    }

    /// Whether `pid`'s probes are attached now (its window is open).
    pub fn is_attached(&self, pid: u32) -> bool {
        self.targets
            .iter()
            .any(|t| t.pid == pid && t.ended.is_none() && t.duty.is_attached())
    }

    /// What the target's probe hits have cost it since the start.
    fn probe_time(probes: &Probes, t: &Target) -> ProbeTime {
        probes
            .maps()
            .probe_time(t.slot)
            .map(|p| p.since(&t.time_at_start))
            .unwrap_or_default()
    }

    /// What the target's probe hits cost it inside windows, as of the last reading.
    fn window_time(t: &Target) -> ProbeTime {
        let mut time = t.time_in;
        if let Some(live) = &t.time_live {
            time.merge(&t.time_now.since(live));
        }
        time
    }

    /// Ends the live window's probe time at the last reading. A window the account kept gets
    /// its own hit cost when enough assigns were timed in it; one whose CPU time is less than the
    /// time clprof's programs ran in it missed some of its threads (found late, or not
    /// countable yet) and is dropped.
    fn close_time(t: &mut Target) {
        if let Some(live) = t.time_live.take() {
            let window = t.time_now.since(&live);
            if let Some(sample) = t.duty.samples().get(t.windows_timed) {
                if u128::from(window.prog_ns) > sample.cpu.as_nanos() {
                    tracing::debug!(
                        pid = t.pid,
                        ?sample,
                        prog_ns = window.prog_ns,
                        "window dropped"
                    );
                    t.duty.drop_last_window();
                } else if let Some(cost) = estimate::window_probe_cost(&window) {
                    t.duty.set_last_window_cost(cost.hit_ns.round() as u64);
                }
                t.windows_timed = t.duty.samples().len();
            }
            t.time_in.merge(&window);
        }
    }

    /// Settles every due account and attaches or detaches probes accordingly.
    pub fn step(&mut self, probes: &mut Probes) {
        let now = self.start.elapsed();
        for i in 0..self.targets.len() {
            let start = self.start;
            let t = &mut self.targets[i];
            if t.ended.is_some() {
                continue;
            }
            let fresh = Self::observe(start, self.watch_cost, probes, t);
            if let Some(obs) = fresh {
                t.seen = obs;
            }
            let t = &self.targets[i];
            if t.duty.next_check().max(t.hold_until) > now {
                continue;
            }
            if !t.duty.is_attached() && probes.detaching() {
                // Attaching would wait for the kernel to finish removing the last window's
                // probes (RCU grace periods): decide once that is done.
                self.targets[i].hold_until = now + HOLD;
                continue;
            }
            let Some(obs) = fresh else {
                self.targets[i].ended = Some(now);
                continue;
            };
            let measured = estimate::probe_cost(&Self::window_time(&self.targets[i]));
            let t = &mut self.targets[i];
            if let Some(cost) = measured {
                t.duty.set_hit_cost(cost.hit_ns);
            }
            t.duty.add_switch_cpu(probes.take_switch_cpu(t.pid));
            let action = t.duty.step(obs);
            tracing::debug!(
                pid = t.pid,
                now_ms = obs.now.as_millis() as u64,
                cpu_ms = obs.cpu.as_millis() as u64,
                hits = obs.hits,
                ?action,
                "duty"
            );
            match action {
                Action::Keep => {}
                Action::Attach => {
                    let began = thread_cpu();
                    let attached = probes.attach_pid(t.pid);
                    t.duty.add_switch_cpu(thread_cpu().saturating_sub(began));
                    if let Err(e) = attached {
                        // Gone in between, or its binary replaced: stop cycling it.
                        tracing::debug!(pid = t.pid, "re-attaching: {e}");
                        probes.detach_pid(t.pid);
                        t.ended = Some(now);
                        continue;
                    }
                    let t = &mut self.targets[i];
                    if let Some(obs) = Self::observe(start, self.watch_cost, probes, t) {
                        t.seen = obs;
                        t.duty.attached_at(obs);
                        t.time_live = Some(t.time_now);
                    }
                }
                Action::Detach => {
                    // The account closed the window at this reading.
                    Self::close_time(t);
                    let began = thread_cpu();
                    probes.detach_pid(t.pid);
                    t.duty.add_switch_cpu(thread_cpu().saturating_sub(began));
                }
            }
        }
    }

    /// Settles every account for the last time (the probes are about to be detached).
    pub fn finish(mut self, probes: &Probes) -> Vec<DutyOutcome> {
        let end = self.start.elapsed();
        let start = self.start;
        let watch_cost = self.watch_cost;
        self.targets
            .iter_mut()
            .map(|t| {
                let obs = Self::observe(start, watch_cost, probes, t);
                t.duty.add_switch_cpu(probes.take_switch_cpu(t.pid));
                // A target gone since its last reading ends there.
                let last = obs.filter(|_| t.ended.is_none()).unwrap_or(t.seen);
                t.duty.finish(last);
                Self::close_time(t);
                let time = t.time_in;
                let measured = estimate::probe_cost(&time);
                tracing::debug!(pid = t.pid, prog_ns = time.prog_ns, runs = time.prog_runs, gaps = ?time.gaps, ?measured, "probe time in windows");
                if let Some(cost) = measured {
                    t.duty.set_hit_cost(cost.hit_ns);
                }
                DutyOutcome {
                    pid: t.pid,
                    active: t.duty.active(),
                    span: t.ended.unwrap_or(end),
                    hits: last.hits,
                    entries: last.entries,
                    overhead: t.duty.overhead(),
                    windows: t.duty.windows(),
                    cpu: last.cpu.saturating_sub(last.watch),
                    watch: last.watch,
                    watch_hits: if watch_cost.is_zero() {
                        0
                    } else {
                        (last.watch.as_nanos() / watch_cost.as_nanos()) as u64
                    },
                    samples: t.duty.samples().to_vec(),
                    measured,
                    hit_cost_ns: t.duty.hit_cost_ns(),
                    always_on: t.duty.always_on(),
                }
            })
            .collect()
    }
}
