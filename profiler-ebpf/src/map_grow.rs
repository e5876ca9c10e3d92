//! The uprobe on the Go runtime's map growth functions (swiss: `(*table).rehash`,
//! `(*Map).growToTable`, `(*Map).growToSmall`; classic: `runtime.hashGrow`). It marks the
//! goroutine's assign in flight as one that grew its map; the RET probe counts it.

use aya_ebpf::{helpers::bpf_get_current_pid_tgid, macros::uprobe, programs::ProbeContext};
use profiler_common::{xol::GROW_KIND, InflightKey};

use crate::{
    maps::{bump_target, INFLIGHT, TARGETS},
    xol::remember_hit,
};

#[uprobe]
pub fn go_map_grow(ctx: ProbeContext) -> u32 {
    match try_go_map_grow(&ctx) {
        Ok(()) => 0,
        Err(()) => 1,
    }
}

fn try_go_map_grow(ctx: &ProbeContext) -> Result<(), ()> {
    let pid_tgid = bpf_get_current_pid_tgid();
    let pid = (pid_tgid >> 32) as u32;
    // SAFETY: read-only lookup of the slot.
    let Some(slot) = (unsafe { TARGETS.get(pid) }).map(|c| c.slot) else {
        return Ok(());
    };
    bump_target(slot);
    // SAFETY: `regs` is the probe's pt_regs, readable at constant offsets.
    let (g, site) = unsafe { ((*ctx.regs).r14, (*ctx.regs).rip) };
    remember_hit(pid_tgid, site, GROW_KIND);
    let key = InflightKey { pid, _pad: 0, g };
    if let Some(inflight) = INFLIGHT.get_ptr_mut(key) {
        // SAFETY: a live map value owned by this goroutine's assign.
        unsafe {
            if (*inflight).grew == 0 {
                (*inflight).grew = 1;
            }
        }
    }
    Ok(())
}
