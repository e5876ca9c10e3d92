//! What can go wrong loading clprof's programs, attaching them and using their maps.

use profiler_common::{MAX_PROBES, MAX_TARGETS};

/// Errors loading or attaching the probes, or reading and writing the kernel side's maps.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error("this clprof was built without its eBPF programs (CLPROF_SKIP_EBPF=1); rebuild with `cargo xtask build-ebpf`")]
    NotBuilt,
    #[error(
        "the kernel refused clprof's eBPF programs: {0} (a kernel >= 5.15 with BTF is needed)"
    )]
    Load(#[source] Box<aya::EbpfError>),
    #[error("eBPF object has no {0}")]
    Missing(&'static str),
    #[error("eBPF program: {0}")]
    Program(#[source] Box<aya::programs::ProgramError>),
    #[error("eBPF map: {0}")]
    Map(#[source] Box<aya::maps::MapError>),
    #[error("cannot attach a uprobe to {symbol} in {path}: {source}")]
    Attach {
        symbol: String,
        path: String,
        #[source]
        source: Box<aya::programs::ProgramError>,
    },
    #[error("the kernel cannot put a uprobe on {symbol} in {path}: its first instruction cannot be single-stepped out of line (e.g. LOCK-prefixed); probe a caller instead")]
    Unprobeable { symbol: String, path: String },
    #[error("process {pid} exec'd another program since clprof read {path}; profile the new program by its pid again")]
    Replaced { pid: u32, path: String },
    #[error("too many targets: at most {MAX_TARGETS} processes at once")]
    TooManyTargets,
    #[error("too many probe sites: at most {MAX_PROBES}")]
    TooManyProbes,
    #[error("registering a ring buffer with the runtime: {0}")]
    Io(#[source] Box<std::io::Error>),
}

impl From<aya::programs::ProgramError> for AttachError {
    fn from(e: aya::programs::ProgramError) -> Self {
        AttachError::Program(Box::new(e))
    }
}

impl From<aya::maps::MapError> for AttachError {
    fn from(e: aya::maps::MapError) -> Self {
        AttachError::Map(Box::new(e))
    }
}
