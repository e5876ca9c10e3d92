//! How the overhead budget is spent: perf sampling first (its rate fixed for the recording), the
//! rest on uprobes (metered while recording by [`super::duty`]).

use crate::{
    kernel::calibrate::Calibration,
    overhead::{duty::DutyPlan, share::Budget},
    perf::{self, PerfSource},
};

/// The budget's split, from the calibration on this machine.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OverheadPlan {
    pub budget: Budget,
    pub calibration: Calibration,
    /// Perf sampling frequency per CPU; None without perf events.
    pub perf_hz: Option<u64>,
    /// Expected perf sampling cost over a target's CPU time (0.005 = 0.5%).
    pub perf_overhead: f64,
    pub duty: DutyPlan,
}

impl OverheadPlan {
    pub fn new(budget: Budget, calibration: Calibration, source: &PerfSource) -> Self {
        let perf_hz = match (source, calibration.sample_cost) {
            (PerfSource::None, _) | (_, None) => None,
            (_, Some(cost)) => Some(budget.perf_hz(cost, perf::max_sample_rate())),
        };
        let perf_overhead = match (perf_hz, calibration.sample_cost) {
            (Some(hz), Some(cost)) => hz as f64 * cost.as_secs_f64(),
            _ => 0.0,
        };
        let fraction = if budget.unlimited() {
            1.0
        } else {
            budget.probe_fraction(perf_overhead)
        };
        OverheadPlan {
            budget,
            calibration,
            perf_hz,
            perf_overhead,
            duty: DutyPlan {
                fraction,
                hit_cost: calibration.hit_cost,
                watch_cost: calibration.watch_cost.unwrap_or_default(),
            },
        }
    }
}

#[cfg(test)]
impl OverheadPlan {
    /// Probes always on (`--budget 100`), no perf events, a probe hit costing `hit_cost`.
    pub fn always_on(hit_cost: std::time::Duration) -> Self {
        let calibration = Calibration {
            hit_cost,
            sample_cost: None,
            watch_cost: None,
            age: std::time::Duration::ZERO,
        };
        OverheadPlan::new(Budget::from_pct(100.0), calibration, &PerfSource::None)
    }
}
