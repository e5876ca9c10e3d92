//! The uprobe on Go's map-assign functions (`runtime.mapassign*`).
//!
//! Go's register ABI (ABIInternal, amd64) passes arguments in RAX, RBX, RCX, RDI, ...: the map
//! type in RAX and the map header pointer in RBX. The assign writes fixed header fields (classic
//! `hmap.flags`/`count`, swiss `Map.writing`/`used`) whose offsets userspace puts in
//! `TargetConfig`; each write is charged to the lines holding those fields.

use aya_ebpf::{
    bindings::BPF_F_USER_STACK,
    helpers::{
        bpf_get_attach_cookie, bpf_get_current_pid_tgid, bpf_get_smp_processor_id,
        bpf_ktime_get_ns, bpf_probe_read_user,
    },
    macros::uprobe,
    programs::{tracing::StackIdContext, ProbeContext},
    EbpfContext,
};
use aya_log_ebpf::debug;
use profiler_common::{
    cookie_parts, line_of, Counter, SampleEvent, TargetConfig, ASSIGN_KINDS, WRITTEN_FIELDS,
};

use crate::{
    fold::{write_line, write_object, Write},
    maps::{bump, bump_index, EVENTS, HITS, STACKS, TARGETS},
};

#[uprobe]
pub fn go_map_assign(ctx: ProbeContext) -> u32 {
    match try_go_map_assign(&ctx) {
        Ok(()) => 0,
        Err(()) => 1,
    }
}

fn try_go_map_assign(ctx: &ProbeContext) -> Result<(), ()> {
    let pid_tgid = bpf_get_current_pid_tgid();
    let pid = (pid_tgid >> 32) as u32;
    // SAFETY: read-only lookup; the value is copied out at once.
    let Some(config) = (unsafe { TARGETS.get(pid) }) else {
        return Ok(());
    };
    let config: TargetConfig = *config;
    // SAFETY: the helper only reads the attach cookie of the running program.
    let cookie = unsafe { bpf_get_attach_cookie(ctx.as_ptr()) };
    let (kind, slot) = cookie_parts(cookie);
    let events = bump(Counter::Events);
    bump_index(&HITS, slot * ASSIGN_KINDS + kind);

    // SAFETY: `regs` is the probe's pt_regs, readable at constant offsets.
    let (map, sp) = unsafe { ((*ctx.regs).rbx, (*ctx.regs).rsp) };
    if map == 0 {
        bump(Counter::NullMaps);
        return Ok(());
    }
    let write = Write {
        pid,
        tid: pid_tgid as u32,
        // SAFETY: helper without side effects.
        cpu: unsafe { bpf_get_smp_processor_id() },
        // SAFETY: helper without side effects.
        now_ns: unsafe { bpf_ktime_get_ns() },
    };

    // Go's header fields are naturally aligned and at most 8 bytes, so none straddles two lines.
    let mut lines = [0u64; WRITTEN_FIELDS];
    for i in 0..WRITTEN_FIELDS {
        if config.field_size[i] == 0 {
            continue;
        }
        let line = line_of(map.wrapping_add(config.field_offset[i] as u64));
        if i > 0 && line == lines[0] {
            continue;
        }
        if write_line(&write, line) {
            lines[i] = line;
        } else {
            debug!(ctx, "line {:x} of pid {} not stored", line, pid);
        }
    }
    write_object(&write, map, kind);

    if config.sample_every != 0 && events.is_multiple_of(config.sample_every as u64) {
        sample(ctx, &write, kind, map, lines, sp);
    }
    Ok(())
}

#[inline(always)]
fn sample(ctx: &ProbeContext, write: &Write, kind: u32, map: u64, lines: [u64; 2], sp: u64) {
    let Some(mut entry) = EVENTS.reserve::<SampleEvent>(0) else {
        bump(Counter::RingbufDrops);
        return;
    };
    let stack_id = match ctx.get_stackid(&STACKS, BPF_F_USER_STACK as u64) {
        Ok(id) => id,
        Err(e) => {
            bump(Counter::StackDrops);
            e as i64
        }
    };
    // SAFETY: `sp` is the target thread's stack pointer; a failed read leaves 0.
    let return_addr = unsafe { bpf_probe_read_user(sp as *const u64) }.unwrap_or(0);
    entry.write(SampleEvent {
        ktime_ns: write.now_ns,
        pid: write.pid,
        tid: write.tid,
        cpu: write.cpu,
        kind,
        object: map,
        lines,
        return_addr,
        stack_id,
    });
    entry.submit(0);
    bump(Counter::Samples);
}
