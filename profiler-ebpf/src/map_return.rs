//! The uprobe on every RET instruction of the map-assign functions (uretprobes would rewrite
//! return addresses on goroutine stacks, which Go moves: the program crashes).
//!
//! RAX holds the returned value slot: the assign is charged to the slot's line too (object kind
//! go-map-slot), and its entry-to-return latency goes into the map's histogram. Entries and
//! returns are matched by goroutine (`g` in R14), which stays the same when the stack moves or
//! the goroutine resumes on another thread.

use core::intrinsics::{atomic_xadd, AtomicOrdering};

use aya_ebpf::{
    helpers::{bpf_get_attach_cookie, bpf_get_current_pid_tgid, bpf_ktime_get_ns},
    macros::uprobe,
    programs::ProbeContext,
    EbpfContext,
};
use profiler_common::{
    latency_bucket, line_of, Cookie, Counter, Inflight, InflightKey, ObjectKey, SampleFlags,
    OBJECT_GO_MAP_SLOT, WRITTEN_FIELDS,
};

use crate::{
    fold::{add_line_growth, add_object_growth, current_write, write_line, write_object, ObjectId},
    maps::{
        bump, bump_target, time_program, Gap, INFLIGHT, LATENCY, MAP_WRITERS, TARGETS, ZERO_HIST,
    },
    sample::{send, SampleInfo},
    xol::remember_hit,
};

#[uprobe]
pub fn go_map_assign_ret(ctx: ProbeContext) -> u32 {
    match try_go_map_assign_ret(&ctx) {
        Ok(()) => 0,
        Err(()) => 1,
    }
}

fn try_go_map_assign_ret(ctx: &ProbeContext) -> Result<(), ()> {
    // SAFETY: reads the monotonic clock.
    let start_ns = unsafe { bpf_ktime_get_ns() };
    let pid_tgid = bpf_get_current_pid_tgid();
    let pid = (pid_tgid >> 32) as u32;
    // SAFETY: read-only lookup of the slot.
    let Some(target) = (unsafe { TARGETS.get(pid) }).map(|c| c.slot) else {
        return Ok(());
    };
    bump_target(target);
    // SAFETY: `regs` is the probe's pt_regs, readable at constant offsets.
    let (slot, g, site) = unsafe { ((*ctx.regs).rax, (*ctx.regs).r14, (*ctx.regs).rip) };
    // SAFETY: the helper only reads the attach cookie of the running program.
    let cookie = Cookie::unpack(unsafe { bpf_get_attach_cookie(ctx.as_ptr()) });
    remember_hit(pid_tgid, site, cookie.kind);
    let key = InflightKey { pid, _pad: 0, g };
    // SAFETY: read-only lookup, copied out before the entry is removed.
    let Some(inflight) = (unsafe { INFLIGHT.get(key) }).copied() else {
        bump(Counter::UnmatchedReturns);
        return Ok(());
    };
    let _ = INFLIGHT.remove(key);
    let inflight: Inflight = inflight;
    // A gap with watchpoint traps in it is timed apart: it measures what they cost.
    let gap = (inflight.end_ns != 0).then(|| Gap {
        ns: start_ns.saturating_sub(inflight.end_ns),
        watched: inflight.watched,
    });
    let write = current_write(pid_tgid, false, false, 0);
    let map_key = ObjectKey {
        pid,
        _pad: 0,
        addr: inflight.map,
    };
    record_latency(&map_key, write.now_ns.saturating_sub(inflight.start_ns));

    // A growth function ran inside this assign (swiss maps grow all at once, here).
    if inflight.grew == 1 {
        for line in inflight.lines {
            if line != 0 {
                add_line_growth(pid, line);
            }
        }
        add_object_growth(pid, inflight.map);
    }

    if slot != 0 {
        let line = line_of(slot);
        write_line(&write, line);
        let object = ObjectId {
            addr: slot,
            kind: inflight.kind,
            object_kind: OBJECT_GO_MAP_SLOT,
            type_addr: 0,
            owner: inflight.map,
        };
        write_object(&write, &object);
        if inflight.stack_id >= 0 {
            let mut lines = [0u64; WRITTEN_FIELDS];
            lines[0] = line;
            let info = SampleInfo {
                kind: inflight.kind,
                object: slot,
                lines,
                flags: SampleFlags::SLOT,
                other_tid: 0,
                other_stack_id: -1,
            };
            send(&write, &info, inflight.stack_id, inflight.return_addr);
        }
    }

    // SAFETY: read-only lookup.
    if unsafe { MAP_WRITERS.get(map_key) }.is_some_and(|w| w.tid == write.tid) {
        let _ = MAP_WRITERS.remove(map_key);
    }
    time_program(target, start_ns, gap);
    Ok(())
}

#[inline(always)]
fn record_latency(map_key: &ObjectKey, ns: u64) {
    let hist = match LATENCY.get_ptr_mut(map_key) {
        Some(h) => h,
        None => {
            let Some(zero) = ZERO_HIST.get(0) else {
                return;
            };
            let _ = LATENCY.insert(map_key, zero, 0);
            match LATENCY.get_ptr_mut(map_key) {
                Some(h) => h,
                None => return,
            }
        }
    };
    let bucket = latency_bucket(ns);
    // SAFETY: a live map value; the index is bounded by latency_bucket.
    unsafe {
        let cell = (*hist).buckets.as_mut_ptr().add(bucket);
        atomic_xadd::<u32, u32, { AtomicOrdering::Relaxed }>(cell, 1);
    }
}
