//! Lines found from the data addresses of samples: timer (cpu-clock) samples whose instruction
//! userspace decoded into a [`DataOperand`], or PEBS/IBS samples that carry the address.
//!
//! The kernel side keeps `IP_OPERANDS` (filled by userspace the first time an IP shows up in
//! `PERF_IPS`) and folds every later sample at a known IP into `SAMPLED_LINES`, per line: how many
//! samples, of which access kind, by which threads and CPUs, and which 8-byte words each of the
//! first [`TRACKED_TIDS`] threads touched and wrote; into `LINE_IPS`, per line and IP; and, for
//! the samples that take a user stack ([`wants_stack`]), into `LINE_STACKS`, per line and stack.
//! A sample is time-weighted: an access that waits for a line another CPU holds is sampled in
//! proportion to its wait.

use core::mem::size_of;

use crate::{
    fold::note_writer,
    operand::{DataAccessKind, DataOperand},
    Writers, CACHE_LINE_BYTES, TRACKED_TIDS,
};

/// Most lines `SAMPLED_LINES` holds (least recently sampled go first).
pub const MAX_SAMPLED_LINES: u32 = 16_384;
/// Most decoded IPs `IP_OPERANDS` holds.
pub const MAX_IP_OPERANDS: u32 = 32_768;
/// Most (line, IP) pairs `LINE_IPS` holds (least recently sampled go first).
pub const MAX_LINE_IPS: u32 = 32_768;

/// Key of `LINE_IPS` (value: samples, a `u64`): one instruction sampled accessing one line of
/// one process, so the report names the code that touched each line without a user stack per
/// sample.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LineIpKey {
    /// Process id (tgid).
    pub pid: u32,
    /// Explicit padding; always 0.
    pub _pad: u32,
    /// The line's first byte (64-byte aligned address).
    pub line: u64,
    /// The sampled instruction address (runtime, not bias-adjusted): one past the access.
    pub ip: u64,
}
const _: () = assert!(size_of::<LineIpKey>() == 24);

/// Most (line, user stack) pairs `LINE_STACKS` holds (least recently sampled go first).
pub const MAX_LINE_STACKS: u32 = 16_384;
/// Samples a line needs before its samples take user stacks (a line with fewer is not drawn
/// from its stacks).
pub const FIRST_STACK_AT: u64 = 8;
/// From then on, one sample of the line in this many also takes a user stack.
pub const STACK_EVERY: u64 = 16;

/// Key of `LINE_STACKS` (value: samples that took this stack, a `u64`): the user stacks of some
/// of a line's samples (see [`wants_stack`]), so the code paths that reach the accesses can be
/// drawn without a stack per sample. The stack's innermost frame is the sampled instruction.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LineStackKey {
    /// Process id (tgid).
    pub pid: u32,
    /// The stack's id in `STACKS`.
    pub stack_id: u32,
    /// The line's first byte (64-byte aligned address).
    pub line: u64,
}
const _: () = assert!(size_of::<LineStackKey>() == 16);

/// Whether the `n`th sample (counting from 1) of a line takes a user stack: the
/// [`FIRST_STACK_AT`]th, then one in [`STACK_EVERY`]. The many lines sampled a few times (a big
/// map's buckets) take none, and a hot line's paths are drawn in proportion, whichever of its
/// instructions they reach, at a sixteenth of the cost.
pub const fn wants_stack(n: u64) -> bool {
    n == FIRST_STACK_AT || n >= STACK_EVERY && n.is_multiple_of(STACK_EVERY)
}

/// Value of `IP_OPERANDS`: what a sample at one IP of one process accessed. `operand.kind` 0
/// marks an IP userspace decoded and found no data access at (the sample counts only by IP).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IpOperand {
    /// The decoded operand, or all zero where there is no access to follow.
    pub operand: DataOperand,
}
const _: () = assert!(size_of::<IpOperand>() == 16);

impl IpOperand {
    /// The marker of an IP with no data access to follow.
    pub const NONE: IpOperand = IpOperand {
        operand: DataOperand {
            base: 0,
            index: 0,
            scale: 0,
            kind: 0,
            width: 0,
            skid: 0,
            _pad: [0; 2],
            disp: 0,
        },
    };

    /// Whether samples at this IP have an address to compute.
    #[inline(always)]
    pub fn has_access(&self) -> bool {
        self.operand.kind != 0
    }
}

/// Value of `SAMPLED_LINES` (keyed by `LineKey`): what the samples saw of one 64-byte line.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SampledLine {
    /// Samples whose data address fell in this line (count).
    pub samples: u64,
    /// Of them, by [`DataAccessKind`] (index `kind - 1`, see [`SampledLine::of_kind`]): loads,
    /// stores, read-modify-writes without a lock prefix, locked read-modify-writes (count).
    pub kinds: [u64; 4],
    /// Samples whose access kind is not known: a hardware data address at an IP userspace has
    /// not decoded (count).
    pub unknown_kind: u64,
    /// Monotonic time of the first sample (ns since boot).
    pub first_ns: u64,
    /// Monotonic time of the last sample (ns since boot).
    pub last_ns: u64,
    /// Threads (goroutines in a Go program, see [`who`]) and CPUs the samples came from: exact
    /// ids up to [`TRACKED_TIDS`], then the sketch, as for writers.
    pub threads: Writers,
    /// Per slot of `threads.tids`: bit `w` set when that thread's samples touched the line's
    /// 8-byte word `w` (bytes `8w` to `8w + 7`).
    pub touched: [u8; TRACKED_TIDS],
    /// Per slot of `threads.tids`: bit `w` set when that thread wrote word `w` (a store, an
    /// update or a locked read-modify-write).
    pub written: [u8; TRACKED_TIDS],
}
const _: () = assert!(size_of::<SampledLine>() == 184);

/// One sample with a data address.
#[derive(Clone, Copy, Debug)]
pub struct DataSample {
    /// Who made the access: the thread id, or in a Go program its goroutine (see [`who`]).
    pub tid: u32,
    /// CPU it ran on.
    pub cpu: u32,
    /// Monotonic time (ns since boot).
    pub now_ns: u64,
    /// The data address.
    pub addr: u64,
    /// Bytes accessed (1 when not known).
    pub width: u8,
    /// [`DataAccessKind`] as u8, 0 when not known.
    pub kind: u8,
}

/// The identity a sample's access is charged to: in a Go program the goroutine (`g`, from R14:
/// its address folded to 32 bits, never 0), else the thread `tid`.
#[inline(always)]
pub fn who(go: bool, g: u64, tid: u32) -> u32 {
    if go {
        ((g ^ (g >> 32)) as u32).max(1)
    } else {
        tid
    }
}

impl DataSample {
    /// Whether the access writes the line.
    #[inline(always)]
    pub fn writes(&self) -> bool {
        DataAccessKind::from_u8(self.kind).is_some_and(DataAccessKind::writes)
    }

    /// The 8-byte words of its line the access covers, as a bitmask (bit `w` = word `w`): from
    /// the address's word to the word of its last byte, cut at the line's end.
    #[inline(always)]
    pub fn word_mask(&self) -> u8 {
        let offset = (self.addr & (CACHE_LINE_BYTES - 1)) as u32;
        let width = u32::from(self.width.max(1));
        let last_byte = (offset + width - 1).min(CACHE_LINE_BYTES as u32 - 1);
        let (first, last) = (offset / 8, last_byte / 8);
        // Bits first..=last of a u16 (no shift by 8 or more on a u8).
        let upto = (1u16 << (last + 1)) - 1;
        let below = (1u16 << first) - 1;
        (upto & !below) as u8
    }
}

/// Charges one sample to a line: counts it by kind, notes its thread and CPU, and marks the
/// words it touched (and wrote) for its thread's slot. Counters go through `add` (atomic in the
/// kernel); the sets are plain read-modify-writes that converge as in [`crate::fold`].
#[inline(always)]
pub fn record_sample(stats: &mut SampledLine, s: &DataSample, add: impl Fn(&mut u64, u64)) {
    add(&mut stats.samples, 1);
    match DataAccessKind::from_u8(s.kind) {
        Some(kind) => {
            // Read back through a volatile load and masked after it: the compiler cannot drop
            // the mask, so the verifier sees the index bounded where it is used.
            let index = (kind as usize).wrapping_sub(1);
            // SAFETY: a read of a local.
            let index = unsafe { core::ptr::read_volatile(&index) } & 3;
            add(&mut stats.kinds[index], 1);
        }
        None => add(&mut stats.unknown_kind, 1),
    }
    if stats.first_ns == 0 {
        stats.first_ns = s.now_ns;
    }
    stats.last_ns = s.now_ns;
    note_writer(&mut stats.threads, s.tid, s.cpu);
    let mask = s.word_mask();
    let written = if s.writes() { mask } else { 0 };
    // The thread's slot, as `note_writer` left it: found by the same in-order scan, the words
    // set inside it so that no slot index leaves the loop.
    for i in 0..TRACKED_TIDS {
        if stats.threads.tids[i] == s.tid {
            if stats.touched[i] & mask != mask {
                stats.touched[i] |= mask;
            }
            if stats.written[i] & written != written {
                stats.written[i] |= written;
            }
            return;
        }
    }
}

impl SampledLine {
    /// Samples of accesses of `kind`.
    pub fn of_kind(&self, kind: DataAccessKind) -> u64 {
        self.kinds[(kind as usize - 1) & 3]
    }

    /// Words touched by any exactly tracked thread (bit `w` = word `w`).
    pub fn touched_words(&self) -> u8 {
        self.touched.iter().fold(0, |a, &m| a | m)
    }

    /// Whether two exactly tracked threads wrote the same word (true sharing), as opposed to
    /// writing only words no other tracked thread touched.
    pub fn shared_written_word(&self) -> bool {
        let n = self.threads.tids.iter().take_while(|&&t| t != 0).count();
        (0..n).any(|i| {
            (0..n).any(|j| i != j && self.written[i] & (self.touched[j] | self.written[j]) != 0)
        })
    }
}

#[cfg(test)]
#[path = "sampled_tests.rs"]
mod tests;
