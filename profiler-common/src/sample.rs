//! The sampled events the probes send through `EVENTS`, and the bits that say what each is.

use core::mem::size_of;

use crate::WRITTEN_FIELDS;

/// [`SampleEvent::flags`]: what kind of event a sample is, as bits (a `u32` on the wire).
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SampleFlags(pub u32);

impl SampleFlags {
    /// A map write (an assign's entry) with nothing more to tell.
    pub const NONE: SampleFlags = SampleFlags(0);
    /// The entry saw another writer inside the map.
    pub const CONCURRENT: SampleFlags = SampleFlags(1);
    /// A RET-site event charging the value slot's line.
    pub const SLOT: SampleFlags = SampleFlags(2);
    /// A custom probe.
    pub const CUSTOM: SampleFlags = SampleFlags(4);
    /// A perf-event sample (L1 miss or cpu-clock); `return_addr` is 0. Perf samples are
    /// counted in the kernel (`PERF_IPS`, `LINE_IPS`) and no longer sent; the bit stays reserved
    /// so that samples saved with `--save-samples` by earlier versions read the same.
    pub const PERF: SampleFlags = SampleFlags(8);
    /// A lookup or iteration step (an access probe's read), not a write.
    pub const READ: SampleFlags = SampleFlags(16);
    /// A `runtime.makemap*` return: `object` is the new map, the stack where it was made.
    pub const MADE: SampleFlags = SampleFlags(32);

    /// Both sets of bits.
    #[inline(always)]
    pub const fn with(self, other: SampleFlags) -> SampleFlags {
        SampleFlags(self.0 | other.0)
    }

    /// Every bit of `other` is set.
    #[inline(always)]
    pub const fn contains(self, other: SampleFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Another writer was inside the map: a race.
    pub const fn is_race(self) -> bool {
        self.contains(SampleFlags::CONCURRENT)
    }

    /// A value slot's line, charged at an assign's return.
    pub const fn is_slot(self) -> bool {
        self.contains(SampleFlags::SLOT)
    }

    /// Sent by a custom probe.
    pub const fn is_custom(self) -> bool {
        self.contains(SampleFlags::CUSTOM)
    }

    /// A perf-event sample.
    pub const fn is_perf(self) -> bool {
        self.contains(SampleFlags::PERF)
    }

    /// A read (lookup or iteration step), not a write.
    pub const fn is_read(self) -> bool {
        self.contains(SampleFlags::READ)
    }

    /// The making of a map.
    pub const fn is_made(self) -> bool {
        self.contains(SampleFlags::MADE)
    }

    /// A write a probe saw at a map's assign or a custom probe: not a perf sample, not a read.
    pub const fn is_probed_write(self) -> bool {
        !self.is_perf() && !self.is_read()
    }
}

/// A sampled assign, sent through `EVENTS`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SampleEvent {
    /// Monotonic time of the assign (ns since boot).
    pub ktime_ns: u64,
    /// Process id (tgid).
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    /// CPU the assign ran on.
    pub cpu: u32,
    /// [`AssignKind`] of the probe.
    pub kind: u32,
    /// Map header address (the written object).
    pub object: u64,
    /// Lines written, first field's line then the second's (0 = none / same line).
    pub lines: [u64; WRITTEN_FIELDS],
    /// The caller's return address, read at `[rsp]`: frame-pointer unwinding at a function's first
    /// instruction skips the immediate caller, so userspace splices this in as frame 1.
    pub return_addr: u64,
    /// Id in `STACKS` of the user stack, or negative errno when it could not be stored.
    pub stack_id: i64,
    /// What kind of event it is.
    pub flags: SampleFlags,
    /// With [`SampleFlags::CONCURRENT`]: the thread already inside the map's write, else 0.
    pub other_tid: u32,
    /// With [`SampleFlags::CONCURRENT`]: that thread's entry stack when it was sampled, else
    /// negative.
    pub other_stack_id: i64,
}
const _: () = assert!(size_of::<SampleEvent>() == 80);

impl SampleEvent {
    /// The event at the start of `bytes` (a ring-buffer record or a saved stream), if whole.
    pub fn read_from(bytes: &[u8]) -> Option<SampleEvent> {
        if bytes.len() < size_of::<SampleEvent>() {
            return None;
        }
        // SAFETY: `bytes` holds at least one SampleEvent's worth of bytes, read unaligned; the
        // type is plain integers (repr(C), explicit padding), so any bit pattern is valid.
        Some(unsafe { core::ptr::read_unaligned(bytes.as_ptr().cast()) })
    }
}

#[cfg(test)]
#[path = "sample_tests.rs"]
mod tests;
