//! Duty cycling while recording: keeps each target's [`Duty`] account with its CPU time and probe
//! hits, and attaches or detaches the target's uprobes when the account says so.

use std::time::{Duration, Instant};

use profiler_common::ProbeTime;

pub use crate::overhead::outcome::{DutyOutcome, DutyPlan, ReadOutcome};
use crate::{
    inspect,
    kernel::{
        links::{thread_cpu, ProbeGroup},
        probes::Probes,
    },
    overhead::budget::Action,
    overhead::estimate,
    overhead::ledger::{Carried, Ledger},
    overhead::mix::{Actions, Mix, Reading},
    overhead::pool,
};

/// How long to wait before deciding again while earlier links are being closed.
const HOLD: Duration = Duration::from_millis(20);

/// Longest time between two readings of a target's CPU time and hits, attached or not: what a
/// target that exits in between did last goes unseen.
const SEEN_EVERY: Duration = Duration::from_millis(20);

/// One target's duty cycle: the accounts of its probes and the readings they are kept from.
struct TargetDuty {
    pid: u32,
    slot: u16,
    /// When it joined the recording (time since recording started).
    added_at: Duration,
    /// The accounts of its write and read probes.
    mix: Mix,
    cpu_at_start: Duration,
    hits_at_start: u64,
    reads_at_start: u64,
    watch_at_start: u64,
    entries_at_start: u64,
    time_at_start: ProbeTime,
    /// What its probes cost it inside closed write windows (all write probes in place), and the
    /// reading where the live window began: attaching and detaching, whose hits wait on the
    /// kernel's locks, stay out of the measured hit cost.
    time_in: ProbeTime,
    /// Of `time_in`, what an earlier recording carried over.
    time_carried: ProbeTime,
    time_live: Option<ProbeTime>,
    /// The last reading of its probe time.
    time_now: ProbeTime,
    /// Closed windows whose probe time was booked.
    windows_timed: usize,
    /// Its CPU time, read thread by thread.
    reader: inspect::CpuReader,
    /// The last reading of its CPU time and hits.
    seen: Reading,
    /// Set once the process is gone (time into the recording).
    ended: Option<Duration>,
    /// No decision before this time (waiting for earlier links to close).
    hold_until: Duration,
    /// Its read probes were taken off inside a write window: the window's sample resumes once
    /// their links are closed.
    reads_leaving: bool,
    /// Whether the kernel side was last told its write and read windows were being sampled.
    sampling: (bool, bool),
}

/// Every target's account, all drawing on one pool (see `pool`).
pub struct DutyCycler {
    start: Instant,
    /// The budget's terms, for every target (those added later too).
    plan: DutyPlan,
    targets: Vec<TargetDuty>,
}

impl DutyCycler {
    /// Starts the accounts of every target of `probes`, whose probes are attached now, each
    /// going on from what `ledger` carried over for it (a daemon's last window), if anything.
    pub fn start(probes: &mut Probes, plan: DutyPlan, ledger: &Ledger) -> Self {
        let mut cycler = DutyCycler {
            start: Instant::now(),
            plan,
            targets: Vec::new(),
        };
        for (pid, slot) in probes.targets() {
            cycler.push(probes, pid, slot, ledger.get(pid));
        }
        cycler
    }

    /// Adds `pid`, a target of `probes` that joined while recording, to the accounts and the
    /// pool. Its write probes are expected attached (as [`DutyCycler::start`] expects of every
    /// target); if they are not, its account opens its first window when it can. Nothing is
    /// done for a pid already cycled, or one `probes` does not know.
    pub fn add(&mut self, probes: &mut Probes, pid: u32) {
        if self
            .targets
            .iter()
            .any(|t| t.pid == pid && t.ended.is_none())
        {
            return;
        }
        let Some(slot) = probes
            .targets()
            .into_iter()
            .find(|&(p, _)| p == pid)
            .map(|(_, s)| s)
        else {
            tracing::debug!(pid, "not a target: not cycled");
            return;
        };
        // A process that ended under the same pid leaves its place to the new one.
        self.targets.retain(|t| t.pid != pid);
        self.push(probes, pid, slot, None);
    }

    /// Starts the account of `pid` (in `slot`) now.
    fn push(&mut self, probes: &mut Probes, pid: u32, slot: u16, carried: Option<&Carried>) {
        let now = self.start.elapsed();
        let plan = self.plan;
        let maps = probes.maps();
        let hits = maps.target_hits(slot).unwrap_or(0);
        let reads = maps.target_read_hits(slot).unwrap_or(0);
        let entries = maps.target_entries(slot).unwrap_or(0);
        let watch_hits = maps.target_watch_hits(slot).unwrap_or(0);
        let time_at_start = maps.probe_time(slot).unwrap_or_default();
        let mut reader = inspect::CpuReader::new(pid);
        let cpu = reader.read().unwrap_or_default();
        let has_reads = probes.has_group(pid, ProbeGroup::Reads);
        let seen = Reading {
            now,
            ..Reading::default()
        };
        let mut mix = Mix::new(plan.fraction, plan.hit_cost, seen, has_reads);
        if !probes.is_attached(pid, ProbeGroup::Writes) {
            mix = Mix::detached(plan.fraction, plan.hit_cost, seen, has_reads);
        }
        let time_carried = carried.map(|c| c.time).unwrap_or_default();
        if let Some(c) = carried {
            mix.writes.carry(c.balance_ns);
            if let Some(cost) = estimate::probe_cost(&c.time) {
                mix.set_hit_cost(cost.hit_ns);
            }
        }
        // The counters just opened may count short until the next reading (`CpuReader::fresh`):
        // the window open now is no sample, and what it sees is not flagged as sampled (a
        // launched program's start stands as observed).
        if reader.fresh() {
            mix.spoil_windows();
        }
        // The write probes are attached: the first window is live, unless the read probes
        // are in it or it was spoiled.
        let time_live = mix.writes.sampling().then(ProbeTime::default);
        let mut t = TargetDuty {
            pid,
            slot,
            added_at: now,
            mix,
            cpu_at_start: cpu,
            hits_at_start: hits,
            reads_at_start: reads,
            watch_at_start: watch_hits,
            entries_at_start: entries,
            time_at_start,
            time_in: time_carried,
            time_carried,
            time_live,
            time_now: ProbeTime::default(),
            windows_timed: 0,
            seen,
            reader,
            ended: None,
            hold_until: Duration::ZERO,
            reads_leaving: false,
            // What an earlier recording (a daemon's last window) left is overwritten.
            sampling: (false, true),
        };
        t.sampling.0 = !t.mix.writes.sampling();
        Self::sync_sampling(probes, &mut t);
        self.targets.push(t);
    }

    /// When the next decision is due.
    pub fn next_check(&self) -> tokio::time::Instant {
        let next = self
            .targets
            .iter()
            .filter(|t| t.ended.is_none())
            .map(|t| {
                t.mix
                    .next_check()
                    .max(t.hold_until)
                    .min(t.seen.now + SEEN_EVERY)
            })
            .min()
            .unwrap_or(Duration::from_secs(3600));
        tokio::time::Instant::from_std(self.start + next)
    }

    /// Reads the target's CPU time, hits and probe time. A thread found since the last reading
    /// was counted from its scheduler statistics, which lag, and the counters opened at the
    /// last reading may have counted short (see `CpuReader::fresh`): either way the live
    /// windows, if any, cannot be measured.
    fn observe(
        start: Instant,
        watch_cost: Duration,
        probes: &Probes,
        t: &mut TargetDuty,
    ) -> Option<Reading> {
        let threads = t.reader.threads();
        let fresh = t.reader.fresh();
        let cpu = t.reader.read()?;
        let maps = probes.maps();
        let hits = maps.target_hits(t.slot).ok()?;
        let reads = maps.target_read_hits(t.slot).ok()?;
        let entries = maps.target_entries(t.slot).ok()?;
        let watch_hits = maps.target_watch_hits(t.slot).ok()?;
        if fresh || t.reader.threads() != threads {
            t.mix.spoil_windows();
        }
        t.time_now = Self::probe_time(probes, t);
        Some(Reading {
            now: start.elapsed(),
            cpu: cpu.saturating_sub(t.cpu_at_start),
            hits: hits.saturating_sub(t.hits_at_start),
            entries: entries.saturating_sub(t.entries_at_start),
            reads: reads.saturating_sub(t.reads_at_start),
            watch: Duration::from_nanos(
                (watch_cost.as_nanos() as u64)
                    .saturating_mul(watch_hits.saturating_sub(t.watch_at_start)),
            ),
        })
    }

    /// Ends `pid`'s account at its last reading, its probes detached: the process exec'd
    /// another program (its CPU time from here on is not the probed program's; the hits
    /// reported are the kernel side's count, see `DutyOutcome::all_hits`).
    pub fn end(&mut self, probes: &mut Probes, pid: u32) {
        let now = self.start.elapsed();
        for t in self
            .targets
            .iter_mut()
            .filter(|t| t.pid == pid && t.ended.is_none())
        {
            t.ended = Some(now);
        }
        probes.detach_pid(pid);
    }

    /// Whether `pid`'s write probes are attached now (its window is open).
    pub fn is_attached(&self, pid: u32) -> bool {
        self.targets
            .iter()
            .any(|t| t.pid == pid && t.ended.is_none() && t.mix.writes.is_attached())
    }

    /// What the target's probe hits have cost it since the start.
    fn probe_time(probes: &Probes, t: &TargetDuty) -> ProbeTime {
        probes
            .maps()
            .probe_time(t.slot)
            .map(|p| p.since(&t.time_at_start))
            .unwrap_or_default()
    }

    /// What the target's probe hits cost it inside windows, as of the last reading.
    fn window_time(t: &TargetDuty) -> ProbeTime {
        let mut time = t.time_in;
        if let Some(live) = &t.time_live {
            time.merge(&t.time_now.since(live));
        }
        time
    }

    /// Ends the live write window's probe time at the last reading. A window the account kept
    /// gets its own hit cost when enough assigns were timed in it; one whose CPU time is less
    /// than the time clprof's programs ran in it missed some of its threads (found late, or not
    /// countable yet) and is dropped.
    fn close_time(t: &mut TargetDuty) {
        if let Some(live) = t.time_live.take() {
            let window = t.time_now.since(&live);
            let duty = &mut t.mix.writes;
            if let Some(sample) = duty.samples().get(t.windows_timed) {
                if u128::from(window.prog_ns) > sample.cpu.as_nanos() {
                    tracing::debug!(
                        pid = t.pid,
                        ?sample,
                        prog_ns = window.prog_ns,
                        "window dropped"
                    );
                    duty.drop_last_window();
                } else if let Some(cost) = estimate::window_probe_cost(&window) {
                    duty.set_last_window_cost(cost.hit_ns.round() as u64);
                }
                t.windows_timed = duty.samples().len();
            }
            t.time_in.merge(&window);
        }
    }

    /// Books the CPU time clprof spent detaching the target's probes, group by group.
    fn book_switches(probes: &Probes, t: &mut TargetDuty) {
        for group in [ProbeGroup::Writes, ProbeGroup::Reads] {
            t.mix
                .add_switch_cpu(group, probes.take_switch_cpu(t.pid, group));
        }
    }

    /// Attaches `group` of the target's probes, booking the CPU time it takes; false when the
    /// probes could not be attached (the ones that were are detached again).
    fn attach(probes: &mut Probes, t: &mut TargetDuty, group: ProbeGroup) -> bool {
        let began = thread_cpu();
        let attached = probes.attach_group(t.pid, group);
        let spent = thread_cpu().saturating_sub(began);
        t.mix.add_switch_cpu(group, spent);
        if let Err(e) = attached {
            tracing::debug!(pid = t.pid, ?group, "re-attaching: {e}");
            probes.detach_group(t.pid, group);
            return false;
        }
        true
    }

    /// Detaches `group` of the target's probes, booking the CPU time it takes here.
    fn detach(probes: &mut Probes, t: &mut TargetDuty, group: ProbeGroup) {
        let began = thread_cpu();
        probes.detach_group(t.pid, group);
        let spent = thread_cpu().saturating_sub(began);
        t.mix.add_switch_cpu(group, spent);
    }

    /// Settles every due account and attaches or detaches probes accordingly.
    pub fn step(&mut self, probes: &mut Probes) {
        let now = self.start.elapsed();
        let (start, watch_cost) = (self.start, self.plan.watch_cost);
        for t in &mut self.targets {
            if t.ended.is_some() {
                continue;
            }
            Self::step_one(start, watch_cost, now, probes, t);
            Self::sync_sampling(probes, t);
        }
        self.pool();
    }

    /// Moves allowance between the live targets' write accounts (see `pool`): what one leaves
    /// unused pays for another's windows.
    fn pool(&mut self) {
        if self.plan.fraction >= 1.0 {
            return;
        }
        let mut accounts: Vec<&mut crate::overhead::budget::Duty> = self
            .targets
            .iter_mut()
            .filter(|t| t.ended.is_none())
            .map(|t| &mut t.mix.writes)
            .collect();
        if accounts.len() > 1 {
            pool::rebalance(&mut accounts);
        }
    }

    /// Tells the kernel side which of the target's windows are being sampled (see
    /// `profiler_common::Sampled`), when that changed.
    fn sync_sampling(probes: &mut Probes, t: &mut TargetDuty) {
        let want = if t.ended.is_some() {
            (false, false)
        } else {
            (
                t.mix.writes.sampling(),
                t.mix.reads.as_ref().is_some_and(|d| d.sampling()),
            )
        };
        if want != t.sampling {
            probes.set_sampling(t.pid, want.0, want.1);
            t.sampling = want;
        }
    }

    /// [`DutyCycler::step`] for one target.
    fn step_one(
        start: Instant,
        watch_cost: Duration,
        now: Duration,
        probes: &mut Probes,
        t: &mut TargetDuty,
    ) {
        let fresh = Self::observe(start, watch_cost, probes, t);
        if let Some(obs) = fresh {
            Self::seen(probes, t, obs);
        }
        if t.mix.next_check().max(t.hold_until) > now {
            return;
        }
        if !t.mix.writes.is_attached() && probes.detaching() {
            // Attaching would wait for the kernel to finish removing the last window's
            // probes (RCU grace periods): decide once that is done.
            t.hold_until = now + HOLD;
            return;
        }
        let Some(obs) = fresh else {
            t.ended = Some(now);
            return;
        };
        if let Some(cost) = estimate::probe_cost(&Self::window_time(t)) {
            t.mix.set_hit_cost(cost.hit_ns);
        }
        Self::book_switches(probes, t);
        // Attaching would wait for links being closed.
        let actions = t.mix.step(&obs, !probes.detaching());
        tracing::debug!(
            pid = t.pid,
            now_ms = obs.now.as_millis() as u64,
            cpu_ms = obs.cpu.as_millis() as u64,
            hits = obs.hits,
            reads = obs.reads,
            ?actions,
            "duty"
        );
        // A sample that ended at this reading stops counting before anything else is done.
        Self::sync_sampling(probes, t);
        let Some(reads_attached) = Self::switch(probes, t, &obs, actions, now) else {
            return;
        };
        if actions.writes != Action::Attach && actions.reads != Action::Attach {
            return;
        }
        // The window starts once the probes are in place.
        let Some(at) = Self::observe(start, watch_cost, probes, t) else {
            return;
        };
        Self::windows_open(probes, t, at, actions, reads_attached);
    }

    /// Takes a fresh reading `obs` of `t`: once the read probes it was detaching are gone, the
    /// read account notes it.
    fn seen(probes: &mut Probes, t: &mut TargetDuty, obs: Reading) {
        t.seen = obs;
        if t.reads_leaving && !probes.detaching() {
            t.reads_leaving = false;
            t.mix.reads_gone_at(&obs);
            if t.time_live.is_none() && t.mix.writes.sampling() {
                t.time_live = Some(t.time_now);
            }
            Self::sync_sampling(probes, t);
        }
    }

    /// Detaches and attaches `t`'s probes as `actions` say, at the reading `obs`; whether its
    /// read probes were attached, or None when `t` stops being cycled (gone in between, or its
    /// binary replaced).
    fn switch(
        probes: &mut Probes,
        t: &mut TargetDuty,
        obs: &Reading,
        actions: Actions,
        now: Duration,
    ) -> Option<bool> {
        if actions.reads == Action::Detach {
            Self::detach(probes, t, ProbeGroup::Reads);
            t.reads_leaving = actions.writes == Action::Keep;
        }
        match actions.writes {
            Action::Keep => {}
            Action::Attach => {
                if !Self::attach(probes, t, ProbeGroup::Writes) {
                    probes.detach_pid(t.pid);
                    t.ended = Some(now);
                    return None;
                }
            }
            Action::Detach => {
                // The account closed the window at this reading.
                Self::close_time(t);
                Self::detach(probes, t, ProbeGroup::Writes);
            }
        }
        if actions.reads == Action::Attach {
            t.mix.reads_attaching(obs);
            Self::sync_sampling(probes, t);
            Self::close_time(t);
        }
        Some(actions.reads == Action::Attach && Self::attach(probes, t, ProbeGroup::Reads))
    }

    /// Opens the windows of the probes just attached, at the reading `at` taken once they are
    /// in place.
    fn windows_open(
        probes: &mut Probes,
        t: &mut TargetDuty,
        at: Reading,
        actions: Actions,
        reads_attached: bool,
    ) {
        t.seen = at;
        if reads_attached {
            t.mix.reads_attached_at(&at);
            if t.time_live.is_none() && t.mix.writes.sampling() {
                t.time_live = Some(t.time_now);
            }
        } else if actions.reads == Action::Attach {
            t.mix.reads_failed(&at);
            t.reads_leaving = true;
        }
        if actions.writes == Action::Attach {
            t.mix.writes_attached_at(&at);
            if t.mix.writes.sampling() {
                t.time_live = Some(t.time_now);
            }
        }
        // A sample that began at this reading starts counting at once.
        Self::sync_sampling(probes, t);
    }

    /// Settles every account for the last time (the probes are about to be detached) and keeps
    /// the accounts of the targets still running in `ledger`, for the next recording.
    pub fn finish(mut self, probes: &Probes, ledger: &mut Ledger) -> Vec<DutyOutcome> {
        let end = self.start.elapsed();
        let start = self.start;
        let watch_cost = self.plan.watch_cost;
        let outcomes = self
            .targets
            .iter_mut()
            .map(|t| {
                let obs = Self::observe(start, watch_cost, probes, t);
                Self::book_switches(probes, t);
                // A target gone since its last reading ends there.
                let running = obs.is_some() && t.ended.is_none();
                let last = obs.filter(|_| t.ended.is_none()).unwrap_or(t.seen);
                t.mix.finish(&last);
                Self::close_time(t);
                let time = t.time_in;
                let measured = estimate::probe_cost(&time);
                tracing::debug!(pid = t.pid, prog_ns = time.prog_ns, runs = time.prog_runs, gaps = ?time.gaps, ?measured, "probe time in windows");
                if let Some(cost) = measured {
                    t.mix.set_hit_cost(cost.hit_ns);
                }
                let writes = &t.mix.writes;
                if running {
                    let earned = writes.fraction() * writes.own_work_ns();
                    let window = time.since(&t.time_carried);
                    ledger.keep(t.pid, writes.balance_ns(), earned, window, time);
                } else {
                    ledger.forget(t.pid);
                }
                let ns = |ns: f64| Duration::from_nanos(ns.max(0.0) as u64);
                let mut outcome = DutyOutcome {
                    pid: t.pid,
                    active: writes.active(),
                    span: t.ended.unwrap_or(end).saturating_sub(t.added_at),
                    hits: last.hits,
                    all_hits: 0,
                    entries: last.entries.saturating_sub(last.reads),
                    overhead: writes.overhead(),
                    probe_cost: ns(writes.spent_now_ns()),
                    own_work: ns(writes.own_work_ns()),
                    pooled_ns: writes.granted_ns(),
                    windows: writes.windows(),
                    cpu: last.cpu.saturating_sub(last.watch),
                    watch: last.watch,
                    watch_hits: if watch_cost.is_zero() {
                        0
                    } else {
                        (last.watch.as_nanos() / watch_cost.as_nanos()) as u64
                    },
                    watch_measured: None,
                    samples: writes.samples().to_vec(),
                    measured,
                    hit_cost_ns: writes.hit_cost_ns(),
                    always_on: writes.always_on(),
                    reads: t.mix.reads.as_ref().map(|d| ReadOutcome {
                        active: d.active(),
                        windows: d.windows(),
                        hits: last.reads,
                        entries: last.reads,
                        samples: d.samples().to_vec(),
                    }),
                };
                let watch_measured = estimate::watch_cost(&time);
                tracing::debug!(pid = t.pid, ?watch_measured, calibrated = ?watch_cost, "watchpoint hit cost");
                if let Some(cost) = watch_measured {
                    outcome.reprice_watch(watch_cost, cost);
                }
                outcome
            })
            .collect();
        let pids: Vec<u32> = self.targets.iter().map(|t| t.pid).collect();
        ledger.retain(&pids);
        outcomes
    }
}
