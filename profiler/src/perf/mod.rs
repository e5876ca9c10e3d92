//! Hardware (and fallback software) perf events that clprof opens itself, one per online CPU,
//! system-wide, to find the data addresses of L1-missing loads in the target processes.
//!
//! The chain is: [`detect_pmu`] reads what the machine offers from sysfs and `/proc/cpuinfo` →
//! [`choose`] maps `--events` onto a [`PerfSource`] (or says why it cannot and what to use) →
//! [`attr`] builds the `perf_event_attr` → [`PerfEvents::open`] opens it on every CPU →
//! [`PerfEvents::attach_bpf`] hands every sample to the eBPF program, which filters to the
//! target pids. Everything about hardware PMUs is decided from sysfs files, so it is unit-tested
//! from recorded trees under `profiler/tests/data/sysfs/` on machines (VMs) without a PMU.

mod attr;
pub mod breakpoint;
mod choose;
mod events;
#[doc(hidden)]
pub mod fuzz;
mod meaning;
mod pmu;
pub(crate) mod sysfs;

pub use attr::attr;
use profiler_common::operand::SampleIp;

/// The kernel's cap on perf sampling frequency (`/proc/sys/kernel/perf_event_max_sample_rate`,
/// lowered by the kernel itself when samples take too long); 100000 when unreadable.
pub fn max_sample_rate() -> u64 {
    std::fs::read_to_string("/proc/sys/kernel/perf_event_max_sample_rate")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100_000)
}

/// How often a perf event samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sampling {
    /// Every N events (cpu-clock: N ns of CPU time).
    Period(u64),
    /// N times per second of the event's activity (frequency mode).
    Hz(u64),
}

impl Sampling {
    /// `hz` samples per second for `source`: cpu-clock as the exact period in ns (its rate is
    /// known), the others in frequency mode (their event rate is not).
    pub fn at_hz(source: &PerfSource, hz: u64) -> Self {
        let hz = hz.max(1);
        match source {
            PerfSource::CpuClock => Sampling::Period(1_000_000_000 / hz),
            _ => Sampling::Hz(hz),
        }
    }
}
pub use choose::choose;
pub use events::PerfEvents;
pub use meaning::SampleMeaning;
pub use pmu::{detect_pmu, PmuInfo, Vendor};
pub use sysfs::parse_cpu_list;

/// The online CPUs (`/sys/devices/system/cpu/online`).
pub fn online_cpus() -> Result<Vec<u32>, PerfError> {
    let online = std::path::Path::new("/sys/devices/system/cpu/online");
    let text = std::fs::read_to_string(online).map_err(|source| PerfError::Sysfs {
        path: online.display().to_string(),
        source,
    })?;
    parse_cpu_list(&text)
}

/// What `--events` asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum EventsChoice {
    /// The best source this machine offers: PEBS or IBS, else L1D read misses, else cpu-clock.
    Auto,
    /// Intel PEBS sampling of loads that miss L1 (with data addresses).
    Pebs,
    /// Generic L1D read-miss counter sampling (instruction pointers only).
    L1d,
    /// Software cpu-clock sampling (where CPU time goes; no hardware figure).
    CpuClock,
    /// Software page-fault sampling with each fault's data address: where threads first touch
    /// memory, not contention. The kernel hands the address to clprof's eBPF program as PEBS and
    /// IBS do, so this checks the data-address path on machines without a PMU.
    PageFaults,
    /// No perf events at all.
    None,
}

/// What actually runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PerfSource {
    /// Intel PEBS load sampling with data addresses (MEM_LOAD_RETIRED.L1_MISS or the model's
    /// equivalent): `pmu_type` is the core PMU's sysfs `type`, `config` the raw event encoding.
    PebsL1Miss { pmu_type: u32, config: u64 },
    /// AMD IBS op sampling (PMU `ibs_op`), data addresses from IBS.
    IbsOp { pmu_type: u32 },
    /// Generic PERF_TYPE_HW_CACHE L1D read miss: IP only, no address.
    L1dReadMiss,
    /// Software cpu-clock sampling: IP and stack, where time goes (not a hardware figure).
    CpuClock,
    /// Software page-fault sampling: the faulting instruction and its data address, from the
    /// kernel (not a hardware figure, not contention).
    PageFaults,
    /// Nothing is sampled.
    None,
}

impl PerfSource {
    /// Report name: "pebs-l1-miss" | "ibs-op" | "l1d-read-miss" | "cpu-clock" | "page-faults" |
    /// "none".
    pub fn name(&self) -> &'static str {
        match self {
            Self::PebsL1Miss { .. } => "pebs-l1-miss",
            Self::IbsOp { .. } => "ibs-op",
            Self::L1dReadMiss => "l1d-read-miss",
            Self::CpuClock => "cpu-clock",
            Self::PageFaults => "page-faults",
            Self::None => "none",
        }
    }

    /// True when samples carry data addresses (PEBS, IBS, page faults).
    pub fn has_data_address(&self) -> bool {
        matches!(
            self,
            Self::PebsL1Miss { .. } | Self::IbsOp { .. } | Self::PageFaults
        )
    }

    /// True when samples carry data addresses of loads that missed a cache (PEBS, IBS): the
    /// hardware figure a probed line's `l1_miss_samples` counts.
    pub fn has_miss_address(&self) -> bool {
        self.has_data_address() && self.is_hardware()
    }

    /// Where the samples' IPs stand relative to the access: at it for the sources that carry
    /// its address, else (a timer) usually one instruction past it.
    pub fn sample_ip(&self) -> SampleIp {
        if self.has_data_address() {
            SampleIp::Exact
        } else {
            SampleIp::Skidded
        }
    }

    /// True for hardware sources.
    pub fn is_hardware(&self) -> bool {
        matches!(
            self,
            Self::PebsL1Miss { .. } | Self::IbsOp { .. } | Self::L1dReadMiss
        )
    }

    /// The dynamic PMU type this source opens, when it is not one of the fixed
    /// `PERF_TYPE_*` ids (include/uapi/linux/perf_event.h, `enum perf_type_id`).
    pub fn pmu_type(&self) -> Option<u32> {
        match self {
            Self::PebsL1Miss { pmu_type, .. } | Self::IbsOp { pmu_type } => Some(*pmu_type),
            _ => Option::None,
        }
    }
}

/// Why perf events cannot be chosen, opened or attached. Each message is one line with the fix.
#[derive(Debug, thiserror::Error)]
pub enum PerfError {
    /// A forced `--events` choice this machine cannot do; the text says why and what to use.
    #[error("{0}")]
    Unavailable(String),
    /// A CPU list (`/sys/devices/system/cpu/online` format) that does not parse.
    #[error("cannot parse CPU list {text:?} ({why}): expected the kernel's format, e.g. \"0-3,6\"; check that sysfs is mounted at /sys")]
    CpuList { text: String, why: &'static str },
    /// A sysfs file that could not be read.
    #[error("cannot read {path}: {source}; mount sysfs at /sys (mount -t sysfs sysfs /sys)")]
    Sysfs {
        path: String,
        source: std::io::Error,
    },
    /// `perf_event_open(2)` failed on one CPU.
    #[error("perf_event_open for {event} on CPU {cpu} failed: {source}; {fix}")]
    Open {
        event: &'static str,
        cpu: u32,
        source: std::io::Error,
        fix: &'static str,
    },
    /// A perf ioctl (`PERF_EVENT_IOC_*`) failed on one CPU's event.
    #[error("{op} on the perf event of CPU {cpu} failed: {source}; {fix}")]
    Ioctl {
        op: &'static str,
        cpu: u32,
        source: std::io::Error,
        fix: &'static str,
    },
}
