//! Any running process (Go or not) as a probe target: its pid checked, its executable found.

use std::path::PathBuf;

use super::{procfs, TargetError};

/// A running process and the executable uprobes attach to, with no Go-specific inspection
/// (custom probes on C programs use this; Go targets build on it, see [`super::resolve_pid`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Process {
    /// Process id (tgid).
    pub pid: u32,
    /// What /proc/PID/exe points to, " (deleted)" suffix removed; for display.
    pub exe: PathBuf,
    /// Path the kernel can open for uprobes and we can read: "/proc/PID/exe" (works for deleted
    /// files and other mount namespaces).
    pub attach_path: PathBuf,
    /// Its pid inside its own pid namespace (a container's), from `NSpid:`; equal to `pid` when
    /// it shares clprof's pid namespace, None when `/proc` does not say.
    pub ns_pid: Option<u32>,
    /// The container it runs in (from its cgroups); None outside one.
    pub container: Option<super::container::Container>,
}

/// Resolves a pid to a [`Process`]: checks that it exists, that it is a process and not one of
/// its threads, and reads its executable link.
pub fn resolve_process(pid: u32) -> Result<Process, TargetError> {
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    // pid 0 has no /proc entry but "/proc/0" could never exist anyway; checked for clarity.
    if pid == 0 || !proc_dir.exists() {
        return Err(TargetError::NoSuchPid { pid });
    }
    // uprobes filter on the tgid; a thread id would never match.
    if let Some(tgid) = procfs::tgid_of(pid).filter(|&t| t != pid) {
        return Err(TargetError::NotAProcess { pid, tgid });
    }
    let exe = procfs::read_exe_link(pid)?;
    Ok(Process {
        pid,
        exe,
        attach_path: proc_dir.join("exe"),
        ns_pid: procfs::ns_pid_of(pid),
        container: super::container::of(pid),
    })
}

#[cfg(test)]
#[path = "process_tests.rs"]
mod tests;
