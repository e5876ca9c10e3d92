//! What the machine's PMUs offer, read from sysfs (`bus/event_source/devices/`) and cpuinfo.

use std::path::Path;

use super::sysfs::{parse_event_terms, parse_format, read_trimmed, read_u32, ConfigField};

/// CPU vendor from cpuinfo's `vendor_id`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Vendor {
    /// `GenuineIntel`: PEBS (Intel SDM Vol. 3B, "Processor Event Based Sampling").
    Intel,
    /// `AuthenticAMD`: IBS (AMD64 APM Vol. 2, "Instruction-Based Sampling").
    Amd,
    /// Anything else, or no cpuinfo.
    #[default]
    Other,
}

/// What the machine offers, read from a sysfs root (normally "/sys") and a cpuinfo text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PmuInfo {
    pub vendor: Vendor,
    /// cpuinfo `cpu family` (decimal).
    pub family: u32,
    /// cpuinfo `model` (decimal; Intel's tables write it in hex, e.g. Skylake-SP 0x55 = 85).
    pub model: u32,
    /// `devices/cpu/type`, or `devices/cpu_core/type` on hybrid Intel parts (P-cores, the ones
    /// with the full PEBS load events). `None`: no hardware PMU is exposed (most VMs).
    pub cpu_pmu_type: Option<u32>,
    /// `devices/<cpu pmu>/caps/max_precise`: the highest `precise_ip` the PMU accepts
    /// (0: no PEBS, e.g. a VM whose hypervisor does not pass PEBS through). `None`: not
    /// published (kernels before 5.x) or no PMU.
    pub max_precise: Option<u32>,
    /// `devices/ibs_op/type` (AMD IBS op sampling).
    pub ibs_op_type: Option<u32>,
    /// Raw `config` for PEBS sampling of loads that miss L1, encoded with the PMU's `format/`
    /// bit ranges. `None`: not an Intel core PMU, or no event is known for this model.
    pub pebs_event: Option<u64>,
    /// Where `pebs_event` came from, for `-v` and `clprof probes`: the sysfs alias or the
    /// vendor table's event name.
    pub pebs_event_name: Option<String>,
}

impl PmuInfo {
    /// Whether any hardware PMU is exposed: the core PMU or AMD IBS.
    pub fn has_hardware_pmu(&self) -> bool {
        self.cpu_pmu_type.is_some() || self.ibs_op_type.is_some()
    }
}

/// Names under `devices/<cpu pmu>/events/` taken as "retired loads that missed L1". They are
/// the vendor event names (lower case, as perf writes them). `mem-loads`, which the kernel
/// publishes on Intel, is deliberately not one: it is MEM_TRANS_RETIRED.LOAD_LATENCY
/// (event 0xcd umask 0x01) with the latency threshold `ldlat` in `config1`, which samples loads
/// slower than a threshold (L1 hits included at low thresholds), not L1 misses.
const L1_MISS_ALIASES: &[&str] = &["mem_load_retired.l1_miss", "mem_load_uops_retired.l1_miss"];

/// One row of the built-in table: an event that counts retired loads missing L1, PEBS-capable
/// with a data linear address (`Data_LA`), on the listed family-6 models.
struct L1MissEvent {
    name: &'static str,
    event: u64,
    umask: u64,
    /// Model numbers as in arch/x86/include/asm/intel-family.h.
    models: &'static [u32],
}

/// Intel family-6 models → L1-miss load event, from Intel's event tables
/// (github.com/intel/perfmon: `MEM_LOAD_UOPS_RETIRED.L1_MISS` EventCode 0xD1 UMask 0x08 on
/// Haswell/Broadwell; `MEM_LOAD_RETIRED.L1_MISS` EventCode 0xD1 UMask 0x08, PEBS, Data_LA on
/// Skylake and later big cores, `Unit: cpu_core` on hybrid parts). Older and Atom-only models
/// are left out: their tables name no PEBS L1-miss load event with the same meaning.
const INTEL_L1_MISS: &[L1MissEvent] = &[
    L1MissEvent {
        name: "MEM_LOAD_UOPS_RETIRED.L1_MISS",
        event: 0xd1,
        umask: 0x08,
        // Haswell (client, X, L, G), Broadwell (client, G, X, D).
        models: &[0x3c, 0x3f, 0x45, 0x46, 0x3d, 0x47, 0x4f, 0x56],
    },
    L1MissEvent {
        name: "MEM_LOAD_RETIRED.L1_MISS",
        event: 0xd1,
        umask: 0x08,
        models: &[
            0x4e, 0x5e, 0x55, // Skylake L/client, Skylake-X/Cascade Lake/Cooper Lake
            0x8e, 0x9e, 0xa5, 0xa6, // Kaby/Coffee/Whiskey/Comet Lake
            0x66, // Cannon Lake
            0x6a, 0x6c, 0x7d, 0x7e, // Ice Lake X/D/client/L
            0x8c, 0x8d, 0xa7, // Tiger Lake L/client, Rocket Lake
            0x8f, 0xcf, 0xad, 0xae, // Sapphire/Emerald/Granite Rapids (X, D)
            0x97, 0x9a, 0xb7, 0xba, 0xbf, // Alder/Raptor Lake (P-cores via cpu_core)
            0xaa, 0xac, // Meteor Lake (P-cores via cpu_core)
        ],
    },
];

/// Reads what the machine offers: `sysfs` is the sysfs root (normally "/sys"), `cpuinfo` the
/// text of `/proc/cpuinfo` (only the first processor's block is used).
pub fn detect_pmu(sysfs: &Path, cpuinfo: &str) -> PmuInfo {
    let (vendor, family, model) = parse_cpuinfo(cpuinfo);
    let devices = sysfs.join("bus/event_source/devices");
    // Non-hybrid x86 registers the core PMU as "cpu"; hybrid Intel parts register "cpu_core"
    // (P-cores) and "cpu_atom" (E-cores) instead (arch/x86/events/intel/core.c).
    let core = ["cpu", "cpu_core"]
        .iter()
        .map(|name| devices.join(name))
        .find(|dir| read_u32(&dir.join("type")).is_some());
    let mut info = PmuInfo {
        vendor,
        family,
        model,
        cpu_pmu_type: core.as_ref().and_then(|dir| read_u32(&dir.join("type"))),
        max_precise: core
            .as_ref()
            .and_then(|dir| read_u32(&dir.join("caps/max_precise"))),
        ibs_op_type: read_u32(&devices.join("ibs_op/type")),
        ..PmuInfo::default()
    };
    if let (Vendor::Intel, Some(dir)) = (vendor, core.as_ref()) {
        if let Some((config, name)) = pebs_event(dir, family, model) {
            info.pebs_event = Some(config);
            info.pebs_event_name = Some(name);
        }
    }
    info
}

/// The L1-miss load event for an Intel core PMU directory: a sysfs alias when the kernel names
/// one, else the built-in table; encoded with the PMU's own `format/` bit ranges.
fn pebs_event(pmu_dir: &Path, family: u32, model: u32) -> Option<(u64, String)> {
    for alias in L1_MISS_ALIASES {
        let Some(text) = read_trimmed(&pmu_dir.join("events").join(alias)) else {
            continue;
        };
        let encoded = parse_event_terms(&text).and_then(|terms| {
            let refs: Vec<(&str, u64)> = terms.iter().map(|(k, v)| (k.as_str(), *v)).collect();
            encode_terms(pmu_dir, &refs)
        });
        match encoded {
            Some(config) => return Some((config, format!("sysfs events/{alias} ({text})"))),
            None => tracing::debug!(alias, text, "sysfs L1-miss alias not encodable into config"),
        }
    }
    if family != 6 {
        return None;
    }
    let row = INTEL_L1_MISS.iter().find(|r| r.models.contains(&model))?;
    let config = encode_terms(pmu_dir, &[("event", row.event), ("umask", row.umask)])?;
    Some((config, format!("{} (Intel event table)", row.name)))
}

/// ORs each `term=value` into `config` through `format/<term>`. `None` when a term has no
/// format file, does not fit, or lands outside `config` (e.g. `ldlat` in `config1`), since
/// [`super::PerfSource::PebsL1Miss`] carries only `config`.
fn encode_terms(pmu_dir: &Path, terms: &[(&str, u64)]) -> Option<u64> {
    let mut config = 0u64;
    for &(key, value) in terms {
        let format = parse_format(&read_trimmed(&pmu_dir.join("format").join(key))?)?;
        if format.field != ConfigField::Config {
            return None;
        }
        config |= format.encode(value)?;
    }
    Some(config)
}

/// Vendor, family and model of the first processor in a `/proc/cpuinfo` text.
pub(crate) fn parse_cpuinfo(text: &str) -> (Vendor, u32, u32) {
    let (mut vendor, mut family, mut model) = (Vendor::Other, 0, 0);
    let mut seen_any = false;
    for line in text.lines() {
        if line.trim().is_empty() {
            if seen_any {
                break; // end of the first processor's block
            }
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        seen_any = true;
        let value = value.trim();
        match key.trim() {
            "vendor_id" => {
                vendor = match value {
                    "GenuineIntel" => Vendor::Intel,
                    "AuthenticAMD" => Vendor::Amd,
                    _ => Vendor::Other,
                }
            }
            "cpu family" => family = value.parse().unwrap_or(0),
            "model" => model = value.parse().unwrap_or(0),
            _ => {}
        }
    }
    (vendor, family, model)
}

#[cfg(test)]
#[path = "pmu_tests.rs"]
mod tests;
