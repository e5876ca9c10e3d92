//! The overhead budget: how long each target's uprobes may stay attached (how often perf events
//! may sample is [`super::share`]), so that what clprof costs a target stays within `--budget`
//! percent of the CPU time the target spends on its own work.
//!
//! A uprobe costs its target a fixed time per hit (the trap plus the eBPF program, calibrated at
//! start, see `calibrate`), so a target's probe cost is `hits × hit cost`: exact enough to meter
//! with the per-target hit counters. [`Duty`] keeps an account per target: the allowance grows
//! with the target's own CPU time and shrinks with every hit and every attach/detach; probes are
//! attached for a window only when the allowance covers the window's expected cost, and taken off
//! as soon as it runs out. A target that rarely hits its probes stays attached the whole time.
//!
//! Pure logic (time and counts in, decisions out), so it is tested by simulation.

use std::time::Duration;

/// Shortest window worth attaching for (the attach itself costs more than a shorter one saves).
pub const MIN_WINDOW: Duration = Duration::from_millis(5);
/// How often the account is settled while probes are attached: a window is cut short as soon
/// as the allowance runs out.
pub const POLL: Duration = Duration::from_millis(10);
/// Longest window before the account is settled again.
pub const MAX_WINDOW: Duration = Duration::from_millis(500);
/// Share of what the allowance pays for that a window may use: windows end a little late (the
/// collector's timers, the attach itself), so they are planned short of the allowance.
const PLANNING_MARGIN: f64 = 0.6;
/// Smallest share of a target's CPU time taken as its own work when reporting the overhead.
const MIN_OWN_SHARE: f64 = 0.01;
/// What [`Duty::step`] asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Attach the target's probes (they are detached).
    Attach,
    /// Detach them (they are attached).
    Detach,
    /// Leave them as they are.
    Keep,
}

/// One observation of a target, as one account sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Observation {
    /// Time since recording started.
    pub now: Duration,
    /// CPU time the target used since recording started (probe handlers included: they run on
    /// the target's threads).
    pub cpu: Duration,
    /// Hits of this account's uprobes since recording started.
    pub hits: u64,
    /// Of those, entry hits (the ones that observe: every observed count is in proportion).
    pub entries: u64,
    /// Hits of the target's other uprobes (another account's): part of `cpu`, neither the
    /// target's own work nor charged to this account as hits.
    pub other_hits: u64,
    /// Of those, entry hits.
    pub other_entries: u64,
    /// What the target's watchpoint hits cost it since recording started (hits × the cost of
    /// one): part of `cpu`, charged to the account like probe hits if it pays for them.
    pub watch: Duration,
    /// What other accounts of the target spent, charged to this one too (the read probes' cost
    /// comes out of the write probes' allowance: the budget is one).
    pub charged: Duration,
}

/// The account of one target's probes.
#[derive(Clone, Debug)]
pub struct Duty {
    /// Fraction of the target's own CPU time the probes may take; >= 1 means always on.
    fraction: f64,
    /// The watchpoint hits are charged to this account.
    pays_watch: bool,
    /// Calibrated cost of one probe hit (ns).
    hit_cost_ns: f64,
    /// CPU spent attaching and detaching the probes so far (ns), as measured.
    switch_spent_ns: f64,
    /// Windows opened (the first one included): the attach/detach cycles paid for.
    cycles: u64,
    /// Probe cost per second attached (ns/s), from the last windows; None before the first.
    rate: Option<f64>,
    /// Target CPU per second of wall time (ns/s), the growth rate of its CPU time.
    cpu_rate: f64,
    attached: Option<Window>,
    active: Duration,
    last: Observation,
    /// Where the open window went live (all probes in place), if one is open.
    live: Option<Observation>,
    /// What each closed window saw between going live and being closed.
    samples: Vec<WindowSample>,
    /// Time the closed samples span.
    sampled: Duration,
    /// Allowance moved into this account from other targets' (negative: given to them), see
    /// `pool`.
    granted_ns: f64,
    /// Allowance carried over from an earlier recording of the target (a daemon's last window).
    carried_ns: f64,
}

/// The target's CPU time and probe hits while all of an account's probes were in place, for one
/// window: the measure of what the probes saw against what the target did (see `estimate`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WindowSample {
    /// CPU time the target used (probe handlers included, watchpoint hits not).
    pub cpu: Duration,
    /// How long the window's sample lasted (wall-clock time).
    pub wall: Duration,
    /// Uprobe hits of every probe of the target (all of them cost it CPU time).
    pub hits: u64,
    /// Entry hits of the account's own probes (what its observed counts are in proportion to).
    pub entries: u64,
    /// Entry hits of the target's other probes in it (the write probes' in a read window: the
    /// clock the read counts are scaled against, see `estimate::nested_scale`).
    pub other_entries: u64,
    /// Cost of one hit in this window, measured in it (ns); None when too few were timed.
    pub hit_ns: Option<u64>,
    /// What the watchpoint hits in it cost (at the calibrated cost), already out of `cpu`.
    pub watch: Duration,
}

#[derive(Clone, Copy, Debug)]
struct Window {
    /// Start of the hit-rate measurement (probes all in place).
    since: Duration,
    /// Start of the attached time: probes come online one by one while attaching, so half of
    /// the attach time counts.
    active_from: Duration,
    until: Duration,
    hits_at: u64,
    /// Watchpoint cost at `since`.
    watch_at: Duration,
}

impl Window {
    fn new(now: Duration, len: Duration, at: &Observation) -> Self {
        Window {
            since: now,
            active_from: now,
            until: now + len,
            hits_at: at.hits,
            watch_at: at.watch,
        }
    }
}

impl Duty {
    /// A target whose probes were just attached (at time `now`, with `hits` counted so far):
    /// the first window measures its hit rate and lasts [`MIN_WINDOW`] unless the budget is
    /// unlimited.
    pub fn new(fraction: f64, hit_cost: Duration, start: Observation) -> Self {
        Duty {
            fraction,
            pays_watch: true,
            hit_cost_ns: hit_cost.as_nanos() as f64,
            switch_spent_ns: 0.0,
            cycles: 1,
            rate: None,
            cpu_rate: 0.0,
            attached: Some(Window::new(start.now, MIN_WINDOW, &start)),
            active: Duration::ZERO,
            last: start,
            live: Some(start),
            samples: Vec::new(),
            sampled: Duration::ZERO,
            granted_ns: 0.0,
            carried_ns: 0.0,
        }
    }

    /// A target whose probes are not attached yet (at `start`): the account opens its first
    /// window when it can.
    pub fn detached(fraction: f64, hit_cost: Duration, start: Observation) -> Self {
        Duty {
            cycles: 0,
            attached: None,
            live: None,
            ..Duty::new(fraction, hit_cost, start)
        }
    }

    /// The same account, without the watchpoint hits (another account pays for them).
    pub fn without_watch(self) -> Self {
        Duty {
            pays_watch: false,
            ..self
        }
    }

    /// What the account spent so far, as of `obs`.
    pub fn spent(&self, obs: &Observation) -> Duration {
        Duration::from_nanos(self.spent_ns(obs).max(0.0) as u64)
    }

    /// Replaces the cost of one hit with one measured in the target (ns); the whole account,
    /// past hits included, is metered with it from now on.
    pub fn set_hit_cost(&mut self, ns: f64) {
        if ns.is_finite() && ns > 0.0 {
            self.hit_cost_ns = ns;
        }
    }

    /// Cost of one hit the account uses (ns).
    pub fn hit_cost_ns(&self) -> f64 {
        self.hit_cost_ns
    }

    pub fn always_on(&self) -> bool {
        self.fraction >= 1.0
    }

    pub fn is_attached(&self) -> bool {
        self.attached.is_some()
    }

    /// Books CPU time clprof spent attaching or detaching this target's probes (installing and
    /// removing breakpoints in its pages: a cost of profiling it, on a machine's shared CPUs).
    pub fn add_switch_cpu(&mut self, cost: Duration) {
        self.switch_spent_ns += cost.as_nanos() as f64;
    }

    /// Mean attach + detach cost of a window so far (ns).
    fn switch_cost_ns(&self) -> f64 {
        self.switch_spent_ns / self.cycles.max(1) as f64
    }

    /// What the watchpoint hits cost this account (ns).
    fn watch_ns(&self, watch: Duration) -> f64 {
        if self.pays_watch {
            watch.as_nanos() as f64
        } else {
            0.0
        }
    }

    /// Probe cost so far (ns): hits plus attach/detach work plus watchpoint hits plus what other
    /// accounts charged.
    fn spent_ns(&self, obs: &Observation) -> f64 {
        obs.hits as f64 * self.hit_cost_ns
            + self.switch_spent_ns
            + self.watch_ns(obs.watch)
            + obs.charged.as_nanos() as f64
    }

    /// CPU time the target spent on its own work (ns): its CPU time minus every probe handler
    /// and the watchpoint hits.
    fn useful_ns(&self, obs: &Observation) -> f64 {
        (obs.cpu.as_nanos() as f64
            - (obs.hits + obs.other_hits) as f64 * self.hit_cost_ns
            - obs.watch.as_nanos() as f64)
            .max(0.0)
    }

    /// What the budget still allows (ns); negative when overspent.
    fn allowance_ns(&self, obs: &Observation) -> f64 {
        self.fraction * self.useful_ns(obs) - self.spent_ns(obs) + self.granted_ns + self.carried_ns
    }

    /// What the budget still allows as of the last observation (ns); negative when overspent.
    pub fn balance_ns(&self) -> f64 {
        self.allowance_ns(&self.last)
    }

    /// The target's own work as of the last observation (ns).
    pub fn own_work_ns(&self) -> f64 {
        self.useful_ns(&self.last)
    }

    /// What the probes cost the target as of the last observation (ns).
    pub fn spent_now_ns(&self) -> f64 {
        self.spent_ns(&self.last)
    }

    /// The allowance that pays for the longest window, planning margin included (ns): what the
    /// account holds on to before it lends anything (see `pool`).
    pub fn need_ns(&self) -> f64 {
        self.window_cost_ns(MAX_WINDOW) / PLANNING_MARGIN
    }

    /// Fraction of the target's own work the account earns.
    pub fn fraction(&self) -> f64 {
        self.fraction
    }

    /// Allowance received from other accounts so far, net of what it gave them (ns).
    pub fn granted_ns(&self) -> f64 {
        self.granted_ns
    }

    /// Moves `ns` of allowance into the account (out of it when negative).
    pub fn grant(&mut self, ns: f64) {
        if ns.is_finite() {
            self.granted_ns += ns;
        }
    }

    /// Starts the account with `ns` of allowance left by an earlier recording (a debt when
    /// negative).
    pub fn carry(&mut self, ns: f64) {
        if ns.is_finite() {
            self.carried_ns = ns;
        }
    }

    /// Expected cost (ns) of a window of `len`: one attach/detach cycle plus probe hits at the
    /// measured rate (before any measurement: as if the probes took all the target's CPU).
    fn window_cost_ns(&self, len: Duration) -> f64 {
        self.switch_cost_ns() + self.expected_rate() * len.as_secs_f64()
    }

    /// Probe cost per attached second (ns/s): measured, or before any measurement as if the
    /// probes took all the target's CPU (at least one CPU's worth).
    fn expected_rate(&self) -> f64 {
        self.rate.unwrap_or(self.cpu_rate.max(1e9))
    }

    /// The longest window the allowance pays for, if at least [`MIN_WINDOW`].
    fn affordable_window(&self, allowance: f64) -> Option<Duration> {
        if allowance < self.window_cost_ns(MIN_WINDOW) {
            return None;
        }
        let secs = (allowance - self.switch_cost_ns()) / self.expected_rate().max(1.0);
        Some(Duration::from_secs_f64(
            secs.clamp(MIN_WINDOW.as_secs_f64(), MAX_WINDOW.as_secs_f64()),
        ))
    }

    /// Settles the account with a new observation and says what to do with the probes.
    pub fn step(&mut self, obs: Observation) -> Action {
        self.step_within(obs, true)
    }

    /// [`Duty::step`], never asking to attach unless `may_attach` (the probes are nested in
    /// another group's windows, which is closed).
    pub fn step_within(&mut self, obs: Observation, may_attach: bool) -> Action {
        self.settle(obs);
        if self.always_on() {
            return if self.attached.is_some() || !may_attach {
                Action::Keep
            } else {
                self.open(obs);
                Action::Attach
            };
        }
        if self.attached.is_none() && !may_attach {
            return Action::Keep;
        }
        self.decide(obs)
    }

    /// Closes the open window at `obs`, if any (the group it is nested in was detached): says
    /// whether there was one, whose probes the caller detaches.
    pub fn close(&mut self, obs: Observation) -> bool {
        self.settle(obs);
        if self.attached.take().is_none() {
            return false;
        }
        self.close_window(obs);
        true
    }

    /// Settles the account one last time (recording over); the probes are detached by the caller.
    pub fn finish(&mut self, obs: Observation) {
        self.settle(obs);
        self.attached = None;
        self.close_window(obs);
    }

    /// Ends the live window at `obs` (its probes are about to be detached).
    fn close_window(&mut self, obs: Observation) {
        if let Some(live) = self.live.take() {
            self.sampled += obs.now.saturating_sub(live.now);
            // The watchpoints' cost is no work of the target's, nor of the probes'.
            let watched = obs.watch.saturating_sub(live.watch);
            let all = |o: &Observation| o.hits + o.other_hits;
            let sample = WindowSample {
                cpu: obs.cpu.saturating_sub(live.cpu).saturating_sub(watched),
                wall: obs.now.saturating_sub(live.now),
                hits: all(&obs).saturating_sub(all(&live)),
                entries: obs.entries.saturating_sub(live.entries),
                other_entries: obs.other_entries.saturating_sub(live.other_entries),
                hit_ns: None,
                watch: watched,
            };
            if !sample.cpu.is_zero() || sample.hits > 0 {
                self.samples.push(sample);
            }
        }
    }

    /// Ends the live window's sample at `obs` while the probes stay attached (another group's
    /// probes nest in the window from now on): what follows is not sampled.
    pub fn pause_sample(&mut self, obs: Observation) {
        self.close_window(obs);
    }

    /// Starts sampling again at `obs` (the nested probes are gone), if the window is open.
    pub fn resume_sample(&mut self, obs: Observation) {
        if self.attached.is_some() && self.live.is_none() {
            self.live = Some(obs);
        }
    }

    /// Whether the open window is being sampled.
    pub fn sampling(&self) -> bool {
        self.live.is_some()
    }

    /// Time sampled so far (closed samples, and the live one up to the last observation).
    pub fn sampled_time(&self) -> Duration {
        let live = self
            .live
            .map_or(Duration::ZERO, |l| self.last.now.saturating_sub(l.now));
        self.sampled + live
    }

    /// The live window cannot be measured (some of the target's CPU time in it went uncounted):
    /// it closes without a sample.
    pub fn spoil_window(&mut self) {
        self.live = None;
    }

    /// The closed windows' samples.
    pub fn samples(&self) -> &[WindowSample] {
        &self.samples
    }

    /// Drops the window closed last: its CPU time was not all counted.
    pub fn drop_last_window(&mut self) {
        self.samples.pop();
    }

    /// Sets the hit cost measured in the window closed last (ns).
    pub fn set_last_window_cost(&mut self, ns: u64) {
        if let Some(w) = self.samples.last_mut() {
            w.hit_ns = Some(ns);
        }
    }

    /// Books the time, CPU and hits since the last observation.
    fn settle(&mut self, obs: Observation) {
        let dt = obs.now.saturating_sub(self.last.now);
        if !dt.is_zero() {
            let dcpu = obs.cpu.saturating_sub(self.last.cpu).as_nanos() as f64;
            let rate = dcpu / dt.as_secs_f64();
            self.cpu_rate = if self.cpu_rate == 0.0 {
                rate
            } else {
                0.5 * (self.cpu_rate + rate)
            };
        }
        if let Some(w) = self.attached {
            self.active += obs.now.saturating_sub(self.last.now.max(w.active_from));
            let len = obs.now.saturating_sub(w.since);
            if !len.is_zero() {
                let hits = obs.hits.saturating_sub(w.hits_at) as f64 * self.hit_cost_ns;
                let watch = self.watch_ns(obs.watch.saturating_sub(w.watch_at));
                let measured = (hits + watch) / len.as_secs_f64();
                self.rate = Some(measured);
            }
        }
        self.last = obs;
    }

    fn decide(&mut self, obs: Observation) -> Action {
        let allowance = self.allowance_ns(&obs);
        let usable = allowance * PLANNING_MARGIN;
        match self.attached {
            Some(_) if allowance < 0.0 => {
                self.attached = None;
                self.close_window(obs);
                Action::Detach
            }
            Some(w) if obs.now >= w.until => {
                // Staying on costs no attach/detach cycle: only the hits of another window.
                let rate = self.rate.unwrap_or(0.0);
                if usable >= rate * MIN_WINDOW.as_secs_f64() {
                    let secs = if rate > 0.0 {
                        (usable / rate).clamp(MIN_WINDOW.as_secs_f64(), MAX_WINDOW.as_secs_f64())
                    } else {
                        MAX_WINDOW.as_secs_f64()
                    };
                    self.attached = Some(Window::new(obs.now, Duration::from_secs_f64(secs), &obs));
                    Action::Keep
                } else {
                    self.attached = None;
                    self.close_window(obs);
                    Action::Detach
                }
            }
            Some(_) => Action::Keep,
            None => match self.affordable_window(usable) {
                Some(len) => {
                    self.cycles += 1;
                    self.attached = Some(Window::new(obs.now, len, &obs));
                    Action::Attach
                }
                None => Action::Keep,
            },
        }
    }

    fn open(&mut self, obs: Observation) {
        self.cycles += 1;
        self.attached = Some(Window::new(obs.now, MAX_WINDOW, &obs));
    }

    /// When the next decision is due (time since recording started).
    pub fn next_check(&self) -> Duration {
        match self.attached {
            Some(w) if !self.always_on() => w.until.min(self.last.now + POLL),
            Some(_) => self.last.now + MAX_WINDOW,
            None => {
                // Wait for the allowance to cover a minimum window at the CPU rate seen.
                let deficit = self.window_cost_ns(MIN_WINDOW) - self.allowance_ns(&self.last);
                let growth = (self.fraction * self.cpu_rate).max(1.0);
                let wait = Duration::from_secs_f64((deficit / growth).max(0.0));
                self.last.now + wait.clamp(Duration::from_millis(10), MAX_WINDOW)
            }
        }
    }

    /// Windows opened so far (the first one included).
    pub fn windows(&self) -> u64 {
        self.cycles
    }

    /// The probes asked for by [`Action::Attach`] are in place at `obs` (attaching takes a
    /// while): the window starts now.
    pub fn attached_at(&mut self, obs: Observation) {
        if let Some(w) = &mut self.attached {
            let len = w.until.saturating_sub(w.since);
            let decided = w.since;
            *w = Window::new(obs.now, len, &obs);
            w.active_from = decided + obs.now.saturating_sub(decided) / 2;
            self.live = Some(obs);
        }
    }

    /// Time the probes have been attached.
    pub fn active(&self) -> Duration {
        self.active
    }

    /// Probe cost over the target's own CPU time so far (0.01 = 1%). Where the costs account
    /// for all of its CPU time, its own work is taken as [`MIN_OWN_SHARE`] of it: the figure is
    /// then a lower bound of a cost that dwarfs the work.
    pub fn overhead(&self) -> f64 {
        let floor = MIN_OWN_SHARE * self.last.cpu.as_nanos() as f64;
        let useful = self.useful_ns(&self.last).max(floor);
        if useful <= 0.0 {
            return 0.0;
        }
        self.spent_ns(&self.last) / useful
    }
}

#[cfg(test)]
#[path = "budget_tests.rs"]
mod tests;
