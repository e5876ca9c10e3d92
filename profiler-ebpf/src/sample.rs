//! Sending a sampled write to userspace: the event through the ring buffer, the user stack into
//! the stack map.

use aya_ebpf::{
    bindings::BPF_F_USER_STACK, helpers::bpf_probe_read_user, programs::tracing::StackIdContext,
};
use profiler_common::{
    fold::Write, Counter, MapWriter, SampleEvent, SampleFlags, EVENTS_RING_BYTES, WRITTEN_FIELDS,
};

use crate::maps::{bump, EVENTS, STACKS};

/// What a sample is about, beyond the write itself.
pub struct SampleInfo {
    pub kind: u32,
    pub object: u64,
    pub lines: [u64; WRITTEN_FIELDS],
    pub flags: SampleFlags,
    pub other_tid: u32,
    pub other_stack_id: i64,
}

impl SampleInfo {
    /// A sample of map `map` (a write to it, or a read of it), naming the writer inside it
    /// (`other`) when there was one.
    #[inline(always)]
    pub fn of_map(
        kind: u32,
        map: u64,
        lines: [u64; WRITTEN_FIELDS],
        flags: SampleFlags,
        other: Option<MapWriter>,
    ) -> Self {
        SampleInfo {
            kind,
            object: map,
            lines,
            flags,
            other_tid: other.map_or(0, |o| o.tid),
            other_stack_id: other.map_or(-1, |o| o.stack_id),
        }
    }
}

/// Records the user stack of the current thread; returns its id (negative errno on failure).
#[inline(always)]
pub fn user_stack<C: StackIdContext>(ctx: &C) -> i64 {
    match ctx.get_stackid(&STACKS, BPF_F_USER_STACK as u64) {
        Ok(id) => id,
        Err(e) => {
            bump(Counter::StackDrops);
            e as i64
        }
    }
}

/// The caller's return address at a function's first instruction (`[rsp]`), 0 if unreadable.
#[inline(always)]
pub fn return_address(sp: u64) -> u64 {
    // SAFETY: `sp` is the target thread's stack pointer; a failed read yields 0.
    unsafe { bpf_probe_read_user(sp as *const u64) }.unwrap_or(0)
}

/// `bpf_ringbuf_query`: bytes not yet consumed.
const BPF_RB_AVAIL_DATA: u64 = 0;
/// `bpf_ringbuf_submit` flags.
const BPF_RB_NO_WAKEUP: u64 = 1;
const BPF_RB_FORCE_WAKEUP: u64 = 2;
/// Unread bytes above which a submit wakes the collector (a quarter of the ring).
const WAKEUP_BYTES: u64 = EVENTS_RING_BYTES as u64 / 4;

/// Sends one event; `stack_id`/`return_addr` are those of the write (already recorded).
#[inline(always)]
pub fn send(write: &Write, info: &SampleInfo, stack_id: i64, return_addr: u64) {
    let Some(mut entry) = EVENTS.reserve::<SampleEvent>(0) else {
        bump(Counter::RingbufDrops);
        return;
    };
    entry.write(SampleEvent {
        ktime_ns: write.now_ns,
        pid: write.pid,
        tid: write.tid,
        cpu: write.cpu,
        kind: info.kind,
        object: info.object,
        lines: info.lines,
        return_addr,
        stack_id,
        flags: info.flags,
        other_tid: info.other_tid,
        other_stack_id: info.other_stack_id,
    });
    // Waking the collector for every event would interrupt a CPU per sample; it drains the
    // ring on its own timer instead, and is woken early only when the ring fills up.
    let flags = if EVENTS.query(BPF_RB_AVAIL_DATA) >= WAKEUP_BYTES {
        BPF_RB_FORCE_WAKEUP
    } else {
        BPF_RB_NO_WAKEUP
    };
    entry.submit(flags);
    bump(Counter::Samples);
}
