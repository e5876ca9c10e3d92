//! Folding in the kernel: one write updates the stats of each line it dirties and of the object.
//!
//! Entries are shared by all CPUs. Counters use atomic adds; the writer sets (tids, CPU bitmap) use
//! plain read-modify-write: a racing update can lose an entry, but every later write by the same
//! thread or CPU puts it back, so the sets converge while the line stays hot.

use core::intrinsics::{atomic_xadd, AtomicOrdering};

use aya_ebpf::bindings::BPF_NOEXIST;
use profiler_common::{
    Counter, LineKey, LineStats, ObjectKey, ObjectStats, Writers, TRACKED_CPUS, TRACKED_TIDS,
};

use crate::maps::{bump, LINES, OBJECTS};

const EEXIST: i32 = 17;

/// One write seen by a probe.
pub struct Write {
    pub pid: u32,
    pub tid: u32,
    pub cpu: u32,
    pub now_ns: u64,
}

#[inline(always)]
fn atomic_add(counter: &mut u64, n: u64) {
    // SAFETY: `counter` points into a BPF map value, valid and 8-byte aligned. The result is
    // unused, so this is the classic BPF_XADD every kernel supports.
    unsafe { atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(counter, n) };
}

#[inline(always)]
fn note_writer(writers: &mut Writers, tid: u32, cpu: u32) {
    let bit = if cpu >= TRACKED_CPUS { TRACKED_CPUS - 1 } else { cpu };
    let word = ((bit / 64) as usize) & (writers.cpus.len() - 1);
    let mask = 1u64 << (bit % 64);
    if writers.cpus[word] & mask == 0 {
        writers.cpus[word] |= mask;
    }
    let mut free = TRACKED_TIDS;
    for i in 0..TRACKED_TIDS {
        let t = writers.tids[i];
        if t == tid {
            return;
        }
        if t == 0 && free == TRACKED_TIDS {
            free = i;
        }
    }
    if free < TRACKED_TIDS {
        writers.tids[free] = tid;
    } else {
        writers.tid_overflow = writers.tid_overflow.wrapping_add(1);
    }
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
    let stats = unsafe { &mut *stats };
    atomic_add(&mut stats.writes, 1);
    let cpu_plus1 = write.cpu + 1;
    if stats.last_cpu_plus1 != 0 && stats.last_cpu_plus1 != cpu_plus1 {
        atomic_add(&mut stats.transfers, 1);
    }
    if stats.last_tid != 0 && stats.last_tid != write.tid {
        atomic_add(&mut stats.thread_switches, 1);
    }
    stats.last_cpu_plus1 = cpu_plus1;
    stats.last_tid = write.tid;
    stats.last_ns = write.now_ns;
    note_writer(&mut stats.writers, write.tid, write.cpu);
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
    let stats = unsafe { &mut *stats };
    atomic_add(&mut stats.writes, 1);
    stats.kind = kind;
    note_writer(&mut stats.writers, write.tid, write.cpu);
}
