//! How the machine's CPUs are related, from sysfs (Documentation/admin-guide/cputopology.rst,
//! Documentation/ABI/stable/sysfs-devices-system-cpu): which share a core (SMT siblings), which
//! share a last-level cache, which sit on another socket. A cache line moves between two CPUs
//! at a cost that depends on that relation.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::perf::sysfs::{parse_cpu_list, read_trimmed, read_u32};

/// How two CPUs are related, nearest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PairClass {
    /// Hardware threads of one core: the line stays in the core's L1/L2.
    SmtSiblings,
    /// Different cores sharing the last-level (L3) cache.
    SameL3,
    /// Same socket, different L3 (several L3 slices or CCXs per package).
    SamePackage,
    /// Different sockets: the line crosses the interconnect.
    OtherSocket,
}

impl PairClass {
    /// The JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            PairClass::SmtSiblings => "smt-siblings",
            PairClass::SameL3 => "same-l3",
            PairClass::SamePackage => "same-package",
            PairClass::OtherSocket => "other-socket",
        }
    }
}

/// What sysfs says of one CPU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuTopo {
    pub cpu: u32,
    /// `topology/physical_package_id`.
    pub package: u32,
    /// `topology/thread_siblings_list` (the CPU itself included).
    pub siblings: Vec<u32>,
    /// `shared_cpu_list` of its level-3 cache, when it has one.
    pub l3: Option<Vec<u32>>,
}

/// The topology of `cpus` under `root` (`/sys/devices/system/cpu` on a live system); what
/// cannot be read counts as a lone CPU of package 0 without an L3.
pub fn read(root: &Path, cpus: &[u32]) -> Vec<CpuTopo> {
    cpus.iter().map(|&cpu| read_cpu(root, cpu)).collect()
}

fn read_cpu(root: &Path, cpu: u32) -> CpuTopo {
    let dir = root.join(format!("cpu{cpu}"));
    let package = read_u32(&dir.join("topology/physical_package_id")).unwrap_or(0);
    let siblings = read_trimmed(&dir.join("topology/thread_siblings_list"))
        .and_then(|s| parse_cpu_list(&s).ok())
        .unwrap_or_else(|| vec![cpu]);
    let l3 = (0..16).find_map(|i| {
        let index = dir.join(format!("cache/index{i}"));
        (read_u32(&index.join("level"))? == 3)
            .then(|| read_trimmed(&index.join("shared_cpu_list")))
            .flatten()
            .and_then(|s| parse_cpu_list(&s).ok())
    });
    CpuTopo {
        cpu,
        package,
        siblings,
        l3,
    }
}

/// How `a` and `b` are related.
pub fn classify(a: &CpuTopo, b: &CpuTopo) -> PairClass {
    if a.package != b.package {
        return PairClass::OtherSocket;
    }
    if a.siblings.contains(&b.cpu) {
        return PairClass::SmtSiblings;
    }
    match &a.l3 {
        Some(l3) if l3.contains(&b.cpu) => PairClass::SameL3,
        // No L3 in sysfs (some VMs): the same package is all that is known.
        None if b.l3.is_none() => PairClass::SameL3,
        _ => PairClass::SamePackage,
    }
}

/// Every class present among `topo`'s CPU pairs, with its first pair (lowest CPU numbers) and
/// how many pairs are of that class.
pub fn classes(topo: &[CpuTopo]) -> Vec<(PairClass, (u32, u32), u64)> {
    let mut out: Vec<(PairClass, (u32, u32), u64)> = Vec::new();
    for (i, a) in topo.iter().enumerate() {
        for b in &topo[i + 1..] {
            let class = classify(a, b);
            match out.iter_mut().find(|(c, _, _)| *c == class) {
                Some((_, _, n)) => *n += 1,
                None => out.push((class, (a.cpu, b.cpu), 1)),
            }
        }
    }
    out.sort_by_key(|(c, _, _)| *c);
    out
}

#[cfg(test)]
#[path = "topology_tests.rs"]
mod tests;
