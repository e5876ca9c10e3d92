//! The per-write update of line and object statistics, shared by the eBPF programs (which run it
//! on BPF map values) and by userspace tests.
//!
//! Entries are shared by all CPUs. Counters go through `add`, an atomic add in the kernel; the
//! writer sets (tids, CPU bitmap) and the last-writer fields use plain read-modify-write: a racing
//! update can lose a set entry, but every later write by the same thread or CPU puts it back, so
//! the sets converge while the line stays hot.

use crate::{LineStats, ObjectStats, Writers, TRACKED_CPUS, TRACKED_TIDS};

/// One write seen by a probe.
#[derive(Clone, Copy, Debug)]
pub struct Write {
    /// Process id (tgid).
    pub pid: u32,
    /// Thread id of the writer.
    pub tid: u32,
    /// CPU the write ran on.
    pub cpu: u32,
    /// Monotonic time of the write (ns since boot).
    pub now_ns: u64,
    /// 1 when the assign started while its map was growing (or grew it), else 0.
    pub growth: u32,
    /// 1 when the assign found another writer inside the same map, else 0.
    pub concurrent: u32,
}

/// Adds `tid` and `cpu` to a writer set.
#[inline(always)]
pub fn note_writer(writers: &mut Writers, tid: u32, cpu: u32) {
    let bit = if cpu >= TRACKED_CPUS {
        TRACKED_CPUS - 1
    } else {
        cpu
    };
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

/// Charges one write to a line: counts it, and counts an ownership transfer when the previous
/// write came from another CPU (the line had to move between caches).
#[inline(always)]
pub fn record_line_write(stats: &mut LineStats, write: &Write, add: impl Fn(&mut u64, u64)) {
    add(&mut stats.writes, 1);
    let cpu_plus1 = write.cpu + 1;
    if stats.last_cpu_plus1 != 0 && stats.last_cpu_plus1 != cpu_plus1 {
        add(&mut stats.transfers, 1);
    }
    if stats.last_tid != 0 && stats.last_tid != write.tid {
        add(&mut stats.thread_switches, 1);
    }
    if write.growth != 0 {
        add(&mut stats.growth_writes, 1);
    }
    if write.concurrent != 0 {
        add(&mut stats.concurrent_writers, 1);
    }
    stats.last_cpu_plus1 = cpu_plus1;
    stats.last_tid = write.tid;
    stats.last_ns = write.now_ns;
    note_writer(&mut stats.writers, write.tid, write.cpu);
}

/// Charges one write to an object through a probe of `kind`.
#[inline(always)]
pub fn record_object_write(
    stats: &mut ObjectStats,
    write: &Write,
    kind: u32,
    add: impl Fn(&mut u64, u64),
) {
    add(&mut stats.writes, 1);
    if write.growth != 0 {
        add(&mut stats.growth_writes, 1);
    }
    if write.concurrent != 0 {
        add(&mut stats.concurrent_writers, 1);
    }
    stats.kind = kind;
    note_writer(&mut stats.writers, write.tid, write.cpu);
}

impl Writers {
    /// Distinct thread ids recorded (exact when [`Writers::tids_exact`]).
    pub fn thread_count(&self) -> u32 {
        self.tids.iter().filter(|&&t| t != 0).count() as u32
    }

    /// False when more than [`TRACKED_TIDS`] threads wrote and some were not recorded.
    pub fn tids_exact(&self) -> bool {
        self.tid_overflow == 0
    }

    /// Distinct CPUs that wrote.
    pub fn cpu_count(&self) -> u32 {
        self.cpus.iter().map(|w| w.count_ones()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain_add(v: &mut u64, n: u64) {
        *v += n;
    }

    fn write(tid: u32, cpu: u32) -> Write {
        Write {
            pid: 1,
            tid,
            cpu,
            now_ns: 0,
            growth: 0,
            concurrent: 0,
        }
    }

    fn replay(writes: &[(u32, u32)]) -> LineStats {
        let mut stats = LineStats::default();
        for &(tid, cpu) in writes {
            record_line_write(&mut stats, &write(tid, cpu), plain_add);
        }
        stats
    }

    #[test]
    fn writes_from_one_cpu_never_transfer() {
        let stats = replay(&[(10, 3), (10, 3), (11, 3), (10, 3)]);
        assert_eq!(stats.writes, 4);
        assert_eq!(stats.transfers, 0);
        assert_eq!(stats.thread_switches, 2);
        assert_eq!(stats.writers.thread_count(), 2);
        assert_eq!(stats.writers.cpu_count(), 1);
    }

    #[test]
    fn each_change_of_cpu_is_one_transfer() {
        // cpu 0 -> 1 -> 1 -> 0 -> 2: three moves of the line.
        let stats = replay(&[(10, 0), (11, 1), (11, 1), (10, 0), (12, 2)]);
        assert_eq!(stats.writes, 5);
        assert_eq!(stats.transfers, 3);
        assert_eq!(stats.writers.thread_count(), 3);
        assert_eq!(stats.writers.cpu_count(), 3);
        assert_eq!(stats.last_tid, 12);
        assert_eq!(stats.last_cpu_plus1, 3);
    }

    #[test]
    fn cpu_zero_first_write_is_not_a_transfer() {
        let stats = replay(&[(10, 0)]);
        assert_eq!(stats.transfers, 0);
        assert_eq!(stats.last_cpu_plus1, 1);
    }

    #[test]
    fn threads_are_exact_up_to_the_bound_then_flagged() {
        let writes: [(u32, u32); TRACKED_TIDS] = core::array::from_fn(|i| (100 + i as u32, 0));
        let stats = replay(&writes);
        assert_eq!(stats.writers.thread_count(), TRACKED_TIDS as u32);
        assert!(stats.writers.tids_exact());
        let mut stats = stats;
        record_line_write(&mut stats, &write(999, 0), plain_add);
        assert!(!stats.writers.tids_exact());
        assert_eq!(stats.writers.thread_count(), TRACKED_TIDS as u32);
    }

    #[test]
    fn high_cpus_share_the_last_bit() {
        let stats = replay(&[(1, 255), (1, 300), (1, 4000)]);
        assert_eq!(stats.writers.cpu_count(), 1);
        assert_eq!(stats.writers.cpus[3], 1 << 63);
    }

    #[test]
    fn growth_and_concurrent_writes_are_counted_with_the_write() {
        let mut stats = LineStats::default();
        let mut obj = ObjectStats::default();
        let racing = Write {
            concurrent: 1,
            ..write(7, 0)
        };
        let growing = Write {
            growth: 1,
            ..write(8, 1)
        };
        for w in [&racing, &growing, &write(7, 0)] {
            record_line_write(&mut stats, w, plain_add);
            record_object_write(&mut obj, w, 0, plain_add);
        }
        assert_eq!(
            (stats.writes, stats.growth_writes, stats.concurrent_writers),
            (3, 1, 1)
        );
        assert_eq!(
            (obj.writes, obj.growth_writes, obj.concurrent_writers),
            (3, 1, 1)
        );
    }

    #[test]
    fn object_writes_count_and_track_writers() {
        let mut stats = ObjectStats::default();
        record_object_write(&mut stats, &write(5, 1), 2, plain_add);
        record_object_write(&mut stats, &write(6, 0), 2, plain_add);
        assert_eq!(stats.writes, 2);
        assert_eq!(stats.kind, 2);
        assert_eq!(stats.writers.thread_count(), 2);
    }
}
