//! What a target's account carries from one recording to the next, for the daemon's windows:
//! the allowance left (or the debt) and the probe time its hit cost is measured from, so that
//! a window goes on from where the last one ended instead of starting from nothing.

use std::collections::HashMap;

use profiler_common::ProbeTime;

use crate::overhead::estimate;

/// One target's account at the end of a window.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Carried {
    /// Allowance left (ns); negative: a debt, paid before the next window's probes may stay.
    pub balance_ns: f64,
    /// What its probe hits cost it inside windows, for its measured hit cost.
    pub time: ProbeTime,
}

/// The accounts kept between recordings, by target pid.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    accounts: HashMap<u32, Carried>,
}

impl Ledger {
    /// What `pid`'s account carried over, if anything.
    pub fn get(&self, pid: u32) -> Option<&Carried> {
        self.accounts.get(&pid)
    }

    /// Keeps `pid`'s account at the end of a window. A debt is carried whole; a credit at most
    /// up to `earned_ns` (what the target's work earned in the window), so that credit does not
    /// pile up over a quiet hour. The probe time is the window's own (`window`) where it
    /// measures the hit cost, else `all` (the window's with what was carried into it).
    pub fn keep(
        &mut self,
        pid: u32,
        balance_ns: f64,
        earned_ns: f64,
        window: ProbeTime,
        all: ProbeTime,
    ) {
        let time = if estimate::probe_cost(&window).is_some() {
            window
        } else {
            all
        };
        let balance_ns = balance_ns.min(earned_ns.max(0.0));
        self.accounts.insert(pid, Carried { balance_ns, time });
    }

    /// Forgets every account but those of `pids` (targets gone).
    pub fn retain(&mut self, pids: &[u32]) {
        self.accounts.retain(|pid, _| pids.contains(pid));
    }

    /// Forgets `pid`'s account.
    pub fn forget(&mut self, pid: u32) {
        self.accounts.remove(&pid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debts_carry_whole_and_credits_up_to_one_window() {
        let mut ledger = Ledger::default();
        let none = ProbeTime::default();
        ledger.keep(1, -3e6, 10e6, none, none);
        ledger.keep(2, 50e6, 10e6, none, none);
        ledger.keep(3, 4e6, 10e6, none, none);
        assert_eq!(ledger.get(1).map(|c| c.balance_ns), Some(-3e6));
        assert_eq!(ledger.get(2).map(|c| c.balance_ns), Some(10e6));
        assert_eq!(ledger.get(3).map(|c| c.balance_ns), Some(4e6));
        ledger.retain(&[1, 3]);
        assert!(ledger.get(2).is_none());
        ledger.forget(3);
        assert!(ledger.get(3).is_none() && ledger.get(1).is_some());
    }

    #[test]
    fn the_newest_window_that_measures_the_hit_cost_replaces_older_ones() {
        let mut ledger = Ledger::default();
        let mut measured = ProbeTime {
            prog_ns: 2_000_000,
            prog_runs: 1_000,
            ..ProbeTime::default()
        };
        measured.gaps[3] = 1_000;
        let few = ProbeTime {
            prog_ns: 2_000,
            prog_runs: 2,
            ..ProbeTime::default()
        };
        assert!(estimate::probe_cost(&measured).is_some());
        assert!(estimate::probe_cost(&few).is_none());
        let mut all = measured;
        all.merge(&few);
        // Too few assigns timed in the window: the whole history stays.
        ledger.keep(7, 0.0, 0.0, few, all);
        assert_eq!(ledger.get(7).map(|c| c.time), Some(all));
        // Enough in the window: it alone measures the cost from now on.
        ledger.keep(7, 0.0, 0.0, measured, all);
        assert_eq!(ledger.get(7).map(|c| c.time), Some(measured));
    }
}
