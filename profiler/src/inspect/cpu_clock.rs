//! A process's CPU time to the nanosecond, as of the moment it is read.
//!
//! The process CPU clock sums its threads' runtimes as last booked by the scheduler: a running
//! thread's share is up to a tick (4 ms at 250 Hz) behind, too coarse to meter a window of a few
//! milliseconds, and another process's per-thread clocks cannot be read. A counting `task-clock`
//! perf event per thread is exact when read (the kernel brings a running thread's count up to
//! date first), and keeps its count after the thread exits. Threads are listed at every reading:
//! one started since the last reading is counted from then on, and brings what it ran before
//! from its scheduler statistics (`/proc/PID/task/TID/schedstat`, booked at its last tick or
//! switch, so up to a tick short for a running thread): the process's total holds what its late
//! threads ran, though an interval that saw a thread start cannot be metered to the
//! millisecond, nor the one after it ([`CpuReader::fresh`]).

use std::{
    collections::HashMap,
    fs::File,
    io::Read,
    os::fd::{FromRawFd, OwnedFd},
    time::Duration,
};

use perf_event_open_sys::{bindings as b, perf_event_open};

/// Reads one process's CPU time thread by thread.
#[derive(Debug, Default)]
pub struct CpuReader {
    pid: u32,
    /// One counting task-clock event per thread found so far.
    events: HashMap<u32, Counted>,
    /// Events opened by the last reading.
    opened_last: usize,
}

/// One thread's CPU time: what it ran before it was found, and its counter from then on.
#[derive(Debug)]
struct Counted {
    event: File,
    /// CPU time before the counter was opened (ns).
    before_ns: u64,
}

impl CpuReader {
    pub fn new(pid: u32) -> Self {
        CpuReader {
            pid,
            events: HashMap::new(),
            opened_last: 0,
        }
    }

    /// Whether the last reading found threads and opened their counters: until the next one,
    /// the time they count may fall short (a thread counted by a task-clock event opened while
    /// it took uprobe traps booked 1.2 ms of the 4 ms its 228 hits alone cost, then counted
    /// right), so an interval that starts at such a reading cannot be metered either.
    pub fn fresh(&self) -> bool {
        self.opened_last > 0
    }

    /// Threads counted so far: two readings with the same count, the first not
    /// [`CpuReader::fresh`], differ by exactly the CPU time the process used in between.
    pub fn threads(&self) -> usize {
        self.events.len()
    }

    /// CPU time of the process's threads found so far, from their start (exact from when this
    /// reader found them); the coarser process clock when no event can be opened; None once the
    /// process is gone.
    pub fn read(&mut self) -> Option<Duration> {
        let tasks = format!("/proc/{}/task", self.pid);
        self.opened_last = 0;
        for (tid, _) in super::numbered_entries(std::path::Path::new(&tasks))? {
            if let std::collections::hash_map::Entry::Vacant(slot) = self.events.entry(tid) {
                let before_ns = ran_before(self.pid, tid);
                match open_task_clock(tid) {
                    Some(event) => {
                        slot.insert(Counted { event, before_ns });
                        self.opened_last += 1;
                    }
                    // Gone in between, or out of descriptors: its CPU goes uncounted.
                    None => tracing::debug!(
                        tid,
                        "task-clock event: {}",
                        std::io::Error::last_os_error()
                    ),
                }
            }
        }
        if self.events.is_empty() {
            return super::cpu_time(self.pid);
        }
        let mut total = 0u64;
        for c in self.events.values_mut() {
            let mut buf = [0u8; 8];
            total += c.before_ns;
            if c.event.read_exact(&mut buf).is_ok() {
                total += u64::from_ne_bytes(buf);
            }
        }
        Some(Duration::from_nanos(total))
    }
}

/// CPU time thread `tid` of `pid` ran so far (ns), as its scheduler statistics book it; 0 where
/// they cannot be read (gone, or a kernel without them).
fn ran_before(pid: u32, tid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/schedstat"))
        .ok()
        .and_then(|s| parse_schedstat(&s))
        .unwrap_or(0)
}

/// The first field of a `schedstat` line: time spent on the CPU (ns).
fn parse_schedstat(text: &str) -> Option<u64> {
    text.split_whitespace().next()?.parse().ok()
}

/// A counting task-clock event on thread `tid` (any CPU), not inherited: every thread gets its
/// own, so none is counted twice.
fn open_task_clock(tid: u32) -> Option<File> {
    let mut attr = b::perf_event_attr {
        type_: b::PERF_TYPE_SOFTWARE,
        size: std::mem::size_of::<b::perf_event_attr>() as u32,
        config: u64::from(b::PERF_COUNT_SW_TASK_CLOCK),
        ..Default::default()
    };
    // SAFETY: a valid attr; pid = tid, cpu = -1 (any), no group, close-on-exec.
    let fd = unsafe {
        perf_event_open(
            &mut attr,
            i32::try_from(tid).ok()?,
            -1,
            -1,
            b::PERF_FLAG_FD_CLOEXEC as _,
        )
    };
    if fd < 0 {
        return None;
    }
    // SAFETY: a new descriptor this function owns.
    Some(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// The process CPU clock id of `pid` (CPUCLOCK_SCHED, not per thread).
pub(super) fn process_clock(pid: u32) -> Option<libc::clockid_t> {
    Some((!(libc::clockid_t::try_from(pid).ok()?) << 3) | 2)
}

/// Reads a CPU clock; None when the thread or process is gone.
pub(super) fn clock(id: libc::clockid_t) -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    if unsafe { libc::clock_gettime(id, &mut ts) } != 0 {
        return None;
    }
    Some(Duration::new(
        u64::try_from(ts.tv_sec).ok()?,
        u32::try_from(ts.tv_nsec).ok()?,
    ))
}

#[cfg(test)]
#[path = "cpu_clock_tests.rs"]
mod tests;
