//! What contention costs on this machine: the time to move one cache line between CPUs
//! ([`transfer`]), per class of CPU pair ([`topology`]), measured once per host and cached.
//!
//! The figure a report prices transfers with (`sources.line_transfer_ns`) is the mean over every
//! pair of the CPUs clprof may run on, each class at its measured cost: what a transfer costs
//! between two threads the scheduler placed anywhere.

pub mod busy;
pub mod cache;
pub mod topology;
pub mod transfer;

use std::path::Path;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use cache::{Cache, HostKey};
use topology::PairClass;

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

/// The machine's costs: from the cache when it was measured on this host with these CPUs, else
/// measured now (under a second) and cached.
pub fn transfer_costs() -> Result<TransferCosts, MachineError> {
    let key = HostKey::current();
    let cache = Cache::named(CACHE_FILE);
    if let Some((costs, _)) = cache.load(&key, None) {
        return Ok(costs);
    }
    let costs = measure(Path::new(SYSFS_CPU), &key.cpus)?;
    cache.store(key, &costs);
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

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
