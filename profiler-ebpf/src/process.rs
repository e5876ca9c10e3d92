//! Raw tracepoint programs on `sched_process_exec` and `sched_process_exit` (see
//! `profiler_common::process`): each sends one event per exec, and per exit of a process's main
//! thread, to `PROCESS_EVENTS`. Both run in the process concerned, so its tgid is the current one.

use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, bpf_ktime_get_ns},
    macros::{map, raw_tracepoint},
    maps::RingBuf,
    programs::RawTracePointContext,
};
use profiler_common::process::{ProcessEvent, PROCESS_EXEC, PROCESS_EXIT, PROCESS_RING_BYTES};

#[map]
pub static PROCESS_EVENTS: RingBuf = RingBuf::with_byte_size(PROCESS_RING_BYTES, 0);

#[raw_tracepoint(tracepoint = "sched_process_exec")]
pub fn process_exec(_ctx: RawTracePointContext) -> i32 {
    match try_send(PROCESS_EXEC) {
        Ok(()) => 0,
        Err(()) => 1,
    }
}

#[raw_tracepoint(tracepoint = "sched_process_exit")]
pub fn process_exit(_ctx: RawTracePointContext) -> i32 {
    match try_send(PROCESS_EXIT) {
        Ok(()) => 0,
        Err(()) => 1,
    }
}

fn try_send(kind: u32) -> Result<(), ()> {
    let pid_tgid = bpf_get_current_pid_tgid();
    let (pid, tid) = ((pid_tgid >> 32) as u32, pid_tgid as u32);
    // Other threads' exits are not the process's; an exec always runs in the leader (the
    // kernel made the exec'ing thread the leader before this tracepoint).
    if kind == PROCESS_EXIT && pid != tid {
        return Ok(());
    }
    let event = ProcessEvent {
        pid,
        kind,
        // SAFETY: a helper without arguments.
        ktime_ns: unsafe { bpf_ktime_get_ns() },
    };
    // Userspace is woken for each event: a new process is attached within the second.
    PROCESS_EVENTS
        .output::<ProcessEvent>(&event, 0)
        .map_err(|_| ())
}
