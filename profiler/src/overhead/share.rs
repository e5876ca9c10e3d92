//! The overhead budget, and the share of it perf sampling takes: its frequency is fixed for the
//! recording from the calibrated cost of a sample; the rest goes to the uprobes (see
//! [`super::budget`]).

use std::time::Duration;

/// Highest perf sampling frequency clprof asks for, whatever the budget (perf record's default).
pub const MAX_PERF_HZ: u64 = 4_000;
/// Share of the budget given to perf sampling when perf events are on.
pub const PERF_SHARE: f64 = 0.25;
/// Most of the budget perf sampling may take to reach [`RANK_HZ`]: the probes keep the rest.
pub const MAX_PERF_SHARE: f64 = 0.75;
/// Sampling frequency that ranks a line costing 2% of a one-CPU target within 5 s: its
/// accesses then collect 13 samples on average (130 Hz × 5 s × 2%), 8 or more (what a sharing
/// verdict needs) in 95% of recordings. Where [`PERF_SHARE`] of the budget buys less, perf
/// takes up to [`MAX_PERF_SHARE`] of it and the probes' share shrinks.
pub const RANK_HZ: u64 = 130;

/// The overhead budget as a fraction of the target's CPU time (2% = 0.02).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Budget {
    pub fraction: f64,
}

impl Budget {
    pub fn from_pct(pct: f64) -> Self {
        Budget {
            fraction: (pct / 100.0).clamp(0.0, 1.0),
        }
    }

    /// `--budget 100`: probes always on.
    pub fn unlimited(&self) -> bool {
        self.fraction >= 1.0
    }

    /// Perf sampling frequency (Hz) that keeps the perf share of the budget: every sample costs
    /// the interrupted thread `sample_cost`, so `hz × cost` is the fraction of its CPU time taken.
    /// The share is [`PERF_SHARE`] of the budget, raised up to [`MAX_PERF_SHARE`] of it where
    /// that does not buy [`RANK_HZ`]. Clamped to 1..=[`MAX_PERF_HZ`] and to the kernel's
    /// `perf_event_max_sample_rate`.
    pub fn perf_hz(&self, sample_cost: Duration, kernel_max_hz: u64) -> u64 {
        let budget = if self.unlimited() { 1.0 } else { self.fraction };
        let cost_s = sample_cost.as_secs_f64().max(1e-9);
        let to_rank = RANK_HZ as f64 * cost_s;
        let share = (budget * PERF_SHARE).max(to_rank.min(budget * MAX_PERF_SHARE));
        // (The tiny excess absorbs float error: 0.005 / 5e-6 must give 1000, not 999.)
        let hz = (share / cost_s * (1.0 + 1e-9)).floor() as u64;
        hz.clamp(1, MAX_PERF_HZ.min(kernel_max_hz.max(1)))
    }

    /// The fraction left to uprobes once perf sampling at `perf_overhead` is paid for.
    pub fn probe_fraction(&self, perf_overhead: f64) -> f64 {
        (self.fraction - perf_overhead).max(0.0)
    }
}

#[cfg(test)]
#[path = "share_tests.rs"]
mod tests;
