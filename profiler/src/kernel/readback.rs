//! Reading the kernel side's state back: counters, probe hits, folded stats, stacks.

use std::collections::HashMap;

use aya::maps::{
    HashMap as BpfHashMap, MapData, PerCpuArray, PerCpuValues, RingBuf, StackTraceMap,
};
use profiler_common::{
    map_names, Counter, IpKey, LatencyHist, LineKey, LineStats, MapWriter, ObjectKey, ObjectStats,
    ProbeTime, StepKey, COUNTERS,
};

use crate::kernel::probes::{AttachError, CountedProbe, Probes};

/// What the kernel maps held at the end of a recording.
#[derive(Clone, Debug, Default)]
pub struct KernelSnapshot {
    pub lines: Vec<(LineKey, LineStats)>,
    pub objects: Vec<(ObjectKey, ObjectStats)>,
    pub latency: HashMap<ObjectKey, LatencyHist>,
}

/// Keys that belong to one process.
trait PidKey {
    fn pid(&self) -> u32;
}

impl PidKey for LineKey {
    fn pid(&self) -> u32 {
        self.pid
    }
}

impl PidKey for ObjectKey {
    fn pid(&self) -> u32 {
        self.pid
    }
}

impl PidKey for IpKey {
    fn pid(&self) -> u32 {
        self.pid
    }
}

impl PidKey for StepKey {
    fn pid(&self) -> u32 {
        self.pid
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

impl Probes {
    fn map(&self, name: &'static str) -> Result<&aya::maps::Map, AttachError> {
        self.ebpf.map(name).ok_or(AttachError::Missing(name))
    }

    /// Takes the sampled-event ring buffer.
    pub fn take_events(&mut self) -> Result<RingBuf<MapData>, AttachError> {
        let map = self
            .ebpf
            .take_map(map_names::EVENTS)
            .ok_or(AttachError::Missing(map_names::EVENTS))?;
        Ok(RingBuf::try_from(map)?)
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

    /// Hits of every counted probe site.
    pub fn hits(&self) -> Result<Vec<(CountedProbe, u64)>, AttachError> {
        let array: PerCpuArray<&MapData, u64> = PerCpuArray::try_from(self.map(map_names::HITS)?)?;
        let mut out = Vec::with_capacity(self.sites.len());
        for (id, site) in self.sites.iter().enumerate() {
            let hits: u64 = array.get(&(id as u32), 0)?.iter().sum();
            out.push((site.clone(), hits));
        }
        Ok(out)
    }

    /// Uprobe hits (every program) of the target in `slot` so far.
    pub fn target_hits(&self, slot: u16) -> Result<u64, AttachError> {
        let array: PerCpuArray<&MapData, u64> =
            PerCpuArray::try_from(self.map(map_names::TARGET_HITS)?)?;
        Ok(array.get(&u32::from(slot), 0)?.iter().sum())
    }

    /// Entry hits (programs that observe: assigns, custom probes) of the target in `slot` so far.
    pub fn target_entries(&self, slot: u16) -> Result<u64, AttachError> {
        let array: PerCpuArray<&MapData, u64> =
            PerCpuArray::try_from(self.map(map_names::TARGET_HITS)?)?;
        Ok(array
            .get(&(profiler_common::TARGET_SLOTS + u32::from(slot)), 0)?
            .iter()
            .sum())
    }

    /// Entry hits of the target in `slot` behind what the kernel side folded for it: since its
    /// folded counts were last cleared.
    pub fn folded_entries(&self, slot: u16) -> Result<u64, AttachError> {
        let base = self.entries_base.get(&slot).copied().unwrap_or(0);
        Ok(self.target_entries(slot)?.saturating_sub(base))
    }

    /// What the probe hits of the target in `slot` cost it so far (every CPU's share summed).
    pub fn probe_time(&self, slot: u16) -> Result<ProbeTime, AttachError> {
        let array: PerCpuArray<&MapData, ProbeTime> =
            PerCpuArray::try_from(self.map(map_names::PROBE_TIME)?)?;
        let mut sum = ProbeTime::default();
        for cpu in array.get(&u32::from(slot), 0)?.iter() {
            sum.merge(cpu);
        }
        Ok(sum)
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
        let map = self
            .ebpf
            .map_mut(map_names::STACKS)
            .ok_or(AttachError::Missing(map_names::STACKS))?;
        let mut stacks: StackTraceMap<&mut MapData> = StackTraceMap::try_from(map)?;
        let ids: Vec<u32> = stacks.stack_ids().filter_map(Result::ok).collect();
        for id in ids {
            let _ = stacks.remove(&id);
        }
        Ok(())
    }

    fn forget(&mut self, which: &dyn Fn(u32) -> bool) -> Result<(), AttachError> {
        fn purge<K: aya::Pod + PidKey, V: aya::Pod>(
            probes: &mut Probes,
            name: &'static str,
            which: &dyn Fn(u32) -> bool,
        ) -> Result<(), AttachError> {
            let map = probes
                .ebpf
                .map_mut(name)
                .ok_or(AttachError::Missing(name))?;
            let mut map: BpfHashMap<&mut MapData, K, V> = BpfHashMap::try_from(map)?;
            let keys: Vec<K> = map
                .keys()
                .filter_map(Result::ok)
                .filter(|k| which(k.pid()))
                .collect();
            for k in keys {
                // Already gone (evicted) is fine.
                let _ = map.remove(&k);
            }
            Ok(())
        }
        purge::<LineKey, LineStats>(self, map_names::LINES, which)?;
        purge::<ObjectKey, ObjectStats>(self, map_names::OBJECTS, which)?;
        purge::<ObjectKey, LatencyHist>(self, map_names::LATENCY, which)?;
        purge::<ObjectKey, MapWriter>(self, map_names::MAP_WRITERS, which)?;
        purge::<IpKey, u64>(self, map_names::PERF_IPS, which)?;
        purge::<StepKey, u64>(self, map_names::PROBE_STEPS, which)?;
        for (pid, slot) in self.targets() {
            if which(pid) {
                let base = self.target_entries(slot)?;
                self.entries_base.insert(slot, base);
            }
        }
        Ok(())
    }

    /// Zeroes every counter and discards the sampled events waiting in the ring buffer (what
    /// calibration left behind).
    pub fn reset_counters_and_events(&mut self) -> Result<(), AttachError> {
        let map = self
            .ebpf
            .map_mut(map_names::COUNTERS)
            .ok_or(AttachError::Missing(map_names::COUNTERS))?;
        let mut counters: PerCpuArray<&mut MapData, u64> = PerCpuArray::try_from(map)?;
        let cpus = aya::util::nr_cpus().map_err(|(_, e)| {
            AttachError::Map(Box::new(aya::maps::MapError::SyscallError(
                aya::sys::SyscallError {
                    call: "nr_cpus",
                    io_error: e,
                },
            )))
        })?;
        for i in 0..COUNTERS {
            let zeros = PerCpuValues::try_from(vec![0u64; cpus])
                .map_err(|e| AttachError::Map(Box::new(aya::maps::MapError::from(e))))?;
            counters.set(i, zeros, 0)?;
        }
        if let Some(map) = self.ebpf.map_mut(map_names::EVENTS) {
            let mut ring: RingBuf<&mut MapData> = RingBuf::try_from(map)?;
            while ring.next().is_some() {}
        }
        Ok(())
    }

    /// The folded maps as they are now.
    pub fn snapshot(&self) -> Result<KernelSnapshot, AttachError> {
        let lines: BpfHashMap<&MapData, LineKey, LineStats> =
            BpfHashMap::try_from(self.map(map_names::LINES)?)?;
        let objects: BpfHashMap<&MapData, ObjectKey, ObjectStats> =
            BpfHashMap::try_from(self.map(map_names::OBJECTS)?)?;
        let latency: BpfHashMap<&MapData, ObjectKey, LatencyHist> =
            BpfHashMap::try_from(self.map(map_names::LATENCY)?)?;
        // Entries can be evicted while iterating; skip the ones that vanish.
        Ok(KernelSnapshot {
            lines: lines.iter().filter_map(Result::ok).collect(),
            objects: objects.iter().filter_map(Result::ok).collect(),
            latency: latency
                .iter()
                .filter_map(Result::ok)
                .collect::<HashMap<_, _>>(),
        })
    }

    /// Perf samples per user instruction address.
    pub fn perf_ips(&self) -> Result<Vec<(IpKey, u64)>, AttachError> {
        let ips: BpfHashMap<&MapData, IpKey, u64> =
            BpfHashMap::try_from(self.map(map_names::PERF_IPS)?)?;
        Ok(ips.iter().filter_map(Result::ok).collect())
    }

    /// The user stack stored under `id`, innermost frame first.
    pub fn stack(&self, id: u32) -> Option<Vec<u64>> {
        let stacks: StackTraceMap<&MapData> =
            StackTraceMap::try_from(self.map(map_names::STACKS).ok()?).ok()?;
        let trace = stacks.get(&id, 0).ok()?;
        Some(trace.frames().iter().map(|f| f.ip).collect())
    }
}
