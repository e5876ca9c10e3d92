//! What a line's contention costs, measured one of two ways, as its verdict was reached:
//! - **moves**: every move of the line between caches (a transfer to a writer, a remote read)
//!   stalls the CPU that needs it for about one line transfer, as measured on this machine at
//!   start (`machine`);
//! - **samples**: the CPU time the timer samples found on the instructions that access the line
//!   (their share of the target's samples times its CPU time). A sample lands one instruction
//!   past the access that stalled, so an access waiting for the line is sampled in proportion
//!   to its wait: this sees every access (locks, atomics, fields), where the moves see only the
//!   probed ones, and it includes what the accesses would cost uncontended. Lines whose verdict
//!   the samples gave (false or true sharing) are costed so; the others by their moves.
//!
//! The cost is also the most a fix can win: a line that no longer moves costs nothing.

use crate::report::{verdict, Cost, CostBasis, LineReport};

/// The cost of a line no fix can improve.
pub const NOTHING: Cost = Cost {
    cpu_ns_per_s: 0.0,
    target_cpu_pct: 0.0,
    rel_err: 0.0,
    basis: CostBasis::Moves,
};

/// Relative spread of a line's sampled share between recordings of one program, added to the
/// sampling error of one: where the scheduler puts the threads and how long each waits changes
/// from run to run. Measured on the sampled bench programs (fresh processes, 4-second
/// recordings): 17.6–31.3% and 16.0–25.2% of the CPU for one line, about a quarter of the mean
/// either way.
pub const SAMPLED_DRIFT: f64 = 0.25;

/// What the target was recorded for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Recorded {
    /// Seconds it was recorded.
    pub seconds: f64,
    /// CPU time it used for its own work meanwhile (s).
    pub cpu_s: f64,
}

/// The cost of `line` at `transfer_ns` a move; None where nothing was recorded.
pub fn cost(line: &LineReport, transfer_ns: f64, recorded: Recorded) -> Option<Cost> {
    if recorded.seconds <= 0.0 || recorded.cpu_s <= 0.0 || transfer_ns <= 0.0 {
        return None;
    }
    let moves = verdict::moves(line) as f64;
    let cpu_ns_per_s = moves * transfer_ns / recorded.seconds;
    let cpu_per_s = recorded.cpu_s / recorded.seconds * 1e9;
    Some(Cost {
        cpu_ns_per_s: round2(cpu_ns_per_s),
        target_cpu_pct: significant4(cpu_ns_per_s / cpu_per_s * 100.0),
        rel_err: round4(rel_err(line)),
        basis: CostBasis::Moves,
    })
}

/// The cost of `line` from its data samples: its share of the target's perf samples of the
/// target's CPU time; None without data samples that show it shared (false or true sharing:
/// time on a line one thread keeps, or too little seen to tell, is not contention), or where
/// nothing was recorded.
pub fn sampled(line: &LineReport, recorded: Recorded) -> Option<Cost> {
    let data = line.data_samples.as_ref()?;
    if !data.sharing.is_shared()
        || recorded.seconds <= 0.0
        || recorded.cpu_s <= 0.0
        || data.samples == 0
        || data.share <= 0.0
    {
        return None;
    }
    let cpu_per_s = recorded.cpu_s / recorded.seconds * 1e9;
    let share = data.share.min(1.0);
    Some(Cost {
        cpu_ns_per_s: round2(share * cpu_per_s),
        target_cpu_pct: significant4(share * 100.0),
        rel_err: round4(
            ((1.0 - share) / data.samples as f64)
                .sqrt()
                .hypot(SAMPLED_DRIFT),
        ),
        basis: CostBasis::Samples,
    })
}

/// Relative standard error of the line's moves: each part's estimate error and its counting
/// noise (a Poisson count of n seen has a relative error of 1/√n), added in quadrature.
pub fn rel_err(line: &LineReport) -> f64 {
    let transfers = verdict::transfers(line) as f64;
    let remote = verdict::remote_reads(line) as f64;
    let total = transfers + remote;
    if total <= 0.0 {
        return 0.0;
    }
    let part = |estimate: f64, est_err: Option<f64>, seen: u64| {
        if estimate <= 0.0 {
            return 0.0;
        }
        let counting = 1.0 / (seen.max(1) as f64);
        estimate * estimate * (est_err.unwrap_or(0.0).powi(2) + counting)
    };
    // Transfers seen by watchpoints are exact counts: no estimate error then.
    let transfers_err = if line.est.transfers.unwrap_or(0) >= line.transfers {
        line.est.transfers_rel_err
    } else {
        None
    };
    let variance = part(transfers, transfers_err, line.transfers)
        + part(
            remote,
            line.est.remote_reads_rel_err,
            line.remote_reads.unwrap_or(0),
        );
    variance.sqrt() / total
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Four significant digits: a small share keeps its precision.
fn significant4(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(3 - x.abs().log10().floor() as i32);
    (x * scale).round() / scale
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
#[path = "cost_tests.rs"]
mod tests;
