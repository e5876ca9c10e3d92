//! The uprobe at the entry of the other Go map functions ([`AccessKind`]): lookups
//! (`runtime.mapaccess1*`, `mapaccess2*`, `mapaccessK`), iteration (its start and each step),
//! deletes and `clear`. The map header is in the register the cookie names (RBX, as for assigns),
//! or, for an iteration step, in the iterator that register points to (the cookie's offset).
//!
//! Lookups and iteration read the header fields writers dirty (every one checks the writer flag
//! and the count first): they are folded as reads of those lines, which keeps each line's set of
//! CPUs holding its current version (`profiler_common::fold::record_line_read`). Deletes and
//! clears write those fields: they are folded as writes. A lookup or iteration step that finds
//! the writer flag set is a read racing a write (`read_races`).

use aya_ebpf::{helpers::bpf_probe_read_user, macros::uprobe, programs::ProbeContext};
use profiler_common::{
    access::{AccessKind, ACCESS_DEREF},
    fold::{note_writer, record_object_read},
    read_hits_counter, Cookie, Counter, MapWriter, ObjectKey, ObjectStats, SampleFlags,
    OBJECT_GO_MAP,
};

use crate::{
    entry::{enter, Entry},
    fold::{atomic_add, current_write, object_stats, read_lines, write_lines, ObjectId, Write},
    header::{field_lines, header_u8},
    maps::{bump, bump_index, time_program, writer_inside, MAP_WRITERS, TARGET_HITS},
    sample::{return_address, send, user_stack, SampleInfo},
    xol::remember_hit,
};

#[uprobe]
pub fn go_map_access(ctx: ProbeContext) -> u32 {
    match try_go_map_access(&ctx) {
        Ok(()) => 0,
        Err(()) => 1,
    }
}

fn try_go_map_access(ctx: &ProbeContext) -> Result<(), ()> {
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
    let Some(access) = AccessKind::of_cookie_kind(cookie.kind) else {
        return Err(());
    };
    bump(Counter::Accesses);
    if !access.writes() {
        bump_index(&TARGET_HITS, read_hits_counter(u32::from(config.slot)));
    }
    // SAFETY: `regs` is the probe's pt_regs, readable at constant offsets. All are read here,
    // each at its own offset: the verifier refuses a load through a context pointer the
    // compiler would otherwise pick among them.
    let (rax, rbx, rcx, site, sp) = unsafe {
        (
            (*ctx.regs).rax,
            (*ctx.regs).rbx,
            (*ctx.regs).rcx,
            (*ctx.regs).rip,
            (*ctx.regs).rsp,
        )
    };
    remember_hit(pid_tgid, site, cookie.kind);
    let map = map_header(&cookie, [rax, rbx, rcx])?;
    // A lookup in a nil map is legal Go (it finds nothing) and touches no memory.
    if map == 0 {
        time_program(config.slot, start_ns, None);
        return Ok(());
    }
    let writing = header_u8(map, config.writing_offset) & config.writing_mask != 0;
    let map_key = ObjectKey {
        pid,
        _pad: 0,
        addr: map,
    };
    let other = writer_inside(&map_key, writing);
    let writes = access.writes();
    let now = current_write(pid_tgid, false, writing && writes, config.flags);
    let lines = field_lines(map, &config);
    if writes {
        write_lines(&now, lines);
    } else {
        read_lines(&now, lines);
    }
    // The map type is in RAX where the header is in RBX.
    let type_addr = if cookie.register == 1 { rax } else { 0 };
    let object = ObjectId {
        addr: map,
        kind: cookie.kind,
        object_kind: OBJECT_GO_MAP,
        type_addr,
        owner: 0,
    };
    if let Some(stats) = object_stats(&now, &object) {
        // SAFETY: a live map value; concurrent updates are tolerated (see profiler_common::fold).
        count_access(unsafe { &mut *stats }, access, &now, writing);
    }
    // Every race is sampled, with the writer inside when known.
    let stack_id = if writing {
        sample_race(ctx, &now, &cookie, map, lines, other, sp, writes)
    } else {
        -1
    };
    if writes {
        enter_write(&now, &map_key, stack_id);
    }
    time_program(config.slot, start_ns, None);
    Ok(())
}

/// The map header the probed function was given: in the register the cookie names (of RAX,
/// RBX, RCX), or in the iterator that register points to (at the cookie's offset); 0 for a nil
/// map.
#[inline(always)]
fn map_header(cookie: &Cookie, [rax, rbx, rcx]: [u64; 3]) -> Result<u64, ()> {
    let base = match cookie.register & !ACCESS_DEREF {
        0 => rax,
        1 => rbx,
        2 => rcx,
        _ => return Err(()),
    };
    if cookie.register & ACCESS_DEREF != 0 && base != 0 {
        let field = base.wrapping_add(cookie.offset as i64 as u64);
        // SAFETY: reads target memory through the checked helper; failure gives 0.
        Ok(unsafe { bpf_probe_read_user(field as *const u64) }.unwrap_or(0))
    } else {
        Ok(base)
    }
}

/// Counts `access` in the map's stats: a read (with the CPUs holding the line), an iteration,
/// a delete or a clear; a write's writer and whether it raced another, a read's race.
#[inline(always)]
fn count_access(stats: &mut ObjectStats, access: AccessKind, now: &Write, writing: bool) {
    match access {
        AccessKind::Read => record_object_read(stats, now, atomic_add),
        AccessKind::IterInit => atomic_add(&mut stats.iterations, 1),
        AccessKind::IterNext => {}
        AccessKind::Delete => atomic_add(&mut stats.deletes, 1),
        AccessKind::Clear => atomic_add(&mut stats.clears, 1),
    }
    if access.writes() {
        if writing {
            atomic_add(&mut stats.concurrent_writers, 1);
        }
        note_writer(&mut stats.writers, now.tid, now.cpu);
    } else if writing {
        atomic_add(&mut stats.read_races, 1);
    }
}

/// Sends the sample of an access that found the writer flag set, naming the writer inside
/// (`other`) when known; the id of this thread's user stack.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn sample_race(
    ctx: &ProbeContext,
    now: &Write,
    cookie: &Cookie,
    map: u64,
    lines: [u64; 2],
    other: Option<MapWriter>,
    sp: u64,
    writes: bool,
) -> i64 {
    let stack_id = user_stack(ctx);
    let flags = if writes {
        SampleFlags::CONCURRENT
    } else {
        SampleFlags::CONCURRENT.with(SampleFlags::READ)
    };
    let info = SampleInfo::of_map(cookie.kind, map, lines, flags, other);
    send(now, &info, stack_id, return_address(sp));
    stack_id
}

/// A delete or clear is inside the map now: a reader or writer that finds the writer flag set
/// names this thread (the entry stays until the next writer's replaces it; a delete has no RET
/// probe to remove it).
#[inline(always)]
fn enter_write(now: &Write, map_key: &ObjectKey, stack_id: i64) {
    let writer = MapWriter {
        tid: now.tid,
        _pad: 0,
        stack_id,
    };
    let _ = MAP_WRITERS.insert(map_key, writer, 0);
}
