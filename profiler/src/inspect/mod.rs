//! Finding what to probe in a Go process: its executable, the map-assign functions in it (entry
//! and RET sites), the functions that grow maps, where they are loaded, the layout of the Go map
//! header those functions write, and the names of the map types. Also plain processes and
//! function symbols of any ELF executable, for custom probes on non-Go programs.
//!
//! The pieces:
//! - [`procfs`]: `/proc/PID/{exe,stat,status}`; [`process`]: any process as a target;
//!   [`maps`]: the load bias of a PIE executable.
//! - [`elf`]: ELF parsing, function symbols and their file offsets ([`find_symbol`]).
//! - [`gobinary`]: the `runtime.mapassign*` and growth symbols, the per-binary cache;
//!   [`disasm`]: RET instructions by linear sweep.
//! - [`buildinfo`]: the Go version (`.go.buildinfo`) and build ids.
//! - [`layout`]: the map header layout (classic `runtime.hmap` or swiss `internal/runtime/maps.Map`),
//!   from DWARF ([`layout_dwarf`]) or a built-in table when the binary has no DWARF.
//! - [`map_types`]: map type names by runtime type descriptor address, from the same DWARF pass.

mod buildinfo;
mod cpu_clock;
mod disasm;
mod elf;
mod gobinary;
mod layout;
mod layout_dwarf;
mod map_types;
mod maps;
mod process;
mod procfs;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use cpu_clock::CpuReader;
pub use elf::{find_symbol, ProbeSite};
pub use gobinary::{inspect_binary, AssignFunc, GoBinary, SymbolsSource, GROWTH_FUNCS};
pub use layout::{FieldInfo, LayoutFlavor, LayoutSource, MapLayout, HASH_WRITING};
pub use maps::{load_bias, load_bias_of};
pub use process::{resolve_process, Process};
pub use procfs::{cpu_time, is_alive, ns_pid_of, numbered_entries, thread_count};

/// Why a process or binary cannot be profiled. Each message is one line that says what to do.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// `/proc/PID` does not exist.
    #[error("pid {pid} not found (is the process running?)")]
    NoSuchPid {
        /// The pid asked for.
        pid: u32,
    },
    /// The pid is a thread of another process.
    #[error("pid {pid} is a thread of process {tgid} (use pid {tgid})")]
    NotAProcess {
        /// The thread id given.
        pid: u32,
        /// Its process id.
        tgid: u32,
    },
    /// The process has no executable (kernel thread, or a process that is exiting).
    #[error(
        "pid {pid} has no executable (kernel thread or exiting process; pick a running program's pid)"
    )]
    NoExecutable {
        /// The pid asked for.
        pid: u32,
    },
    /// Reading a file was refused.
    #[error("cannot read {}: permission denied (run clprof as root)", .path.display())]
    PermissionDenied {
        /// The file that could not be read.
        path: PathBuf,
    },
    /// Any other I/O failure.
    #[error("cannot read {}: {source} (check that the file exists and is readable)", .path.display())]
    Io {
        /// The file that could not be read.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not an ELF file `object` can parse, or is malformed.
    #[error("{} is not a valid ELF executable: {reason} (point clprof at a Go program)", .path.display())]
    NotElf {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        reason: String,
    },
    /// An ELF file clprof does not handle (e.g. 32-bit).
    #[error("{} is not supported: {what}", .path.display())]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        what: String,
    },
    /// None of the `runtime.mapassign*` functions are in the symbol table.
    #[error(
        "no Go map functions in {} (neither its symbol table nor Go's function table has runtime.mapassign; is it a Go program?)",
        .path.display()
    )]
    NoMapFunctions {
        /// The file.
        path: PathBuf,
    },
    /// Neither DWARF nor the built-in table gives the map header layout.
    #[error(
        "cannot determine the Go map layout of {} (Go version {}): no usable DWARF and no built-in layout for it (rebuild without -ldflags=-w)",
        .path.display(),
        .go_version.as_deref().unwrap_or("unknown")
    )]
    UnknownLayout {
        /// The file.
        path: PathBuf,
        /// The Go version found in the binary, if any.
        go_version: Option<String>,
    },
    /// A function symbol asked for by name is in neither symbol table.
    #[error(
        "symbol {symbol} not found in {} (is it exported or is the binary stripped?)",
        .path.display()
    )]
    SymbolNotFound {
        /// The symbol looked for.
        symbol: String,
        /// The executable searched.
        path: PathBuf,
    },
    /// The executable's mappings are not in `/proc/PID/maps`.
    #[error(
        "cannot find {} in /proc/{pid}/maps (did the process exit or exec another program?)",
        .path.display()
    )]
    NotMapped {
        /// The pid.
        pid: u32,
        /// The executable looked for.
        path: PathBuf,
    },
}

impl TargetError {
    /// Maps an I/O error on `path` to `PermissionDenied` or `Io`.
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        match source.kind() {
            std::io::ErrorKind::PermissionDenied => TargetError::PermissionDenied {
                path: path.to_path_buf(),
            },
            _ => TargetError::Io {
                path: path.to_path_buf(),
                source,
            },
        }
    }
}

/// A running Go process to profile.
#[derive(Clone, Debug)]
pub struct Target {
    /// Process id (tgid).
    pub pid: u32,
    /// What /proc/PID/exe points to, " (deleted)" suffix removed; for display.
    pub exe: PathBuf,
    /// Path the kernel can open for uprobes and we can read: "/proc/PID/exe" (works for deleted
    /// files and other mount namespaces).
    pub attach_path: PathBuf,
    /// The inspected executable.
    pub binary: Arc<GoBinary>,
}

/// Resolves a pid to a [`Target`]: [`resolve_process`], then inspects the executable through
/// `/proc/PID/exe`.
pub fn resolve_pid(pid: u32) -> Result<Target, TargetError> {
    let Process {
        pid,
        exe,
        attach_path,
        ..
    } = resolve_process(pid)?;
    let binary = gobinary::inspect_binary_shared(&attach_path).map_err(|e| match e {
        // Name the executable the user knows, not the /proc link.
        TargetError::NoMapFunctions { .. } => TargetError::NoMapFunctions { path: exe.clone() },
        e => e,
    })?;
    tracing::debug!(
        pid,
        exe = %exe.display(),
        go_version = binary.go_version.as_deref().unwrap_or("unknown"),
        flavor = ?binary.layout.flavor,
        "resolved target"
    );
    Ok(Target {
        pid,
        exe,
        attach_path,
        binary,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{go_program, GoBuild};

    #[test]
    fn resolve_pid_on_running_go_process() {
        let bin = go_program(GoBuild::NewDwarf);
        let mut child = crate::test_support::SleepingChild::spawn(&bin);
        let pid = child.pid();
        let target = resolve_pid(pid).expect("resolve_pid on a live Go process");
        assert_eq!(target.pid, pid);
        assert_eq!(target.exe, std::fs::canonicalize(&bin).unwrap());
        assert_eq!(
            target.attach_path,
            PathBuf::from(format!("/proc/{pid}/exe"))
        );
        assert_eq!(target.binary.path, target.attach_path);
        assert_eq!(target.binary.layout.flavor, LayoutFlavor::Swiss);
        assert_eq!(target.binary.assign_funcs.len(), 5);
        assert!(is_alive(pid));
        assert!(
            thread_count(pid).unwrap_or(0) >= 2,
            "Go runs several threads"
        );
        // Another thread of the process is not a target.
        let tid = std::fs::read_dir(format!("/proc/{pid}/task"))
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .find(|&t| t != pid)
            .expect("a second thread");
        match resolve_pid(tid) {
            Err(TargetError::NotAProcess { pid: p, tgid }) => assert_eq!((p, tgid), (tid, pid)),
            other => panic!("expected NotAProcess, got {other:?}"),
        }
        // Non-PIE: addresses in the file are the runtime addresses.
        assert!(!target.binary.is_pie);
        assert_eq!(load_bias(pid, &target.binary).unwrap(), 0);
        child.kill();
        assert!(!is_alive(pid));
    }

    #[test]
    fn resolve_pid_of_deleted_executable() {
        // Copy the binary, start it, delete the file: /proc/PID/exe still opens it.
        let bin = go_program(GoBuild::OldDwarf);
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("victim");
        std::fs::copy(&bin, &copy).unwrap();
        let mut child = crate::test_support::SleepingChild::spawn(&copy);
        std::fs::remove_file(&copy).unwrap();
        let target = resolve_pid(child.pid()).expect("resolve a deleted executable");
        assert_eq!(
            target.exe,
            std::fs::canonicalize(dir.path()).unwrap().join("victim")
        );
        assert_eq!(target.binary.layout.flavor, LayoutFlavor::Classic);
        assert!(target
            .binary
            .go_version
            .as_deref()
            .unwrap()
            .starts_with("go1.19"));
        child.kill();
    }

    #[test]
    fn resolve_pid_on_dead_pid() {
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let pid = child.id();
        child.wait().unwrap();
        match resolve_pid(pid) {
            Err(TargetError::NoSuchPid { pid: p }) => assert_eq!(p, pid),
            other => panic!("expected NoSuchPid, got {other:?}"),
        }
        let msg = TargetError::NoSuchPid { pid: 42 }.to_string();
        assert_eq!(msg, "pid 42 not found (is the process running?)");
        assert!(matches!(
            resolve_pid(0),
            Err(TargetError::NoSuchPid { pid: 0 })
        ));
    }

    #[test]
    fn resolve_pid_on_non_go_process() {
        // Ourselves: a Rust test binary has no Go map functions.
        let err = resolve_pid(std::process::id()).unwrap_err();
        assert!(matches!(err, TargetError::NoMapFunctions { .. }), "{err}");
        let exe = std::env::current_exe().expect("current_exe");
        assert!(
            err.to_string().contains(&exe.display().to_string()),
            "names the executable, not the /proc link: {err}"
        );
    }

    #[test]
    fn error_messages_are_single_lines() {
        let errs = [
            TargetError::PermissionDenied {
                path: "/proc/42/exe".into(),
            },
            TargetError::NoMapFunctions {
                path: "/usr/bin/x".into(),
            },
            TargetError::UnknownLayout {
                path: "/x".into(),
                go_version: None,
            },
            TargetError::NotMapped {
                pid: 1,
                path: "/x".into(),
            },
            TargetError::SymbolNotFound {
                symbol: "counter_add".into(),
                path: "./server".into(),
            },
            TargetError::io(
                Path::new("/x"),
                std::io::Error::from(std::io::ErrorKind::PermissionDenied),
            ),
        ];
        for e in &errs {
            let s = e.to_string();
            assert!(!s.contains('\n'), "{s}");
            assert!(s.contains('('), "message should carry a hint: {s}");
        }
        assert_eq!(
            errs[0].to_string(),
            "cannot read /proc/42/exe: permission denied (run clprof as root)"
        );
        assert_eq!(
            errs[1].to_string(),
            "no Go map functions in /usr/bin/x (neither its symbol table nor Go's function table has runtime.mapassign; is it a Go program?)"
        );
        assert_eq!(
            errs[4].to_string(),
            "symbol counter_add not found in ./server (is it exported or is the binary stripped?)"
        );
        assert!(matches!(errs[5], TargetError::PermissionDenied { .. }));
    }
}
