//! Perf samples taken while a thread single-steps a probed instruction out of line.
//!
//! A uprobe hit runs clprof's program, then the kernel executes the probed instruction from a
//! slot of the process's `[uprobes]` page (the XOL area) with the trap flag set, and moves the
//! thread back. A perf sample that lands there is probe overhead, not the target's own code.
//! Every uprobe program remembers, per thread, the probe site it ran for (`LAST_PROBE`); the perf
//! program, finding a sample's IP in the XOL area (`TargetConfig::xol_start..xol_end`), counts
//! it for that site (`PROBE_STEPS`) instead of by instruction address. A thread is in the XOL
//! area only between a uprobe hit and the next instruction, so the site it last hit is the one
//! being stepped.

use core::mem::size_of;

use crate::CUSTOM_KIND;

/// Kind of the growth-function probes in [`ProbeHit::kind`] (after [`CUSTOM_KIND`]).
pub const GROW_KIND: u32 = CUSTOM_KIND + 1;
/// [`StepKey::kind`] of a sample in the XOL area whose thread has no [`ProbeHit`] on record
/// (evicted, or a probe that is not clprof's); its `site` is 0.
pub const UNKNOWN_STEP_KIND: u32 = u32::MAX;
/// Capacity of `LAST_PROBE` (LRU): threads remembered at once.
pub const MAX_PROBE_THREADS: u32 = 16_384;
/// Capacity of `PROBE_STEPS` (LRU): distinct (process, probe site) pairs.
pub const MAX_PROBE_STEPS: u32 = 4_096;

/// Value of `LAST_PROBE`, keyed by thread id: the probe site the thread hit last.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProbeHit {
    /// Runtime address of the probed instruction (the IP the uprobe program saw).
    pub site: u64,
    /// Process id (tgid) of the thread.
    pub pid: u32,
    /// What is probed there: an `AssignKind` value (entry or RET site), [`CUSTOM_KIND`] or
    /// [`GROW_KIND`].
    pub kind: u32,
}
const _: () = assert!(size_of::<ProbeHit>() == 16);

/// Key of `PROBE_STEPS` (value: sample count): perf samples that found a thread of `pid`
/// single-stepping the instruction probed at `site`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StepKey {
    /// Process id (tgid).
    pub pid: u32,
    /// [`ProbeHit::kind`] of the site, or [`UNKNOWN_STEP_KIND`].
    pub kind: u32,
    /// Runtime address of the probed instruction; 0 with [`UNKNOWN_STEP_KIND`].
    pub site: u64,
}
const _: () = assert!(size_of::<StepKey>() == 16);

/// Whether `ip` lies in the XOL area `[start, end)`; an empty area (`end == 0`) holds nothing.
#[inline(always)]
pub const fn in_xol_area(ip: u64, start: u64, end: u64) -> bool {
    end != 0 && ip >= start && ip < end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xol_area_bounds() {
        let (start, end) = (0x7fff_ffff_e000, 0x7fff_ffff_f000);
        assert!(in_xol_area(0x7fff_ffff_e080, start, end));
        assert!(in_xol_area(start, start, end));
        assert!(!in_xol_area(end, start, end));
        assert!(!in_xol_area(0x4a_0000, start, end));
        assert!(!in_xol_area(0, 0, 0), "an unknown area holds nothing");
    }
}
