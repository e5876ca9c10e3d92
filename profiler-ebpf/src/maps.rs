//! The BPF maps shared with userspace; names and capacities come from `profiler_common`.

use aya_ebpf::{
    macros::map,
    maps::{HashMap, LruHashMap, PerCpuArray, RingBuf, StackTrace},
};
use profiler_common::{
    sampled::{
        IpOperand, LineIpKey, LineStackKey, SampledLine, MAX_IP_OPERANDS, MAX_LINE_IPS,
        MAX_LINE_STACKS, MAX_SAMPLED_LINES,
    },
    watch::{WatchSite, WatchSiteKey, WordKey, MAX_WATCH_LINES, MAX_WATCH_SITES, MAX_WATCH_WORDS},
    xol::{MAX_PROBE_STEPS, MAX_PROBE_THREADS},
    Counter, Inflight, InflightKey, IpKey, LatencyHist, LineKey, LineStats, MapWriter, ObjectKey,
    ObjectStats, ProbeHit, ProbeTime, StepKey, TargetConfig, EVENTS_RING_BYTES, MAX_INFLIGHT,
    MAX_LINES, MAX_OBJECTS, MAX_PERF_IPS, MAX_PROBES, MAX_STACKS, MAX_TARGETS, TARGET_COUNTERS,
    TARGET_SLOTS,
};

#[map]
pub static TARGETS: HashMap<u32, TargetConfig> = HashMap::with_max_entries(MAX_TARGETS, 0);

#[map]
pub static LINES: LruHashMap<LineKey, LineStats> = LruHashMap::with_max_entries(MAX_LINES, 0);

#[map]
pub static OBJECTS: LruHashMap<ObjectKey, ObjectStats> =
    LruHashMap::with_max_entries(MAX_OBJECTS, 0);

#[map]
pub static STACKS: StackTrace = StackTrace::with_max_entries(MAX_STACKS, 0);

#[map]
pub static EVENTS: RingBuf = RingBuf::with_byte_size(EVENTS_RING_BYTES, 0);

#[map]
pub static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(COUNTERS_LEN, 0);

#[map]
pub static HITS: PerCpuArray<u64> = PerCpuArray::with_max_entries(MAX_PROBES, 0);

#[map]
pub static TARGET_HITS: PerCpuArray<u64> = PerCpuArray::with_max_entries(TARGET_COUNTERS, 0);

#[map]
pub static INFLIGHT: LruHashMap<InflightKey, Inflight> =
    LruHashMap::with_max_entries(MAX_INFLIGHT, 0);

#[map]
pub static MAP_WRITERS: LruHashMap<ObjectKey, MapWriter> =
    LruHashMap::with_max_entries(MAX_OBJECTS, 0);

/// The thread inside a write of the map `key` when its writer flag is set (`writing`). Read as
/// soon as the flag is: the writer leaves (its RET removes the entry) microseconds after
/// clearing it.
#[inline(always)]
pub fn writer_inside(key: &ObjectKey, writing: bool) -> Option<MapWriter> {
    if !writing {
        return None;
    }
    // SAFETY: read-only lookup, copied out at once.
    unsafe { MAP_WRITERS.get(key) }.copied()
}

#[map]
pub static LATENCY: LruHashMap<ObjectKey, LatencyHist> =
    LruHashMap::with_max_entries(MAX_OBJECTS, 0);

#[map]
pub static PERF_IPS: LruHashMap<IpKey, u64> = LruHashMap::with_max_entries(MAX_PERF_IPS, 0);

/// The data access behind a sample at each IP, filled by userspace (see `profiler_common::sampled`).
#[map]
pub static IP_OPERANDS: LruHashMap<IpKey, IpOperand> =
    LruHashMap::with_max_entries(MAX_IP_OPERANDS, 0);

/// Samples per line, from their data addresses.
#[map]
pub static SAMPLED_LINES: LruHashMap<LineKey, SampledLine> =
    LruHashMap::with_max_entries(MAX_SAMPLED_LINES, 0);

/// Samples per line and sampled instruction, from their data addresses.
#[map]
pub static LINE_IPS: LruHashMap<LineIpKey, u64> = LruHashMap::with_max_entries(MAX_LINE_IPS, 0);

/// Samples per line and user stack, for the samples that took one.
#[map]
pub static LINE_STACKS: LruHashMap<LineStackKey, u64> =
    LruHashMap::with_max_entries(MAX_LINE_STACKS, 0);

#[map]
pub static LAST_PROBE: LruHashMap<u32, ProbeHit> =
    LruHashMap::with_max_entries(MAX_PROBE_THREADS, 0);

#[map]
pub static PROBE_STEPS: LruHashMap<StepKey, u64> = LruHashMap::with_max_entries(MAX_PROBE_STEPS, 0);

#[map]
pub static PROBE_TIME: PerCpuArray<ProbeTime> = PerCpuArray::with_max_entries(TARGET_SLOTS, 0);

#[map]
pub static WATCH_WORDS: LruHashMap<WordKey, LineStats> =
    LruHashMap::with_max_entries(MAX_WATCH_WORDS, 0);

#[map]
pub static WATCH_LINES: LruHashMap<LineKey, LineStats> =
    LruHashMap::with_max_entries(MAX_WATCH_LINES, 0);

#[map]
pub static WATCH_SITES: LruHashMap<WatchSiteKey, WatchSite> =
    LruHashMap::with_max_entries(MAX_WATCH_SITES, 0);

/// One all-zero histogram: the template new `LATENCY` entries are inserted from (a 256-byte
/// value does not belong on the 512-byte BPF stack).
#[map]
pub static ZERO_HIST: PerCpuArray<LatencyHist> = PerCpuArray::with_max_entries(1, 0);

/// Zeroed line stats, never written: what a new line starts from (too big for the BPF stack).
#[map]
pub static ZERO_LINE: PerCpuArray<LineStats> = PerCpuArray::with_max_entries(1, 0);

/// Zeroed object stats, never written: what a new object starts from.
#[map]
pub static ZERO_OBJECT: PerCpuArray<ObjectStats> = PerCpuArray::with_max_entries(1, 0);

/// Zeroed sampled-line stats, never written: what a new sampled line starts from.
#[map]
pub static ZERO_SAMPLED: PerCpuArray<SampledLine> = PerCpuArray::with_max_entries(1, 0);

const COUNTERS_LEN: u32 = profiler_common::COUNTERS;

/// Adds one to a per-CPU counter and returns this CPU's new value (0 if the slot is missing).
#[inline(always)]
pub fn bump(counter: Counter) -> u64 {
    bump_index(&COUNTERS, counter as u32)
}

/// Counts one uprobe hit of the target in `slot`.
#[inline(always)]
pub fn bump_target(slot: u16) {
    bump_index(&TARGET_HITS, slot as u32);
}

/// Counts one uprobe hit of the target in `slot` from a program that observes (an entry).
#[inline(always)]
pub fn bump_target_entry(slot: u16) {
    bump_index(&TARGET_HITS, slot as u32);
    bump_index(&TARGET_HITS, TARGET_SLOTS + slot as u32);
}

/// Books one program run of the target in `slot`, from `start_ns` to now, and, from a RET
/// program, the gap since its assign's entry program ended (ns); returns now (ns).
#[inline(always)]
pub fn time_program(slot: u16, start_ns: u64, gap: Option<Gap>) -> u64 {
    // SAFETY: reads the monotonic clock.
    let now = unsafe { aya_ebpf::helpers::bpf_ktime_get_ns() };
    if let Some(t) = PROBE_TIME.get_ptr_mut(slot as u32) {
        // SAFETY: per-CPU slot, only this CPU touches it while the program runs.
        unsafe {
            (*t).prog_ns += now.saturating_sub(start_ns);
            (*t).prog_runs += 1;
            if let Some(gap) = gap {
                (*t).add_gap(gap.ns, gap.watched);
            }
        }
    }
    now
}

/// An assign's entry-end-to-RET-start gap, and the watchpoint hits in it.
#[derive(Clone, Copy)]
pub struct Gap {
    pub ns: u64,
    pub watched: u16,
}

/// Adds one to `array[index]` on this CPU and returns the new value.
#[inline(always)]
pub fn bump_index(array: &PerCpuArray<u64>, index: u32) -> u64 {
    match array.get_ptr_mut(index) {
        // SAFETY: per-CPU slot, only this CPU touches it while the program runs (no preemption).
        Some(slot) => unsafe {
            *slot += 1;
            *slot
        },
        None => 0,
    }
}
