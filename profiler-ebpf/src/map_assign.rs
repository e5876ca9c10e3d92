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

use aya_ebpf::{macros::uprobe, programs::ProbeContext};
use profiler_common::{
    Cookie, Counter, Inflight, InflightKey, MapWriter, ObjectKey, SampleFlags, OBJECT_GO_MAP,
};

use crate::{
    entry::{enter, Entry},
    fold::{current_write, write_lines, write_object, ObjectId, Write},
    header::{field_lines, header_u64, header_u8},
    maps::{bump, time_program, writer_inside, INFLIGHT, MAP_WRITERS},
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
    let Some(Entry {
        start_ns,
        pid_tgid,
        pid,
        config,
        cookie,
    }) = enter(ctx)
    else {
        return Ok(());
    };
    let events = bump(Counter::Events);

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
    let map_key = ObjectKey {
        pid,
        _pad: 0,
        addr: map,
    };
    let other = writer_inside(&map_key, writing);
    let growing = header_u64(map, config.growth_offset) != 0;
    let write = current_write(pid_tgid, growing, writing, config.flags);

    // The lines that could not be stored are left out of the sample.
    let lines = write_lines(&write, field_lines(map, &config));
    let object = ObjectId {
        addr: map,
        kind: cookie.kind,
        object_kind: OBJECT_GO_MAP,
        type_addr: map_type,
        owner: 0,
    };
    write_object(&write, &object);

    // Every race is sampled; other writes one in `sample_every`.
    let sampled =
        writing || (config.sample_every != 0 && events.is_multiple_of(config.sample_every as u64));
    let (stack_id, return_addr) = if sampled {
        sample_assign(ctx, &write, &cookie, map, lines, other, sp, writing)
    } else {
        (-1, 0)
    };
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

/// Sends the sample of an assign (a race when the writer flag was already set: `writing`,
/// naming the writer inside, `other`, when known); its user stack's id and return address.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn sample_assign(
    ctx: &ProbeContext,
    write: &Write,
    cookie: &Cookie,
    map: u64,
    lines: [u64; 2],
    other: Option<MapWriter>,
    sp: u64,
    writing: bool,
) -> (i64, u64) {
    let stack_id = user_stack(ctx);
    let return_addr = return_address(sp);
    let flags = if writing {
        SampleFlags::CONCURRENT
    } else {
        SampleFlags::NONE
    };
    let info = SampleInfo::of_map(cookie.kind, map, lines, flags, other);
    send(write, &info, stack_id, return_addr);
    (stack_id, return_addr)
}
