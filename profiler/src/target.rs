//! A process clprof records: its executable, namespace pid, container, inspected binary, symbols
//! and load bias. Built from a resolved process ([`crate::session::ProbePlan::resolve`] for a
//! pid, [`crate::session::ProbePlan::found`] for a Go process `--all-go` found) or for a command
//! clprof launched; its `/proc` entry is read once.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::Arc,
};

use crate::{
    inspect::{self, container::Container, dwarf_vars::VarAccess, GoBinary, Process},
    symbolize::Symbolizer,
};

/// One process being recorded.
pub struct Target {
    pub pid: u32,
    /// Its pid inside its own pid namespace (see [`inspect::Process::ns_pid`]).
    pub ns_pid: Option<u32>,
    /// The container it runs in; None outside one.
    pub container: Option<Container>,
    /// The executable as the user knows it.
    pub exe: String,
    /// Path the kernel and clprof open it by.
    pub attach_path: PathBuf,
    /// None when only custom probes apply to it.
    pub binary: Option<Arc<GoBinary>>,
    pub symbolizer: Option<Symbolizer>,
    pub bias: Option<u64>,
    /// The struct fields its DWARF named at accessing instructions, by access (None: none
    /// named), kept so that a daemon's later windows do not read the DWARF again.
    pub field_names: HashMap<VarAccess, Option<String>>,
}

impl Target {
    /// A command clprof launched: `pid` runs `path` (held before its exec).
    pub fn launched(pid: u32, path: &Path, binary: Option<Arc<GoBinary>>) -> Target {
        Target {
            pid,
            ns_pid: inspect::ns_pid_of(pid),
            container: inspect::container::of(pid),
            exe: path.display().to_string(),
            attach_path: path.to_path_buf(),
            binary,
            symbolizer: None,
            bias: None,
            field_names: HashMap::new(),
        }
    }

    /// `process`, with its inspected executable where Go map probes apply to it; symbols not
    /// opened yet.
    pub fn of_process(process: Process, binary: Option<Arc<GoBinary>>) -> Target {
        Target {
            pid: process.pid,
            ns_pid: process.ns_pid,
            container: process.container,
            exe: process.exe.display().to_string(),
            attach_path: process.attach_path,
            binary,
            symbolizer: None,
            bias: None,
            field_names: HashMap::new(),
        }
    }

    /// Opens its symbol tables; before its probes are attached, so that the time is not
    /// charged to it.
    pub fn open_symbols(&mut self) {
        self.symbolizer = open_symbolizer(&self.attach_path);
    }

    /// Reads its load bias, while it is certainly mapped (PIE executables need it).
    pub fn read_bias(&mut self) {
        self.bias = match &self.binary {
            Some(binary) => inspect::load_bias(self.pid, binary).ok(),
            None => inspect::load_bias_of(self.pid, &self.attach_path).ok(),
        };
    }
}

/// The symbolizer of the executable at `path`; None, with a warning, when it cannot be read.
pub fn open_symbolizer(path: &Path) -> Option<Symbolizer> {
    match Symbolizer::open(path) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!("stacks will not be symbolized: {e}");
            None
        }
    }
}
