//! The per-write update of line and object statistics, shared by the eBPF programs (which run it
//! on BPF map values) and by userspace tests.
//!
//! Entries are shared by all CPUs. Counters go through `add`, an atomic add in the kernel; the
//! writer sets (tids, thread-id sketch, CPU bitmap) and the last-writer fields use plain
//! read-modify-write: a racing update can lose a set entry, but every later write by the same
//! thread or CPU puts it back, so the sets converge while the line stays hot.

use crate::{LineStats, ObjectStats, Writers, TID_SKETCH_BITS, TRACKED_CPUS, TRACKED_TIDS};

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
    /// 1 when the target's reads are watched ([`crate::TARGET_SHARING`]): a write then counts the
    /// readers' copies it invalidates; else 0.
    pub sharing: u32,
    /// The target's sampling bits ([`crate::TARGET_SAMPLING_WRITES`],
    /// [`crate::TARGET_SAMPLING_READS`]): which counts also go to [`crate::Sampled`].
    pub sampling: u32,
}

impl Write {
    /// The write probes' window is being sampled.
    #[inline(always)]
    pub fn samples_writes(&self) -> bool {
        self.sampling & crate::TARGET_SAMPLING_WRITES as u32 != 0
    }

    /// The read probes' window is being sampled.
    #[inline(always)]
    pub fn samples_reads(&self) -> bool {
        self.sampling & crate::TARGET_SAMPLING_READS as u32 != 0
    }
}

/// The bit of [`Writers::tid_sketch`] that thread `tid` sets: the low bits of murmur3's 32-bit
/// finalizer, two multiply-xorshift rounds that scatter consecutive thread ids (as the kernel
/// hands them out) like random ones, which linear counting assumes. Constant shifts, multiplies
/// and a mask only: no loop, no division, nothing for the verifier to bound.
#[inline(always)]
pub fn tid_sketch_bit(tid: u32) -> u32 {
    let mut h = tid;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 16;
    h & (TID_SKETCH_BITS - 1)
}

/// The word and mask of `cpu`'s bit in a CPU bitmap of [`TRACKED_CPUS`] bits (CPUs beyond share
/// the last bit).
#[inline(always)]
fn cpu_bit(cpu: u32) -> (usize, u64) {
    let bit = if cpu >= TRACKED_CPUS {
        TRACKED_CPUS - 1
    } else {
        cpu
    };
    (
        ((bit / 64) as usize) & ((TRACKED_CPUS / 64) as usize - 1),
        1u64 << (bit % 64),
    )
}

/// 1 when `holders` has the bit `mask` (one bit or none) of word `word` set, else 0; no branch.
#[inline(always)]
fn holders_bit(holders: &[u64; (TRACKED_CPUS / 64) as usize], word: usize, mask: u64) -> u32 {
    (holders[word] & mask).count_ones()
}

/// `mask` when `a` and `b` are the same word, else 0.
#[inline(always)]
fn same_word_mask(a: usize, b: usize, mask: u64) -> u64 {
    mask & 0u64.wrapping_sub(u64::from(a == b))
}

/// Adds `tid` and `cpu` to a writer set.
#[inline(always)]
pub fn note_writer(writers: &mut Writers, tid: u32, cpu: u32) {
    let (word, mask) = cpu_bit(cpu);
    if writers.cpus[word] & mask == 0 {
        writers.cpus[word] |= mask;
    }
    // Every writer, tracked exactly or not, sets its sketch bit. Plain read-modify-write like the
    // CPU bitmap (written only when the bit is clear, so a hot line's entry is not dirtied on every
    // write): a bit lost to a racing update of the same word is set again by the thread's next
    // write.
    let bit = tid_sketch_bit(tid);
    let word = ((bit / 64) as usize) & (writers.tid_sketch.len() - 1);
    let mask = 1u64 << (bit % 64);
    if writers.tid_sketch[word] & mask == 0 {
        writers.tid_sketch[word] |= mask;
    }
    // Slots fill in order and are never cleared, so the first empty one ends the set: the
    // thread is stored there, with no slot index carried out of the scan.
    for i in 0..TRACKED_TIDS {
        let t = writers.tids[i];
        if t == tid {
            return;
        }
        if t == 0 {
            writers.tids[i] = tid;
            return;
        }
    }
    writers.tid_overflow = writers.tid_overflow.wrapping_add(1);
}

/// Charges one write to a line: counts it, counts an ownership transfer when the previous
/// write came from another CPU (the line had to move between caches), and the readers' copies
/// it invalidates; the writer's CPU is then the line's only holder.
#[inline(always)]
pub fn record_line_write(stats: &mut LineStats, write: &Write, add: impl Fn(&mut u64, u64)) {
    add(&mut stats.writes, 1);
    let sampled = write.samples_writes();
    if sampled {
        add(&mut stats.sampled.writes, 1);
    }
    let cpu_plus1 = write.cpu + 1;
    if stats.last_cpu_plus1 != 0 && stats.last_cpu_plus1 != cpu_plus1 {
        add(&mut stats.transfers, 1);
        if sampled {
            add(&mut stats.sampled.transfers, 1);
        }
    }
    // Indexed, never compared with a loop counter: the verifier then keeps one state where a
    // scan would split on each word the CPU's bit might be in (`holders_bit`).
    let (word, mask) = cpu_bit(write.cpu);
    let held: u32 = stats.holders.iter().map(|w| w.count_ones()).sum();
    let own = holders_bit(&stats.holders, word, mask);
    let last = if stats.last_cpu_plus1 != 0 && stats.last_cpu_plus1 != cpu_plus1 {
        let (last_word, last_mask) = cpu_bit(stats.last_cpu_plus1 - 1);
        // The previous writer's CPU may share the last bit with this one.
        holders_bit(
            &stats.holders,
            last_word,
            last_mask & !same_word_mask(last_word, word, mask),
        )
    } else {
        0
    };
    // Copies held by CPUs other than this one; the last writer's is not a reader's copy.
    let others = held - own;
    let copies = others - last;
    if copies > 0 && write.sharing != 0 {
        add(&mut stats.invalidations, copies as u64);
        if write.samples_reads() {
            add(&mut stats.sampled.invalidations, copies as u64);
        }
    }
    // Written only when it changes, so a line one CPU keeps writing is not dirtied for it.
    if others != 0 || own == 0 {
        for held in stats.holders.iter_mut() {
            // SAFETY: a valid, aligned reference. Volatile keeps these four stores from being
            // turned into a call to `memset`, a byte loop the verifier walks through.
            unsafe { core::ptr::write_volatile(held, 0) };
        }
        stats.holders[word] = mask;
    }
    if stats.last_tid != 0 && stats.last_tid != write.tid {
        add(&mut stats.thread_switches, 1);
    }
    if write.growth != 0 {
        add(&mut stats.growth_writes, 1);
        if write.samples_writes() {
            add(&mut stats.sampled.growth_writes, 1);
        }
    }
    if write.concurrent != 0 {
        add(&mut stats.concurrent_writers, 1);
    }
    stats.last_cpu_plus1 = cpu_plus1;
    stats.last_tid = write.tid;
    stats.last_ns = write.now_ns;
    note_writer(&mut stats.writers, write.tid, write.cpu);
}

/// Charges one read to a line: counts it, and counts a remote read when the reader's CPU does
/// not hold the line's current version but another CPU does (it comes from that CPU's cache);
/// the reader's CPU then holds it too.
#[inline(always)]
pub fn record_line_read(stats: &mut LineStats, read: &Write, add: impl Fn(&mut u64, u64)) {
    add(&mut stats.reads, 1);
    let sampled = read.samples_reads();
    if sampled {
        add(&mut stats.sampled.reads, 1);
    }
    let (word, mask) = cpu_bit(read.cpu);
    if stats.holders[word] & mask == 0 {
        if stats.holders.iter().fold(0, |any, &w| any | w) != 0 {
            add(&mut stats.remote_reads, 1);
            if sampled {
                add(&mut stats.sampled.remote_reads, 1);
            }
        }
        stats.holders[word] |= mask;
    }
    note_writer(&mut stats.readers, read.tid, read.cpu);
}

/// Charges one lookup to an object (a map).
#[inline(always)]
pub fn record_object_read(stats: &mut ObjectStats, read: &Write, add: impl Fn(&mut u64, u64)) {
    add(&mut stats.reads, 1);
    if read.samples_reads() {
        add(&mut stats.sampled.reads, 1);
    }
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
    if write.samples_writes() {
        add(&mut stats.sampled.writes, 1);
    }
    if write.growth != 0 {
        add(&mut stats.growth_writes, 1);
        if write.samples_writes() {
            add(&mut stats.sampled.growth_writes, 1);
        }
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

    /// Distinct writer threads: the exact count when [`Writers::tids_exact`], otherwise a
    /// linear-counting estimate from [`Writers::tid_sketch`] (Whang, Vander-Zanden and Taylor,
    /// 1990): `m * ln(m / z)` with `m` = [`TID_SKETCH_BITS`] (256) bits and `z` of them clear,
    /// rounded. Its standard error is about 5% at 256 threads, 7% at 500 and 11% at 1,000.
    ///
    /// A full sketch (`z` = 0) reads as one clear bit, `m * ln m` = 1,419.6, reported as 1,420:
    /// the most the sketch can tell, so then the true count is about that or more. The estimate is
    /// never below [`TRACKED_TIDS`] + 1 when not exact: the overflow means a thread other than the
    /// eight recorded ones wrote.
    pub fn estimated_threads(&self) -> u32 {
        let recorded = self.thread_count();
        if self.tids_exact() {
            return recorded;
        }
        let set: u32 = self.tid_sketch.iter().map(|w| w.count_ones()).sum();
        let clear = (TID_SKETCH_BITS - set).max(1);
        let m = TID_SKETCH_BITS as f64;
        let estimate = m * (ln_int(TID_SKETCH_BITS) - ln_int(clear));
        ((estimate + 0.5) as u32).max(recorded + 1)
    }

    /// Distinct CPUs that wrote.
    pub fn cpu_count(&self) -> u32 {
        self.cpus.iter().map(|w| w.count_ones()).sum()
    }

    /// The writers of either set: the exact thread ids of both while they fit in
    /// [`TRACKED_TIDS`] (an id beyond counts as an overflow), the sketches and CPU bitmaps
    /// joined.
    pub fn union(&self, other: &Writers) -> Writers {
        let mut out = *self;
        for i in 0..TRACKED_TIDS {
            let tid = other.tids[i];
            if tid == 0 || out.tids.contains(&tid) {
                continue;
            }
            match out.tids.iter().position(|&t| t == 0) {
                Some(free) => out.tids[free] = tid,
                None => out.tid_overflow = out.tid_overflow.saturating_add(1),
            }
        }
        out.tid_overflow = out.tid_overflow.saturating_add(other.tid_overflow);
        for (a, b) in out.cpus.iter_mut().zip(&other.cpus) {
            *a |= b;
        }
        for (a, b) in out.tid_sketch.iter_mut().zip(&other.tid_sketch) {
            *a |= b;
        }
        out
    }
}

/// Natural logarithm of `n` >= 1 (`core` has no `ln`): `n = 2^e * r` with `r` in [1, 2), and
/// `ln r = 2 atanh(s)` with `s = (r - 1) / (r + 1)` below 1/3, whose odd power series is within
/// 1e-15 after 16 terms.
fn ln_int(n: u32) -> f64 {
    let e = 31 - n.max(1).leading_zeros();
    let r = n as f64 / (1u64 << e) as f64;
    let s = (r - 1.0) / (r + 1.0);
    let s2 = s * s;
    let (mut power, mut sum) = (s, 0.0);
    for k in 0..16 {
        sum += power / (2 * k + 1) as f64;
        power *= s2;
    }
    e as f64 * core::f64::consts::LN_2 + 2.0 * sum
}

#[cfg(test)]
#[path = "fold_tests.rs"]
mod tests;
