//! `attr` for every source: the fields the kernel acts on (include/uapi/linux/perf_event.h).

use perf_event_open_sys::bindings::{self as b, perf_event_attr};

use crate::perf::{attr, PerfSource, Sampling};

/// What every source samples; ADDR too, so that the kernel zeroes an address the event has not.
const IP_TID_TIME_CPU: u64 = (b::PERF_SAMPLE_IP
    | b::PERF_SAMPLE_TID
    | b::PERF_SAMPLE_TIME
    | b::PERF_SAMPLE_CPU
    | b::PERF_SAMPLE_ADDR) as u64;

fn common(a: &perf_event_attr, period: u64) {
    assert_eq!(a.size as usize, std::mem::size_of::<perf_event_attr>());
    assert!(a.size >= b::PERF_ATTR_SIZE_VER8, "covers config3");
    assert_eq!(
        a.disabled(),
        1,
        "enabled only after the BPF program is attached"
    );
    assert_eq!(a.sample_period, period);
    assert_eq!(a.freq(), 0, "a fixed period, not a frequency");
    assert_eq!(a.wakeup_events, 0);
    assert_eq!(a.inherit(), 0, "system-wide per-CPU events cannot inherit");
    assert_eq!(a.exclude_user(), 0, "the targets run in user mode");
    assert_eq!(a.exclude_callchain_user(), 0);
    assert_eq!(a.exclude_callchain_kernel(), 0);
}

#[test]
fn pebs_samples_l1_miss_loads_precisely_with_addresses() {
    let source = PerfSource::PebsL1Miss {
        pmu_type: 4,
        config: 0x08d1,
    };
    let a = attr(&source, Sampling::Period(10_007));
    common(&a, 10_007);
    assert_eq!(a.type_, 4);
    assert_eq!(a.config, 0x08d1);
    assert_eq!(a.precise_ip(), 2);
    let want = IP_TID_TIME_CPU
        | (b::PERF_SAMPLE_ADDR | b::PERF_SAMPLE_DATA_SRC | b::PERF_SAMPLE_CALLCHAIN) as u64;
    assert_eq!(a.sample_type, want);
    assert_eq!(a.exclude_kernel(), 1);
    assert_eq!(a.exclude_hv(), 1);
    assert_eq!(a.exclude_guest(), 1);
    assert_eq!(a.config1, 0, "no ldlat or other config1 terms");
}

#[test]
fn ibs_op_samples_addresses_without_exclude_bits_and_a_16_aligned_period() {
    let a = attr(
        &PerfSource::IbsOp { pmu_type: 11 },
        Sampling::Period(100_003),
    );
    common(&a, 100_000);
    assert_eq!(a.type_, 11);
    assert_eq!(a.config, 0);
    assert_eq!(a.precise_ip(), 0);
    let want = IP_TID_TIME_CPU | (b::PERF_SAMPLE_ADDR | b::PERF_SAMPLE_DATA_SRC) as u64;
    assert_eq!(a.sample_type, want);
    // PERF_PMU_CAP_NO_EXCLUDE on ibs_op before 6.14: any exclude bit is EINVAL.
    assert_eq!(a.exclude_kernel(), 0);
    assert_eq!(a.exclude_hv(), 0);
    assert_eq!(a.exclude_guest(), 0);
    assert_eq!(
        attr(&PerfSource::IbsOp { pmu_type: 11 }, Sampling::Period(5)).sample_period,
        16
    );
}

#[test]
fn l1d_read_miss_is_the_generic_hw_cache_event() {
    let a = attr(&PerfSource::L1dReadMiss, Sampling::Period(50_021));
    common(&a, 50_021);
    assert_eq!(a.type_, b::PERF_TYPE_HW_CACHE);
    // L1D (0) | OP_READ (0) << 8 | RESULT_MISS (1) << 16.
    assert_eq!(a.config, 0x1_0000);
    assert_eq!(a.precise_ip(), 0);
    assert_eq!(a.sample_type, IP_TID_TIME_CPU);
    assert_eq!(a.exclude_kernel(), 1);
    assert_eq!(a.exclude_hv(), 1);
}

#[test]
fn cpu_clock_is_software_in_nanoseconds_with_kernel_time() {
    let a = attr(&PerfSource::CpuClock, Sampling::Period(1_000_000));
    common(&a, 1_000_000);
    assert_eq!(a.type_, b::PERF_TYPE_SOFTWARE);
    assert_eq!(a.config, u64::from(b::PERF_COUNT_SW_CPU_CLOCK));
    assert_eq!(a.precise_ip(), 0);
    assert_eq!(a.sample_type, IP_TID_TIME_CPU);
    assert_eq!(a.exclude_kernel(), 0);
}

#[test]
fn page_faults_are_software_with_the_faulting_address() {
    let a = attr(&PerfSource::PageFaults, Sampling::Period(1));
    common(&a, 1);
    assert_eq!(a.type_, b::PERF_TYPE_SOFTWARE);
    assert_eq!(a.config, u64::from(b::PERF_COUNT_SW_PAGE_FAULTS));
    assert_eq!(
        a.precise_ip(),
        0,
        "a fault's IP is the faulting instruction"
    );
    assert_ne!(a.sample_type & b::PERF_SAMPLE_ADDR as u64, 0);
}

#[test]
fn none_is_a_dummy_and_zero_period_still_samples() {
    let a = attr(&PerfSource::None, Sampling::Period(1));
    assert_eq!(a.type_, b::PERF_TYPE_SOFTWARE);
    assert_eq!(a.config, u64::from(b::PERF_COUNT_SW_DUMMY));
    assert_eq!(a.sample_type, 0);
    assert_eq!(
        attr(&PerfSource::CpuClock, Sampling::Period(0)).sample_period,
        1
    );
}

#[test]
fn source_names_and_properties() {
    let pebs = PerfSource::PebsL1Miss {
        pmu_type: 4,
        config: 1,
    };
    let ibs = PerfSource::IbsOp { pmu_type: 11 };
    let table = [
        (&pebs, "pebs-l1-miss", true, true, Some(4)),
        (&ibs, "ibs-op", true, true, Some(11)),
        (&PerfSource::L1dReadMiss, "l1d-read-miss", false, true, None),
        (&PerfSource::CpuClock, "cpu-clock", false, false, None),
        (&PerfSource::PageFaults, "page-faults", true, false, None),
        (&PerfSource::None, "none", false, false, None),
    ];
    for (source, name, addr, hw, pmu) in table {
        assert_eq!(source.name(), name);
        assert_eq!(source.has_data_address(), addr, "{name}");
        assert_eq!(source.has_miss_address(), addr && hw, "{name}");
        let exact = source.sample_ip() == profiler_common::operand::SampleIp::Exact;
        assert_eq!(
            exact, addr,
            "{name}: IPs at the access where the address comes with it"
        );
        let meaning = source.meaning();
        assert_eq!(meaning, crate::perf::SampleMeaning::of(name), "{name}");
        assert_eq!(
            meaning.is_time(),
            !addr,
            "{name}: only timer samples measure time"
        );
        assert_eq!(
            meaning.shows_sharing(),
            *source != PerfSource::PageFaults,
            "{name}: a page fault is a first touch"
        );
        assert_eq!(source.is_hardware(), hw, "{name}");
        assert_eq!(source.pmu_type(), pmu, "{name}");
    }
}

#[test]
fn frequency_mode_for_hardware_and_exact_periods_for_cpu_clock() {
    let pebs = PerfSource::PebsL1Miss {
        pmu_type: 4,
        config: 0x8d1,
    };
    assert_eq!(Sampling::at_hz(&pebs, 1_000), Sampling::Hz(1_000));
    assert_eq!(
        Sampling::at_hz(&PerfSource::L1dReadMiss, 0),
        Sampling::Hz(1)
    );
    assert_eq!(
        Sampling::at_hz(&PerfSource::CpuClock, 4_000),
        Sampling::Period(250_000)
    );
    let a = attr(&pebs, Sampling::Hz(997));
    assert_eq!(a.freq(), 1);
    assert_eq!(a.sample_period, 997, "sample_freq shares the union");
    assert_eq!(a.precise_ip(), 2);
    let ibs = attr(&PerfSource::IbsOp { pmu_type: 11 }, Sampling::Hz(1_000));
    assert_eq!(
        (ibs.freq(), ibs.sample_period),
        (1, 1_000),
        "no 16-alignment of a frequency"
    );
    assert_eq!(attr(&PerfSource::CpuClock, Sampling::Period(5)).freq(), 0);
}
