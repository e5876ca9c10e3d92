//! `--probe BIN:SYMBOL:REG[+OFF]`: a uprobe on any function that treats `REG + OFF` as the
//! address being written (objects of kind custom).

use aya_ebpf::{
    bindings::pt_regs,
    helpers::{bpf_get_attach_cookie, bpf_get_current_pid_tgid, bpf_probe_read_kernel},
    macros::uprobe,
    programs::ProbeContext,
    EbpfContext,
};
use profiler_common::{line_of, Cookie, Counter, SampleFlags, OBJECT_CUSTOM, WRITTEN_FIELDS};

use crate::{
    fold::{current_write, write_line, write_object, ObjectId},
    maps::{bump, bump_index, bump_target_entry, HITS, TARGETS},
    sample::{return_address, send, user_stack, SampleInfo},
    xol::remember_hit,
};

#[uprobe]
pub fn custom_probe(ctx: ProbeContext) -> u32 {
    match try_custom_probe(&ctx) {
        Ok(()) => 0,
        Err(()) => 1,
    }
}

/// The register numbered as `profiler_common::Register`. The verifier rejects loads from the
/// context at a computed offset, so the registers are copied out first and indexed on the stack.
#[inline(always)]
fn register(regs: &pt_regs, index: u32) -> u64 {
    let values = [
        regs.rax, regs.rbx, regs.rcx, regs.rdx, regs.rsi, regs.rdi, regs.rbp, regs.rsp, regs.r8,
        regs.r9, regs.r10, regs.r11, regs.r12, regs.r13, regs.r14, regs.r15,
    ];
    values[(index & 15) as usize]
}

fn try_custom_probe(ctx: &ProbeContext) -> Result<(), ()> {
    let pid_tgid = bpf_get_current_pid_tgid();
    let pid = (pid_tgid >> 32) as u32;
    // SAFETY: read-only lookup; the value is copied out at once.
    let Some((sample_every, slot, flags)) =
        (unsafe { TARGETS.get(pid) }).map(|c| (c.sample_every, c.slot, c.flags))
    else {
        return Ok(());
    };
    bump_target_entry(slot);
    // SAFETY: the helper only reads the attach cookie of the running program.
    let cookie = Cookie::unpack(unsafe { bpf_get_attach_cookie(ctx.as_ptr()) });
    let events = bump(Counter::Events);
    bump_index(&HITS, cookie.probe_id);
    // SAFETY: copies the probe's pt_regs (kernel memory) to the stack.
    let regs: pt_regs = unsafe { bpf_probe_read_kernel(ctx.regs) }.map_err(|_| ())?;
    let regs = &regs;
    remember_hit(pid_tgid, regs.rip, cookie.kind);
    let base = register(regs, cookie.register);
    if base == 0 {
        bump(Counter::NullMaps);
        return Ok(());
    }
    let addr = base.wrapping_add(cookie.offset as i64 as u64);
    let write = current_write(pid_tgid, false, false, flags);
    let line = line_of(addr);
    let mut lines = [0u64; WRITTEN_FIELDS];
    if write_line(&write, line) {
        lines[0] = line;
    }
    let object = ObjectId {
        addr,
        kind: cookie.kind,
        object_kind: OBJECT_CUSTOM,
        type_addr: 0,
        owner: 0,
    };
    write_object(&write, &object);
    if sample_every != 0 && events.is_multiple_of(sample_every as u64) {
        let info = SampleInfo {
            kind: cookie.kind,
            object: addr,
            lines,
            flags: SampleFlags::CUSTOM,
            other_tid: 0,
            other_stack_id: -1,
        };
        send(&write, &info, user_stack(ctx), return_address(regs.rsp));
    }
    Ok(())
}
