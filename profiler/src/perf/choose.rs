//! `--events` → [`PerfSource`]: the detection chain and its refusals.

use super::{EventsChoice, PerfError, PerfSource, PmuInfo, Vendor};

/// The fix for every "no PMU at all" case: software sampling always works where perf does.
const NO_PMU: &str = "this machine has no hardware PMU (a VM?): use --events cpu-clock";

/// The detection chain. `Auto` tries (a) PEBS on Intel (core PMU present, PEBS not reported off,
/// a known L1-miss load event) or AMD IBS op sampling, then (b) L1D read misses when a hardware
/// PMU exists, then (c) software cpu-clock. A forced choice the machine cannot do returns
/// [`PerfError::Unavailable`] saying why and what to use instead; `None` is only ever asked for.
pub fn choose(choice: EventsChoice, pmu: &PmuInfo) -> Result<PerfSource, PerfError> {
    match choice {
        EventsChoice::Auto => {
            let chosen = pebs(pmu)
                .or_else(|why| {
                    tracing::debug!("perf events: no PEBS: {why}");
                    ibs(pmu)
                })
                .or_else(|()| l1d(pmu))
                .unwrap_or_else(|why| {
                    tracing::debug!("perf events: no L1D counter: {why}");
                    PerfSource::CpuClock
                });
            Ok(chosen)
        }
        EventsChoice::Pebs => pebs(pmu).map_err(PerfError::Unavailable),
        EventsChoice::L1d => l1d(pmu).map_err(PerfError::Unavailable),
        EventsChoice::CpuClock => Ok(PerfSource::CpuClock),
        EventsChoice::PageFaults => Ok(PerfSource::PageFaults),
        EventsChoice::None => Ok(PerfSource::None),
    }
}

/// PEBS L1-miss load sampling, or the one-line reason it is impossible here.
fn pebs(pmu: &PmuInfo) -> Result<PerfSource, String> {
    let ask = "--events pebs needs an Intel CPU with PEBS";
    if !pmu.has_hardware_pmu() {
        return Err(format!("{ask} (a hardware PMU); {NO_PMU}"));
    }
    match pmu.vendor {
        Vendor::Intel => {}
        Vendor::Amd if pmu.ibs_op_type.is_some() => {
            return Err(format!(
                "{ask}; this is an AMD CPU, whose load sampling with data addresses is IBS: \
                 use --events auto (it picks IBS op sampling)"
            ));
        }
        Vendor::Amd => return Err(format!("{ask}; this is an AMD CPU: use --events l1d")),
        Vendor::Other => {
            return Err(format!("{ask}; this CPU is not Intel: use --events l1d"));
        }
    }
    let Some(pmu_type) = pmu.cpu_pmu_type else {
        return Err(format!("{ask} (a hardware PMU); {NO_PMU}"));
    };
    // precise_ip = 2 (attr.rs) asks for PEBS with the exact IP; the kernel refuses
    // precise_ip above caps/max_precise with EOPNOTSUPP (arch/x86/events/core.c,
    // x86_pmu_hw_config), and 0 there means PEBS is not available at all.
    if let Some(max) = pmu.max_precise.filter(|&max| max < 2) {
        return Err(format!(
            "{ask}; the CPU PMU reports caps/max_precise {max} (PEBS not exposed, e.g. a VM \
             without PEBS passthrough): use --events l1d"
        ));
    }
    let Some(config) = pmu.pebs_event else {
        return Err(format!(
            "{ask} and a known L1-miss load event; Intel family {} model {:#x} is not in \
             clprof's table and sysfs names none: use --events l1d",
            pmu.family, pmu.model
        ));
    };
    Ok(PerfSource::PebsL1Miss { pmu_type, config })
}

/// AMD IBS op sampling when the `ibs_op` PMU is registered. It has no forced `--events`
/// spelling, so its refusal carries no message.
fn ibs(pmu: &PmuInfo) -> Result<PerfSource, ()> {
    pmu.ibs_op_type
        .map(|pmu_type| PerfSource::IbsOp { pmu_type })
        .ok_or(())
}

/// Generic L1D read-miss sampling: PERF_TYPE_HW_CACHE events are served by the core PMU.
fn l1d(pmu: &PmuInfo) -> Result<PerfSource, String> {
    if pmu.cpu_pmu_type.is_some() {
        Ok(PerfSource::L1dReadMiss)
    } else {
        Err(format!(
            "--events l1d needs a hardware PMU (PERF_TYPE_HW_CACHE events); {NO_PMU}"
        ))
    }
}
