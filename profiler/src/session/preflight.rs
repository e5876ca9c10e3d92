//! Checks that fail early with one clear line instead of a kernel errno later.

use std::path::Path;

/// Why clprof cannot profile on this machine or as this user.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PreflightError {
    #[error("clprof must run as root: it loads eBPF programs and uprobes (try: sudo clprof ...)")]
    NotRoot,
    #[error("this kernel has no uprobe support ({0} is missing): a kernel built with CONFIG_UPROBE_EVENTS=y is needed")]
    NoUprobes(String),
}

/// Fails unless the effective user is root.
pub fn require_root() -> Result<(), PreflightError> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        Ok(())
    } else {
        Err(PreflightError::NotRoot)
    }
}

/// Raises the soft limit on open files to the hard limit: clprof keeps a counting perf event
/// open per thread of every target (its CPU time), and a service has hundreds of threads. Returns
/// the limit now in force; an error leaves the old one (thread CPU reading then stops adding
/// threads once descriptors run out).
pub fn raise_open_files_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write one rlimit through a valid pointer.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return raised.rlim_cur;
            }
        }
    }
    lim.rlim_cur
}

/// Fails unless the kernel registers the `uprobe` perf PMU under `sysfs` (normally `/sys`).
pub fn require_uprobes(sysfs: &Path) -> Result<(), PreflightError> {
    let pmu = sysfs.join("bus/event_source/devices/uprobe/type");
    if pmu.exists() {
        Ok(())
    } else {
        Err(PreflightError::NoUprobes(pmu.display().to_string()))
    }
}

/// Whether the CPU's hardware PMU is exposed (absent in most VMs): x86 registers it as `cpu`, or
/// `cpu_core`/`cpu_atom` on hybrid parts.
pub fn pmu_available(sysfs: &Path) -> bool {
    ["cpu", "cpu_core", "cpu_atom"].iter().any(|d| {
        sysfs
            .join("bus/event_source/devices")
            .join(d)
            .join("type")
            .exists()
    })
}

#[cfg(test)]
#[path = "preflight_tests.rs"]
mod tests;
