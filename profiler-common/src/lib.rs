//! Types shared by the eBPF programs (`profiler-ebpf`) and userspace (`profiler`).
//!
//! Every type is `#[repr(C)]`, `Copy`, has explicit padding and a `const` size assertion, so the two
//! sides agree byte for byte. Map names and capacities live here too.
#![no_std]

use core::mem::size_of;

/// Bytes per cache line on the CPUs clprof supports (x86-64).
pub const CACHE_LINE_BYTES: u64 = 64;

/// Capacity of the per-line stats map (`LINES`, LRU). Older lines are evicted past it.
pub const MAX_LINES: u32 = 65_536;
/// Capacity of the per-object stats map (`OBJECTS`, LRU).
pub const MAX_OBJECTS: u32 = 32_768;
/// Capacity of the target table (`TARGETS`): processes profiled at once.
pub const MAX_TARGETS: u32 = 64;
/// Capacity of the user stack map (`STACKS`).
pub const MAX_STACKS: u32 = 8_192;
/// Size of the sampled-event ring buffer (`EVENTS`), bytes; a power of two and a page multiple.
pub const EVENTS_RING_BYTES: u32 = 4 << 20;

/// Distinct thread ids remembered exactly per line or object; more set `tid_overflow`.
pub const TRACKED_TIDS: usize = 8;
/// CPUs tracked exactly in the per-line CPU bitmap; CPUs at or above it share the last bit.
pub const TRACKED_CPUS: u32 = 256;
/// Written header fields charged per assign (classic: `flags`, `count`; swiss: `writing`, `used`).
pub const WRITTEN_FIELDS: usize = 2;

/// Names of the BPF maps, as declared in `profiler-ebpf`.
pub mod map_names {
    /// `HashMap<u32 tgid, TargetConfig>`.
    pub const TARGETS: &str = "TARGETS";
    /// `LruHashMap<LineKey, LineStats>`.
    pub const LINES: &str = "LINES";
    /// `LruHashMap<ObjectKey, ObjectStats>`.
    pub const OBJECTS: &str = "OBJECTS";
    /// `StackTrace` of sampled user stacks.
    pub const STACKS: &str = "STACKS";
    /// `RingBuf` of [`super::SampleEvent`].
    pub const EVENTS: &str = "EVENTS";
    /// `PerCpuArray<u64>` indexed by [`super::Counter`].
    pub const COUNTERS: &str = "COUNTERS";
    /// `PerCpuArray<u64>` of probe hits, indexed by `slot * ASSIGN_KINDS + kind`.
    pub const HITS: &str = "HITS";
}

/// Name of the uprobe program attached to every Go map-assign function.
pub const PROGRAM_MAP_ASSIGN: &str = "go_map_assign";

/// Which Go map-assign function a probe sits on; part of the attach cookie.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AssignKind {
    /// `runtime.mapassign` (any key type).
    Generic = 0,
    /// `runtime.mapassign_fast32` (4-byte keys).
    Fast32 = 1,
    /// `runtime.mapassign_fast64` (8-byte keys).
    Fast64 = 2,
    /// `runtime.mapassign_fast64ptr` (pointer keys).
    Fast64Ptr = 3,
    /// `runtime.mapassign_faststr` (string keys).
    FastStr = 4,
}

/// Number of [`AssignKind`] values.
pub const ASSIGN_KINDS: u32 = 5;

impl AssignKind {
    /// Every kind, in discriminant order.
    pub const ALL: [AssignKind; ASSIGN_KINDS as usize] = [
        AssignKind::Generic,
        AssignKind::Fast32,
        AssignKind::Fast64,
        AssignKind::Fast64Ptr,
        AssignKind::FastStr,
    ];

    /// The Go runtime symbol this kind is probed at.
    pub const fn symbol(self) -> &'static str {
        match self {
            AssignKind::Generic => "runtime.mapassign",
            AssignKind::Fast32 => "runtime.mapassign_fast32",
            AssignKind::Fast64 => "runtime.mapassign_fast64",
            AssignKind::Fast64Ptr => "runtime.mapassign_fast64ptr",
            AssignKind::FastStr => "runtime.mapassign_faststr",
        }
    }
}

/// Packs an attach cookie: bits 0..8 the [`AssignKind`], bits 8..16 the target slot.
pub const fn cookie(kind: AssignKind, slot: u32) -> u64 {
    (kind as u64) | ((slot as u64 & 0xff) << 8)
}

/// Unpacks a cookie made by [`cookie`] into (kind, slot).
pub const fn cookie_parts(cookie: u64) -> (u32, u32) {
    ((cookie & 0xff) as u32, ((cookie >> 8) & 0xff) as u32)
}

/// Indices into the `COUNTERS` per-CPU array.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    /// Probe hits that passed the target filter (events).
    Events = 0,
    /// Sampled events that found the ring buffer full (dropped).
    RingbufDrops = 1,
    /// Line or object stats that could not be inserted (map full / allocation failure).
    MapFull = 2,
    /// New entries created in `LINES` (compare with entries present to count LRU evictions).
    LinesCreated = 3,
    /// New entries created in `OBJECTS`.
    ObjectsCreated = 4,
    /// Sampled events whose user stack could not be stored (stack map bucket taken or full).
    StackDrops = 5,
    /// Sampled events sent through the ring buffer.
    Samples = 6,
    /// Hits whose map pointer was null (assign to a nil map panics in Go).
    NullMaps = 7,
}

/// Number of [`Counter`] values.
pub const COUNTERS: u32 = 8;

/// Per-target configuration written by userspace into `TARGETS`, keyed by tgid.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TargetConfig {
    /// Byte offset of each written header field from the map header's start (bytes).
    pub field_offset: [u16; WRITTEN_FIELDS],
    /// Size of each written header field (bytes); 0 disables the field.
    pub field_size: [u16; WRITTEN_FIELDS],
    /// Send one event in this many through the ring buffer (per CPU); 0 disables sampling.
    pub sample_every: u32,
    /// Slot of this target in the `HITS` array (0..MAX_TARGETS).
    pub slot: u32,
}
const _: () = assert!(size_of::<TargetConfig>() == 16);

/// Key of `LINES`: one 64-byte line in one process.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LineKey {
    /// Process id (tgid) owning the address space.
    pub pid: u32,
    /// Explicit padding; always 0.
    pub _pad: u32,
    /// Virtual address of the line's first byte (64-byte aligned).
    pub line: u64,
}
const _: () = assert!(size_of::<LineKey>() == 16);

/// Who wrote a line or object: exact thread ids up to [`TRACKED_TIDS`], CPUs as a bitmap.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Writers {
    /// Distinct writer thread ids (0 = empty slot).
    pub tids: [u32; TRACKED_TIDS],
    /// Writes by threads that found every slot taken by others (more than TRACKED_TIDS writers).
    pub tid_overflow: u32,
    /// Explicit padding; always 0.
    pub _pad: u32,
    /// Bit `n` set when CPU `n` wrote (CPUs >= TRACKED_CPUS set the last bit).
    pub cpus: [u64; (TRACKED_CPUS / 64) as usize],
}
const _: () = assert!(size_of::<Writers>() == 72);

/// Value of `LINES`: what happened to one cache line.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LineStats {
    /// Assigns that wrote at least one byte of this line (count).
    pub writes: u64,
    /// Writes from a CPU other than the previous writer's: cache-line ownership moves (count).
    pub transfers: u64,
    /// Writes from a thread other than the previous writer (count).
    pub thread_switches: u64,
    /// Monotonic time of the first write (ns since boot).
    pub first_ns: u64,
    /// Monotonic time of the last write (ns since boot).
    pub last_ns: u64,
    /// CPU of the last writer, plus one (0 = none yet).
    pub last_cpu_plus1: u32,
    /// Thread id of the last writer.
    pub last_tid: u32,
    /// Distinct writers.
    pub writers: Writers,
}
const _: () = assert!(size_of::<LineStats>() == 120);

/// Key of `OBJECTS`: one written object (a Go map header) in one process.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    /// Process id (tgid).
    pub pid: u32,
    /// Explicit padding; always 0.
    pub _pad: u32,
    /// Virtual address of the object's first byte.
    pub addr: u64,
}
const _: () = assert!(size_of::<ObjectKey>() == 16);

/// Value of `OBJECTS`: writes to one object.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ObjectStats {
    /// Assigns to this object (count).
    pub writes: u64,
    /// [`AssignKind`] of the probe that last wrote this object.
    pub kind: u32,
    /// Explicit padding; always 0.
    pub _pad: u32,
    /// Distinct writers.
    pub writers: Writers,
}
const _: () = assert!(size_of::<ObjectStats>() == 88);

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
}
const _: () = assert!(size_of::<SampleEvent>() == 64);

#[cfg(feature = "user")]
mod pod {
    // SAFETY: all of these are repr(C), Copy, with explicit padding and no invalid bit patterns.
    unsafe impl aya::Pod for super::TargetConfig {}
    unsafe impl aya::Pod for super::LineKey {}
    unsafe impl aya::Pod for super::LineStats {}
    unsafe impl aya::Pod for super::ObjectKey {}
    unsafe impl aya::Pod for super::ObjectStats {}
    unsafe impl aya::Pod for super::SampleEvent {}
}

/// The 64-byte line holding `addr`.
pub const fn line_of(addr: u64) -> u64 {
    addr & !(CACHE_LINE_BYTES - 1)
}

pub mod fold;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_of_aligns_down_to_64_bytes() {
        assert_eq!(line_of(0xc000014150), 0xc000014140);
        assert_eq!(line_of(0xc000014140), 0xc000014140);
        assert_eq!(line_of(0xc00001417f), 0xc000014140);
        assert_eq!(line_of(0xc000014180), 0xc000014180);
    }

    #[test]
    fn cookie_round_trips_kind_and_slot() {
        for kind in AssignKind::ALL {
            for slot in [0, 1, 63] {
                assert_eq!(cookie_parts(cookie(kind, slot)), (kind as u32, slot));
            }
        }
    }
}
