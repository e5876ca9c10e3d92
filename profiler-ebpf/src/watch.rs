//! The `perf_event` program on clprof's hardware write watchpoints (`--watch`; see
//! `profiler_common::watch`). clprof opens the breakpoint events itself, one per watched word
//! and CPU, system-wide, and attaches this with PERF_EVENT_IOC_SET_BPF.
//!
//! The trap comes after the writing instruction retired: the IP is the next instruction's, and
//! userspace symbolizes IP - 1. The event's `addr` is the watched word's address.

use aya_ebpf::{helpers::bpf_get_current_pid_tgid, macros::perf_event, programs::PerfEventContext};
use profiler_common::{
    fold::record_line_write,
    line_of,
    watch::{watch_hits_counter, WatchSite, WatchSiteKey, WordKey, WATCH_STACK_EVERY},
    Counter, InflightKey, LineKey,
};

use crate::{
    fold::{atomic_add, current_write, entry, line_entry, Write},
    maps::{
        bump, bump_index, INFLIGHT, TARGETS, TARGET_HITS, WATCH_LINES, WATCH_SITES, WATCH_WORDS,
    },
    sample::user_stack,
};

#[perf_event]
pub fn watch_write(ctx: PerfEventContext) -> u32 {
    match try_watch_write(&ctx) {
        Ok(()) => 0,
        Err(()) => 1,
    }
}

fn try_watch_write(ctx: &PerfEventContext) -> Result<(), ()> {
    let pid_tgid = bpf_get_current_pid_tgid();
    let pid = (pid_tgid >> 32) as u32;
    // SAFETY: read-only lookup, copied out at once.
    let Some(slot) = (unsafe { TARGETS.get(pid) }).map(|c| c.slot) else {
        bump(Counter::WatchOtherHits);
        return Ok(());
    };
    bump(Counter::WatchHits);
    bump_index(&TARGET_HITS, watch_hits_counter(u32::from(slot)));
    // SAFETY: the context is the kernel's bpf_perf_event_data, readable at constant offsets.
    let (ip_after, word, g) =
        unsafe { ((*ctx.ctx).regs.rip, (*ctx.ctx).addr, (*ctx.ctx).regs.r14) };
    mark_inflight(pid, g);
    let write = current_write(pid_tgid, false, false, 0);
    let key = WordKey {
        pid,
        _pad: 0,
        addr: word,
    };
    if let Some(stats) = line_entry(&WATCH_WORDS, &key, write.now_ns, None) {
        // SAFETY: a live map value; racing writers are tolerated (see profiler_common::fold).
        record_line_write(unsafe { &mut *stats }, &write, atomic_add);
    }
    let key = LineKey {
        pid,
        _pad: 0,
        line: line_of(word),
    };
    if let Some(stats) = line_entry(&WATCH_LINES, &key, write.now_ns, None) {
        // SAFETY: as above.
        record_line_write(unsafe { &mut *stats }, &write, atomic_add);
    }
    count_site(ctx, &write, word, ip_after);
    Ok(())
}

/// Counts this write's trap in the probed map assign it happened in, if any (a Go thread's
/// goroutine is in R14): that assign's entry-to-RET gap is timed apart, as a watched one.
#[inline(always)]
fn mark_inflight(pid: u32, g: u64) {
    if let Some(inflight) = INFLIGHT.get_ptr_mut(InflightKey { pid, _pad: 0, g }) {
        // SAFETY: a live map value, touched only by the goroutine's own thread (its probes and
        // the traps of its writes).
        unsafe { (*inflight).watched = (*inflight).watched.saturating_add(1) };
    }
}

/// Counts the write at its instruction, with a user stack at the site's first write and then at
/// one in [`WATCH_STACK_EVERY`].
#[inline(always)]
fn count_site(ctx: &PerfEventContext, write: &Write, word: u64, ip_after: u64) {
    let key = WatchSiteKey {
        pid: write.pid,
        _pad: 0,
        word,
        ip_after,
    };
    let fresh = WatchSite {
        writes: 0,
        stack_id: -1,
    };
    let Some((site, _)) = entry(&WATCH_SITES, &key, &fresh, None) else {
        return;
    };
    // SAFETY: a live map value.
    let writes = unsafe { (*site).writes };
    atomic_add(unsafe { &mut (*site).writes }, 1);
    if writes % WATCH_STACK_EVERY == 0 {
        let stack_id = user_stack(ctx);
        if stack_id >= 0 {
            // SAFETY: as above; a racing store of another stack id of the same site is fine.
            unsafe { (*site).stack_id = stack_id };
        }
    }
}
