//! What the kernel side is told of the overhead budget's windows: which of a target's probe
//! groups are in place and sampled (bits of [`crate::TargetConfig::flags`]), the counts made while
//! they were ([`Sampled`]), and where the read probes' hits are counted.

use crate::TARGET_SLOTS;

/// The `TARGET_HITS` counter of the read-probe hits (lookups, iteration starts and steps) of the
/// target in `slot`; each is also one of its hits and one of its entry hits.
pub const fn read_hits_counter(slot: u32) -> u32 {
    3 * TARGET_SLOTS + slot
}

/// [`crate::TargetConfig::flags`] bit: the target's read probes are attached, so the sharing model
/// runs (a write counts the readers' copies it invalidates). Without it a write still makes its
/// CPU the line's only holder, but invalidates nothing: no reader was watched.
pub const TARGET_SHARING: u8 = 1;
/// [`crate::TargetConfig::flags`] bit: the write probes' window is being sampled (all of them in place,
/// no read probe among them): their counts go to [`Sampled`] too.
pub const TARGET_SAMPLING_WRITES: u8 = 2;
/// [`crate::TargetConfig::flags`] bit: the read probes' window is being sampled.
pub const TARGET_SAMPLING_READS: u8 = 4;
/// [`crate::TargetConfig::flags`] bit: the target runs Go code, whose R14 holds the running
/// goroutine (ABIInternal): its sampled lines tell goroutines apart, not threads (a goroutine
/// moves between threads, and one thread runs many goroutines).
pub const TARGET_GO: u8 = 8;

/// The counts of a line or object made while their probes' window was being sampled
/// ([`TARGET_SAMPLING_WRITES`], [`TARGET_SAMPLING_READS`]): what the estimates scale to the whole
/// recording. Counts seen outside those windows (while probes were being attached or taken
/// off, in a window whose CPU time could not be measured) are not scaled.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sampled {
    /// Writes (count).
    pub writes: u64,
    /// Ownership transfers (count; lines only).
    pub transfers: u64,
    /// Reads: lookups and iteration steps (count).
    pub reads: u64,
    /// Remote reads (count; lines only).
    pub remote_reads: u64,
    /// Invalidations (count; lines only).
    pub invalidations: u64,
    /// Writes made while their map was growing (count; Go maps only): their share of `writes`
    /// is the steady share, where the writes seen outside the windows (a launched program's
    /// start-up fill) can hold every growth the map ever makes.
    pub growth_writes: u64,
}
const _: () = assert!(size_of::<Sampled>() == 48);
