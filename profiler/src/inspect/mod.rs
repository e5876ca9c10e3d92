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

pub mod access_funcs;
mod buildinfo;
pub mod container;
mod cpu_clock;
mod disasm;
mod dwarf;
mod dwarf_globals;
pub mod dwarf_vars;
mod elf;
mod entries;
#[doc(hidden)]
pub mod fuzz;
pub mod globals;
mod gobinary;
mod layout;
mod layout_dwarf;
mod map_types;
mod maps;
pub mod operand;
mod process;
mod procfs;
pub mod provenance;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use cpu_clock::CpuReader;
pub use elf::{find_symbol, find_variable, ProbeSite, Variable};
pub use entries::entries;
pub use gobinary::{
    inspect_binary, AssignFunc, GoBinary, MakeFunc, SymbolsSource, GROWTH_FUNCS, MAKE_FUNCS,
};
pub use layout::{FieldInfo, LayoutFlavor, LayoutSource, MapLayout, HASH_WRITING};
pub use maps::{load_bias, load_bias_of};
pub use process::{resolve_process, Process};
pub use procfs::{cpu_time, is_alive, ns_pid_of, numbered_entries, thread_count, Memory};

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
    /// The file behind a `/proc/PID/exe` link changed while it was read: the process exec'd.
    #[error(
        "{} changed while clprof read it (the process exec'd another program); profile the new program by its pid again",
        .path.display()
    )]
    Replaced {
        /// The link read.
        path: PathBuf,
    },
    /// A function or variable asked for by name is in neither symbol table.
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

/// A running Go process, its executable inspected.
#[derive(Clone, Debug)]
pub struct GoProcess {
    pub process: Process,
    /// The inspected executable.
    pub binary: Arc<GoBinary>,
}

/// The executable of `process`, inspected through `/proc/PID/exe`; errors name the executable
/// the user knows, not the link.
pub fn inspect_process(process: &Process) -> Result<Arc<GoBinary>, TargetError> {
    let binary = gobinary::inspect_binary_shared(&process.attach_path).map_err(|e| match e {
        TargetError::NoMapFunctions { .. } => TargetError::NoMapFunctions {
            path: process.exe.clone(),
        },
        e => e,
    })?;
    tracing::debug!(
        pid = process.pid,
        exe = %process.exe.display(),
        go_version = binary.go_version.as_deref().unwrap_or("unknown"),
        flavor = ?binary.layout.flavor,
        "resolved target"
    );
    Ok(binary)
}

/// Resolves a pid to a [`GoProcess`]: [`resolve_process`], then [`inspect_process`].
pub fn resolve_pid(pid: u32) -> Result<GoProcess, TargetError> {
    let process = resolve_process(pid)?;
    let binary = inspect_process(&process)?;
    Ok(GoProcess { process, binary })
}

#[cfg(test)]
mod tests;
