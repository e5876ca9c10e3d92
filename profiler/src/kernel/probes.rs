//! Loads the embedded eBPF object, tells the kernel side about each target, and attaches the
//! uprobes: map-assign entries and RET sites, growth functions, the other map functions (lookups,
//! iteration, deletes, clears), custom probes.
//!
//! Everything is owned by this process (program, link and map fds); nothing is pinned, so the
//! kernel removes every probe when clprof exits, however it exits.

mod attach;

use std::{collections::HashMap, time::Duration};

use aya::{
    maps::{MapData, RingBuf},
    programs::PerfEvent,
    Ebpf, EbpfLoader,
};
use profiler_common::{
    watch::PROGRAM_WATCH, TargetConfig, MAX_TARGETS, PROGRAM_CUSTOM, PROGRAM_MAP_ACCESS,
    PROGRAM_MAP_ASSIGN, PROGRAM_MAP_ASSIGN_RET, PROGRAM_MAP_GROW, PROGRAM_MAP_MAKE,
    PROGRAM_PERF_SAMPLE, TARGET_SAMPLING_READS, TARGET_SAMPLING_WRITES, TARGET_SHARING,
};

use crate::{
    folded::XolArea,
    kernel::{
        bpf_maps::{BpfMaps, BpfMapsMut},
        counted::{CountedProbe, CountedProbes},
        error::AttachError,
        links::{load_uprobe, Links, ProbeGroup},
        uprobe_multi::MultiPrograms,
        xol::{self, XolAreas},
    },
};

/// The eBPF object built by `build.rs` (aya-build) from `profiler-ebpf`.
static EBPF_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/profiler"));

const PROGRAMS: [&str; 6] = [
    PROGRAM_MAP_ASSIGN,
    PROGRAM_MAP_ACCESS,
    PROGRAM_MAP_ASSIGN_RET,
    PROGRAM_MAP_GROW,
    PROGRAM_MAP_MAKE,
    PROGRAM_CUSTOM,
];

/// clprof's loaded programs, the targets they serve and their uprobes.
pub struct Probes {
    ebpf: Ebpf,
    /// Every target's uprobes and their links.
    links: Links,
    /// Targets by `TARGET_HITS` slot (None: free).
    slots: Vec<Option<u32>>,
    /// Each slot's (entry, read-probe, all) hits when its folded counts were last cleared (or
    /// it was taken).
    bases: HashMap<u16, [u64; 3]>,
    /// The probes whose hits are counted, by probe id.
    counted: CountedProbes,
    /// Each target's XOL area as last given to the kernel side (see [`crate::kernel::xol`]).
    xol: XolAreas,
    /// Processes refused for want of a free slot: (pid, command name), in refusal order.
    refused: Vec<(u32, String)>,
}

/// A fingerprint of the embedded eBPF object: what a probe hit costs depends on its programs.
pub fn object_fingerprint() -> u64 {
    use std::hash::{Hash as _, Hasher as _};
    let mut hasher = std::hash::DefaultHasher::new();
    EBPF_OBJECT.hash(&mut hasher);
    hasher.finish()
}

impl Probes {
    /// Loads the programs. `verbose` enables the eBPF side's debug logs (aya-log).
    pub fn load(verbose: bool) -> Result<Self, AttachError> {
        if EBPF_OBJECT.is_empty() {
            return Err(AttachError::NotBuilt);
        }
        // aya-log levels: 0 disables every log statement in the kernel; 0xff enables all.
        let level: u8 = if verbose { 0xff } else { 0 };
        let began = std::time::Instant::now();
        let mut ebpf = EbpfLoader::new()
            .override_global("AYA_LOG_LEVEL", &level, false)
            .load(EBPF_OBJECT)
            .map_err(|e| AttachError::Load(Box::new(e)))?;
        tracing::debug!(took = ?began.elapsed(), "maps created");
        for name in [PROGRAM_PERF_SAMPLE, PROGRAM_WATCH] {
            let perf: &mut PerfEvent = ebpf
                .program_mut(name)
                .ok_or(AttachError::Missing(name))?
                .try_into()?;
            perf.load()?;
        }
        tracing::debug!(took = ?began.elapsed(), "perf programs verified");
        // The lookup program, verified as long as the assign program, is first attached after
        // the first window: it is verified meanwhile.
        let now: Vec<&str> = PROGRAMS
            .into_iter()
            .filter(|&p| p != PROGRAM_MAP_ACCESS)
            .collect();
        let multi = match MultiPrograms::load(EBPF_OBJECT, &ebpf, &now, &[PROGRAM_MAP_ACCESS]) {
            Ok(multi) => Some(multi),
            Err(e) => {
                tracing::info!(
                    "uprobe-multi links unavailable, one perf-event uprobe per site: {e}"
                );
                None
            }
        };
        tracing::debug!(took = ?began.elapsed(), "uprobe programs verified");
        // With uprobe-multi links Aya's copies of the uprobe programs only serve a site whose
        // multi link fails; they are verified then (`Links`), not at every start.
        if multi.is_none() {
            for name in PROGRAMS {
                load_uprobe(&mut ebpf, name)?;
            }
        }
        Ok(Probes {
            ebpf,
            links: Links::new(multi),
            slots: Vec::new(),
            bases: HashMap::new(),
            counted: CountedProbes::default(),
            xol: XolAreas::default(),
            refused: Vec::new(),
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
            None => {
                if !self.refused.iter().any(|(p, _)| *p == pid) {
                    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm"));
                    self.refused
                        .push((pid, comm.unwrap_or_default().trim_end().to_owned()));
                }
                return Err(AttachError::TooManyTargets);
            }
        };
        let slot_config = TargetConfig {
            slot: slot as u16,
            ..self.xol.config_for(pid, config)
        };
        self.configure(pid, slot_config)?;
        self.slots[slot] = Some(pid);
        self.set_bases(slot as u16)
    }

    /// Writes the kernel side's configuration of `pid` (its `slot` included). [`Probes::add_target`]
    /// does this for targets; calibration registers clprof itself with it.
    pub fn configure(&mut self, pid: u32, config: TargetConfig) -> Result<(), AttachError> {
        BpfMapsMut::new(&mut self.ebpf).set_target(pid, config)
    }

    /// Hands the kernel side the data access behind a sample at each IP (see `ip_operands`).
    pub fn set_ip_operands(
        &mut self,
        entries: &[(profiler_common::IpKey, profiler_common::sampled::IpOperand)],
    ) -> Result<(), AttachError> {
        BpfMapsMut::new(&mut self.ebpf).set_ip_operands(entries)
    }

    /// Reads the kernel side's maps.
    pub fn maps(&self) -> BpfMaps<'_> {
        BpfMaps::new(&self.ebpf)
    }

    /// The loaded perf_event program, for `PERF_EVENT_IOC_SET_BPF` on clprof's own perf events.
    pub fn perf_program_fd(&self) -> Result<std::os::fd::BorrowedFd<'_>, AttachError> {
        self.perf_event_program(PROGRAM_PERF_SAMPLE)
    }

    /// The loaded watch program, for `PERF_EVENT_IOC_SET_BPF` on the write breakpoints.
    pub fn watch_program_fd(&self) -> Result<std::os::fd::BorrowedFd<'_>, AttachError> {
        self.perf_event_program(PROGRAM_WATCH)
    }

    fn perf_event_program(
        &self,
        name: &'static str,
    ) -> Result<std::os::fd::BorrowedFd<'_>, AttachError> {
        use std::os::fd::AsFd as _;
        let program: &PerfEvent = self
            .ebpf
            .program(name)
            .ok_or(AttachError::Missing(name))?
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

    /// The processes (pid, command name) left out for want of a slot since the last forgetting.
    pub fn refused(&self) -> &[(u32, String)] {
        &self.refused
    }

    /// Starts a new list of refused processes (a daemon's next window).
    pub fn forget_refused(&mut self) {
        self.refused.clear();
    }

    /// The `TARGET_HITS` slot of `pid`, if it is a target.
    pub fn slot_of(&self, pid: u32) -> Option<u16> {
        self.slots
            .iter()
            .position(|s| *s == Some(pid))
            .map(|i| i as u16)
    }

    /// Stops probing `pid` and forgets everything about it (its slot is free again).
    pub fn remove_target(&mut self, pid: u32) -> Result<(), AttachError> {
        let dropped = self.drop_target(pid);
        let forgotten = self.forget_pid(pid);
        for slot in self.slots.iter_mut().filter(|s| **s == Some(pid)) {
            *slot = None;
        }
        self.links.forget_pid(pid);
        self.xol.remove(pid);
        let freed = self.counted.release(pid);
        let zeroed = BpfMapsMut::new(&mut self.ebpf).zero_hits(&freed);
        dropped.and(forgotten).and(zeroed)
    }

    /// Detaches and forgets every uprobe of `pid` and removes it from the kernel side's targets
    /// (its folded stats stay until [`Probes::forget_pid`]).
    pub fn drop_target(&mut self, pid: u32) -> Result<(), AttachError> {
        self.links.drop_pid(&mut self.ebpf, pid);
        BpfMapsMut::new(&mut self.ebpf).remove_target(pid)
    }

    /// Attaches the uprobes of `pid` (its set, see [`Probes::attach_at`]): the write probes,
    /// and the read probes too `with_reads`. On failure the ones attached stay attached.
    pub fn attach_pid(&mut self, pid: u32, with_reads: bool) -> Result<(), AttachError> {
        self.attach_group(pid, ProbeGroup::Writes)?;
        if with_reads && self.has_group(pid, ProbeGroup::Reads) {
            self.attach_group(pid, ProbeGroup::Reads)?;
        }
        Ok(())
    }

    /// Whether `pid` runs another program than the one its probes were put in (it exec'd).
    pub fn replaced(&self, pid: u32) -> bool {
        self.links.replaced(pid)
    }

    /// Detaches the uprobes of `pid`; the kernel-side stats stay.
    pub fn detach_pid(&mut self, pid: u32) {
        self.set_sharing(pid, false);
        self.links.detach(&mut self.ebpf, pid, None);
    }

    /// Whether `pid` has uprobes of `group`.
    pub fn has_group(&self, pid: u32, group: ProbeGroup) -> bool {
        self.links.has(pid, group)
    }

    /// Whether some of `pid`'s uprobes of `group` are attached.
    pub fn is_attached(&self, pid: u32, group: ProbeGroup) -> bool {
        self.links.is_attached(pid, group)
    }

    /// Attaches the uprobes of `pid` in `group`; with the read probes, its writes start counting
    /// the copies they invalidate (`TARGET_SHARING`).
    pub fn attach_group(&mut self, pid: u32, group: ProbeGroup) -> Result<(), AttachError> {
        self.links.attach(&mut self.ebpf, pid, group)?;
        if group == ProbeGroup::Reads {
            self.set_sharing(pid, true);
        }
        Ok(())
    }

    /// Detaches the uprobes of `pid` in `group`.
    pub fn detach_group(&mut self, pid: u32, group: ProbeGroup) {
        if group == ProbeGroup::Reads {
            self.set_sharing(pid, false);
        }
        self.links.detach(&mut self.ebpf, pid, Some(group));
    }

    /// Turns the sharing model of `pid` on or off (see `profiler_common::TARGET_SHARING`).
    fn set_sharing(&mut self, pid: u32, on: bool) {
        self.set_flags(pid, TARGET_SHARING, if on { TARGET_SHARING } else { 0 });
    }

    /// Tells the kernel side whether `pid`'s write and read windows are being sampled (see
    /// `profiler_common::Sampled`).
    pub fn set_sampling(&mut self, pid: u32, writes: bool, reads: bool) {
        let mut value = 0;
        if writes {
            value |= TARGET_SAMPLING_WRITES;
        }
        if reads {
            value |= TARGET_SAMPLING_READS;
        }
        self.set_flags(pid, TARGET_SAMPLING_WRITES | TARGET_SAMPLING_READS, value);
    }

    /// Sets the `mask` bits of `pid`'s configuration flags to `value`.
    fn set_flags(&mut self, pid: u32, mask: u8, value: u8) {
        let updated = self.maps().target_config(pid).and_then(|mut config| {
            let flags = (config.flags & !mask) | (value & mask);
            if flags == config.flags {
                return Ok(());
            }
            config.flags = flags;
            BpfMapsMut::new(&mut self.ebpf).set_target(pid, config)
        });
        if let Err(e) = updated {
            tracing::debug!(pid, mask, value, "target flags not set: {e}");
        }
    }

    /// Detaches every probe and waits until they are gone; the maps stay readable.
    pub fn detach_all(&mut self) {
        self.links.detach_all(&mut self.ebpf);
    }

    /// Whether detached links are still being closed (attaching now would wait for them).
    pub fn detaching(&self) -> bool {
        self.links.detaching()
    }

    /// CPU time spent detaching `pid`'s probes of `group` since the last call.
    pub fn take_switch_cpu(&self, pid: u32, group: ProbeGroup) -> Duration {
        self.links.take_switch_cpu(pid, group)
    }

    /// Hits of every counted probe.
    pub fn hits(&self) -> Result<Vec<(CountedProbe, u64)>, AttachError> {
        let hits = self.maps().probe_hits(self.counted.id_count())?;
        let live = hits.into_iter().enumerate();
        Ok(live
            .filter_map(|(id, n)| Some((self.counted.get(id)?.clone(), n)))
            .collect())
    }

    /// Entry hits of the target in `slot` behind what the kernel side folded for it: since its
    /// folded counts were last cleared.
    pub fn folded_entries(&self, slot: u16) -> Result<u64, AttachError> {
        let base = self.bases.get(&slot).map_or(0, |b| b[0]);
        Ok(self.maps().target_entries(slot)?.saturating_sub(base))
    }

    /// Of those, the read-probe hits (lookups and iteration).
    pub fn folded_reads(&self, slot: u16) -> Result<u64, AttachError> {
        let base = self.bases.get(&slot).map_or(0, |b| b[1]);
        Ok(self.maps().target_read_hits(slot)?.saturating_sub(base))
    }

    /// Every uprobe hit of the target in `slot` over the same span.
    pub fn folded_hits(&self, slot: u16) -> Result<u64, AttachError> {
        let base = self.bases.get(&slot).map_or(0, |b| b[2]);
        Ok(self.maps().target_hits(slot)?.saturating_sub(base))
    }

    fn set_bases(&mut self, slot: u16) -> Result<(), AttachError> {
        let maps = self.maps();
        let bases = [
            maps.target_entries(slot)?,
            maps.target_read_hits(slot)?,
            maps.target_hits(slot)?,
        ];
        self.bases.insert(slot, bases);
        Ok(())
    }

    /// Removes everything the kernel side folded for `pid` (lines, objects, latency, perf IPs and
    /// probe steps, writers); for clprof's own calibration probes and for targets that are gone.
    pub fn forget_pid(&mut self, pid: u32) -> Result<(), AttachError> {
        self.forget(&|p| p == pid)
    }

    /// Removes everything the kernel side folded, for every process, and the stored stacks (a
    /// daemon window's end, once its report is built): one pass over each map.
    pub fn forget_all(&mut self) -> Result<(), AttachError> {
        self.forget(&|_| true)?;
        BpfMapsMut::new(&mut self.ebpf).clear_stacks()
    }

    fn forget(&mut self, which: &dyn Fn(u32) -> bool) -> Result<(), AttachError> {
        BpfMapsMut::new(&mut self.ebpf).purge(which)?;
        for (pid, slot) in self.targets() {
            if which(pid) {
                self.set_bases(slot)?;
            }
        }
        Ok(())
    }

    /// Zeroes every counter and discards the sampled events waiting in the ring buffer (what
    /// calibration left behind).
    pub fn reset_counters_and_events(&mut self) -> Result<(), AttachError> {
        BpfMapsMut::new(&mut self.ebpf).reset_counters_and_events()
    }

    /// Takes the sampled-event ring buffer.
    pub fn take_events(&mut self) -> Result<RingBuf<MapData>, AttachError> {
        BpfMapsMut::new(&mut self.ebpf).take_events()
    }

    /// Attaches the exec and exit tracepoints; the ring buffer of their events.
    pub fn follow_processes(&mut self) -> Result<RingBuf<MapData>, AttachError> {
        crate::kernel::process_events::attach(&mut self.ebpf)
    }

    /// Gives the kernel side the XOL areas of targets whose `[uprobes]` mapping showed up since
    /// they were added (see [`XolAreas::changed`]).
    pub fn refresh_xol(&mut self) {
        for (pid, new) in self.xol.changed() {
            let updated = self.maps().target_config(pid).and_then(|config| {
                BpfMapsMut::new(&mut self.ebpf).set_target(pid, xol::with_area(config, new))
            });
            match updated {
                Ok(()) => {
                    tracing::debug!(pid, ?new, "XOL area");
                    self.xol.set(pid, new);
                }
                Err(e) => tracing::debug!(pid, "XOL area not updated: {e}"),
            }
        }
    }

    /// The XOL area known for each target: its own mapping, else the expected one.
    pub fn xol_areas(&self) -> HashMap<u32, XolArea> {
        self.xol.areas()
    }
}
