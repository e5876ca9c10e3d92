//! Folding in the kernel: one write updates the stats of each line it dirties and of the object.
//! The update itself is `profiler_common::fold` (unit-tested there); this module finds or creates
//! the map entries and supplies the atomic add.

use core::intrinsics::{atomic_xadd, AtomicOrdering};

use aya_ebpf::{bindings::BPF_NOEXIST, maps::LruHashMap};
pub use profiler_common::fold::Write;
use profiler_common::{
    fold::{record_line_write, record_object_write},
    Counter, LineKey, LineStats, ObjectKey, ObjectStats,
};

use crate::maps::{bump, LINES, OBJECTS};

const EEXIST: i32 = 17;

#[inline(always)]
fn atomic_add(counter: &mut u64, n: u64) {
    // SAFETY: `counter` points into a BPF map value, valid and 8-byte aligned. The result is
    // unused, so this is the classic BPF_XADD every kernel supports.
    unsafe { atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(counter, n) };
}

/// The value under `key`, inserted from `fresh` when absent (counting `created`); None when the
/// map could not store it (counted as `MapFull`).
#[inline(always)]
fn entry<K, V>(
    map: &LruHashMap<K, V>,
    key: &K,
    fresh: impl FnOnce() -> V,
    created: Counter,
) -> Option<*mut V> {
    if let Some(p) = map.get_ptr_mut(key) {
        return Some(p);
    }
    match map.insert(key, fresh(), BPF_NOEXIST as u64) {
        Ok(()) => {
            bump(created);
        }
        // Another CPU inserted it first.
        Err(e) if e == -EEXIST => {}
        Err(_) => {
            bump(Counter::MapFull);
            return None;
        }
    }
    let p = map.get_ptr_mut(key);
    if p.is_none() {
        bump(Counter::MapFull);
    }
    p
}

/// Charges `write` to the line at `line`; returns false when the line could not be stored.
#[inline(always)]
pub fn write_line(write: &Write, line: u64) -> bool {
    let key = LineKey {
        pid: write.pid,
        _pad: 0,
        line,
    };
    let fresh = || LineStats {
        first_ns: write.now_ns,
        ..LineStats::default()
    };
    match entry(&LINES, &key, fresh, Counter::LinesCreated) {
        // SAFETY: a live map value; concurrent writers are tolerated (see profiler_common::fold).
        Some(stats) => {
            record_line_write(unsafe { &mut *stats }, write, atomic_add);
            true
        }
        None => false,
    }
}

/// Charges `write` to the object at `addr`, written through a probe of `kind`.
#[inline(always)]
pub fn write_object(write: &Write, addr: u64, kind: u32) {
    let key = ObjectKey {
        pid: write.pid,
        _pad: 0,
        addr,
    };
    let fresh = || ObjectStats {
        kind,
        ..ObjectStats::default()
    };
    if let Some(stats) = entry(&OBJECTS, &key, fresh, Counter::ObjectsCreated) {
        // SAFETY: as in `write_line`.
        record_object_write(unsafe { &mut *stats }, write, kind, atomic_add);
    }
}
