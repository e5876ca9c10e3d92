//! What contention costs on this machine: the time to move one cache line between CPUs
//! ([`transfer`]), per class of CPU pair ([`topology`]), measured once per host and cached.
//!
//! The figure a report prices transfers with (`sources.line_transfer_ns`) is the mean over every
//! pair of the CPUs clprof may run on, each class at its measured cost: what a transfer costs
//! between two threads the scheduler placed anywhere.

pub mod topology;
pub mod transfer;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::perf::sysfs::{parse_cpu_list, read_trimmed};
use topology::PairClass;

/// Where the measurement is cached unless `CLPROF_CACHE_DIR` says otherwise.
const CACHE_DIR: &str = "/var/cache/clprof";
const CACHE_FILE: &str = "line-transfer.json";
const SYSFS_CPU: &str = "/sys/devices/system/cpu";

#[derive(Debug, Error)]
pub enum MachineError {
    #[error("fewer than two CPUs to measure a line transfer between (allowed: {0:?})")]
    OneCpu(Vec<u32>),
    #[error(transparent)]
    Transfer(#[from] transfer::TransferError),
}

/// The cost of one class of CPU pair.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassCost {
    pub class: PairClass,
    /// The pair measured.
    pub cpus: [u32; 2],
    /// Pairs of this class among the CPUs.
    pub pairs: u64,
    /// One transfer (ns): the median run.
    pub ns: f64,
    /// Median absolute deviation of the runs from `ns`, over `ns`.
    pub spread: f64,
}

/// The machine's line-transfer costs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TransferCosts {
    /// Mean over all CPU pairs (ns).
    pub line_transfer_ns: f64,
    pub classes: Vec<ClassCost>,
}

/// What a cached measurement is valid for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct HostKey {
    host: String,
    cpu_model: String,
    cpus: Vec<u32>,
}

#[derive(Serialize, Deserialize)]
struct Cached {
    key: HostKey,
    measured_at: String,
    costs: TransferCosts,
}

/// The machine's costs: from the cache when it was measured on this host with these CPUs, else
/// measured now (under a second) and cached.
pub fn transfer_costs() -> Result<TransferCosts, MachineError> {
    let cpus = allowed_cpus();
    let key = HostKey {
        host: read_trimmed(Path::new("/proc/sys/kernel/hostname")).unwrap_or_default(),
        cpu_model: cpu_model(),
        cpus: cpus.clone(),
    };
    let path = cache_dir().join(CACHE_FILE);
    if let Some(costs) = load(&path, &key) {
        return Ok(costs);
    }
    let costs = measure(Path::new(SYSFS_CPU), &cpus)?;
    store(&path, key, &costs);
    Ok(costs)
}

/// Measures one pair of each class among `cpus` (topology under `sysfs`).
pub fn measure(sysfs: &Path, cpus: &[u32]) -> Result<TransferCosts, MachineError> {
    if cpus.len() < 2 {
        return Err(MachineError::OneCpu(cpus.to_vec()));
    }
    let topo = topology::read(sysfs, cpus);
    let mut classes = Vec::new();
    for (class, (a, b), pairs) in topology::classes(&topo) {
        let cost = transfer::measure(a, b)?;
        tracing::debug!(?class, a, b, ns = cost.ns, runs = ?cost.runs, "line transfer");
        classes.push(ClassCost {
            class,
            cpus: [a, b],
            pairs,
            ns: cost.ns,
            spread: cost.spread(),
        });
    }
    Ok(TransferCosts {
        line_transfer_ns: mean_over_pairs(&classes),
        classes,
    })
}

/// The mean transfer cost over every CPU pair: each class's cost weighed by its pairs.
fn mean_over_pairs(classes: &[ClassCost]) -> f64 {
    let pairs: u64 = classes.iter().map(|c| c.pairs).sum();
    let weighted: f64 = classes.iter().map(|c| c.ns * c.pairs as f64).sum();
    weighted / pairs.max(1) as f64
}

fn cache_dir() -> PathBuf {
    std::env::var_os("CLPROF_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(CACHE_DIR))
}

fn load(path: &Path, key: &HostKey) -> Option<TransferCosts> {
    let text = std::fs::read_to_string(path).ok()?;
    let cached: Cached = serde_json::from_str(&text).ok()?;
    (cached.key == *key).then_some(cached.costs)
}

/// Writes the cache (atomically: a temporary file renamed over it); a failure only costs a
/// measurement next time.
fn store(path: &Path, key: HostKey, costs: &TransferCosts) {
    let cached = Cached {
        key,
        measured_at: chrono::Utc::now().to_rfc3339(),
        costs: costs.clone(),
    };
    let write = || -> std::io::Result<()> {
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        serde_json::to_writer_pretty(&mut tmp, &cached)?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    };
    if let Err(e) = write() {
        tracing::debug!(path = %path.display(), "line-transfer cost not cached: {e}");
    }
}

/// The CPUs this process may run on that are online.
fn allowed_cpus() -> Vec<u32> {
    let online = read_trimmed(&Path::new(SYSFS_CPU).join("online"))
        .and_then(|s| parse_cpu_list(&s).ok())
        .unwrap_or_default();
    // SAFETY: a zeroed cpu_set_t is a valid empty set for the kernel to fill.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: pid 0 is this thread; `set` is a valid cpu_set_t of the size given.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return online;
    }
    online
        .into_iter()
        // SAFETY: CPU_ISSET reads within the set for cpu < CPU_SETSIZE.
        .filter(|&c| {
            (c as usize) < libc::CPU_SETSIZE as usize
                && unsafe { libc::CPU_ISSET(c as usize, &set) }
        })
        .collect()
}

/// The CPU's model name from `/proc/cpuinfo`.
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .and_then(|rest| rest.split_once(':'))
                .map(|(_, name)| name.trim().to_owned())
        })
        .unwrap_or_default()
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
