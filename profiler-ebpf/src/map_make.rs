//! The uprobe on every RET instruction of `runtime.makemap`, `runtime.makemap_small` and
//! `runtime.makemap64`: RAX holds the new map header. The event carries the stack of the code
//! that made it (the caller's return address is at `[rsp]` on the RET), which userspace reports
//! as where the map was made.

use aya_ebpf::{helpers::bpf_get_current_pid_tgid, macros::uprobe, programs::ProbeContext};
use profiler_common::{access::MAKE_KIND, SampleFlags, WRITTEN_FIELDS};

use crate::{
    fold::current_write,
    maps::{bump_target, TARGETS},
    sample::{return_address, send, user_stack, SampleInfo},
    xol::remember_hit,
};

#[uprobe]
pub fn go_map_make(ctx: ProbeContext) -> u32 {
    match try_go_map_make(&ctx) {
        Ok(()) => 0,
        Err(()) => 1,
    }
}

fn try_go_map_make(ctx: &ProbeContext) -> Result<(), ()> {
    let pid_tgid = bpf_get_current_pid_tgid();
    let pid = (pid_tgid >> 32) as u32;
    // SAFETY: read-only lookup of the slot.
    let Some(slot) = (unsafe { TARGETS.get(pid) }).map(|c| c.slot) else {
        return Ok(());
    };
    bump_target(slot);
    // SAFETY: `regs` is the probe's pt_regs, readable at constant offsets.
    let (map, sp, site) = unsafe { ((*ctx.regs).rax, (*ctx.regs).rsp, (*ctx.regs).rip) };
    remember_hit(pid_tgid, site, MAKE_KIND);
    if map == 0 {
        return Ok(());
    }
    let write = current_write(pid_tgid, false, false, 0);
    let stack_id = user_stack(ctx);
    let info = SampleInfo {
        kind: MAKE_KIND,
        object: map,
        lines: [0; WRITTEN_FIELDS],
        flags: SampleFlags::MADE,
        other_tid: 0,
        other_stack_id: -1,
    };
    send(&write, &info, stack_id, return_address(sp));
    Ok(())
}
