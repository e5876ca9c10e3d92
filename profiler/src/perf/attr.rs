//! `perf_event_attr` for each [`PerfSource`] (include/uapi/linux/perf_event.h).

use perf_event_open_sys::bindings::{self as b, perf_event_attr};

use super::{PerfSource, Sampling};

/// Sample fields every source asks for. The eBPF program reads the sample through
/// `struct bpf_perf_event_data` (regs, sample_period, addr), and these bits decide what the
/// kernel fills into `perf_sample_data` before the program runs.
/// ADDR is asked of every source: where an event has no address the kernel then zeroes
/// `perf_sample_data.addr` before the program runs (`bpf_prepare_sample`); unasked, a timer
/// sample's could be whatever its stack held, and the program would take it for a data address.
const BASE_SAMPLE: u64 = (b::PERF_SAMPLE_IP
    | b::PERF_SAMPLE_TID
    | b::PERF_SAMPLE_TIME
    | b::PERF_SAMPLE_CPU
    | b::PERF_SAMPLE_ADDR) as u64;

/// `perf_event_attr` for `source`, sampling every `period` events (cpu-clock: `period` is in ns
/// of CPU time; IBS op: cycles, rounded down to a multiple of 16, at least 16) or `hz` times a
/// second (frequency mode: the kernel adjusts the period as the event rate changes). A period
/// or frequency of 0 would make a counting, never-sampling event, so it is raised to 1.
///
/// All sources start `disabled` and are enabled once the eBPF program is attached
/// ([`super::PerfEvents::attach_bpf`]). `wakeup_events`/`watermark` stay 0: they only pace
/// wake-ups of a reader of the mmap'ed ring buffer, and clprof maps none; every sample goes
/// through the overflow handler, where the attached eBPF program consumes it
/// (kernel/events/core.c, `bpf_overflow_handler`).
pub fn attr(source: &PerfSource, sampling: Sampling) -> perf_event_attr {
    let mut attr = perf_event_attr {
        // The kernel reads `size` to learn which ABI revision the caller speaks
        // (PERF_ATTR_SIZE_VER*); a larger struct with zeroed tail fields is accepted.
        size: std::mem::size_of::<perf_event_attr>() as u32,
        ..Default::default()
    };
    attr.set_disabled(1);
    let period = match sampling {
        Sampling::Period(period) => period.max(1),
        Sampling::Hz(hz) => {
            // sample_freq shares its storage with sample_period (a union); `freq` says which.
            attr.set_freq(1);
            hz.max(1)
        }
    };
    attr.sample_period = period;
    attr.sample_type = BASE_SAMPLE;
    set_event(&mut attr, source);
    attr
}

/// The event `source` samples: its type, config and what it adds to the sample.
fn set_event(attr: &mut perf_event_attr, source: &PerfSource) {
    match *source {
        PerfSource::PebsL1Miss { pmu_type, config } => {
            attr.type_ = pmu_type;
            attr.config = config;
            // precise_ip 2: PEBS with the IP of the sampled load itself ("requested to have
            // 0 skid"), not of the instruction after it.
            attr.set_precise_ip(2);
            // ADDR: the load's data linear address from the PEBS record; DATA_SRC: where it
            // was served from (L2, L3, remote HITM…), `union perf_mem_data_src`.
            // CALLCHAIN: on a precise event the kernel refuses (EPROTO) to attach a program
            // that calls bpf_get_stack[id] unless full callchains are sampled
            // (kernel/events/core.c, perf_event_set_bpf_handler); it also keeps PEBS to one
            // record per interrupt (CALLCHAIN is not in intel_pmu_large_pebs_flags), so every
            // record passes through the overflow handler.
            attr.sample_type |=
                (b::PERF_SAMPLE_ADDR | b::PERF_SAMPLE_DATA_SRC | b::PERF_SAMPLE_CALLCHAIN) as u64;
            exclude_kernel_and_guest(attr);
        }
        PerfSource::IbsOp { pmu_type } => {
            attr.type_ = pmu_type;
            // config 0: count cycles between samples (IbsOpCntCtl clear); the op-count mode
            // needs IBS_CAPS_OPCNT and the format term cnt_ctl ("config:19").
            attr.config = 0;
            // IbsOpMaxCnt drops the low 4 bits; older kernels reject a period with any of
            // them set (arch/x86/events/amd/ibs.c, perf_ibs_init).
            if attr.freq() == 0 {
                attr.sample_period = (attr.sample_period & !0xf).max(0x10);
            }
            attr.sample_type |= (b::PERF_SAMPLE_ADDR | b::PERF_SAMPLE_DATA_SRC) as u64;
            // No exclude_* bits: the ibs_op PMU had PERF_PMU_CAP_NO_EXCLUDE (any exclude bit
            // is EINVAL) until 6.14, which filters only with the `swfilt` term in config2.
            // The eBPF program drops samples of other pids and of kernel addresses.
        }
        PerfSource::L1dReadMiss => {
            attr.type_ = b::PERF_TYPE_HW_CACHE;
            // PERF_TYPE_HW_CACHE config: cache id | (op id << 8) | (result id << 16).
            attr.config = u64::from(b::PERF_COUNT_HW_CACHE_L1D)
                | (u64::from(b::PERF_COUNT_HW_CACHE_OP_READ) << 8)
                | (u64::from(b::PERF_COUNT_HW_CACHE_RESULT_MISS) << 16);
            exclude_kernel_and_guest(attr);
        }
        PerfSource::CpuClock => {
            attr.type_ = b::PERF_TYPE_SOFTWARE;
            attr.config = u64::from(b::PERF_COUNT_SW_CPU_CLOCK);
            // Kernel time stays in: a thread spinning in futex or page faults is where its
            // time goes, and the eBPF program still reads the user stack there.
        }
        PerfSource::PageFaults => {
            attr.type_ = b::PERF_TYPE_SOFTWARE;
            attr.config = u64::from(b::PERF_COUNT_SW_PAGE_FAULTS);
            // The fault handler passes the faulting address with the user registers at the
            // faulting instruction (arch/x86/mm/fault.c, perf_sw_event(PAGE_FAULTS, …,
            // address)); faults the kernel takes on user memory carry kernel registers and are
            // dropped by the program.
        }
        PerfSource::None => {
            // Never opened; PERF_COUNT_SW_DUMMY counts and samples nothing if it ever were.
            attr.type_ = b::PERF_TYPE_SOFTWARE;
            attr.config = u64::from(b::PERF_COUNT_SW_DUMMY);
            attr.sample_type = 0;
        }
    }
}

/// Hardware sources sample the targets' user code only. exclude_guest matches perf's default
/// for host profiling and keeps guest-mode samples (meaningless addresses) out.
fn exclude_kernel_and_guest(attr: &mut perf_event_attr) {
    attr.set_exclude_kernel(1);
    attr.set_exclude_hv(1);
    attr.set_exclude_guest(1);
}

#[cfg(test)]
#[path = "attr_tests.rs"]
mod tests;
