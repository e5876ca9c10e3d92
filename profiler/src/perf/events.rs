//! Opening one perf event per online CPU and handing its samples to an eBPF program.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

use perf_event_open_sys::{bindings as b, ioctls, perf_event_open};

use super::sysfs::{read_trimmed, read_u32};
use super::{attr, parse_cpu_list, PerfError, PerfSource, Sampling};

/// One perf event per online CPU (where the source's PMU serves that CPU), opened system-wide
/// (pid = -1) with PERF_FLAG_FD_CLOEXEC. Owned fds; dropping closes them, which also detaches
/// the eBPF program (the event holds the program reference).
#[derive(Debug)]
pub struct PerfEvents {
    pub fds: Vec<OwnedFd>,
    /// The CPU each fd in `fds` samples, same order.
    pub cpus: Vec<u32>,
    pub source: PerfSource,
}

impl PerfEvents {
    /// Opens `attr(source, sampling)` on every online CPU (`/sys/devices/system/cpu/online`). On
    /// hybrid Intel parts a PEBS event lives on the `cpu_core` PMU, which serves only the CPUs
    /// in its `cpus` file; the others are skipped. `PerfSource::None` opens nothing.
    pub fn open(source: &PerfSource, sampling: Sampling) -> Result<Self, PerfError> {
        if *source == PerfSource::None {
            return Self::open_on(source, sampling, &[]);
        }
        let sysfs = Path::new("/sys");
        let online = sysfs.join("devices/system/cpu/online");
        let text = std::fs::read_to_string(&online).map_err(|source| PerfError::Sysfs {
            path: online.display().to_string(),
            source,
        })?;
        let mut cpus = parse_cpu_list(&text)?;
        if let Some(served) = source.pmu_type().and_then(|t| pmu_cpus(sysfs, t)) {
            cpus.retain(|cpu| served.contains(cpu));
        }
        Self::open_on(source, sampling, &cpus)
    }

    /// Opens the event for the calling thread only, on whatever CPU it runs (calibration).
    pub fn open_this_thread(source: &PerfSource, sampling: Sampling) -> Result<Self, PerfError> {
        let fd = open_one(&mut attr(source, sampling), source, None)?;
        Ok(PerfEvents {
            fds: vec![fd],
            cpus: vec![u32::MAX],
            source: source.clone(),
        })
    }

    /// Opens the event on exactly `cpus`; the first failure closes what was opened.
    pub(crate) fn open_on(
        source: &PerfSource,
        sampling: Sampling,
        cpus: &[u32],
    ) -> Result<Self, PerfError> {
        let mut events = PerfEvents {
            fds: Vec::with_capacity(cpus.len()),
            cpus: Vec::with_capacity(cpus.len()),
            source: source.clone(),
        };
        if *source == PerfSource::None {
            return Ok(events);
        }
        if cpus.is_empty() {
            return Err(PerfError::Unavailable(format!(
                "--events {}: no online CPU is served by its PMU: use --events cpu-clock",
                source.name()
            )));
        }
        let mut attr = attr(source, sampling);
        for &cpu in cpus {
            events.fds.push(open_one(&mut attr, source, Some(cpu))?);
            events.cpus.push(cpu);
        }
        Ok(events)
    }

    /// ioctl(PERF_EVENT_IOC_SET_BPF, prog_fd) on every fd (Aya's PerfEvent::attach cannot set
    /// precise_ip/sample_type), then PERF_EVENT_IOC_ENABLE. On failure every event is
    /// disabled again.
    pub fn attach_bpf(&self, prog_fd: BorrowedFd<'_>) -> Result<(), PerfError> {
        let prog = prog_fd.as_raw_fd() as u32;
        for (fd, &cpu) in self.fds.iter().zip(&self.cpus) {
            // SAFETY: `fd` is an open perf event fd we own; the argument is a plain u32 fd
            // number, which the kernel resolves and type-checks (BPF_PROG_TYPE_PERF_EVENT).
            if unsafe { ioctls::SET_BPF(fd.as_raw_fd(), prog) } < 0 {
                let err = io::Error::last_os_error();
                return Err(PerfError::Ioctl {
                    op: "PERF_EVENT_IOC_SET_BPF",
                    cpu,
                    fix: set_bpf_fix(&err),
                    source: err,
                });
            }
        }
        self.enable()
    }

    /// PERF_EVENT_IOC_ENABLE on every fd (after [`PerfEvents::attach_bpf`] or
    /// [`PerfEvents::disable`]). On failure every event is disabled again.
    pub fn enable(&self) -> Result<(), PerfError> {
        for (fd, &cpu) in self.fds.iter().zip(&self.cpus) {
            // SAFETY: `fd` is an open perf event fd we own; ENABLE takes no pointer (0 = this
            // event, not its group).
            if unsafe { ioctls::ENABLE(fd.as_raw_fd(), 0) } < 0 {
                let err = io::Error::last_os_error();
                self.disable();
                return Err(PerfError::Ioctl {
                    op: "PERF_EVENT_IOC_ENABLE",
                    cpu,
                    fix: "the event was closed or its CPU went offline: record again",
                    source: err,
                });
            }
        }
        Ok(())
    }

    /// PERF_EVENT_IOC_DISABLE on every fd. Errors are ignored: a disabled or closed event
    /// delivers no more samples either way.
    pub fn disable(&self) {
        for fd in &self.fds {
            // SAFETY: `fd` is an open perf event fd we own; DISABLE takes no pointer.
            unsafe { ioctls::DISABLE(fd.as_raw_fd(), 0) };
        }
    }
}

/// perf_event_open(2) of `attr` on `cpu` system-wide, or for the calling thread on any CPU
/// (None).
fn open_one(
    attr: &mut b::perf_event_attr,
    source: &PerfSource,
    cpu: Option<u32>,
) -> Result<OwnedFd, PerfError> {
    let (pid, cpu_arg) = match cpu {
        Some(cpu) => (-1, cpu as i32),
        None => (0, -1),
    };
    // SAFETY: `attr` is a valid, initialised perf_event_attr whose `size` matches its type;
    // pid -1 with a CPU >= 0 is the documented system-wide form and pid 0 with CPU -1 the
    // calling-thread form (perf_event_open(2)); group_fd -1 means no group.
    let fd = unsafe {
        perf_event_open(
            attr,
            pid,
            cpu_arg,
            -1,
            b::PERF_FLAG_FD_CLOEXEC as libc::c_ulong,
        )
    };
    if fd < 0 {
        let err = io::Error::last_os_error();
        return Err(PerfError::Open {
            event: source.name(),
            cpu: cpu.unwrap_or(u32::MAX),
            fix: open_fix(&err, source),
            source: err,
        });
    }
    // SAFETY: the kernel just returned this fd, and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The CPUs a PMU serves, from `devices/<pmu>/cpus` of the PMU whose `type` is `pmu_type`.
/// Only hybrid core PMUs (`cpu_core`, `cpu_atom`) publish `cpus`; `None` means "every CPU".
pub(crate) fn pmu_cpus(sysfs: &Path, pmu_type: u32) -> Option<Vec<u32>> {
    let devices = sysfs.join("bus/event_source/devices");
    let dir = std::fs::read_dir(devices)
        .ok()?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|dir| read_u32(&dir.join("type")) == Some(pmu_type))?;
    parse_cpu_list(&read_trimmed(&dir.join("cpus"))?).ok()
}

/// The one-line fix for a failed perf_event_open, by errno (perf_event_open(2), ERRORS).
fn open_fix(err: &io::Error, source: &PerfSource) -> &'static str {
    let hardware = source.is_hardware();
    match err.raw_os_error().unwrap_or(0) {
        libc::EACCES | libc::EPERM => {
            "run clprof as root (or with CAP_PERFMON), or lower /proc/sys/kernel/perf_event_paranoid"
        }
        libc::EMFILE | libc::ENFILE => "raise the open-file limit (ulimit -n)",
        libc::EBUSY if hardware => {
            "another user holds the PMU exclusively (e.g. a PEBS or PT session): stop it or use --events cpu-clock"
        }
        libc::ENOENT | libc::ENODEV | libc::EOPNOTSUPP | libc::EINVAL if hardware => {
            "this PMU does not offer the event here (no hardware PMU, a VM, or an unsupported model): use --events cpu-clock"
        }
        libc::ENOSYS => "this kernel has no perf events (CONFIG_PERF_EVENTS): use --events none",
        _ if hardware => "use --events cpu-clock",
        _ => "use --events none",
    }
}

/// The one-line fix for a failed PERF_EVENT_IOC_SET_BPF (kernel/events/core.c,
/// perf_event_set_bpf_handler / perf_event_set_bpf_prog).
fn set_bpf_fix(err: &io::Error) -> &'static str {
    match err.raw_os_error().unwrap_or(0) {
        libc::EPROTO => {
            "on a precise (PEBS) event a program calling bpf_get_stack needs PERF_SAMPLE_CALLCHAIN without exclude_callchain_*: build the attr with perf::attr"
        }
        libc::EEXIST => "a BPF program is already attached to this event: open the events afresh",
        libc::EBADF | libc::EINVAL => {
            "the fd is not a loaded BPF_PROG_TYPE_PERF_EVENT program: attach the perf_event program's fd"
        }
        _ => "check that the program loaded and the kernel supports BPF on perf events",
    }
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
