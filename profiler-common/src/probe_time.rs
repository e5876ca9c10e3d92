//! What one probe hit costs its target, measured in the target: the time inside clprof's
//! programs, and the time between an assign's entry program and its RET program.
//!
//! A probed assign runs: trap at the entry → entry program → the rest of the trap and the
//! single-step of the probed instruction → the function's own body → trap at the RET → RET
//! program → ... The entry-end-to-RET-start gap is one trap's overhead outside the programs plus
//! the body of the assign, which for a map assign is tens of nanoseconds: its median, taken over
//! thousands of assigns, measures that overhead where the target runs (same CPUs, caches and
//! contention), where a calibration on clprof's own thread sees only the best case.

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
}
const _: () = assert!(size_of::<ProbeTime>() == 16 + 4 * GAP_BUCKETS);

impl Default for ProbeTime {
    fn default() -> Self {
        ProbeTime {
            prog_ns: 0,
            prog_runs: 0,
            gaps: [0; GAP_BUCKETS],
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
    }

    /// What was added since `earlier` (a value read before from the same slot).
    pub fn since(&self, earlier: &ProbeTime) -> ProbeTime {
        let mut d = ProbeTime {
            prog_ns: self.prog_ns.saturating_sub(earlier.prog_ns),
            prog_runs: self.prog_runs.saturating_sub(earlier.prog_runs),
            gaps: self.gaps,
        };
        for (a, b) in d.gaps.iter_mut().zip(earlier.gaps.iter()) {
            *a = a.saturating_sub(*b);
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
}
