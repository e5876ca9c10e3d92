//! A process's CPU time to the nanosecond, as of the moment it is read.
//!
//! The process CPU clock sums its threads' runtimes as last booked by the scheduler: a running
//! thread's share is up to a tick (4 ms at 250 Hz) behind, too coarse to meter a window of a few
//! milliseconds, and another process's per-thread clocks cannot be read. A counting `task-clock`
//! perf event per thread is exact when read (the kernel brings a running thread's count up to
//! date first), and keeps its count after the thread exits. Threads are listed at every reading:
//! one started since is counted from then on, and what it ran before is missing from the
//! difference of two readings that straddle its discovery ([`CpuReader::threads`] tells).

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
    events: HashMap<u32, File>,
}

impl CpuReader {
    pub fn new(pid: u32) -> Self {
        CpuReader {
            pid,
            events: HashMap::new(),
        }
    }

    /// Threads counted so far (each from its discovery on): two readings with the same count
    /// differ by exactly the CPU time the process used in between.
    pub fn threads(&self) -> usize {
        self.events.len()
    }

    /// CPU time of the process's threads since they were first seen by this reader (exact);
    /// the coarser process clock when no event can be opened; None once the process is gone.
    pub fn read(&mut self) -> Option<Duration> {
        let tasks = format!("/proc/{}/task", self.pid);
        for (tid, _) in super::numbered_entries(std::path::Path::new(&tasks))? {
            if let std::collections::hash_map::Entry::Vacant(slot) = self.events.entry(tid) {
                match open_task_clock(tid) {
                    Some(f) => {
                        slot.insert(f);
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
        for f in self.events.values_mut() {
            let mut buf = [0u8; 8];
            if f.read_exact(&mut buf).is_ok() {
                total += u64::from_ne_bytes(buf);
            }
        }
        Some(Duration::from_nanos(total))
    }
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
mod tests {
    use super::*;

    #[test]
    fn reads_this_process_to_the_nanosecond_and_grows_with_work() {
        let mut reader = CpuReader::new(std::process::id());
        let before = reader.read().expect("own threads are readable");
        assert!(
            !reader.events.is_empty(),
            "no task-clock event could be opened"
        );
        // Spin until this thread's own CPU clock says 30 ms (however busy the machine is): the
        // process's threads together used at least that.
        let thread = |id| clock(id).expect("this thread's CPU clock");
        let start = thread(libc::CLOCK_THREAD_CPUTIME_ID);
        let mut x = 1u64;
        while thread(libc::CLOCK_THREAD_CPUTIME_ID) - start < Duration::from_millis(30) {
            x = std::hint::black_box(x.wrapping_mul(3).wrapping_add(1));
        }
        let after = reader.read().expect("own threads are readable");
        let spent = after.saturating_sub(before);
        assert!(
            spent >= Duration::from_millis(30),
            "30 ms of this thread's CPU booked as {spent:?} for the process"
        );
        assert_ne!(
            after.subsec_nanos() % 1_000_000,
            0,
            "not tick-rounded: {after:?}"
        );
    }

    #[test]
    fn a_gone_process_reads_none() {
        assert_eq!(CpuReader::new(u32::MAX - 1).read(), None);
    }
}
