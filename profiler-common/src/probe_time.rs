//! What one probe hit costs its target, measured in the target: the time inside clprof's
//! programs, and the time between an assign's entry program and its RET program.
//!
//! A probed assign runs: trap at the entry → entry program → the rest of the trap and the
//! single-step of the probed instruction → the function's own body → trap at the RET → RET
//! program → ... The entry-end-to-RET-start gap is one trap's overhead outside the programs plus
//! the body of the assign, which for a map assign is tens of nanoseconds: its median, taken over
//! thousands of assigns, measures that overhead where the target runs (same CPUs, caches and
//! contention), where a calibration on clprof's own thread sees only the best case.
//!
//! An assign in which watched words were written (`--watch`) holds their traps in its gap too:
//! such gaps are summed apart with the number of traps, so that the watchpoint hit cost is
//! measured in the target the same way: (mean watched gap − mean unwatched gap) / traps per
//! watched assign. Both means leave out gaps of [`MEAN_GAP_CAP_NS`] and more (a thread
//! preempted inside an assign).

use core::mem::size_of;

/// Buckets of [`ProbeTime::gaps`].
pub const GAP_BUCKETS: usize = 128;
const _: () = assert!(GAP_BUCKETS.is_power_of_two());
/// log2 of [`GAP_BUCKET_NS`]: buckets are found by a shift, whose bounds the BPF verifier
/// follows (it loses them through a division).
pub const GAP_BUCKET_SHIFT: u32 = 7;
/// Width of one [`ProbeTime::gaps`] bucket (ns): bucket `i` holds gaps in `[i*W, (i+1)*W)`, the
/// last one everything from `(GAP_BUCKETS-1)*W` up.
pub const GAP_BUCKET_NS: u64 = 1 << GAP_BUCKET_SHIFT;

/// Gaps this long or longer (ns) stay out of the gap sums: a thread preempted or interrupted
/// inside an assign, not what a trap costs.
pub const MEAN_GAP_CAP_NS: u64 = 100_000;

/// Value of `PROBE_TIME` (per CPU, indexed by `TargetConfig::slot`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeTime {
    /// Time spent inside clprof's entry and RET programs, from their first instruction to their
    /// last timestamp (ns).
    pub prog_ns: u64,
    /// Program runs timed into `prog_ns` (count).
    pub prog_runs: u64,
    /// Entry-program-end to RET-program-start gaps of one goroutine's assign, bucketed by
    /// [`gap_bucket`] (count per bucket).
    pub gaps: [u32; GAP_BUCKETS],
    /// Sum of the gaps of `gaps` under [`MEAN_GAP_CAP_NS`] (ns).
    pub gap_ns: u64,
    /// Gaps summed into `gap_ns` (count).
    pub gap_runs: u64,
    /// Sum of the gaps of assigns in which watched words were written, under
    /// [`MEAN_GAP_CAP_NS`] (ns).
    pub watched_gap_ns: u64,
    /// Sum of the squares of those gaps (µs², each rounded down to whole µs²).
    pub watched_gap_sq_us: u64,
    /// Watched assigns summed into `watched_gap_ns` (count).
    pub watched_runs: u64,
    /// Watchpoint hits in those assigns (count).
    pub watched_traps: u64,
}
const _: () = assert!(size_of::<ProbeTime>() == 16 + 4 * GAP_BUCKETS + 6 * 8);

impl Default for ProbeTime {
    fn default() -> Self {
        ProbeTime {
            prog_ns: 0,
            prog_runs: 0,
            gaps: [0; GAP_BUCKETS],
            gap_ns: 0,
            gap_runs: 0,
            watched_gap_ns: 0,
            watched_gap_sq_us: 0,
            watched_runs: 0,
            watched_traps: 0,
        }
    }
}

/// Bucket of a gap of `ns` nanoseconds.
#[inline(always)]
pub fn gap_bucket(ns: u64) -> usize {
    if ns >= (GAP_BUCKETS as u64) << GAP_BUCKET_SHIFT {
        GAP_BUCKETS - 1
    } else {
        (ns >> GAP_BUCKET_SHIFT) as usize
    }
}

impl ProbeTime {
    /// Adds `other` (another CPU's value) to this one.
    pub fn merge(&mut self, other: &ProbeTime) {
        self.prog_ns += other.prog_ns;
        self.prog_runs += other.prog_runs;
        for (a, b) in self.gaps.iter_mut().zip(other.gaps.iter()) {
            *a = a.saturating_add(*b);
        }
        for (a, b) in self.sums_mut().into_iter().zip(other.sums()) {
            *a = a.saturating_add(b);
        }
    }

    /// The running sums, in one order.
    fn sums(&self) -> [u64; 6] {
        [
            self.gap_ns,
            self.gap_runs,
            self.watched_gap_ns,
            self.watched_gap_sq_us,
            self.watched_runs,
            self.watched_traps,
        ]
    }

    fn sums_mut(&mut self) -> [&mut u64; 6] {
        [
            &mut self.gap_ns,
            &mut self.gap_runs,
            &mut self.watched_gap_ns,
            &mut self.watched_gap_sq_us,
            &mut self.watched_runs,
            &mut self.watched_traps,
        ]
    }

    /// Books one assign's entry-to-RET gap of `gap` ns with `watched` watchpoint hits in it.
    #[inline(always)]
    pub fn add_gap(&mut self, gap: u64, watched: u16) {
        let capped = gap < MEAN_GAP_CAP_NS;
        if watched == 0 {
            let bucket = gap_bucket(gap);
            // The index is bounded by gap_bucket; `get_mut` keeps the verifier's bounds.
            if let Some(cell) = self.gaps.get_mut(bucket) {
                *cell = cell.saturating_add(1);
            }
            if capped {
                self.gap_ns += gap;
                self.gap_runs += 1;
            }
        } else if capped {
            let us = gap / 1_000;
            self.watched_gap_ns += gap;
            self.watched_gap_sq_us += us * us;
            self.watched_runs += 1;
            self.watched_traps += u64::from(watched);
        }
    }

    /// What was added since `earlier` (a value read before from the same slot).
    pub fn since(&self, earlier: &ProbeTime) -> ProbeTime {
        let mut d = ProbeTime {
            prog_ns: self.prog_ns.saturating_sub(earlier.prog_ns),
            prog_runs: self.prog_runs.saturating_sub(earlier.prog_runs),
            gaps: self.gaps,
            ..ProbeTime::default()
        };
        for (a, b) in d.gaps.iter_mut().zip(earlier.gaps.iter()) {
            *a = a.saturating_sub(*b);
        }
        for ((a, mine), b) in d
            .sums_mut()
            .into_iter()
            .zip(self.sums())
            .zip(earlier.sums())
        {
            *a = mine.saturating_sub(b);
        }
        d
    }

    /// Gaps recorded (count).
    pub fn gap_count(&self) -> u64 {
        self.gaps.iter().map(|&n| n as u64).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_and_quantiles() {
        assert_eq!(gap_bucket(0), 0);
        assert_eq!(gap_bucket(127), 0);
        assert_eq!(gap_bucket(128), 1);
        assert_eq!(gap_bucket(128 * 127), GAP_BUCKETS - 1);
        assert_eq!(gap_bucket(128 * 127 - 1), GAP_BUCKETS - 2);
        assert_eq!(gap_bucket(u64::MAX), GAP_BUCKETS - 1);
        let mut t = ProbeTime::default();
        for ns in [1_030u64, 1_050, 1_120, 5_000] {
            t.gaps[gap_bucket(ns)] += 1;
        }
        let mut other = ProbeTime::default();
        other.gaps[gap_bucket(1_100)] += 1;
        other.prog_ns = 900;
        other.prog_runs = 3;
        t.merge(&other);
        assert_eq!(t.gap_count(), 5);
        assert_eq!(t.gaps[8], 4);
        assert_eq!((t.prog_ns, t.prog_runs), (900, 3));
    }

    #[test]
    fn watched_gaps_are_summed_apart_and_preemptions_left_out() {
        let mut t = ProbeTime::default();
        t.add_gap(5_000, 0);
        t.add_gap(7_000, 0);
        t.add_gap(MEAN_GAP_CAP_NS, 0);
        t.add_gap(14_000, 2);
        t.add_gap(MEAN_GAP_CAP_NS + 1, 2);
        assert_eq!(t.gap_count(), 3, "every unwatched gap is in the histogram");
        assert_eq!(
            (t.gap_ns, t.gap_runs),
            (12_000, 2),
            "the preempted one is not summed"
        );
        assert_eq!(
            (t.watched_gap_ns, t.watched_runs, t.watched_traps),
            (14_000, 1, 2)
        );
        assert_eq!(t.watched_gap_sq_us, 196);
        let earlier = t;
        t.add_gap(16_000, 1);
        let d = t.since(&earlier);
        assert_eq!(
            (d.watched_gap_ns, d.watched_runs, d.watched_traps),
            (16_000, 1, 1)
        );
        assert_eq!((d.gap_ns, d.gap_runs, d.gap_count()), (0, 0, 0));
        let mut merged = earlier;
        merged.merge(&d);
        assert_eq!(merged, t);
    }
}
