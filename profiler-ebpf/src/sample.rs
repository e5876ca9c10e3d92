//! Sending a sampled write to userspace: the event through the ring buffer, the user stack into
//! the stack map.

use aya_ebpf::{
    bindings::BPF_F_USER_STACK, helpers::bpf_probe_read_user, programs::tracing::StackIdContext,
};
use profiler_common::{fold::Write, Counter, SampleEvent, WRITTEN_FIELDS};

use crate::maps::{bump, EVENTS, STACKS};

/// What a sample is about, beyond the write itself.
pub struct SampleInfo {
    pub kind: u32,
    pub object: u64,
    pub lines: [u64; WRITTEN_FIELDS],
    pub flags: u32,
    pub other_tid: u32,
    pub other_stack_id: i64,
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
    entry.submit(0);
    bump(Counter::Samples);
}
