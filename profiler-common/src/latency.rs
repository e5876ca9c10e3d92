//! Entry-to-return latency histograms of map assigns, kept in the kernel per map.

use core::mem::size_of;

use crate::LATENCY_BUCKETS;

/// Value of `LATENCY`: entry-to-return times of one map's assigns, bucketed by [`latency_bucket`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LatencyHist {
    /// Assign counts per bucket.
    pub buckets: [u32; LATENCY_BUCKETS],
}
const _: () = assert!(size_of::<LatencyHist>() == 256);

impl Default for LatencyHist {
    fn default() -> Self {
        LatencyHist {
            buckets: [0; LATENCY_BUCKETS],
        }
    }
}

/// Bucket of a latency of `ns` nanoseconds: two per power of two (the octave and whether the
/// next bit is set), so a bucket's bounds are within a factor of 1.5 of each other.
#[inline(always)]
pub fn latency_bucket(ns: u64) -> usize {
    if ns < 2 {
        return ns as usize;
    }
    // floor(log2(ns)) by binary search: the BPF target has no count-leading-zeros instruction.
    let mut log = 0u32;
    let mut v = ns;
    let mut shift = 32u32;
    while shift > 0 {
        if v >> shift != 0 {
            v >>= shift;
            log += shift;
        }
        shift /= 2;
    }
    let half = (ns >> (log - 1)) & 1;
    let bucket = 2 * log as usize + half as usize;
    if bucket >= LATENCY_BUCKETS {
        LATENCY_BUCKETS - 1
    } else {
        bucket
    }
}

/// The largest latency (ns) that falls in `bucket`.
pub fn latency_bucket_upper(bucket: usize) -> u64 {
    if bucket < 2 {
        return bucket as u64;
    }
    let log = (bucket / 2) as u32;
    let base = 1u64 << log;
    if bucket.is_multiple_of(2) {
        base + (base >> 1) - 1
    } else {
        (base << 1) - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_buckets_are_monotonic_and_bounded() {
        let mut prev = 0;
        for ns in [
            0u64,
            1,
            2,
            3,
            4,
            5,
            6,
            7,
            8,
            100,
            1000,
            1500,
            3000,
            1 << 31,
            1 << 40,
            u64::MAX,
        ] {
            let b = latency_bucket(ns);
            assert!(b >= prev, "{ns} -> {b} after {prev}");
            assert!(b < LATENCY_BUCKETS);
            if b < LATENCY_BUCKETS - 1 {
                assert!(ns <= latency_bucket_upper(b), "{ns} above bucket {b}");
                if b > 0 {
                    assert!(ns > latency_bucket_upper(b - 1), "{ns} below bucket {b}");
                }
            }
            prev = b;
        }
        assert_eq!(latency_bucket(3000), latency_bucket(2900));
        assert_ne!(latency_bucket(3000), latency_bucket(2000));
    }
}
