//! Loads the embedded eBPF object, tells the kernel side about each target, attaches the uprobes,
//! and reads the kernel's folded state back.
//!
//! Everything is owned by this process (program, link and map fds); nothing is pinned, so the
//! kernel removes every probe when clprof exits, however it exits.

use std::{collections::HashMap, num::NonZeroU32, path::Path};

use aya::{
    maps::{HashMap as BpfHashMap, MapData, PerCpuArray, RingBuf, StackTraceMap},
    programs::{
        uprobe::{UProbeAttachLocation, UProbeAttachPoint, UProbeLinkId, UProbeScope},
        UProbe,
    },
    Ebpf, EbpfLoader,
};
use profiler_common::{
    cookie, map_names, AssignKind, Counter, LineKey, LineStats, ObjectKey, ObjectStats,
    TargetConfig, ASSIGN_KINDS, COUNTERS, MAX_TARGETS, PROGRAM_MAP_ASSIGN,
};

use crate::{fold::KernelSnapshot, target::GoBinary};

/// The eBPF object built by `build.rs` (aya-build) from `profiler-ebpf`.
static EBPF_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/profiler"));

/// Errors loading or attaching the probes.
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
    #[error("too many targets: at most {MAX_TARGETS} processes at once")]
    TooManyTargets,
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

/// Sum over CPUs of every [`Counter`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters(pub [u64; COUNTERS as usize]);

impl Counters {
    pub fn get(&self, c: Counter) -> u64 {
        self.0[c as usize]
    }
}

/// A probed process.
pub struct ProbedTarget {
    pub pid: u32,
    pub slot: u32,
}

/// Loaded programs and their attachments.
pub struct Probes {
    ebpf: Ebpf,
    links: Vec<UProbeLinkId>,
    targets: Vec<ProbedTarget>,
}

impl Probes {
    /// Loads the programs. `verbose` enables the eBPF side's debug logs (aya-log).
    pub fn load(verbose: bool) -> Result<Self, AttachError> {
        if EBPF_OBJECT.is_empty() {
            return Err(AttachError::NotBuilt);
        }
        // aya-log levels: 0 disables every log statement in the kernel; 0xff enables all.
        let level: u8 = if verbose { 0xff } else { 0 };
        let mut ebpf = EbpfLoader::new()
            .override_global("AYA_LOG_LEVEL", &level, false)
            .load(EBPF_OBJECT)
            .map_err(|e| AttachError::Load(Box::new(e)))?;
        let program: &mut UProbe = ebpf
            .program_mut(PROGRAM_MAP_ASSIGN)
            .ok_or(AttachError::Missing(PROGRAM_MAP_ASSIGN))?
            .try_into()?;
        program.load()?;
        Ok(Probes {
            ebpf,
            links: Vec::new(),
            targets: Vec::new(),
        })
    }

    /// Takes the aya-log ring buffer, for the collector to drain into `tracing`.
    pub fn take_logger(&mut self) -> Option<aya_log::EbpfLogger<&'static dyn log::Log>> {
        aya_log::EbpfLogger::init(&mut self.ebpf).ok()
    }

    /// Takes the sampled-event ring buffer.
    pub fn take_events(&mut self) -> Result<RingBuf<MapData>, AttachError> {
        let map = self
            .ebpf
            .take_map(map_names::EVENTS)
            .ok_or(AttachError::Missing(map_names::EVENTS))?;
        Ok(RingBuf::try_from(map)?)
    }

    /// Registers `pid` with the kernel side and attaches every map-assign probe of `binary` at
    /// `attach_path`, scoped to `pid`. `sample_every` picks one event in N for stack sampling.
    pub fn attach(
        &mut self,
        pid: u32,
        attach_path: &Path,
        binary: &GoBinary,
        sample_every: u32,
    ) -> Result<(), AttachError> {
        let slot = self.targets.len() as u32;
        if slot >= MAX_TARGETS {
            return Err(AttachError::TooManyTargets);
        }
        let [w0, w1] = &binary.layout.written;
        let config = TargetConfig {
            field_offset: [w0.offset as u16, w1.offset as u16],
            field_size: [w0.size as u16, w1.size as u16],
            sample_every,
            slot,
        };
        {
            let mut targets: BpfHashMap<&mut MapData, u32, TargetConfig> = BpfHashMap::try_from(
                self.ebpf
                    .map_mut(map_names::TARGETS)
                    .ok_or(AttachError::Missing(map_names::TARGETS))?,
            )?;
            targets.insert(pid, config, 0)?;
        }
        let program: &mut UProbe = self
            .ebpf
            .program_mut(PROGRAM_MAP_ASSIGN)
            .ok_or(AttachError::Missing(PROGRAM_MAP_ASSIGN))?
            .try_into()?;
        let scope = match NonZeroU32::new(pid) {
            Some(pid) => UProbeScope::OneProcess(pid),
            None => UProbeScope::AllProcesses,
        };
        for func in &binary.assign_funcs {
            let point = UProbeAttachPoint {
                location: UProbeAttachLocation::AbsoluteOffset(func.file_offset),
                cookie: Some(cookie(func.kind, slot)),
            };
            let link = program
                .attach(point, attach_path, scope)
                .map_err(|source| AttachError::Attach {
                    symbol: func.symbol.clone(),
                    path: attach_path.display().to_string(),
                    source: Box::new(source),
                })?;
            self.links.push(link);
            tracing::debug!(pid, symbol = %func.symbol, offset = func.file_offset, "uprobe attached");
        }
        self.targets.push(ProbedTarget { pid, slot });
        Ok(())
    }

    /// Detaches every probe; the maps stay readable.
    pub fn detach_all(&mut self) {
        if let Some(Ok(program)) = self
            .ebpf
            .program_mut(PROGRAM_MAP_ASSIGN)
            .map(<&mut UProbe>::try_from)
        {
            for link in self.links.drain(..) {
                if let Err(e) = program.detach(link) {
                    tracing::warn!("detaching a uprobe: {e}");
                }
            }
        }
    }

    fn map(&self, name: &'static str) -> Result<&aya::maps::Map, AttachError> {
        self.ebpf.map(name).ok_or(AttachError::Missing(name))
    }

    /// The probed targets, in attach order.
    pub fn targets(&self) -> &[ProbedTarget] {
        &self.targets
    }

    /// Per-CPU counters summed.
    pub fn counters(&self) -> Result<Counters, AttachError> {
        let array: PerCpuArray<&MapData, u64> =
            PerCpuArray::try_from(self.map(map_names::COUNTERS)?)?;
        let mut out = Counters::default();
        for (i, slot) in out.0.iter_mut().enumerate() {
            *slot = array.get(&(i as u32), 0)?.iter().sum();
        }
        Ok(out)
    }

    /// Hits per (target slot, assign kind).
    pub fn hits(&self) -> Result<HashMap<(u32, AssignKind), u64>, AttachError> {
        let array: PerCpuArray<&MapData, u64> = PerCpuArray::try_from(self.map(map_names::HITS)?)?;
        let mut out = HashMap::new();
        for target in &self.targets {
            for kind in AssignKind::ALL {
                let index = target.slot * ASSIGN_KINDS + kind as u32;
                let hits: u64 = array.get(&index, 0)?.iter().sum();
                out.insert((target.slot, kind), hits);
            }
        }
        Ok(out)
    }

    /// The line and object maps as they are now.
    pub fn snapshot(&self) -> Result<KernelSnapshot, AttachError> {
        let lines: BpfHashMap<&MapData, LineKey, LineStats> =
            BpfHashMap::try_from(self.map(map_names::LINES)?)?;
        let objects: BpfHashMap<&MapData, ObjectKey, ObjectStats> =
            BpfHashMap::try_from(self.map(map_names::OBJECTS)?)?;
        // Entries can be evicted while iterating; skip the ones that vanish.
        Ok(KernelSnapshot {
            lines: lines.iter().filter_map(Result::ok).collect(),
            objects: objects.iter().filter_map(Result::ok).collect(),
        })
    }

    /// The user stack stored under `id`, outermost frame last.
    pub fn stack(&self, id: u32) -> Option<Vec<u64>> {
        let map = self.ebpf.map(map_names::STACKS)?;
        let stacks: StackTraceMap<&MapData> = StackTraceMap::try_from(map).ok()?;
        let trace = stacks.get(&id, 0).ok()?;
        Some(trace.frames().iter().map(|f| f.ip).collect())
    }
}
