//! From what the probes saw to what the target did: the estimates (`est_*`) of a recording whose
//! probes were attached only in windows, corrected for the probes' own cost, with their
//! uncertainty.
//!
//! The model. A probed assign costs its thread the hit cost `c` twice (entry and RET), so while
//! the probes are in place the target does less of its own work per second of CPU, and counting
//! by time (observed / active fraction) undercounts by as much as the probes slow it. What does
//! not change is how much of the target's own work goes with one assign. So the estimate counts
//! in units of the target's *own* CPU time, `U = CPU − hits × c`:
//!
//! - in each window (while every probe is in place): `U_w = C_w − h_w × c_w`, with `h_w` hits at
//!   the cost measured in that window (the recording's `c` where too few were timed);
//! - over the whole recording: `U_all = C_all − Σ h_w c_w − h_out × c`, `h_out` the hits while
//!   probes were being attached or detached;
//! - assigns the target would have made, probes or not: `e_in × U_all / ΣU_w`, `e_in` the
//!   windows' entry hits; every observed count of the target (writes, transfers, per line and
//!   per map) is scaled by that over the entry hits behind the folded counts.
//!
//! `c` is measured in the target (see [`probe_cost`]). One probed assign costs: both programs'
//! time (timed in them), the gap from the entry program's end to the RET program's start (the
//! rest of the entry trap with its single-step, the assign's own body of tens of nanoseconds, and
//! the RET trap up to its program: measured), and the same kind of overhead from the RET program
//! back to the next assign's entry program, `X` (the RET's single-step, the return to user space,
//! the next entry's trap), which cannot be told apart from the target's own work there. `X`
//! mirrors the gap (the same kernel paths in the other order) plus the refill of what the traps
//! evicted from the caches and predictors: solved against programs that count their own work,
//! `X` was 0.95 to 1.3 gaps on days a hit cost 6–9 µs, 1.27 to 1.55 on a day it cost 18–22 µs
//! (the refill grows with what the traps do). The estimate takes `X` = 1.25 gaps, and its
//! uncertainty the spread of 0.9 to 1.6 (uniform).
//!
//! Uncertainty, as a relative standard error: from `c` (the distance between the gaps' median
//! and their mean below the 90th percentile, plus the bucket width, propagated through the
//! formula), from the spread of the hit rate per unit of own work between windows (a ratio
//! estimator's standard error), from the watchpoint hit cost taken out of the CPU time (its
//! calibration's uncertainty, [`crate::kernel::calibrate::WATCH_COST_REL_ERR`]), and per count
//! from its own sampling (`1/sqrt(n)`). At
//! `--budget 100` the probes saw everything: scale 1, error 0.

use profiler_common::{ProbeTime, GAP_BUCKETS, GAP_BUCKET_NS};

use crate::overhead::budget::WindowSample;

/// Gaps needed before the measured hit cost replaces the calibrated one.
pub const MIN_GAPS: u64 = 200;
/// Gaps needed in one window for its own hit cost (the cost varies from window to window with
/// where the target's threads run: 6 to 9 µs here); fewer take the recording's.
const MIN_WINDOW_GAPS: u64 = 50;
/// Smallest share of the windows' CPU time taken as the target's own work: below it, the
/// measured hit cost accounts for all of it and the estimate is a bound, flagged by its error.
pub const MIN_OWN_SHARE: f64 = 0.01;
/// The unseen RET-to-entry overhead `X`, in gaps: its range `[X_LOW, X_HIGH]`, measured against
/// programs that count their own assigns (README, "Estimates").
const X_LOW: f64 = 0.9;
const X_HIGH: f64 = 1.6;

/// The cost of one probe hit, measured in the target.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProbeCost {
    /// Cost of one hit (ns): mean program time plus half of the gap and of the unseen
    /// RET-to-entry overhead (two hits an assign): `prog + gap × (1 + X) / 2`, `X` in gaps.
    pub hit_ns: f64,
    /// Its uncertainty (ns).
    pub err_ns: f64,
    /// Mean time inside one program run (ns).
    pub prog_ns: f64,
    /// Median entry-end-to-RET-start gap (ns).
    pub gap_ns: f64,
}

/// The hit cost measured in the target; None before [`MIN_GAPS`] assigns were timed.
pub fn probe_cost(t: &ProbeTime) -> Option<ProbeCost> {
    cost_from(t, MIN_GAPS)
}

/// The hit cost measured in one window; None before [`MIN_WINDOW_GAPS`] assigns were timed in it.
pub fn window_probe_cost(t: &ProbeTime) -> Option<ProbeCost> {
    cost_from(t, MIN_WINDOW_GAPS)
}

fn cost_from(t: &ProbeTime, min_gaps: u64) -> Option<ProbeCost> {
    if t.gap_count() < min_gaps || t.prog_runs == 0 {
        return None;
    }
    let prog_ns = t.prog_ns as f64 / t.prog_runs as f64;
    let gap_ns = gap_quantile(t, 0.5)?;
    let p90 = gap_quantile(t, 0.9)?;
    let (mut sum, mut n) = (0.0, 0u64);
    for (i, &count) in t.gaps.iter().enumerate() {
        let mid = bucket_mid(i);
        if mid <= p90 && i < GAP_BUCKETS - 1 {
            sum += mid * count as f64;
            n += count as u64;
        }
    }
    let trimmed_mean = if n > 0 { sum / n as f64 } else { gap_ns };
    // Per hit: half of (gap + X), X uniform in [X_LOW, X_HIGH] gaps.
    let x_mid = (X_LOW + X_HIGH) / 2.0;
    let unseen = 0.5 * gap_ns * (X_HIGH - X_LOW) / 12f64.sqrt();
    let median = (trimmed_mean - gap_ns).abs() + GAP_BUCKET_NS as f64 / 2.0;
    Some(ProbeCost {
        hit_ns: prog_ns + gap_ns * (1.0 + x_mid) / 2.0,
        err_ns: (unseen * unseen + median * median).sqrt(),
        prog_ns,
        gap_ns,
    })
}

/// Watched assigns needed before the watchpoint hit cost measured in the target replaces the
/// calibrated one.
pub const MIN_WATCHED: u64 = 20;
/// What is left uncertain in a measured watchpoint hit cost beyond its sampling error: the
/// traps timed inside assigns stand for every trap of the target, also those outside them.
const WATCH_SYSTEMATIC: f64 = 0.05;

/// The cost of one watchpoint hit, measured in the target.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WatchCost {
    /// Cost of one hit (ns): how much longer an assign's gap is per trap in it.
    pub ns: f64,
    /// Its relative standard error.
    pub rel_err: f64,
}

/// The watchpoint hit cost measured in the target: (mean watched gap − mean unwatched gap) /
/// traps per watched assign. None before [`MIN_WATCHED`] watched and as many unwatched assigns
/// were timed, or when the difference is not positive.
pub fn watch_cost(t: &ProbeTime) -> Option<WatchCost> {
    if t.watched_runs < MIN_WATCHED || t.gap_runs < MIN_WATCHED || t.watched_traps == 0 {
        return None;
    }
    let n = t.watched_runs as f64;
    let watched = t.watched_gap_ns as f64 / n;
    let unwatched = t.gap_ns as f64 / t.gap_runs as f64;
    let traps = t.watched_traps as f64 / n;
    let ns = (watched - unwatched) / traps;
    if ns <= 0.0 {
        return None;
    }
    // Sampling error of the watched mean (squares kept in µs²) and of the unwatched one (from
    // the histogram, each gap at its bucket's middle).
    let watched_var = (t.watched_gap_sq_us as f64 * 1e6 / n - watched * watched).max(0.0) / n;
    let unwatched_var = histogram_var(t) / t.gap_runs as f64;
    let sampling = (watched_var + unwatched_var).sqrt() / traps / ns;
    Some(WatchCost {
        ns,
        rel_err: (sampling.powi(2) + WATCH_SYSTEMATIC.powi(2)).sqrt(),
    })
}

/// Variance of the gaps of `t.gaps` (ns²) below its last bucket, each at its bucket's middle.
fn histogram_var(t: &ProbeTime) -> f64 {
    let below = &t.gaps[..GAP_BUCKETS - 1];
    let n: f64 = below.iter().map(|&c| c as f64).sum();
    if n < 2.0 {
        return 0.0;
    }
    let mean = below
        .iter()
        .enumerate()
        .map(|(i, &c)| bucket_mid(i) * c as f64)
        .sum::<f64>()
        / n;
    below
        .iter()
        .enumerate()
        .map(|(i, &c)| (bucket_mid(i) - mean).powi(2) * c as f64)
        .sum::<f64>()
        / (n - 1.0)
}

/// `samples` with their watchpoint hits charged at `to` a hit instead of `from` (what their
/// `watch` was reckoned at): the difference goes back to, or comes out of, their CPU time.
pub fn reprice_watch(samples: &mut [WindowSample], from: std::time::Duration, to_ns: f64) {
    if from.is_zero() {
        return;
    }
    for w in samples {
        let hits = (w.watch.as_nanos() as f64 / from.as_nanos() as f64).round();
        let gross = w.cpu + w.watch;
        let watch = std::time::Duration::from_nanos((hits * to_ns).max(0.0) as u64).min(gross);
        w.cpu = gross - watch;
        w.watch = watch;
    }
}

fn bucket_mid(i: usize) -> f64 {
    (i as f64 + 0.5) * GAP_BUCKET_NS as f64
}

/// The gap (ns, bucket midpoint) at or below which a share `q` of the gaps fall.
fn gap_quantile(t: &ProbeTime, q: f64) -> Option<f64> {
    let total = t.gap_count();
    if total == 0 {
        return None;
    }
    let want = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
    let mut seen = 0u64;
    for (i, &n) in t.gaps.iter().enumerate() {
        seen += n as u64;
        if seen >= want {
            return Some(bucket_mid(i));
        }
    }
    Some(bucket_mid(GAP_BUCKETS - 1))
}

/// What one target's probes saw, for the estimate.
#[derive(Clone, Debug, PartialEq)]
pub struct Seen<'a> {
    /// CPU time of the target over the recording (ns).
    pub cpu_ns: f64,
    /// Its probe hits over the recording.
    pub hits: u64,
    /// Of those, entry hits (the ones that observe).
    pub entries: u64,
    /// Windows with every probe in place.
    pub windows: &'a [WindowSample],
    /// Cost of one hit (ns) and its uncertainty.
    pub hit_ns: f64,
    pub hit_err_ns: f64,
    /// What the watchpoint hits cost over the recording (ns, at the calibrated cost), already
    /// out of `cpu_ns` (and each window's share out of its `cpu`).
    pub watch_ns: f64,
    /// Relative uncertainty of that cost.
    pub watch_err: f64,
    /// Probes attached the whole time.
    pub always_on: bool,
}

/// How the target's counts scale to the whole recording.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scale {
    /// The target's entries over the whole recording over those the probes saw (>= 1): how
    /// many times more it did than was seen, for the report.
    pub factor: f64,
    /// Multiplier of the counts made inside sampled windows (`profiler_common::Sampled`): what
    /// the estimates are.
    pub per_sampled: f64,
    /// Relative standard error of the multipliers.
    pub rel_err: f64,
}

impl Scale {
    /// Probes that saw everything: counts stand as observed.
    pub const EXACT: Scale = Scale {
        factor: 1.0,
        per_sampled: 1.0,
        rel_err: 0.0,
    };

    /// The estimate of a count observed `observed` times, `sampled` of them inside sampled
    /// windows, and its relative standard error (the scale's, and the count's own sampling).
    /// Never below what was observed: a count made outside the sampled windows only (a burst
    /// while the probes were being attached, a launched program's start) stands as observed.
    pub fn estimate(&self, observed: u64, sampled: u64) -> (u64, f64) {
        if *self == Scale::EXACT {
            return (observed, 0.0);
        }
        let est = ((sampled as f64 * self.per_sampled).round() as u64).max(observed);
        let own = if sampled > 0 {
            1.0 / (sampled as f64).sqrt()
        } else {
            1.0
        };
        (est, (self.rel_err.powi(2) + own.powi(2)).sqrt())
    }
}

/// The scale of one target's counts; None when no window saw a hit.
pub fn scale(seen: &Seen) -> Option<Scale> {
    if seen.always_on {
        return Some(Scale::EXACT);
    }
    let c = seen.hit_ns;
    let cpu_in: f64 = seen.windows.iter().map(|w| w.cpu.as_nanos() as f64).sum();
    let hits_in: u64 = seen.windows.iter().map(|w| w.hits).sum();
    let entries_in: u64 = seen.windows.iter().map(|w| w.entries).sum();
    if hits_in == 0 || seen.hits == 0 {
        return None;
    }
    // Observed counts come from entry hits: they scale with them (hits when none were counted).
    let by_entries = entries_in > 0 && seen.entries > 0;
    let (counted_in, counted_all) = if by_entries {
        (entries_in, seen.entries)
    } else {
        (hits_in, seen.hits)
    };
    let raw_in: f64 = seen.windows.iter().map(|w| own_work(w, c)).sum();
    let floor = cpu_in * MIN_OWN_SHARE;
    let own_in = raw_in.max(floor);
    // The windows' hits at their own costs, the others (attaching, detaching) at `c`.
    let probes_in = cpu_in - raw_in;
    let probes_out = seen.hits.saturating_sub(hits_in) as f64 * c;
    let own_all = (seen.cpu_ns - probes_in - probes_out).max(own_in);
    let est = counted_in as f64 * own_all / own_in;
    let factor = (est / counted_all as f64).max(1.0);

    // From c: d ln(est)/dc = h_in/U_in - h_all/U_all.
    let from_cost = if raw_in > floor {
        ((hits_in as f64 / own_in - seen.hits as f64 / own_all) * seen.hit_err_ns).abs()
    } else {
        1.0
    };
    // From the watchpoint cost, taken out of the windows' and the recording's CPU time alike:
    // d ln(est)/dw = (W_in/U_in - W_all/U_all)/w.
    let watch_in: f64 = seen.windows.iter().map(|w| w.watch.as_nanos() as f64).sum();
    let from_watch = ((watch_in / own_in - seen.watch_ns / own_all) * seen.watch_err).abs();
    let from_windows =
        window_spread(seen.windows, c, by_entries).unwrap_or(1.0 / (counted_in as f64).sqrt());
    Some(Scale {
        factor,
        per_sampled: est / counted_in as f64,
        rel_err: (from_cost.powi(2) + from_watch.powi(2) + from_windows.powi(2)).sqrt(),
    })
}

/// Write entries a read window must have seen for [`nested_scale`] (below, the read counts scale
/// by CPU time like the writes').
pub const MIN_CLOCK: u64 = 30;

/// The scale of counts seen in windows nested in another account's (the reads, in windows
/// inside the write windows), against that account's estimate: the target's reads per write do
/// not depend on when it is looked at, so `reads seen / writes seen` in the read windows times
/// the writes over the whole recording (`clock_est`, its relative error `clock_err`) is the
/// reads over the whole recording. Unlike the own-work scale it needs no cost of a read hit
/// (which is not an assign's: one trap, no RET, another program). `counted_all`: the observed
/// counts' entries. None before [`MIN_CLOCK`] write entries were seen in the read windows.
pub fn nested_scale(
    windows: &[WindowSample],
    counted_all: u64,
    clock_est: f64,
    clock_err: f64,
) -> Option<Scale> {
    let counted_in: u64 = windows.iter().map(|w| w.entries).sum();
    let clock_in: u64 = windows.iter().map(|w| w.other_entries).sum();
    if clock_in < MIN_CLOCK || counted_all == 0 || counted_in == 0 {
        return None;
    }
    let est = counted_in as f64 * clock_est / clock_in as f64;
    let factor = (est / counted_all as f64).max(1.0);
    let points: Vec<(f64, f64)> = windows
        .iter()
        .map(|w| (w.entries as f64, w.other_entries as f64))
        .collect();
    let spread = ratio_spread(&points)
        .unwrap_or_else(|| (1.0 / counted_in as f64 + 1.0 / clock_in as f64).sqrt());
    Some(Scale {
        factor,
        per_sampled: clock_est / clock_in as f64,
        rel_err: (clock_err.powi(2) + spread.powi(2)).sqrt(),
    })
}

/// Windows needed to tell whether the target's threads wait on one another while probed.
const MIN_WAIT_WINDOWS: usize = 3;
/// The share of its CPU rate outside the windows below which a target that keeps it inside
/// them, plus [`WAIT_MARGIN`] standard errors, is taken to wait on its probed threads. Measured
/// at 7.3–9 µs a hit: two writers under one mutex kept 0.65–0.77 of their rate in the windows
/// (relative standard errors 2.6–8.6%), two writers of their own maps 0.91–0.95 (clprof itself
/// takes some of the two CPUs while they are probed; 2–7%).
const WAIT_RATIO: f64 = 0.85;
/// Standard errors of the windows' rate it must stay below [`WAIT_RATIO`] by. One: a waiting
/// target's windows scatter widely, and telling an unbiased estimate a lower bound costs less
/// (it still is one) than calling a low one unbiased.
const WAIT_MARGIN: f64 = 1.0;
/// Threads wait on one another only where more than one runs: a target using fewer CPUs than
/// this outside the windows (on average) is not told waiting. One thread uses at most one (0.98
/// to 0.99 measured for one steady writer, 0.34 in bursts), and a single thread working in bursts
/// can have every window fall in its rests by chance (7 windows in 12 s of 100 ms bursts every
/// 300 ms once did); two writers that sleep on a contended lock used 1.14 to 1.20.
const WAIT_MIN_CPUS: f64 = 1.05;

/// Whether the target's threads wait on one another while probed: its CPU time per second in
/// the `windows` (each with its `wall` time) falls below [`WAIT_RATIO`] of its CPU time per
/// second outside them (`cpu_ns` over `span_ns` in all, both with the watchpoints' cost), by
/// more than [`WAIT_MARGIN`] standard errors of the windows' rate, in a target using more than
/// [`WAIT_MIN_CPUS`] outside them. A thread holding a lock or a channel
/// across probed assigns makes the others wait (sleeping, or spinning, which counts as their own
/// work): the windows then hold more of the target's own CPU time per assign than the rest of
/// the recording, and the estimate is too low, a lower bound. Returns the ratio of the rates
/// when so, None otherwise (or with too few windows, or too little time outside them).
pub fn waits_while_probed(windows: &[WindowSample], cpu_ns: f64, span_ns: f64) -> Option<f64> {
    let points: Vec<(f64, f64)> = windows
        .iter()
        .filter(|w| !w.wall.is_zero())
        .map(|w| {
            (
                (w.cpu + w.watch).as_nanos() as f64,
                w.wall.as_nanos() as f64,
            )
        })
        .collect();
    if points.len() < MIN_WAIT_WINDOWS {
        return None;
    }
    let (cpu_in, wall_in) = points
        .iter()
        .fold((0.0, 0.0), |(c, w), p| (c + p.0, w + p.1));
    let wall_out = span_ns - wall_in;
    // At least as long outside the windows as inside, and a second of it.
    if wall_out < wall_in.max(1e9) || cpu_in <= 0.0 {
        return None;
    }
    let rate_in = cpu_in / wall_in;
    let rate_out = (cpu_ns - cpu_in).max(0.0) / wall_out;
    let spread = ratio_spread(&points)? * rate_in;
    tracing::debug!(
        rate_in,
        rate_out,
        spread,
        windows = points.len(),
        "CPU rates in and out of the windows"
    );
    if rate_out < WAIT_MIN_CPUS {
        return None;
    }
    (rate_in + WAIT_MARGIN * spread < WAIT_RATIO * rate_out).then(|| rate_in / rate_out)
}

/// The target's own work in one window (ns): its CPU time less its hits at the cost measured in
/// it, or at `c`.
fn own_work(w: &WindowSample, c: f64) -> f64 {
    let cost = w.hit_ns.map_or(c, |ns| ns as f64);
    w.cpu.as_nanos() as f64 - w.hits as f64 * cost
}

/// Relative standard error of the hit rate per unit of own work, as a ratio estimator over the
/// windows (each window one draw: its counted hits, entries when `by_entries`, against its own
/// work); None with fewer than 2.
fn window_spread(windows: &[WindowSample], c: f64, by_entries: bool) -> Option<f64> {
    let points: Vec<(f64, f64)> = windows
        .iter()
        .map(|w| {
            let counted = if by_entries { w.entries } else { w.hits };
            (counted as f64, own_work(w, c).max(0.0))
        })
        .collect();
    ratio_spread(&points)
}

/// Relative standard error of a ratio estimator `Σy / Σx` over draws `(y, x)`; None with fewer
/// than 2 draws or nothing counted.
fn ratio_spread(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len();
    if n < 2 {
        return None;
    }
    let (hits, own): (f64, f64) = points
        .iter()
        .fold((0.0, 0.0), |(h, u), p| (h + p.0, u + p.1));
    if own <= 0.0 || hits <= 0.0 {
        return None;
    }
    let rate = hits / own;
    let residuals: f64 = points.iter().map(|(h, u)| (h - rate * u).powi(2)).sum();
    let mean_own = own / n as f64;
    let var = residuals / (n as f64 - 1.0) / (n as f64 * mean_own * mean_own);
    Some(var.sqrt() / rate)
}

#[cfg(test)]
#[path = "estimate_tests.rs"]
mod tests;
