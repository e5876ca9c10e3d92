//! Folding in the kernel: one write updates the stats of each line it dirties and of the object.
//! The update itself is `profiler_common::fold` (unit-tested there); this module finds or creates
//! the map entries and supplies the atomic add.

use core::intrinsics::{atomic_xadd, AtomicOrdering};

use aya_ebpf::bindings::BPF_NOEXIST;
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

/// Charges `write` to the line at `line`; returns false when the line could not be stored.
#[inline(always)]
pub fn write_line(write: &Write, line: u64) -> bool {
    let key = LineKey {
        pid: write.pid,
        _pad: 0,
        line,
    };
    let stats = match LINES.get_ptr_mut(&key) {
        Some(p) => p,
        None => {
            let fresh = LineStats {
                first_ns: write.now_ns,
                ..LineStats::default()
            };
            match LINES.insert(&key, &fresh, BPF_NOEXIST as u64) {
                Ok(()) => {
                    bump(Counter::LinesCreated);
                }
                Err(e) if e == -EEXIST => {}
                Err(_) => {
                    bump(Counter::MapFull);
                    return false;
                }
            }
            match LINES.get_ptr_mut(&key) {
                Some(p) => p,
                None => {
                    bump(Counter::MapFull);
                    return false;
                }
            }
        }
    };
    // SAFETY: a live map value; concurrent writers are tolerated as described in the module docs.
    record_line_write(unsafe { &mut *stats }, write, atomic_add);
    true
}

/// Charges `write` to the object at `addr`, written through a probe of `kind`.
#[inline(always)]
pub fn write_object(write: &Write, addr: u64, kind: u32) {
    let key = ObjectKey {
        pid: write.pid,
        _pad: 0,
        addr,
    };
    let stats = match OBJECTS.get_ptr_mut(&key) {
        Some(p) => p,
        None => {
            let fresh = ObjectStats {
                kind,
                ..ObjectStats::default()
            };
            match OBJECTS.insert(&key, &fresh, BPF_NOEXIST as u64) {
                Ok(()) => {
                    bump(Counter::ObjectsCreated);
                }
                Err(e) if e == -EEXIST => {}
                Err(_) => {
                    bump(Counter::MapFull);
                    return;
                }
            }
            match OBJECTS.get_ptr_mut(&key) {
                Some(p) => p,
                None => {
                    bump(Counter::MapFull);
                    return;
                }
            }
        }
    };
    // SAFETY: as in `write_line`.
    record_object_write(unsafe { &mut *stats }, write, kind, atomic_add);
}
