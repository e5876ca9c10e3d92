//! The probe mix: one target's write probes and read probes under one budget, in two accounts.
//!
//! Lookups and iteration steps are far more frequent than assigns (tens to one in a read-mostly
//! map), so probes that shared one account would spend it on reads and shorten the windows the
//! writes are seen in. Each group therefore has its own [`Duty`]:
//!
//! - the **read** account may take at most [`READ_SHARE`] of the target's budget;
//! - the **write** account has the whole budget, less what the reads spent: writes get the rest,
//!   and everything the reads leave unused;
//! - read windows nest in write windows: the reads are attached only while the writes are, and
//!   taken off with them. In a read window every access to a map is seen, so the sharing model
//!   (which CPUs hold a line, what a write invalidates) runs only there (`TARGET_SHARING`);
//! - the write windows are sampled only while the read probes are off (read hits cost what an
//!   assign hit does not) unless the target's reads are negligible, and the read probes open a
//!   window only while their time attached is no more than the write windows' sampled time: the
//!   writes keep at least half of it.
//!
//! Each account's windows are its own sample of the recording: write counts scale from the write
//! windows, read counts (and the sharing figures) from the read windows (see `estimate`).
//!
//! Pure logic, tested by simulation.

use std::time::Duration;

use crate::{
    kernel::links::ProbeGroup,
    overhead::budget::{Action, Duty, Observation, WindowSample},
};

/// Largest share of a target's probe budget its read probes may take.
pub const READ_SHARE: f64 = 0.5;
/// Read hits, as a share of write entries, below which the write windows are sampled with the
/// read probes in place.
pub const FEW_READS: f64 = 0.01;

/// One reading of a target's counters since recording started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reading {
    /// Time since recording started.
    pub now: Duration,
    /// CPU time of the target (probe handlers included).
    pub cpu: Duration,
    /// Uprobe hits of every probe.
    pub hits: u64,
    /// Entry hits of every probe (the read probes' included: each of their hits is an entry).
    pub entries: u64,
    /// Hits of the read probes.
    pub reads: u64,
    /// What the target's watchpoint hits cost it.
    pub watch: Duration,
}

/// What to do with each group's probes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Actions {
    pub writes: Action,
    pub reads: Action,
}

/// The two accounts of one target.
#[derive(Clone, Debug)]
pub struct Mix {
    pub writes: Duty,
    /// None for a target without read probes.
    pub reads: Option<Duty>,
}

impl Mix {
    /// The accounts of a target whose write probes were just attached, under `fraction` of its
    /// CPU time. Its read probes (if `has_reads`) are attached with them only when the budget is
    /// unlimited; else they join a later window, so that the first one (a launched program's
    /// start, its package initializers' map writes among it) carries the write probes alone.
    pub fn new(fraction: f64, hit_cost: Duration, start: Reading, has_reads: bool) -> Self {
        let mut mix = Mix {
            writes: Duty::new(fraction, hit_cost, Self::writes_seen(None, &start)),
            reads: None,
        };
        if has_reads {
            let share = Self::read_share(fraction);
            let obs = Self::read_obs(&start);
            let reads = if Self::reads_start_attached(fraction) {
                let writes = mix.write_obs(&start);
                mix.writes.pause_sample(writes);
                Duty::new(share, hit_cost, obs)
            } else {
                Duty::detached(share, hit_cost, obs)
            };
            mix.reads = Some(reads.without_watch());
        }
        mix
    }

    /// The accounts of a target whose probes are not attached (at `start`): the write account
    /// opens its first window when it can.
    pub fn detached(fraction: f64, hit_cost: Duration, start: Reading, has_reads: bool) -> Self {
        let reads = has_reads.then(|| {
            Duty::detached(Self::read_share(fraction), hit_cost, Self::read_obs(&start))
                .without_watch()
        });
        Mix {
            writes: Duty::detached(fraction, hit_cost, Self::writes_seen(None, &start)),
            reads,
        }
    }

    /// The read account's share of the target's CPU time under `fraction`.
    fn read_share(fraction: f64) -> f64 {
        if fraction >= 1.0 {
            fraction
        } else {
            fraction * READ_SHARE
        }
    }

    /// Whether a target's read probes are attached with its write probes at the start, under
    /// `fraction` of its CPU time: only with an unlimited budget.
    pub fn reads_start_attached(fraction: f64) -> bool {
        fraction >= 1.0
    }

    /// What the read account sees.
    fn read_obs(r: &Reading) -> Observation {
        Observation {
            now: r.now,
            cpu: r.cpu,
            hits: r.reads,
            entries: r.reads,
            other_hits: r.hits.saturating_sub(r.reads),
            other_entries: r.entries.saturating_sub(r.reads),
            watch: r.watch,
            charged: Duration::ZERO,
        }
    }

    /// What the write account sees: the reads' spending is charged to it.
    fn write_obs(&self, r: &Reading) -> Observation {
        Self::writes_seen(self.reads.as_ref(), r)
    }

    /// What a write account sees beside the read account `reads`, if any.
    fn writes_seen(reads: Option<&Duty>, r: &Reading) -> Observation {
        let charged = reads.map_or(Duration::ZERO, |d| d.spent(&Self::read_obs(r)));
        Observation {
            now: r.now,
            cpu: r.cpu,
            hits: r.hits.saturating_sub(r.reads),
            entries: r.entries.saturating_sub(r.reads),
            other_hits: r.reads,
            other_entries: r.reads,
            watch: r.watch,
            charged,
        }
    }

    /// Settles both accounts with `r` and says what to do with each group's probes; the read
    /// probes are attached only if `reads_may_attach` (and the write probes are).
    pub fn step(&mut self, r: &Reading, reads_may_attach: bool) -> Actions {
        let writes = self.writes.step(self.write_obs(r));
        // The read windows take at most as long as the write windows' own samples: the writes
        // keep at least half of their attached time to be sampled alone.
        let balanced = self
            .reads
            .as_ref()
            .is_some_and(|d| d.active() <= self.writes.sampled_time());
        let may_attach = reads_may_attach && balanced && self.writes.is_attached();
        let reads = match self.reads.as_mut() {
            None => Action::Keep,
            Some(d) if writes == Action::Detach => {
                if d.close(Self::read_obs(r)) {
                    Action::Detach
                } else {
                    Action::Keep
                }
            }
            Some(d) => d.step_within(Self::read_obs(r), may_attach),
        };
        Actions { writes, reads }
    }

    /// The write probes asked for are in place at `r`; their window is sampled unless the read
    /// probes were attached with them.
    pub fn writes_attached_at(&mut self, r: &Reading) {
        let obs = self.write_obs(r);
        self.writes.attached_at(obs);
        if self.reads.as_ref().is_some_and(Duty::is_attached) && !Self::few_reads(r) {
            self.writes.pause_sample(obs);
        }
    }

    /// The read probes are about to be attached (decided at `r`): the write window's sample
    /// pauses, before attaching stalls the target and read hits, whose cost is not an assign's,
    /// take its CPU time.
    pub fn reads_attaching(&mut self, r: &Reading) {
        let obs = self.write_obs(r);
        self.writes.pause_sample(obs);
    }

    /// The read probes asked for are in place at `r`. Where the target's reads so far are
    /// negligible ([`FEW_READS`] of its write entries, none at all in a program that reads no
    /// map), the write window is sampled again beside them: their hits cannot move its CPU
    /// time.
    pub fn reads_attached_at(&mut self, r: &Reading) {
        if let Some(d) = self.reads.as_mut() {
            d.attached_at(Self::read_obs(r));
        }
        if Self::few_reads(r) {
            let obs = self.write_obs(r);
            self.writes.resume_sample(obs);
        }
    }

    /// Whether the target's read hits so far are negligible beside its write entries.
    fn few_reads(r: &Reading) -> bool {
        let writes = r.entries.saturating_sub(r.reads);
        (r.reads as f64) <= FEW_READS * writes as f64
    }

    /// The read probes detached last are gone at `r`: the write window, if still open, is
    /// sampled again.
    pub fn reads_gone_at(&mut self, r: &Reading) {
        let obs = self.write_obs(r);
        self.writes.resume_sample(obs);
    }

    /// The read probes could not be attached: their window closes at `r` with nothing seen.
    pub fn reads_failed(&mut self, r: &Reading) {
        if let Some(d) = self.reads.as_mut() {
            d.spoil_window();
            d.close(Self::read_obs(r));
        }
    }

    /// Settles both accounts one last time (recording over).
    pub fn finish(&mut self, r: &Reading) {
        let obs = self.write_obs(r);
        if let Some(d) = self.reads.as_mut() {
            d.finish(Self::read_obs(r));
        }
        self.writes.finish(obs);
    }

    /// Some of the target's CPU time in the live windows went uncounted.
    pub fn spoil_windows(&mut self) {
        self.writes.spoil_window();
        if let Some(d) = self.reads.as_mut() {
            d.spoil_window();
        }
    }

    /// Books CPU time clprof spent attaching or detaching `group`'s probes to its account.
    pub fn add_switch_cpu(&mut self, group: ProbeGroup, cost: Duration) {
        match group {
            ProbeGroup::Writes => self.writes.add_switch_cpu(cost),
            ProbeGroup::Reads => {
                if let Some(d) = self.reads.as_mut() {
                    d.add_switch_cpu(cost);
                }
            }
        }
    }

    /// Both accounts meter hits at `ns` from now on.
    pub fn set_hit_cost(&mut self, ns: f64) {
        self.writes.set_hit_cost(ns);
        if let Some(d) = self.reads.as_mut() {
            d.set_hit_cost(ns);
        }
    }

    /// When the next decision is due: the earlier of the two accounts'.
    pub fn next_check(&self) -> Duration {
        let writes = self.writes.next_check();
        match &self.reads {
            // Closed read windows wait for the writes.
            Some(d) if self.writes.is_attached() || d.is_attached() => writes.min(d.next_check()),
            _ => writes,
        }
    }

    /// The read account's closed windows (none without read probes).
    pub fn read_samples(&self) -> &[WindowSample] {
        self.reads.as_ref().map_or(&[], |d| d.samples())
    }
}

#[cfg(test)]
#[path = "mix_tests.rs"]
mod tests;
