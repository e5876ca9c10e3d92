//! What `/proc` says about a process: liveness, threads, its executable.

use std::path::{Path, PathBuf};

use super::TargetError;

/// Suffix the kernel appends to `/proc/PID/exe` and `/proc/PID/maps` paths of unlinked files.
pub(crate) const DELETED_SUFFIX: &str = " (deleted)";

/// True when `/proc/PID` exists and the process is not a zombie (state `Z` in `/proc/PID/stat`).
pub fn is_alive(pid: u32) -> bool {
    if pid == 0 {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !matches!(parse_stat_state(&stat), Some('Z') | Some('X') | None),
        Err(_) => false,
    }
}

/// The state letter of a `/proc/PID/stat` line. The command name (field 2) is in parentheses and
/// may itself contain spaces and ')', so the state is the first field after the *last* ')'.
fn parse_stat_state(stat: &str) -> Option<char> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().next()?.chars().next()
}

/// CPU time the process has used (user + system, all its threads, dead ones included), in
/// nanoseconds from the process's CPU clock (`clock_getcpuclockid(3)`), else in clock ticks from
/// fields 14 and 15 of `/proc/PID/stat`; None once it is gone.
pub fn cpu_time(pid: u32) -> Option<std::time::Duration> {
    if let Some(t) = cpu_clock(pid) {
        return Some(t);
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let ticks = parse_stat_cpu_ticks(&stat)?;
    Some(std::time::Duration::from_nanos(
        ticks.saturating_mul(1_000_000_000 / clock_ticks_per_sec()),
    ))
}

/// The memory of a process, read through `/proc/PID/mem`.
pub struct Memory(std::fs::File);

impl Memory {
    /// Opens the memory of `pid`; None once it is gone.
    pub fn open(pid: u32) -> Option<Memory> {
        std::fs::File::open(format!("/proc/{pid}/mem"))
            .ok()
            .map(Memory)
    }

    /// The 8 bytes at `addr` (little-endian); None where nothing is mapped.
    pub fn read_u64(&self, addr: u64) -> Option<u64> {
        use std::os::unix::fs::FileExt as _;
        let mut buf = [0u8; 8];
        self.0.read_exact_at(&mut buf, addr).ok()?;
        Some(u64::from_le_bytes(buf))
    }
}

/// The numeric entries of a `/proc` directory (`/proc` itself: processes; `/proc/PID/task`:
/// threads), with their paths; None when the directory cannot be read.
pub fn numbered_entries(
    dir: &std::path::Path,
) -> Option<impl Iterator<Item = (u32, std::path::PathBuf)>> {
    let entries = std::fs::read_dir(dir).ok()?;
    Some(entries.flatten().filter_map(|e| {
        let n = e.file_name().to_str()?.parse::<u32>().ok()?;
        Some((n, e.path()))
    }))
}

/// The process CPU clock of `pid` (the kernel's sum of its threads' runtimes, in ns).
fn cpu_clock(pid: u32) -> Option<std::time::Duration> {
    super::cpu_clock::clock(super::cpu_clock::process_clock(pid)?)
}

/// utime + stime (clock ticks) of a `/proc/PID/stat` line.
fn parse_stat_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // After the command: field 3 (state) is index 0, so utime (14) and stime (15) are 11 and 12.
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// `sysconf(_SC_CLK_TCK)`: the unit of `/proc` CPU times (100 on Linux).
fn clock_ticks_per_sec() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        hz as u64
    } else {
        100
    }
}

/// Number of threads of the process, from the `Threads:` line of `/proc/PID/status`.
pub fn thread_count(pid: u32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_status_threads(&status)
}

/// The thread group (process) id of `pid`, from `Tgid:` in `/proc/PID/status`. Differs from
/// `pid` when `pid` names a non-leader thread (its `/proc/TID` exists but is not listed).
pub(crate) fn tgid_of(pid: u32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status_field(&status, "Tgid:")
}

/// The pid of `pid` inside its own (innermost) pid namespace: the last field of `NSpid:` in
/// `/proc/PID/status`, which lists the pid in each namespace from the one this `/proc` belongs to
/// down to the process's own. Equal to `pid` when the process is in our pid namespace; None when
/// the status cannot be read or has no `NSpid:` line (kernels before 4.1).
pub fn ns_pid_of(pid: u32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_ns_pid(&status)
}

fn parse_ns_pid(status: &str) -> Option<u32> {
    let fields = status.lines().find_map(|l| l.strip_prefix("NSpid:"))?;
    fields.split_whitespace().last()?.parse().ok()
}

fn parse_status_threads(status: &str) -> Option<u32> {
    status_field(status, "Threads:")
}

fn status_field(status: &str, key: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().parse().ok())
}

/// Reads `/proc/PID/exe` and removes the " (deleted)" suffix of unlinked executables.
pub(crate) fn read_exe_link(pid: u32) -> Result<PathBuf, TargetError> {
    let link = PathBuf::from(format!("/proc/{pid}/exe"));
    match std::fs::read_link(&link) {
        Ok(target) => Ok(strip_deleted(target)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // The link of a kernel thread (or a process past exit_mm) reads as ENOENT while
            // /proc/PID itself is still there.
            if Path::new(&format!("/proc/{pid}")).exists() {
                Err(TargetError::NoExecutable { pid })
            } else {
                Err(TargetError::NoSuchPid { pid })
            }
        }
        Err(e) => Err(TargetError::io(&link, e)),
    }
}

fn strip_deleted(path: PathBuf) -> PathBuf {
    match path.to_str().and_then(|s| s.strip_suffix(DELETED_SUFFIX)) {
        Some(s) => PathBuf::from(s),
        None => path,
    }
}

#[cfg(test)]
#[path = "procfs_tests.rs"]
mod tests;
