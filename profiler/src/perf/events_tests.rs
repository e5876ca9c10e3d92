//! Opening real perf events on this machine (root only; skipped otherwise) and the error text
//! for failures.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use perf_event_open_sys::ioctls;

use crate::perf::{detect_pmu, parse_cpu_list, PerfError, PerfEvents, PerfSource, Sampling};

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        eprintln!("skipped: opening system-wide perf events needs root");
    }
    root
}

fn online_cpus() -> Vec<u32> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/online").expect("online");
    parse_cpu_list(&text).expect("online CPU list")
}

/// Reads a counting value (read_format 0: one u64) from a perf fd.
fn read_count(fd: &OwnedFd) -> u64 {
    let mut value = 0u64;
    // SAFETY: reads at most 8 bytes into a live u64 from an fd we own.
    let n = unsafe { libc::read(fd.as_raw_fd(), (&raw mut value).cast(), 8) };
    assert_eq!(n, 8, "{}", std::io::Error::last_os_error());
    value
}

/// Loads `r0 = 0; exit` as a BPF_PROG_TYPE_PERF_EVENT program (include/uapi/linux/bpf.h,
/// BPF_PROG_LOAD): the smallest program PERF_EVENT_IOC_SET_BPF accepts. It returns 0, so no
/// sample reaches the (absent) ring buffer.
fn load_noop_perf_event_prog() -> OwnedFd {
    #[repr(C)]
    #[derive(Default)]
    struct ProgLoad {
        prog_type: u32,
        insn_cnt: u32,
        insns: u64,
        license: u64,
        log_level: u32,
        log_size: u32,
        log_buf: u64,
        kern_version: u32,
        prog_flags: u32,
    }
    // BPF_ALU64|BPF_MOV|BPF_K (0xb7) dst r0 imm 0; BPF_JMP|BPF_EXIT (0x95).
    let insns: [u64; 2] = [0xb7, 0x95];
    let license = c"GPL";
    let attr = ProgLoad {
        prog_type: 7, // BPF_PROG_TYPE_PERF_EVENT
        insn_cnt: 2,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        ..Default::default()
    };
    // SAFETY: `attr` points at live instruction and license buffers for the call's duration;
    // the size passed is the struct's, and the kernel zero-extends the rest of bpf_attr.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            5, // BPF_PROG_LOAD
            &attr as *const ProgLoad,
            std::mem::size_of::<ProgLoad>() as u32,
        )
    };
    assert!(
        fd >= 0,
        "BPF_PROG_LOAD: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: a fresh fd from the kernel, owned by nobody else.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

#[test]
fn cpu_clock_opens_one_counting_event_per_online_cpu() {
    if !is_root() {
        return;
    }
    let events = PerfEvents::open(&PerfSource::CpuClock, Sampling::Period(1_000_000))
        .expect("open cpu-clock");
    let cpus = online_cpus();
    assert_eq!(events.fds.len(), cpus.len());
    assert_eq!(events.cpus, cpus);
    assert_eq!(events.source, PerfSource::CpuClock);
    // Opened disabled: nothing counted yet.
    assert!(events.fds.iter().all(|fd| read_count(fd) == 0));
    for fd in &events.fds {
        // SAFETY: an open perf fd we own.
        assert_eq!(unsafe { ioctls::ENABLE(fd.as_raw_fd(), 0) }, 0);
    }
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(30) {
        std::hint::black_box(start.elapsed());
    }
    events.disable();
    // cpu-clock counts nanoseconds of the CPU's clock while enabled, busy or idle.
    for (fd, cpu) in events.fds.iter().zip(&events.cpus) {
        let ns = read_count(fd);
        assert!(ns > 1_000_000, "CPU {cpu} counted {ns} ns");
    }
}

#[test]
fn a_bpf_program_attaches_to_every_cpu_and_a_non_program_is_refused() {
    if !is_root() {
        return;
    }
    let events =
        PerfEvents::open(&PerfSource::CpuClock, Sampling::Period(100_000)).expect("open cpu-clock");
    let not_a_prog = std::fs::File::open("/dev/null").expect("/dev/null");
    let err = events
        .attach_bpf(not_a_prog.as_fd())
        .expect_err("/dev/null is no BPF program");
    let msg = err.to_string();
    assert!(
        msg.starts_with("PERF_EVENT_IOC_SET_BPF on the perf event of CPU"),
        "{msg}"
    );
    assert!(msg.contains("BPF_PROG_TYPE_PERF_EVENT"), "{msg}");
    assert!(!msg.contains('\n'));

    let prog = load_noop_perf_event_prog();
    events.attach_bpf(prog.as_fd()).expect("SET_BPF + ENABLE");
    std::thread::sleep(Duration::from_millis(20));
    assert!(events.fds.iter().all(|fd| read_count(fd) > 0), "enabled");
    // A second program on the same events is refused with EEXIST and its fix.
    let again = events
        .attach_bpf(prog.as_fd())
        .expect_err("already attached");
    assert!(again.to_string().contains("already attached"), "{again}");
    events.disable();
}

#[test]
fn pebs_here_fails_cleanly_when_there_is_no_pmu() {
    if !is_root() {
        return;
    }
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").expect("cpuinfo");
    let pmu = detect_pmu(std::path::Path::new("/sys"), &cpuinfo);
    // Skylake's encoding on PMU type 4, the usual `cpu` type; absent on a VM without a PMU.
    let pebs = PerfSource::PebsL1Miss {
        pmu_type: pmu.cpu_pmu_type.unwrap_or(4),
        config: 0x08d1,
    };
    let result = PerfEvents::open(&pebs, Sampling::Period(10_007));
    if pmu.cpu_pmu_type.is_some() {
        eprintln!("PMU present; PEBS open gave {result:?}");
        return;
    }
    let err = result.expect_err("no PMU: the PEBS open must fail");
    let msg = err.to_string();
    match err {
        PerfError::Open { event, cpu, .. } => {
            assert_eq!(event, "pebs-l1-miss");
            assert_eq!(cpu, online_cpus()[0]);
        }
        other => panic!("expected an open error, got {other:?}"),
    }
    assert!(msg.ends_with("use --events cpu-clock"), "{msg}");
    assert!(!msg.contains('\n'));
}

#[test]
fn none_opens_nothing_and_an_empty_cpu_set_is_refused() {
    let none = PerfEvents::open(&PerfSource::None, Sampling::Period(1)).expect("none");
    assert!(none.fds.is_empty());
    let err =
        PerfEvents::open_on(&PerfSource::CpuClock, Sampling::Period(1), &[]).expect_err("no CPUs");
    assert!(err.to_string().ends_with("use --events cpu-clock"), "{err}");
}
