//! Hardware write watchpoints (`--watch`): the types of the `perf_event` program that runs on
//! every write to a watched word.
//!
//! clprof opens one breakpoint event (`PERF_TYPE_BREAKPOINT`, `HW_BREAKPOINT_W`) per watched word
//! and online CPU, system-wide, and attaches the watch program to each. The CPU traps after the
//! writing instruction retires, in whatever process wrote that virtual address; the program keeps
//! the writes of targets only (their tgid is in `TARGETS`). Each write is folded per word
//! (`WATCH_WORDS`) and per line (`WATCH_LINES`) with the same fold as the map probes' writes
//! ([`crate::fold::record_line_write`]: writes, writer threads, transfers), and per writing
//! instruction (`WATCH_SITES`), with a user stack now and then. Inside the time a word is
//! watched, these counts are exact.

use core::mem::size_of;

/// Name of the `perf_event` program attached to every watchpoint.
pub const PROGRAM_WATCH: &str = "watch_write";
/// Capacity of `WATCH_WORDS` (LRU): watched words of all targets.
pub const MAX_WATCH_WORDS: u32 = 4_096;
/// Capacity of `WATCH_LINES` (LRU).
pub const MAX_WATCH_LINES: u32 = 4_096;
/// Capacity of `WATCH_SITES` (LRU): distinct (word, writing instruction) pairs.
pub const MAX_WATCH_SITES: u32 = 16_384;
/// A site's user stack is taken at its first write, then at one write in this many.
pub const WATCH_STACK_EVERY: u64 = 256;
/// The widest word one x86 debug register watches (bytes); a word is aligned to its length.
pub const MAX_WATCH_LEN: u64 = 8;

/// Key of `WATCH_WORDS`: one watched word of one process.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WordKey {
    /// Process id (tgid).
    pub pid: u32,
    /// Explicit padding; always 0.
    pub _pad: u32,
    /// Virtual address of the word's first byte (the breakpoint's address).
    pub addr: u64,
}
const _: () = assert!(size_of::<WordKey>() == 16);

/// Key of `WATCH_SITES`: one instruction that wrote one watched word.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WatchSiteKey {
    /// Process id (tgid).
    pub pid: u32,
    /// Explicit padding; always 0.
    pub _pad: u32,
    /// The word written (its first byte's address).
    pub word: u64,
    /// The IP the trap reported: the instruction after the write (runtime address).
    pub ip_after: u64,
}
const _: () = assert!(size_of::<WatchSiteKey>() == 24);

/// Value of `WATCH_SITES`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WatchSite {
    /// Writes by this instruction to this word (count).
    pub writes: u64,
    /// Id in `STACKS` of the user stack of its latest sampled write; negative when none was
    /// stored.
    pub stack_id: i64,
}
const _: () = assert!(size_of::<WatchSite>() == 16);

/// The `TARGET_HITS` counter of watchpoint hits of the target in `slot`.
pub const fn watch_hits_counter(slot: u32) -> u32 {
    2 * crate::TARGET_SLOTS + slot
}
