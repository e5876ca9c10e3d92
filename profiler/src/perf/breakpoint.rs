//! Hardware write breakpoints (watchpoints) as perf events: `PERF_TYPE_BREAKPOINT` with
//! `HW_BREAKPOINT_W`, one event per debug-register slot and online CPU, system-wide, each
//! handing its hits to the watch program.
//!
//! x86-64 has four debug registers per CPU, shared with debuggers and other perf users; each
//! watches one aligned word of 1, 2, 4 or 8 bytes. The kernel reserves a register when the event
//! is opened (not when it is enabled), so clprof opens at most four slots, as many as are free,
//! and moves a slot to another word with `PERF_EVENT_IOC_MODIFY_ATTRIBUTES`: no close, no
//! reopen, no RCU grace period (kernel/events/core.c, `perf_event_modify_breakpoint`).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use perf_event_open_sys::{bindings as b, ioctls, perf_event_open};

use super::PerfError;
pub use profiler_common::watch::MAX_WATCH_LEN;

/// Debug registers per CPU on x86-64 (DR0-DR3).
pub const DEBUG_REGISTERS: usize = 4;

/// One watched word: `len` bytes (1, 2, 4 or 8) at `addr`, aligned to `len`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Word {
    pub addr: u64,
    pub len: u64,
}

impl Word {
    /// Whether a debug register can watch it: a length of 1, 2, 4 or 8, and the address
    /// aligned to it.
    pub fn is_watchable(&self) -> bool {
        matches!(self.len, 1 | 2 | 4 | 8) && self.addr.is_multiple_of(self.len)
    }
}

/// The breakpoint attr watching `word` for writes by user code, every hit sampled.
fn attr(word: Word, disabled: bool) -> b::perf_event_attr {
    let mut attr = b::perf_event_attr {
        size: std::mem::size_of::<b::perf_event_attr>() as u32,
        type_: b::PERF_TYPE_BREAKPOINT,
        bp_type: b::HW_BREAKPOINT_W,
        ..Default::default()
    };
    attr.bp_addr = word.addr;
    attr.bp_len = word.len;
    // Every hit goes to the program; the sample fields are what it reads from the context.
    attr.sample_period = 1;
    attr.sample_type = (b::PERF_SAMPLE_IP | b::PERF_SAMPLE_TID) as u64;
    attr.set_disabled(u64::from(disabled));
    attr.set_exclude_kernel(1);
    attr.set_exclude_hv(1);
    attr
}

/// One debug-register slot: an event on every CPU, all watching the same word.
#[derive(Debug)]
struct Slot {
    fds: Vec<OwnedFd>,
    word: Word,
    enabled: bool,
}

/// The debug-register slots clprof holds, with the watch program attached to each event.
#[derive(Debug, Default)]
pub struct Breakpoints {
    slots: Vec<Slot>,
    cpus: Vec<u32>,
}

impl Breakpoints {
    /// Opens one slot per word of `words` (at most [`DEBUG_REGISTERS`]) on every CPU of `cpus`,
    /// disabled, with `prog` attached. A slot the kernel refuses for want of a free debug
    /// register (ENOSPC: a debugger or another perf user holds it) ends the opening: fewer
    /// slots come back, maybe none. Any other failure is an error.
    pub fn open(words: &[Word], cpus: &[u32], prog: BorrowedFd<'_>) -> Result<Self, PerfError> {
        let mut out = Breakpoints {
            slots: Vec::new(),
            cpus: cpus.to_vec(),
        };
        for &word in words.iter().take(DEBUG_REGISTERS) {
            match open_slot(word, cpus, prog) {
                Ok(fds) => out.slots.push(Slot {
                    fds,
                    word,
                    enabled: false,
                }),
                Err(PerfError::Open { source, .. })
                    if source.raw_os_error() == Some(libc::ENOSPC) =>
                {
                    tracing::info!(
                        held = out.slots.len(),
                        "no further debug register is free: {source}"
                    );
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Slots held.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether no slot is held.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The word slot `i` watches.
    pub fn word(&self, i: usize) -> Word {
        self.slots[i].word
    }

    /// Whether slot `i` is enabled.
    pub fn is_enabled(&self, i: usize) -> bool {
        self.slots[i].enabled
    }

    /// Points slot `i` at `word`, leaving it disabled.
    pub fn retarget(&mut self, i: usize, word: Word) -> Result<(), PerfError> {
        self.disable(i);
        let slot = &mut self.slots[i];
        if slot.word == word {
            return Ok(());
        }
        let mut new = attr(word, true);
        for (fd, &cpu) in slot.fds.iter().zip(&self.cpus) {
            // SAFETY: `fd` is an open breakpoint event we own; `new` is a valid attr of the
            // same type and sample settings as the one it was opened with (the kernel refuses
            // any other difference than the breakpoint's address, length, type and state).
            if unsafe { ioctls::MODIFY_ATTRIBUTES(fd.as_raw_fd(), &mut new) } < 0 {
                return Err(PerfError::Ioctl {
                    op: "PERF_EVENT_IOC_MODIFY_ATTRIBUTES",
                    cpu,
                    fix: "this kernel cannot move a breakpoint (Linux >= 4.17 can): watch at most four words",
                    source: io::Error::last_os_error(),
                });
            }
        }
        slot.word = word;
        Ok(())
    }

    /// Enables slot `i` on every CPU.
    pub fn enable(&mut self, i: usize) -> Result<(), PerfError> {
        let slot = &mut self.slots[i];
        for (fd, &cpu) in slot.fds.iter().zip(&self.cpus) {
            // SAFETY: `fd` is an open perf event fd we own; ENABLE takes no pointer.
            if unsafe { ioctls::ENABLE(fd.as_raw_fd(), 0) } < 0 {
                return Err(PerfError::Ioctl {
                    op: "PERF_EVENT_IOC_ENABLE",
                    cpu,
                    fix: "the event was closed or its CPU went offline: record again",
                    source: io::Error::last_os_error(),
                });
            }
        }
        slot.enabled = true;
        Ok(())
    }

    /// Disables slot `i` on every CPU (errors ignored: a closed event fires no more either).
    pub fn disable(&mut self, i: usize) {
        let slot = &mut self.slots[i];
        for fd in &slot.fds {
            // SAFETY: `fd` is an open perf event fd we own; DISABLE takes no pointer.
            unsafe { ioctls::DISABLE(fd.as_raw_fd(), 0) };
        }
        slot.enabled = false;
    }

    /// Disables every slot.
    pub fn disable_all(&mut self) {
        for i in 0..self.slots.len() {
            self.disable(i);
        }
    }
}

/// Opens `word`'s breakpoint on every CPU of `cpus` and attaches `prog`; the first failure
/// closes what was opened.
fn open_slot(word: Word, cpus: &[u32], prog: BorrowedFd<'_>) -> Result<Vec<OwnedFd>, PerfError> {
    let mut fds = Vec::with_capacity(cpus.len());
    for &cpu in cpus {
        let mut attr = attr(word, true);
        // SAFETY: `attr` is a valid, initialised perf_event_attr whose `size` matches its type;
        // pid -1 with a CPU >= 0 is the system-wide form; group_fd -1 means no group.
        let fd = unsafe {
            perf_event_open(
                &mut attr,
                -1,
                cpu as i32,
                -1,
                b::PERF_FLAG_FD_CLOEXEC as libc::c_ulong,
            )
        };
        if fd < 0 {
            let source = io::Error::last_os_error();
            return Err(PerfError::Open {
                event: "a write breakpoint",
                cpu,
                fix: open_fix(&source),
                source,
            });
        }
        // SAFETY: the kernel just returned this fd, and nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: `fd` is the breakpoint event just opened; the argument is a plain fd number
        // that the kernel resolves and type-checks (BPF_PROG_TYPE_PERF_EVENT).
        if unsafe { ioctls::SET_BPF(fd.as_raw_fd(), prog.as_raw_fd() as u32) } < 0 {
            return Err(PerfError::Ioctl {
                op: "PERF_EVENT_IOC_SET_BPF",
                cpu,
                fix:
                    "check that the watch program loaded and the kernel supports BPF on perf events",
                source: io::Error::last_os_error(),
            });
        }
        fds.push(fd);
    }
    Ok(fds)
}

/// The one-line fix for a failed breakpoint `perf_event_open`.
fn open_fix(err: &io::Error) -> &'static str {
    match err.raw_os_error().unwrap_or(0) {
        libc::EACCES | libc::EPERM => {
            "run clprof as root (or with CAP_PERFMON), or lower /proc/sys/kernel/perf_event_paranoid"
        }
        libc::ENOSPC => "every debug register is taken (a debugger or perf holds them)",
        libc::EINVAL => "the word must be 1, 2, 4 or 8 bytes, aligned to its length, in user space",
        libc::ENOENT | libc::EOPNOTSUPP | libc::ENODEV => {
            "this kernel has no hardware breakpoints (CONFIG_HAVE_HW_BREAKPOINT): use --watch off"
        }
        libc::EMFILE | libc::ENFILE => "raise the open-file limit (ulimit -n)",
        _ => "use --watch off",
    }
}

#[cfg(test)]
#[path = "breakpoint_tests.rs"]
mod tests;
