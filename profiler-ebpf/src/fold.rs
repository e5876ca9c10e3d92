//! Folding in the kernel: one write updates the stats of each line it dirties and of the object.
//! The update itself is `profiler_common::fold` (unit-tested there); this module finds or creates
//! the map entries and supplies the atomic add.

use core::intrinsics::{atomic_xadd, AtomicOrdering};

use aya_ebpf::{
    bindings::BPF_NOEXIST,
    helpers::{bpf_get_smp_processor_id, bpf_ktime_get_ns},
    maps::LruHashMap,
};
pub use profiler_common::fold::Write;
use profiler_common::{
    fold::{record_line_read, record_line_write, record_object_write},
    Counter, LineKey, LineStats, ObjectKey, ObjectStats, TARGET_SAMPLING_READS,
    TARGET_SAMPLING_WRITES, TARGET_SHARING, WRITTEN_FIELDS,
};

use crate::maps::{bump, LINES, OBJECTS, ZERO_LINE, ZERO_OBJECT};

const EEXIST: i32 = 17;

#[inline(always)]
pub fn atomic_add(counter: &mut u64, n: u64) {
    // SAFETY: `counter` points into a BPF map value, valid and 8-byte aligned. The result is
    // unused, so this is the classic BPF_XADD every kernel supports.
    unsafe { atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(counter, n) };
}

/// Adds one to the count under `key` in `map`, starting it at 1 where absent.
#[inline(always)]
pub fn count_one<K>(map: &LruHashMap<K, u64>, key: &K) {
    match map.get_ptr_mut(key) {
        // SAFETY: a live map value.
        Some(n) => atomic_add(unsafe { &mut *n }, 1),
        None => {
            let _ = map.insert(key, 1u64, 0);
        }
    }
}

/// The write the current thread is making now; `flags` are its target's
/// (`TargetConfig::flags`).
#[inline(always)]
pub fn current_write(pid_tgid: u64, growth: bool, concurrent: bool, flags: u8) -> Write {
    Write {
        pid: (pid_tgid >> 32) as u32,
        tid: pid_tgid as u32,
        // SAFETY: helper without side effects.
        cpu: unsafe { bpf_get_smp_processor_id() },
        // SAFETY: helper without side effects.
        now_ns: unsafe { bpf_ktime_get_ns() },
        growth: growth as u32,
        concurrent: concurrent as u32,
        sharing: u32::from(flags & TARGET_SHARING != 0),
        sampling: u32::from(flags & (TARGET_SAMPLING_WRITES | TARGET_SAMPLING_READS)),
    }
}

/// The value under `key`, inserted from `zero` when absent (counting `created`, if any), and
/// whether this call created it; None when the map could not store it (counted as `MapFull`).
/// The new value is copied from map memory: the stats are too big for the BPF stack.
#[inline(always)]
pub fn entry<K, V>(
    map: &LruHashMap<K, V>,
    key: &K,
    zero: &V,
    created: Option<Counter>,
) -> Option<(*mut V, bool)> {
    if let Some(p) = map.get_ptr_mut(key) {
        return Some((p, false));
    }
    let new = match map.insert(key, zero, BPF_NOEXIST as u64) {
        Ok(()) => {
            if let Some(created) = created {
                bump(created);
            }
            true
        }
        // Another CPU inserted it first.
        Err(e) if e == -EEXIST => false,
        Err(_) => {
            bump(Counter::MapFull);
            return None;
        }
    };
    let p = map.get_ptr_mut(key);
    if p.is_none() {
        bump(Counter::MapFull);
    }
    p.map(|p| (p, new))
}

/// The stats of the line under `key` in `map` (`LINES` or the watch maps), created at `now_ns`
/// when absent.
#[inline(always)]
pub fn line_entry<K>(
    map: &LruHashMap<K, LineStats>,
    key: &K,
    now_ns: u64,
    created: Option<Counter>,
) -> Option<*mut LineStats> {
    let zero = ZERO_LINE.get(0)?;
    let (stats, new) = entry(map, key, zero, created)?;
    if new {
        // SAFETY: a live map value, just created.
        unsafe { (*stats).first_ns = now_ns };
    }
    Some(stats)
}

/// Charges `write` to the line at `line`; returns false when the line could not be stored.
#[inline(never)]
pub fn write_line(write: &Write, line: u64) -> bool {
    let key = LineKey {
        pid: write.pid,
        _pad: 0,
        line,
    };
    match line_entry(&LINES, &key, write.now_ns, Some(Counter::LinesCreated)) {
        // SAFETY: a live map value; concurrent writers are tolerated (see profiler_common::fold).
        Some(stats) => {
            record_line_write(unsafe { &mut *stats }, write, atomic_add);
            true
        }
        None => false,
    }
}

/// Charges `write` to each nonzero line of `lines`; returns them with those that could not be
/// stored zeroed. Written out line by line: a loop would carry its index, and the verifier
/// would walk every state of one line's update once more for each state of the next.
#[inline(always)]
pub fn write_lines(write: &Write, lines: [u64; WRITTEN_FIELDS]) -> [u64; WRITTEN_FIELDS] {
    const _: () = assert!(WRITTEN_FIELDS == 2, "write_lines handles two lines");
    let first = lines[0] != 0 && write_line(write, lines[0]);
    let second = lines[1] != 0 && write_line(write, lines[1]);
    [
        if first { lines[0] } else { 0 },
        if second { lines[1] } else { 0 },
    ]
}

/// Charges a read by the thread of `read` to each nonzero line of `lines`, line by line (see
/// [`write_lines`]).
#[inline(always)]
pub fn read_lines(read: &Write, lines: [u64; WRITTEN_FIELDS]) {
    if lines[0] != 0 {
        read_line(read, lines[0]);
    }
    if lines[1] != 0 {
        read_line(read, lines[1]);
    }
}

/// Charges a read by the thread of `read` to the line at `line`; returns false when the line
/// could not be stored.
#[inline(never)]
pub fn read_line(read: &Write, line: u64) -> bool {
    let key = LineKey {
        pid: read.pid,
        _pad: 0,
        line,
    };
    match line_entry(&LINES, &key, read.now_ns, Some(Counter::LinesCreated)) {
        // SAFETY: a live map value; concurrent updates are tolerated (see profiler_common::fold).
        Some(stats) => {
            record_line_read(unsafe { &mut *stats }, read, atomic_add);
            true
        }
        None => false,
    }
}

/// The stats of the object `id` of the process of `write`, created when absent.
#[inline(always)]
pub fn object_stats(write: &Write, id: &ObjectId) -> Option<*mut ObjectStats> {
    let key = ObjectKey {
        pid: write.pid,
        _pad: 0,
        addr: id.addr,
    };
    let zero = ZERO_OBJECT.get(0)?;
    let (stats, new) = entry(&OBJECTS, &key, zero, Some(Counter::ObjectsCreated))?;
    if new {
        // SAFETY: a live map value, just created; a racing writer of the same object sets the
        // same values.
        unsafe {
            (*stats).kind = id.kind;
            (*stats).object_kind = id.object_kind;
            (*stats).type_addr = id.type_addr;
            (*stats).owner = id.owner;
        }
    }
    Some(stats)
}

/// What an object is, for [`write_object`].
pub struct ObjectId {
    /// Address of its first byte.
    pub addr: u64,
    /// Probe kind ([`profiler_common::AssignKind`] or custom).
    pub kind: u32,
    /// `OBJECT_*` constant.
    pub object_kind: u32,
    /// Go map type descriptor, 0 when unknown.
    pub type_addr: u64,
    /// For slots: the owning map header.
    pub owner: u64,
}

/// Charges `write` to an object.
#[inline(never)]
pub fn write_object(write: &Write, id: &ObjectId) {
    if let Some(stats) = object_stats(write, id) {
        // SAFETY: as in `write_line`.
        record_object_write(unsafe { &mut *stats }, write, id.kind, atomic_add);
    }
}

/// Adds one growth write to the stats of `line`, when it is stored.
#[inline(always)]
pub fn add_line_growth(pid: u32, line: u64) {
    let key = LineKey { pid, _pad: 0, line };
    if let Some(stats) = LINES.get_ptr_mut(key) {
        // SAFETY: a live map value.
        atomic_add(unsafe { &mut (*stats).growth_writes }, 1);
    }
}

/// Adds one growth write to the stats of the object at `addr`, when it is stored.
#[inline(always)]
pub fn add_object_growth(pid: u32, addr: u64) {
    let key = ObjectKey { pid, _pad: 0, addr };
    if let Some(stats) = OBJECTS.get_ptr_mut(key) {
        // SAFETY: a live map value.
        atomic_add(unsafe { &mut (*stats).growth_writes }, 1);
    }
}
