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
/// Target slots: one per target plus [`CALIBRATION_SLOT`].
pub const TARGET_SLOTS: u32 = MAX_TARGETS + 1;
/// Counters of `TARGET_HITS`: slot `s` counts every uprobe hit of the target in slot `s` (what
/// the budget meters), slot `TARGET_SLOTS + s` its entry hits, the ones that observe (an assign
/// or a custom probe: what every observed count is in proportion to), and slot
/// `2 * TARGET_SLOTS + s` its watchpoint hits ([`watch::watch_hits_counter`]), slot
/// `3 * TARGET_SLOTS + s` the hits of its read probes ([`read_hits_counter`]: lookups and
/// iteration, metered apart by the budget).
pub const TARGET_COUNTERS: u32 = 4 * TARGET_SLOTS;

/// The `TARGET_HITS` slot of clprof's own calibration probe.
pub const CALIBRATION_SLOT: u16 = MAX_TARGETS as u16;
/// Capacity of the user stack map (`STACKS`).
pub const MAX_STACKS: u32 = 8_192;
/// Size of the sampled-event ring buffer (`EVENTS`), bytes; a power of two and a page multiple.
pub const EVENTS_RING_BYTES: u32 = 4 << 20;

/// Distinct thread ids remembered exactly per line or object; more set `tid_overflow`.
pub const TRACKED_TIDS: usize = 8;
/// Bits of the per-line (and per-object) writer-thread sketch, [`Writers::tid_sketch`]: a
/// linear-counting bitmap that estimates how many distinct threads wrote beyond [`TRACKED_TIDS`].
/// A power of two, so a hash picks a bit with a mask.
pub const TID_SKETCH_BITS: u32 = 256;
/// CPUs tracked exactly in the per-line CPU bitmap; CPUs at or above it share the last bit.
pub const TRACKED_CPUS: u32 = 256;
/// Written header fields charged per assign (classic: `flags`, `count`; swiss: `writing`, `used`).
pub const WRITTEN_FIELDS: usize = 2;
/// Capacity of the `HITS` array: probe sites (one per attached function, any target).
pub const MAX_PROBES: u32 = 4_095;
/// Probe id meaning "count no hits" (RET sites, growth functions).
pub const NO_PROBE_ID: u32 = MAX_PROBES;
/// Assigns in flight at once (entry seen, RET not yet), per goroutine.
pub const MAX_INFLIGHT: u32 = 16_384;
/// "No such field" in [`TargetConfig`] offsets.
pub const NO_FIELD: u16 = u16::MAX;
/// Buckets of a [`LatencyHist`]: two per power of two of nanoseconds, up to 2^32 ns.
pub const LATENCY_BUCKETS: usize = 64;

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
    /// `PerCpuArray<u64>` of probe hits, indexed by probe id (see [`super::Cookie`]).
    pub const HITS: &str = "HITS";
    /// `PerCpuArray<u64>` of uprobe hits per target, indexed by `TargetConfig::slot`.
    pub const TARGET_HITS: &str = "TARGET_HITS";
    /// `LruHashMap<InflightKey, Inflight>`: assigns between entry and RET.
    pub const INFLIGHT: &str = "INFLIGHT";
    /// `LruHashMap<ObjectKey, MapWriter>`: the last thread that entered an assign on a map.
    pub const MAP_WRITERS: &str = "MAP_WRITERS";
    /// `LruHashMap<ObjectKey, LatencyHist>`: entry-to-return latency per map.
    pub const LATENCY: &str = "LATENCY";
    /// `LruHashMap<IpKey, u64>`: perf samples per user instruction address.
    pub const PERF_IPS: &str = "PERF_IPS";
    /// `LruHashMap<u32 tid, ProbeHit>`: the probe site each thread hit last.
    pub const LAST_PROBE: &str = "LAST_PROBE";
    /// `LruHashMap<StepKey, u64>`: perf samples of threads single-stepping a probed instruction.
    pub const PROBE_STEPS: &str = "PROBE_STEPS";
    /// `PerCpuArray<ProbeTime>` per target slot: what the target's probe hits cost it.
    pub const PROBE_TIME: &str = "PROBE_TIME";
    /// `LruHashMap<WordKey, LineStats>`: writes to each watched word.
    pub const WATCH_WORDS: &str = "WATCH_WORDS";
    /// `LruHashMap<LineKey, LineStats>`: writes to watched words, per line.
    pub const WATCH_LINES: &str = "WATCH_LINES";
    /// `LruHashMap<WatchSiteKey, WatchSite>`: the instructions that wrote each watched word.
    pub const WATCH_SITES: &str = "WATCH_SITES";
    /// `LruHashMap<IpKey, IpOperand>`: the data access a sample at each IP stands for (see
    /// [`super::sampled`]).
    pub const IP_OPERANDS: &str = "IP_OPERANDS";
    /// `LruHashMap<LineKey, SampledLine>`: samples per line, from their data addresses.
    pub const SAMPLED_LINES: &str = "SAMPLED_LINES";
    /// `LruHashMap<LineIpKey, u64>`: samples per line and sampled instruction.
    pub const LINE_IPS: &str = "LINE_IPS";
    /// `LruHashMap<LineStackKey, u64>`: samples per line and user stack, for the samples that
    /// took one.
    pub const LINE_STACKS: &str = "LINE_STACKS";
}

/// Name of the uprobe program attached to every Go map-assign function's entry.
pub const PROGRAM_MAP_ASSIGN: &str = "go_map_assign";
/// Name of the uprobe program attached to every RET instruction of the map-assign functions.
pub const PROGRAM_MAP_ASSIGN_RET: &str = "go_map_assign_ret";
/// Name of the uprobe program attached to the entry of the other Go map functions: lookups,
/// iteration, deletes and `clear` ([`access::AccessKind`]).
pub const PROGRAM_MAP_ACCESS: &str = "go_map_access";
/// Name of the uprobe program attached to the Go runtime's map growth functions.
pub const PROGRAM_MAP_GROW: &str = "go_map_grow";
/// Name of the uprobe program attached to every RET instruction of `runtime.makemap*`.
pub const PROGRAM_MAP_MAKE: &str = "go_map_make";
/// Name of the perf_event program fed by clprof's own perf events (L1 miss or cpu-clock).
pub const PROGRAM_PERF_SAMPLE: &str = "perf_sample";
/// Capacity of `PERF_IPS`.
pub const MAX_PERF_IPS: u32 = 32_768;

/// Name of the uprobe program for `--probe BIN:SYMBOL:REG[+OFF]`.
pub const PROGRAM_CUSTOM: &str = "custom_probe";

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

/// Kind of a custom probe in a cookie (after the [`AssignKind`] values).
pub const CUSTOM_KIND: u32 = ASSIGN_KINDS;

/// What a probe's attach cookie tells its program: bits 0..8 the kind ([`AssignKind`] or
/// [`CUSTOM_KIND`]), 8..20 the probe id (index in `HITS`), 20..28 the register (custom probes,
/// see [`Register`]), 32..64 the signed byte offset added to it (custom probes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cookie {
    /// Probe kind.
    pub kind: u32,
    /// Index in `HITS`, or [`NO_PROBE_ID`].
    pub probe_id: u32,
    /// Register holding the written pointer (custom probes).
    pub register: u32,
    /// Offset added to the register (bytes; custom probes).
    pub offset: i32,
}

impl Cookie {
    /// A cookie for a map-assign site.
    pub const fn assign(kind: AssignKind, probe_id: u32) -> Self {
        Cookie {
            kind: kind as u32,
            probe_id,
            register: 0,
            offset: 0,
        }
    }

    /// Packs into the 64-bit cookie.
    pub const fn pack(self) -> u64 {
        (self.kind as u64 & 0xff)
            | ((self.probe_id as u64 & 0xfff) << 8)
            | ((self.register as u64 & 0xff) << 20)
            | ((self.offset as u32 as u64) << 32)
    }

    /// Unpacks a cookie made by [`Cookie::pack`].
    pub const fn unpack(cookie: u64) -> Self {
        Cookie {
            kind: (cookie & 0xff) as u32,
            probe_id: ((cookie >> 8) & 0xfff) as u32,
            register: ((cookie >> 20) & 0xff) as u32,
            offset: (cookie >> 32) as u32 as i32,
        }
    }
}

/// Registers a custom probe can read, by index (x86-64).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Register {
    Rax = 0,
    Rbx = 1,
    Rcx = 2,
    Rdx = 3,
    Rsi = 4,
    Rdi = 5,
    Rbp = 6,
    Rsp = 7,
    R8 = 8,
    R9 = 9,
    R10 = 10,
    R11 = 11,
    R12 = 12,
    R13 = 13,
    R14 = 14,
    R15 = 15,
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
    /// RET hits with no matching entry (entry evicted, or the assign began before attaching).
    UnmatchedReturns = 8,
    /// Entries that could not be remembered for their RET (`INFLIGHT` insert failed).
    InflightDrops = 9,
    /// Perf samples taken in a target process.
    PerfSamples = 10,
    /// Of those, samples with a data address (PEBS / IBS).
    PerfAddrSamples = 11,
    /// Watchpoint hits in a target process (writes to a watched word).
    WatchHits = 12,
    /// Watchpoint hits in processes that are not targets (same address, other process).
    WatchOtherHits = 13,
    /// Hits of the access probes (map reads, iteration, deletes, clears) in target processes.
    Accesses = 14,
    /// Perf samples whose data address was computed from the decoded operand at their IP.
    OperandSamples = 15,
    /// Perf samples at an IP userspace had not decoded yet (counted by IP only).
    UndecodedSamples = 16,
}

/// Number of [`Counter`] values.
pub const COUNTERS: u32 = 17;

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
    /// Offset of the header's writer flag (classic `flags`, swiss `writing`), or [`NO_FIELD`].
    pub writing_offset: u16,
    /// Bits of the writer flag that mean "a writer is inside" (classic hashWriting = 4).
    pub writing_mask: u8,
    /// [`TARGET_SHARING`], or 0.
    pub flags: u8,
    /// Offset of the pointer that is non-nil while the map grows (classic `oldbuckets`), or
    /// [`NO_FIELD`] (swiss maps grow inside one assign; see the growth probes).
    pub growth_offset: u16,
    /// Index of this target's counter in `TARGET_HITS` (below [`TARGET_SLOTS`]): every uprobe hit
    /// of the target adds one there, which is what the overhead budget meters.
    pub slot: u16,
    /// Explicit padding; always 0.
    pub _pad2: u32,
    /// First address of the process's `[uprobes]` page (the XOL area where probed instructions
    /// are single-stepped; see [`xol`]); 0 when unknown.
    pub xol_start: u64,
    /// End of that area (exclusive); 0 when unknown, and then no sample is taken as a step.
    pub xol_end: u64,
}
const _: () = assert!(size_of::<TargetConfig>() == 40);

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

/// Who wrote a line or object: exact thread ids up to [`TRACKED_TIDS`], a sketch estimating the
/// number of distinct writer threads beyond that, CPUs as a bitmap.
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
    /// Linear-counting sketch of the writer thread ids, [`TID_SKETCH_BITS`] bits: every write sets
    /// bit `fold::tid_sketch_bit(tid)` (bit `n` is bit `n % 64` of word `n / 64`). The fraction
    /// of bits still clear estimates the number of distinct writers, see
    /// [`Writers::estimated_threads`]. Set by all writers, the exactly tracked ones included.
    pub tid_sketch: [u64; (TID_SKETCH_BITS / 64) as usize],
}
const _: () = assert!(size_of::<Writers>() == 104);

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
    /// Assigns that started while their map was growing, or that grew it (count).
    pub growth_writes: u64,
    /// Assigns that found another writer inside the same map (count).
    pub concurrent_writers: u64,
    /// Hardware L1-miss samples whose data address fell in this line (count).
    pub l1_miss_samples: u64,
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
    /// Reads of this line by the access probes: map lookups and iteration steps (count).
    pub reads: u64,
    /// Reads from a CPU that did not hold the line's current version while another CPU did: the
    /// line came from another cache (the software analogue of a load HITM; count).
    pub remote_reads: u64,
    /// Copies held by CPUs other than the writer and the previous writer that a write destroyed
    /// (readers' copies; count).
    pub invalidations: u64,
    /// CPUs holding the line's current version: the last writer and the readers since (bit `n`
    /// is CPU `n`; CPUs >= TRACKED_CPUS share the last bit).
    pub holders: [u64; (TRACKED_CPUS / 64) as usize],
    /// Distinct readers.
    pub readers: Writers,
    /// The counts above made inside sampled windows.
    pub sampled: Sampled,
}
const _: () = assert!(size_of::<LineStats>() == 384);

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

/// [`ObjectStats::object_kind`]: a Go map header.
pub const OBJECT_GO_MAP: u32 = 0;
/// [`ObjectStats::object_kind`]: a value slot returned by a map assign.
pub const OBJECT_GO_MAP_SLOT: u32 = 1;
/// [`ObjectStats::object_kind`]: a pointer named by `--probe`.
pub const OBJECT_CUSTOM: u32 = 2;

/// Value of `OBJECTS`: writes to one object.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ObjectStats {
    /// Writes to this object (count).
    pub writes: u64,
    /// Assigns that started while the map was growing, or that grew it (count).
    pub growth_writes: u64,
    /// Assigns that found another writer inside the map (count).
    pub concurrent_writers: u64,
    /// Go map type descriptor (RAX at the assign), 0 when unknown.
    pub type_addr: u64,
    /// For slots: the map header the slot belongs to; else 0.
    pub owner: u64,
    /// Perf samples (L1 miss or cpu-clock) taken while an assign on this map ran (count).
    pub perf_samples: u64,
    /// [`AssignKind`] (or [`CUSTOM_KIND`]) of the probe that last wrote this object.
    pub kind: u32,
    /// [`OBJECT_GO_MAP`], [`OBJECT_GO_MAP_SLOT`] or [`OBJECT_CUSTOM`].
    pub object_kind: u32,
    /// Distinct writers.
    pub writers: Writers,
    /// Lookups (`mapaccess*`; count).
    pub reads: u64,
    /// `range` loops started (count).
    pub iterations: u64,
    /// Deletes (count).
    pub deletes: u64,
    /// `clear`s (count).
    pub clears: u64,
    /// Lookups and iteration steps that found a writer inside the map (count).
    pub read_races: u64,
    /// The writes and lookups above made inside sampled windows.
    pub sampled: Sampled,
}
const _: () = assert!(size_of::<ObjectStats>() == 248);

/// Key of `PERF_IPS`: one user instruction address in one process.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct IpKey {
    /// Process id (tgid).
    pub pid: u32,
    /// Explicit padding; always 0.
    pub _pad: u32,
    /// Sampled instruction address (runtime, not bias-adjusted).
    pub ip: u64,
}
const _: () = assert!(size_of::<IpKey>() == 16);

/// Key of `INFLIGHT`: one goroutine of one process. Go keeps the running goroutine's `g` in R14
/// (ABIInternal), which survives stack moves and goroutine migration between threads.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct InflightKey {
    /// Process id (tgid).
    pub pid: u32,
    /// Explicit padding; always 0.
    pub _pad: u32,
    /// The goroutine's `g` pointer.
    pub g: u64,
}
const _: () = assert!(size_of::<InflightKey>() == 16);

/// Value of `INFLIGHT`: an assign between its entry and its RET.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Inflight {
    /// Map header address.
    pub map: u64,
    /// Monotonic time of the entry (ns since boot).
    pub start_ns: u64,
    /// Monotonic time the entry program finished (ns since boot).
    pub end_ns: u64,
    /// Header lines the entry charged (0 = none).
    pub lines: [u64; WRITTEN_FIELDS],
    /// Stack id of the entry when it was sampled, else negative.
    pub stack_id: i64,
    /// The caller's return address when sampled, else 0.
    pub return_addr: u64,
    /// [`AssignKind`] of the entry probe.
    pub kind: u32,
    /// Nonzero once a growth function ran inside this assign (2: the map was growing at entry).
    pub grew: u16,
    /// Watchpoint hits inside this assign (count, saturating): their traps lie in the gap,
    /// timed apart then ([`ProbeTime::watched_gap_ns`]: what a watchpoint hit costs).
    pub watched: u16,
}
const _: () = assert!(size_of::<Inflight>() == 64);

/// Value of `MAP_WRITERS`: who last entered an assign on a map.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MapWriter {
    /// Thread id.
    pub tid: u32,
    /// Explicit padding; always 0.
    pub _pad: u32,
    /// Stack id of that entry when it was sampled, else negative.
    pub stack_id: i64,
}
const _: () = assert!(size_of::<MapWriter>() == 16);

#[cfg(feature = "user")]
mod pod {
    // SAFETY: all of these are repr(C), Copy, with explicit padding and no invalid bit patterns.
    unsafe impl aya::Pod for super::TargetConfig {}
    unsafe impl aya::Pod for super::LineKey {}
    unsafe impl aya::Pod for super::LineStats {}
    unsafe impl aya::Pod for super::ObjectKey {}
    unsafe impl aya::Pod for super::ObjectStats {}
    unsafe impl aya::Pod for super::SampleEvent {}
    unsafe impl aya::Pod for super::InflightKey {}
    unsafe impl aya::Pod for super::Inflight {}
    unsafe impl aya::Pod for super::MapWriter {}
    unsafe impl aya::Pod for super::LatencyHist {}
    unsafe impl aya::Pod for super::IpKey {}
    unsafe impl aya::Pod for super::ProbeHit {}
    unsafe impl aya::Pod for super::StepKey {}
    unsafe impl aya::Pod for super::ProbeTime {}
    unsafe impl aya::Pod for super::watch::WordKey {}
    unsafe impl aya::Pod for super::watch::WatchSiteKey {}
    unsafe impl aya::Pod for super::watch::WatchSite {}
    unsafe impl aya::Pod for super::operand::DataOperand {}
    unsafe impl aya::Pod for super::sampled::IpOperand {}
    unsafe impl aya::Pod for super::sampled::SampledLine {}
    unsafe impl aya::Pod for super::sampled::LineIpKey {}
    unsafe impl aya::Pod for super::sampled::LineStackKey {}
}

/// The 64-byte line holding `addr`.
pub const fn line_of(addr: u64) -> u64 {
    addr & !(CACHE_LINE_BYTES - 1)
}

pub mod access;
pub mod fold;
mod latency;
pub mod operand;
pub mod probe_time;
pub mod process;
mod sample;
pub mod sampled;
pub mod watch;
pub mod windows;
pub mod xol;

pub use latency::{latency_bucket, latency_bucket_upper, LatencyHist};
pub use probe_time::{gap_bucket, ProbeTime, GAP_BUCKETS, GAP_BUCKET_NS};
pub use sample::{SampleEvent, SampleFlags};
pub use windows::{
    read_hits_counter, Sampled, TARGET_GO, TARGET_SAMPLING_READS, TARGET_SAMPLING_WRITES,
    TARGET_SHARING,
};
pub use xol::{ProbeHit, StepKey};
#[cfg(test)]
#[path = "lib_tests.rs"]
mod tests;
