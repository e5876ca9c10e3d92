//! The kernel side's maps: each target's configuration written in, and what the programs
//! counted and folded read back (and cleared between daemon windows).

use std::collections::HashMap;

use aya::{
    maps::{HashMap as BpfHashMap, MapData, PerCpuArray, PerCpuValues, RingBuf, StackTraceMap},
    Ebpf,
};
use profiler_common::{
    map_names, read_hits_counter,
    sampled::{IpOperand, LineIpKey, LineStackKey, SampledLine},
    watch::{watch_hits_counter, WatchSite, WatchSiteKey, WordKey},
    IpKey, LatencyHist, LineKey, LineStats, MapWriter, ObjectKey, ObjectStats, ProbeTime, StepKey,
    TargetConfig, COUNTERS, TARGET_SLOTS,
};

use crate::{
    folded::{Counters, KernelSnapshot, WatchSnapshot},
    kernel::error::AttachError,
};

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

impl PidKey for LineIpKey {
    fn pid(&self) -> u32 {
        self.pid
    }
}

impl PidKey for LineStackKey {
    fn pid(&self) -> u32 {
        self.pid
    }
}

impl PidKey for StepKey {
    fn pid(&self) -> u32 {
        self.pid
    }
}

impl PidKey for WordKey {
    fn pid(&self) -> u32 {
        self.pid
    }
}

impl PidKey for WatchSiteKey {
    fn pid(&self) -> u32 {
        self.pid
    }
}

/// Reads the kernel side's maps.
#[derive(Clone, Copy)]
pub struct BpfMaps<'a> {
    ebpf: &'a Ebpf,
}

impl<'a> BpfMaps<'a> {
    pub fn new(ebpf: &'a Ebpf) -> Self {
        BpfMaps { ebpf }
    }

    fn map(&self, name: &'static str) -> Result<&'a aya::maps::Map, AttachError> {
        self.ebpf.map(name).ok_or(AttachError::Missing(name))
    }

    fn per_cpu_sum(&self, name: &'static str, index: u32) -> Result<u64, AttachError> {
        let array: PerCpuArray<&MapData, u64> = PerCpuArray::try_from(self.map(name)?)?;
        Ok(array.get(&index, 0)?.iter().sum())
    }

    /// Per-CPU counters summed.
    pub fn counters(&self) -> Result<Counters, AttachError> {
        let mut out = Counters::default();
        for (i, slot) in out.0.iter_mut().enumerate() {
            *slot = self.per_cpu_sum(map_names::COUNTERS, i as u32)?;
        }
        Ok(out)
    }

    /// Hits of the counted probes `0..count` (by probe id).
    pub fn probe_hits(&self, count: usize) -> Result<Vec<u64>, AttachError> {
        (0..count as u32)
            .map(|id| self.per_cpu_sum(map_names::HITS, id))
            .collect()
    }

    /// Uprobe hits (every program) of the target in `slot` so far.
    pub fn target_hits(&self, slot: u16) -> Result<u64, AttachError> {
        self.per_cpu_sum(map_names::TARGET_HITS, u32::from(slot))
    }

    /// Entry hits (programs that observe: assigns, custom probes) of the target in `slot` so far.
    pub fn target_entries(&self, slot: u16) -> Result<u64, AttachError> {
        self.per_cpu_sum(map_names::TARGET_HITS, TARGET_SLOTS + u32::from(slot))
    }

    /// Read-probe hits (lookups, iteration) of the target in `slot` so far.
    pub fn target_read_hits(&self, slot: u16) -> Result<u64, AttachError> {
        self.per_cpu_sum(map_names::TARGET_HITS, read_hits_counter(u32::from(slot)))
    }

    /// Watchpoint hits of the target in `slot` so far.
    pub fn target_watch_hits(&self, slot: u16) -> Result<u64, AttachError> {
        self.per_cpu_sum(map_names::TARGET_HITS, watch_hits_counter(u32::from(slot)))
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

    /// The kernel-side configuration of `pid`.
    pub fn target_config(&self, pid: u32) -> Result<TargetConfig, AttachError> {
        let targets: BpfHashMap<&MapData, u32, TargetConfig> =
            BpfHashMap::try_from(self.map(map_names::TARGETS)?)?;
        Ok(targets.get(&pid, 0)?)
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

    /// What the watch program folded, as it is now.
    pub fn watch_snapshot(&self) -> Result<WatchSnapshot, AttachError> {
        let words: BpfHashMap<&MapData, WordKey, LineStats> =
            BpfHashMap::try_from(self.map(map_names::WATCH_WORDS)?)?;
        let lines: BpfHashMap<&MapData, LineKey, LineStats> =
            BpfHashMap::try_from(self.map(map_names::WATCH_LINES)?)?;
        let sites: BpfHashMap<&MapData, WatchSiteKey, WatchSite> =
            BpfHashMap::try_from(self.map(map_names::WATCH_SITES)?)?;
        Ok(WatchSnapshot {
            words: words.iter().filter_map(Result::ok).collect(),
            lines: lines.iter().filter_map(Result::ok).collect(),
            sites: sites.iter().filter_map(Result::ok).collect(),
        })
    }

    /// Perf samples per user instruction address.
    pub fn perf_ips(&self) -> Result<Vec<(IpKey, u64)>, AttachError> {
        let ips: BpfHashMap<&MapData, IpKey, u64> =
            BpfHashMap::try_from(self.map(map_names::PERF_IPS)?)?;
        Ok(ips.iter().filter_map(Result::ok).collect())
    }

    /// The user instruction addresses sampled so far.
    pub fn perf_ip_keys(&self) -> Result<Vec<IpKey>, AttachError> {
        let ips: BpfHashMap<&MapData, IpKey, u64> =
            BpfHashMap::try_from(self.map(map_names::PERF_IPS)?)?;
        Ok(ips.keys().filter_map(Result::ok).collect())
    }

    /// Samples per line, from their data addresses.
    pub fn sampled_lines(&self) -> Result<Vec<(LineKey, SampledLine)>, AttachError> {
        let lines: BpfHashMap<&MapData, LineKey, SampledLine> =
            BpfHashMap::try_from(self.map(map_names::SAMPLED_LINES)?)?;
        Ok(lines.iter().filter_map(Result::ok).collect())
    }

    /// Samples per line and sampled instruction, from their data addresses.
    pub fn line_ips(&self) -> Result<Vec<(LineIpKey, u64)>, AttachError> {
        let ips: BpfHashMap<&MapData, LineIpKey, u64> =
            BpfHashMap::try_from(self.map(map_names::LINE_IPS)?)?;
        Ok(ips.iter().filter_map(Result::ok).collect())
    }

    /// Samples per line and user stack, for the samples that took one.
    pub fn line_stacks(&self) -> Result<Vec<(LineStackKey, u64)>, AttachError> {
        let stacks: BpfHashMap<&MapData, LineStackKey, u64> =
            BpfHashMap::try_from(self.map(map_names::LINE_STACKS)?)?;
        Ok(stacks.iter().filter_map(Result::ok).collect())
    }

    /// Perf samples of threads single-stepping a probed instruction, per process and site.
    pub fn probe_steps(&self) -> Result<Vec<(StepKey, u64)>, AttachError> {
        let steps: BpfHashMap<&MapData, StepKey, u64> =
            BpfHashMap::try_from(self.map(map_names::PROBE_STEPS)?)?;
        let mut out: HashMap<StepKey, u64> = HashMap::new();
        for (k, n) in steps.iter().filter_map(Result::ok) {
            *out.entry(k).or_default() += n;
        }
        Ok(out.into_iter().collect())
    }

    /// The user stacks stored under `ids` (negative ids, failed stores, skipped), innermost
    /// frame first.
    pub fn stacks(&self, ids: impl IntoIterator<Item = i64>) -> HashMap<u32, Vec<u64>> {
        let Some(stacks) = self
            .map(map_names::STACKS)
            .ok()
            .and_then(|m| StackTraceMap::<&MapData>::try_from(m).ok())
        else {
            return HashMap::new();
        };
        let mut out = HashMap::new();
        for id in ids.into_iter().filter_map(|id| u32::try_from(id).ok()) {
            if out.contains_key(&id) {
                continue;
            }
            if let Ok(trace) = stacks.get(&id, 0) {
                out.insert(id, trace.frames().iter().map(|f| f.ip).collect());
            }
        }
        out
    }
}

/// Writes and clears the kernel side's maps.
pub struct BpfMapsMut<'a> {
    ebpf: &'a mut Ebpf,
}

impl<'a> BpfMapsMut<'a> {
    pub fn new(ebpf: &'a mut Ebpf) -> Self {
        BpfMapsMut { ebpf }
    }

    fn map(&mut self, name: &'static str) -> Result<&mut aya::maps::Map, AttachError> {
        self.ebpf.map_mut(name).ok_or(AttachError::Missing(name))
    }

    /// Writes the kernel side's configuration of `pid` (its `slot` included).
    pub fn set_target(&mut self, pid: u32, config: TargetConfig) -> Result<(), AttachError> {
        let mut targets: BpfHashMap<&mut MapData, u32, TargetConfig> =
            BpfHashMap::try_from(self.map(map_names::TARGETS)?)?;
        targets.insert(pid, config, 0)?;
        Ok(())
    }

    /// Hands the kernel side the data access behind a sample at each IP.
    pub fn set_ip_operands(&mut self, entries: &[(IpKey, IpOperand)]) -> Result<(), AttachError> {
        let mut map: BpfHashMap<&mut MapData, IpKey, IpOperand> =
            BpfHashMap::try_from(self.map(map_names::IP_OPERANDS)?)?;
        for (key, operand) in entries {
            map.insert(key, operand, 0)?;
        }
        Ok(())
    }

    /// Removes `pid` from the kernel side's targets: its probes, if any are left, do nothing.
    pub fn remove_target(&mut self, pid: u32) -> Result<(), AttachError> {
        let mut targets: BpfHashMap<&mut MapData, u32, TargetConfig> =
            BpfHashMap::try_from(self.map(map_names::TARGETS)?)?;
        targets.remove(&pid)?;
        Ok(())
    }

    /// Removes what the kernel side folded for the processes `which` selects: lines, objects,
    /// latency, writers, perf IPs and their decoded operands, sampled lines with their IPs and
    /// stacks, probe steps and watched writes (one pass over each map).
    pub fn purge(&mut self, which: &dyn Fn(u32) -> bool) -> Result<(), AttachError> {
        self.purge_map::<LineKey, LineStats>(map_names::LINES, which)?;
        self.purge_map::<ObjectKey, ObjectStats>(map_names::OBJECTS, which)?;
        self.purge_map::<ObjectKey, LatencyHist>(map_names::LATENCY, which)?;
        self.purge_map::<ObjectKey, MapWriter>(map_names::MAP_WRITERS, which)?;
        self.purge_map::<IpKey, u64>(map_names::PERF_IPS, which)?;
        self.purge_map::<IpKey, IpOperand>(map_names::IP_OPERANDS, which)?;
        self.purge_map::<LineKey, SampledLine>(map_names::SAMPLED_LINES, which)?;
        self.purge_map::<LineIpKey, u64>(map_names::LINE_IPS, which)?;
        self.purge_map::<LineStackKey, u64>(map_names::LINE_STACKS, which)?;
        self.purge_map::<StepKey, u64>(map_names::PROBE_STEPS, which)?;
        self.purge_map::<WordKey, LineStats>(map_names::WATCH_WORDS, which)?;
        self.purge_map::<LineKey, LineStats>(map_names::WATCH_LINES, which)?;
        self.purge_map::<WatchSiteKey, WatchSite>(map_names::WATCH_SITES, which)
    }

    fn purge_map<K: aya::Pod + PidKey, V: aya::Pod>(
        &mut self,
        name: &'static str,
        which: &dyn Fn(u32) -> bool,
    ) -> Result<(), AttachError> {
        let mut map: BpfHashMap<&mut MapData, K, V> = BpfHashMap::try_from(self.map(name)?)?;
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

    /// Removes every stored stack.
    pub fn clear_stacks(&mut self) -> Result<(), AttachError> {
        let mut stacks: StackTraceMap<&mut MapData> =
            StackTraceMap::try_from(self.map(map_names::STACKS)?)?;
        let ids: Vec<u32> = stacks.stack_ids().filter_map(Result::ok).collect();
        for id in ids {
            let _ = stacks.remove(&id);
        }
        Ok(())
    }

    /// Zeroes the hit counters of the probe ids `ids` (freed, to be given out again).
    pub fn zero_hits(&mut self, ids: &[u32]) -> Result<(), AttachError> {
        if ids.is_empty() {
            return Ok(());
        }
        let cpus = nr_cpus()?;
        let mut hits: PerCpuArray<&mut MapData, u64> =
            PerCpuArray::try_from(self.map(map_names::HITS)?)?;
        for &id in ids {
            let zeros = PerCpuValues::try_from(vec![0u64; cpus])
                .map_err(|e| AttachError::Map(Box::new(aya::maps::MapError::from(e))))?;
            hits.set(id, zeros, 0)?;
        }
        Ok(())
    }

    /// Zeroes every counter and discards the sampled events waiting in the ring buffer (what
    /// calibration left behind).
    pub fn reset_counters_and_events(&mut self) -> Result<(), AttachError> {
        let cpus = nr_cpus()?;
        let mut counters: PerCpuArray<&mut MapData, u64> =
            PerCpuArray::try_from(self.map(map_names::COUNTERS)?)?;
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

    /// Takes the sampled-event ring buffer.
    pub fn take_events(&mut self) -> Result<RingBuf<MapData>, AttachError> {
        let map = self
            .ebpf
            .take_map(map_names::EVENTS)
            .ok_or(AttachError::Missing(map_names::EVENTS))?;
        Ok(RingBuf::try_from(map)?)
    }
}

/// The number of possible CPUs (the length of a per-CPU map's values).
fn nr_cpus() -> Result<usize, AttachError> {
    aya::util::nr_cpus().map_err(|(_, e)| {
        AttachError::Map(Box::new(aya::maps::MapError::SyscallError(
            aya::sys::SyscallError {
                call: "nr_cpus",
                io_error: e,
            },
        )))
    })
}
