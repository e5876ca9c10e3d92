//! The perf_event program behind `--events`: clprof opens the events itself (one per CPU,
//! system-wide; see `profiler/src/perf`) and attaches this with PERF_EVENT_IOC_SET_BPF, because
//! Aya's `PerfEvent::attach` cannot ask for precise_ip or PERF_SAMPLE_ADDR.
//!
//! Each sample in a target process is counted by instruction address (userspace names the
//! functions), except one in the target's XOL area (`[uprobes]`: a thread single-stepping a
//! probed instruction), which is counted for the probe site the thread hit last (`PROBE_STEPS`,
//! see `profiler_common::xol`): probe overhead, named after the probed function. Every other
//! sample with a data address, the hardware's (PEBS, IBS) or one computed from its registers and
//! the operand decoded at its IP, is folded into that address's line (`data_address`); a
//! hardware one also lands in the probes' line there (`l1_miss_samples`). When the sampled
//! goroutine is inside a map assign (its entry is in `INFLIGHT`), the sample is charged to that
//! map too. Everything is counted in the kernel and nothing is sent: only a line's eighth sample,
//! then one in sixteen, take a user stack (`wants_stack`), so a
//! sample costs its thread little more than the interrupt.

use aya_ebpf::{helpers::bpf_get_current_pid_tgid, macros::perf_event, programs::PerfEventContext};
use profiler_common::{
    line_of, xol::in_xol_area, Counter, InflightKey, IpKey, LineKey, ObjectKey, TARGET_GO,
};

use crate::{
    data_address::fold_sample,
    fold::{atomic_add, count_one},
    maps::{bump, INFLIGHT, LINES, OBJECTS, PERF_IPS, TARGETS},
    xol::count_step,
};

/// Lowest kernel address on x86-64: samples with an IP at or above it are in the kernel.
const KERNEL_START: u64 = 0xffff_8000_0000_0000;

#[perf_event]
pub fn perf_sample(ctx: PerfEventContext) -> u32 {
    match try_perf_sample(&ctx) {
        Ok(()) => 0,
        Err(()) => 1,
    }
}

fn try_perf_sample(ctx: &PerfEventContext) -> Result<(), ()> {
    let pid_tgid = bpf_get_current_pid_tgid();
    let pid = (pid_tgid >> 32) as u32;
    // SAFETY: read-only lookup, copied out at once.
    let Some((xol_start, xol_end, flags)) =
        (unsafe { TARGETS.get(pid) }).map(|c| (c.xol_start, c.xol_end, c.flags))
    else {
        return Ok(());
    };
    // SAFETY: the context is the kernel's bpf_perf_event_data, readable at constant offsets.
    let (ip, g, addr) = unsafe { ((*ctx.ctx).regs.rip, (*ctx.ctx).regs.r14, (*ctx.ctx).addr) };
    if ip >= KERNEL_START {
        return Ok(());
    }
    bump(Counter::PerfSamples);
    if in_xol_area(ip, xol_start, xol_end) {
        count_step(pid_tgid);
    } else {
        count_one(&PERF_IPS, &IpKey { pid, _pad: 0, ip });
        let go = flags & TARGET_GO != 0;
        fold_sample(ctx, (pid_tgid, go, g), ip, addr);
    }
    if addr != 0 {
        bump(Counter::PerfAddrSamples);
        let key = LineKey {
            pid,
            _pad: 0,
            line: line_of(addr),
        };
        // Only lines already written by a probed write are charged: the report is about those.
        if let Some(stats) = LINES.get_ptr_mut(key) {
            // SAFETY: a live map value.
            atomic_add(unsafe { &mut (*stats).l1_miss_samples }, 1);
        }
    }
    // SAFETY: read-only lookup, copied out at once.
    if let Some(inflight) = unsafe { INFLIGHT.get(InflightKey { pid, _pad: 0, g }) }.copied() {
        let key = ObjectKey {
            pid,
            _pad: 0,
            addr: inflight.map,
        };
        if let Some(stats) = OBJECTS.get_ptr_mut(key) {
            // SAFETY: a live map value.
            atomic_add(unsafe { &mut (*stats).perf_samples }, 1);
        }
    }
    Ok(())
}
