//! Loads the embedded eBPF object, tells the kernel side about each target, and attaches the
//! uprobes: map-assign entries and RET sites, growth functions, custom probes.
//!
//! Everything is owned by this process (program, link and map fds); nothing is pinned, so the
//! kernel removes every probe when clprof exits, however it exits.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{atomic::AtomicU64, Arc},
};

use aya::{
    maps::{HashMap as BpfHashMap, MapData},
    programs::{PerfEvent, UProbe},
    Ebpf, EbpfLoader,
};
use profiler_common::{
    map_names, Cookie, TargetConfig, CUSTOM_KIND, MAX_PROBES, MAX_TARGETS, NO_FIELD, NO_PROBE_ID,
    PROGRAM_CUSTOM, PROGRAM_MAP_ASSIGN, PROGRAM_MAP_ASSIGN_RET, PROGRAM_MAP_GROW,
    PROGRAM_PERF_SAMPLE,
};

pub use crate::kernel::links::thread_cpu;
use crate::{
    inspect::GoBinary, inspect::MapLayout, kernel::links::Link,
    kernel::uprobe_multi::MultiPrograms, kernel::xol::XolAreas, probe_spec::CustomProbe,
};

/// The eBPF object built by `build.rs` (aya-build) from `profiler-ebpf`.
static EBPF_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/profiler"));

const PROGRAMS: [&str; 4] = [
    PROGRAM_MAP_ASSIGN,
    PROGRAM_MAP_ASSIGN_RET,
    PROGRAM_MAP_GROW,
    PROGRAM_CUSTOM,
];

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
    #[error("the kernel cannot put a uprobe on {symbol} in {path}: its first instruction cannot be single-stepped out of line (e.g. LOCK-prefixed); probe a caller instead")]
    Unprobeable { symbol: String, path: String },
    #[error("too many targets: at most {MAX_TARGETS} processes at once")]
    TooManyTargets,
    #[error("too many probe sites: at most {MAX_PROBES}")]
    TooManyProbes,
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

/// A probed function whose hits are counted (index = probe id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CountedProbe {
    pub pid: u32,
    /// The binary as the user knows it.
    pub binary: String,
    pub symbol: String,
}

/// One uprobe of a target, kept so that the target's probes can be detached and attached again
/// (duty cycling under the overhead budget).
#[derive(Clone, Debug)]
pub(crate) struct AttachPoint {
    pub(crate) program: &'static str,
    pub(crate) path: PathBuf,
    pub(crate) file_offset: u64,
    pub(crate) cookie: Cookie,
    pub(crate) symbol: String,
}

/// Loaded programs and their attachments.
pub struct Probes {
    pub(crate) ebpf: Ebpf,
    /// Attached links, by target pid.
    pub(crate) links: Vec<(u32, Link)>,
    /// Targets by `TARGET_HITS` slot (None: free).
    slots: Vec<Option<u32>>,
    /// Each slot's entry hits when its folded counts were last cleared (or it was taken).
    pub(crate) entries_base: HashMap<u16, u64>,
    /// Every uprobe of each target, attached or not.
    pub(crate) points: HashMap<u32, Vec<AttachPoint>>,
    /// The uprobe programs loaded again for uprobe-multi links; None where the kernel has none.
    pub(crate) multi: Option<MultiPrograms>,
    /// Links being closed in the background.
    pub(crate) closing: Vec<std::thread::JoinHandle<()>>,
    /// CPU time spent closing each target's links (ns), not yet taken.
    pub(crate) switch_cpu: HashMap<u32, Arc<AtomicU64>>,
    pub(crate) sites: Vec<CountedProbe>,
    /// Each target's XOL area as last given to the kernel side (see [`crate::kernel::xol`]).
    pub(crate) xol: XolAreas,
}

/// The kernel-side configuration for a target; `layout` is None for processes without Go map
/// probes (custom probes only).
pub fn target_config(layout: Option<&MapLayout>, sample_every: u32) -> TargetConfig {
    let mut config = TargetConfig {
        sample_every,
        writing_offset: NO_FIELD,
        growth_offset: NO_FIELD,
        ..TargetConfig::default()
    };
    if let Some(layout) = layout {
        let [w0, w1] = &layout.written;
        config.field_offset = [w0.offset as u16, w1.offset as u16];
        config.field_size = [w0.size as u16, w1.size as u16];
        config.writing_offset = layout.writing.offset as u16;
        config.writing_mask = layout.writing_mask;
        config.growth_offset = layout.growth.as_ref().map_or(NO_FIELD, |f| f.offset as u16);
    }
    config
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
        for name in PROGRAMS {
            let program: &mut UProbe = ebpf
                .program_mut(name)
                .ok_or(AttachError::Missing(name))?
                .try_into()?;
            program.load()?;
        }
        let perf: &mut PerfEvent = ebpf
            .program_mut(PROGRAM_PERF_SAMPLE)
            .ok_or(AttachError::Missing(PROGRAM_PERF_SAMPLE))?
            .try_into()?;
        perf.load()?;
        let multi = match MultiPrograms::load(EBPF_OBJECT, &ebpf, &PROGRAMS) {
            Ok(multi) => Some(multi),
            Err(e) => {
                tracing::info!(
                    "uprobe-multi links unavailable, one perf-event uprobe per site: {e}"
                );
                None
            }
        };
        Ok(Probes {
            ebpf,
            links: Vec::new(),
            slots: Vec::new(),
            entries_base: HashMap::new(),
            points: HashMap::new(),
            multi,
            closing: Vec::new(),
            switch_cpu: HashMap::new(),
            sites: Vec::new(),
            xol: XolAreas::default(),
        })
    }

    /// Takes the aya-log ring buffer, for the collector to drain into `tracing`.
    pub fn take_logger(&mut self) -> Option<aya_log::EbpfLogger<&'static dyn log::Log>> {
        aya_log::EbpfLogger::init(&mut self.ebpf).ok()
    }

    /// Registers `pid` with the kernel side; its hits are counted in the slot of its index.
    pub fn add_target(&mut self, pid: u32, config: TargetConfig) -> Result<(), AttachError> {
        let slot = match self.slots.iter().position(Option::is_none) {
            Some(free) => free,
            None if (self.slots.len() as u32) < MAX_TARGETS => {
                self.slots.push(None);
                self.slots.len() - 1
            }
            None => return Err(AttachError::TooManyTargets),
        };
        let config = self.xol_config(pid, config);
        self.set_config(
            pid,
            TargetConfig {
                slot: slot as u16,
                ..config
            },
        )?;
        self.slots[slot] = Some(pid);
        let base = self.target_entries(slot as u16).unwrap_or(0);
        self.entries_base.insert(slot as u16, base);
        Ok(())
    }

    /// Writes the kernel side's configuration of `pid` (its `slot` included).
    pub(crate) fn set_config(&mut self, pid: u32, config: TargetConfig) -> Result<(), AttachError> {
        let map = self
            .ebpf
            .map_mut(map_names::TARGETS)
            .ok_or(AttachError::Missing(map_names::TARGETS))?;
        let mut targets: BpfHashMap<&mut MapData, u32, TargetConfig> = BpfHashMap::try_from(map)?;
        targets.insert(pid, config, 0)?;
        Ok(())
    }

    /// Removes `pid` from the kernel side's targets: its probes, if any are left, do nothing.
    pub(crate) fn remove_config(&mut self, pid: u32) -> Result<(), AttachError> {
        let map = self
            .ebpf
            .map_mut(map_names::TARGETS)
            .ok_or(AttachError::Missing(map_names::TARGETS))?;
        let mut targets: BpfHashMap<&mut MapData, u32, TargetConfig> = BpfHashMap::try_from(map)?;
        targets.remove(&pid)?;
        Ok(())
    }

    fn new_site(&mut self, pid: u32, binary: &str, symbol: &str) -> Result<u32, AttachError> {
        let id = self.sites.len() as u32;
        if id >= MAX_PROBES {
            return Err(AttachError::TooManyProbes);
        }
        self.sites.push(CountedProbe {
            pid,
            binary: binary.to_owned(),
            symbol: symbol.to_owned(),
        });
        Ok(id)
    }

    /// Adds one uprobe to `pid`'s set, attached by [`Probes::attach_pid`].
    pub(crate) fn attach_at(
        &mut self,
        program: &'static str,
        path: &Path,
        pid: u32,
        file_offset: u64,
        cookie: Cookie,
        symbol: &str,
    ) -> Result<(), AttachError> {
        let point = AttachPoint {
            program,
            path: path.to_owned(),
            file_offset,
            cookie,
            symbol: symbol.to_owned(),
        };
        self.points.entry(pid).or_default().push(point);
        Ok(())
    }

    /// Adds the Go map probes of `binary` (entries, RET sites, growth functions) at
    /// `attach_path` to `pid`'s set; `exe` names the binary in reports.
    pub fn attach_go(
        &mut self,
        pid: u32,
        attach_path: &Path,
        exe: &str,
        binary: &GoBinary,
    ) -> Result<(), AttachError> {
        for func in &binary.assign_funcs {
            let id = self.new_site(pid, exe, &func.symbol)?;
            let entry = Cookie::assign(func.kind, id);
            self.attach_at(
                PROGRAM_MAP_ASSIGN,
                attach_path,
                pid,
                func.file_offset,
                entry,
                &func.symbol,
            )?;
            let ret = Cookie::assign(func.kind, NO_PROBE_ID);
            for &offset in &func.ret_offsets {
                self.attach_at(
                    PROGRAM_MAP_ASSIGN_RET,
                    attach_path,
                    pid,
                    offset,
                    ret,
                    &func.symbol,
                )?;
            }
        }
        for grow in &binary.growth_funcs {
            let cookie = Cookie::unpack(0);
            self.attach_at(
                PROGRAM_MAP_GROW,
                attach_path,
                pid,
                grow.file_offset,
                cookie,
                &grow.symbol,
            )?;
        }
        Ok(())
    }

    /// Adds a custom probe on `site` (a function of `probe.binary`) to `pid`'s set.
    pub fn attach_custom(
        &mut self,
        pid: u32,
        probe: &CustomProbe,
        site: &crate::inspect::ProbeSite,
    ) -> Result<(), AttachError> {
        let id = self.new_site(pid, &probe.binary.display().to_string(), &probe.symbol)?;
        let cookie = Cookie {
            kind: CUSTOM_KIND,
            probe_id: id,
            register: probe.register as u32,
            offset: probe.offset,
        };
        self.attach_at(
            PROGRAM_CUSTOM,
            &probe.binary,
            pid,
            site.file_offset,
            cookie,
            &probe.symbol,
        )
    }

    /// The loaded perf_event program, for `PERF_EVENT_IOC_SET_BPF` on clprof's own perf events.
    pub fn perf_program_fd(&self) -> Result<std::os::fd::BorrowedFd<'_>, AttachError> {
        use std::os::fd::AsFd as _;
        let program: &PerfEvent = self
            .ebpf
            .program(PROGRAM_PERF_SAMPLE)
            .ok_or(AttachError::Missing(PROGRAM_PERF_SAMPLE))?
            .try_into()?;
        Ok(program.fd()?.as_fd())
    }

    /// The probed processes, in the order they were added.
    pub fn pids(&self) -> Vec<u32> {
        self.slots.iter().flatten().copied().collect()
    }

    /// The probed processes with their `TARGET_HITS` slots.
    pub fn targets(&self) -> Vec<(u32, u16)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(slot, pid)| pid.map(|pid| (pid, slot as u16)))
            .collect()
    }

    /// Stops probing `pid` and forgets everything about it (its slot is free again).
    pub fn remove_target(&mut self, pid: u32) -> Result<(), AttachError> {
        let dropped = self.drop_target(pid);
        let forgotten = self.forget_pid(pid);
        for slot in self.slots.iter_mut().filter(|s| **s == Some(pid)) {
            *slot = None;
        }
        self.switch_cpu.remove(&pid);
        self.xol.by_pid.remove(&pid);
        dropped.and(forgotten)
    }
}
