//! The uprobe at the entry of Go's map-assign functions (`runtime.mapassign*`).
//!
//! Go's register ABI (ABIInternal, amd64) passes arguments in RAX, RBX, RCX, ...: the map type
//! in RAX and the map header pointer in RBX; R14 holds the running goroutine (`g`). The assign
//! writes fixed header fields (classic `hmap.flags`/`count`, swiss `Map.writing`/`used`) whose
//! offsets userspace puts in `TargetConfig`; each write is charged to the lines holding them.
//! Reading the header first tells whether the map is growing (classic `oldbuckets != nil`) or
//! another writer is inside it (the writer flag already set: the race behind Go's "concurrent
//! map writes").
//!
//! When a goroutine's stack must grow, the function's prologue calls `runtime.morestack`, which
//! copies the stack and restarts the function from its first instruction: this probe then fires
//! twice for one assign (counted twice; the second entry replaces the first in `INFLIGHT`).

use aya_ebpf::{
    helpers::{bpf_get_attach_cookie, bpf_get_current_pid_tgid, bpf_ktime_get_ns},
    macros::uprobe,
    programs::ProbeContext,
    EbpfContext,
};
use aya_log_ebpf::debug;
use profiler_common::{
    line_of, Cookie, Counter, Inflight, InflightKey, MapWriter, ObjectKey, TargetConfig,
    OBJECT_GO_MAP, SAMPLE_CONCURRENT, WRITTEN_FIELDS,
};

use crate::{
    fold::{current_write, write_line, write_object, ObjectId},
    header::{header_u64, header_u8},
    maps::{
        bump, bump_index, bump_target_entry, time_program, HITS, INFLIGHT, MAP_WRITERS, TARGETS,
    },
    sample::{return_address, send, user_stack, SampleInfo},
    xol::remember_hit,
};

#[uprobe]
pub fn go_map_assign(ctx: ProbeContext) -> u32 {
    match try_go_map_assign(&ctx) {
        Ok(()) => 0,
        Err(()) => 1,
    }
}

fn try_go_map_assign(ctx: &ProbeContext) -> Result<(), ()> {
    // SAFETY: reads the monotonic clock.
    let start_ns = unsafe { bpf_ktime_get_ns() };
    let pid_tgid = bpf_get_current_pid_tgid();
    let pid = (pid_tgid >> 32) as u32;
    // SAFETY: read-only lookup; the value is copied out at once.
    let Some(config) = (unsafe { TARGETS.get(pid) }) else {
        return Ok(());
    };
    let config: TargetConfig = *config;
    bump_target_entry(config.slot);
    // SAFETY: the helper only reads the attach cookie of the running program.
    let cookie = Cookie::unpack(unsafe { bpf_get_attach_cookie(ctx.as_ptr()) });
    let events = bump(Counter::Events);
    bump_index(&HITS, cookie.probe_id);

    // SAFETY: `regs` is the probe's pt_regs, readable at constant offsets.
    let (map, map_type, g, sp, site) = unsafe {
        (
            (*ctx.regs).rbx,
            (*ctx.regs).rax,
            (*ctx.regs).r14,
            (*ctx.regs).rsp,
            (*ctx.regs).rip,
        )
    };
    remember_hit(pid_tgid, site, cookie.kind);
    if map == 0 {
        bump(Counter::NullMaps);
        return Ok(());
    }
    let writing = header_u8(map, config.writing_offset) & config.writing_mask != 0;
    let growing = header_u64(map, config.growth_offset) != 0;
    let write = current_write(pid_tgid, growing, writing);

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
    let object = ObjectId {
        addr: map,
        kind: cookie.kind,
        object_kind: OBJECT_GO_MAP,
        type_addr: map_type,
        owner: 0,
    };
    write_object(&write, &object);

    let map_key = ObjectKey {
        pid,
        _pad: 0,
        addr: map,
    };
    // SAFETY: read-only lookup, copied out at once.
    let other = if writing {
        unsafe { MAP_WRITERS.get(map_key) }.copied()
    } else {
        None
    };
    // Every race is sampled; other writes one in `sample_every`.
    let sampled =
        writing || (config.sample_every != 0 && events.is_multiple_of(config.sample_every as u64));
    let (mut stack_id, mut return_addr) = (-1i64, 0u64);
    if sampled {
        stack_id = user_stack(ctx);
        return_addr = return_address(sp);
        let info = SampleInfo {
            kind: cookie.kind,
            object: map,
            lines,
            flags: if writing { SAMPLE_CONCURRENT } else { 0 },
            other_tid: other.map_or(0, |o| o.tid),
            other_stack_id: other.map_or(-1, |o| o.stack_id),
        };
        send(&write, &info, stack_id, return_addr);
    }
    let writer = MapWriter {
        tid: write.tid,
        _pad: 0,
        stack_id,
    };
    let _ = MAP_WRITERS.insert(map_key, writer, 0);
    let mut inflight = Inflight {
        map,
        start_ns: write.now_ns,
        end_ns: 0,
        lines,
        stack_id,
        return_addr,
        kind: cookie.kind,
        // Already counted as a growth write at entry: the return must not count it again.
        grew: if growing { 2 } else { 0 },
        watched: 0,
    };
    let key = InflightKey { pid, _pad: 0, g };
    // The program's time ends here: what is left is one map update.
    inflight.end_ns = time_program(config.slot, start_ns, None);
    if INFLIGHT.insert(key, inflight, 0).is_err() {
        bump(Counter::InflightDrops);
    }
    Ok(())
}
