//! Processes found as they start and end: the raw tracepoint programs on `sched_process_exec` and
//! `sched_process_exit` send one [`ProcessEvent`] per exec and per process exit to userspace
//! (`PROCESS_EVENTS`), which attaches to new Go processes and drops the ones that are gone
//! (`record --all-go`, `daemon --all-go`). Raw tracepoints need no tracefs mount.

use core::mem::size_of;

/// Name of the raw tracepoint program on `sched_process_exec`.
pub const PROGRAM_PROCESS_EXEC: &str = "process_exec";
/// Name of the raw tracepoint program on `sched_process_exit`.
pub const PROGRAM_PROCESS_EXIT: &str = "process_exit";
/// The kernel's tracepoint the exec program is attached to.
pub const TRACEPOINT_EXEC: &str = "sched_process_exec";
/// The kernel's tracepoint the exit program is attached to.
pub const TRACEPOINT_EXIT: &str = "sched_process_exit";
/// Size of `PROCESS_EVENTS` (bytes; a power of two, a multiple of the page size): room for
/// 16,384 events between two drains.
pub const PROCESS_RING_BYTES: u32 = 256 * 1024;

/// [`ProcessEvent::kind`]: a process called `execve` (its image is new).
pub const PROCESS_EXEC: u32 = 1;
/// [`ProcessEvent::kind`]: a process's main thread (the thread-group leader) exited.
pub const PROCESS_EXIT: u32 = 2;

/// One exec or exit, as the ring buffer carries it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcessEvent {
    /// Process id (tgid), in the initial pid namespace.
    pub pid: u32,
    /// `PROCESS_EXEC` or `PROCESS_EXIT`.
    pub kind: u32,
    /// When it happened (ns, `bpf_ktime_get_ns`, CLOCK_MONOTONIC).
    pub ktime_ns: u64,
}
const _: () = assert!(size_of::<ProcessEvent>() == 16);

impl ProcessEvent {
    /// The event at the start of `bytes` (a ring-buffer record), if whole.
    pub fn read_from(bytes: &[u8]) -> Option<ProcessEvent> {
        if bytes.len() < size_of::<ProcessEvent>() {
            return None;
        }
        // SAFETY: `bytes` holds a whole ProcessEvent, read unaligned; it is plain integers
        // (repr(C), no padding), so any bit pattern is valid.
        Some(unsafe { core::ptr::read_unaligned(bytes.as_ptr().cast()) })
    }
}

/// Name of the `RingBuf` of [`ProcessEvent`]s.
pub const PROCESS_EVENTS: &str = "PROCESS_EVENTS";

#[cfg(feature = "user")]
// SAFETY: repr(C), Copy, no padding, no invalid bit patterns.
unsafe impl aya::Pod for ProcessEvent {}
