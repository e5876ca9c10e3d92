//! What every entry uprobe program starts with: the clock, the thread, the target's
//! configuration (a process that is not a target stops here) and the attach cookie, with the hit
//! counted for the target and for its probe.

use aya_ebpf::{
    helpers::{bpf_get_attach_cookie, bpf_get_current_pid_tgid, bpf_ktime_get_ns},
    programs::ProbeContext,
    EbpfContext,
};
use profiler_common::{Cookie, TargetConfig};

use crate::maps::{bump_index, bump_target_entry, HITS, TARGETS};

/// One entry hit of a target.
pub struct Entry {
    /// Monotonic time the program started (ns since boot).
    pub start_ns: u64,
    pub pid_tgid: u64,
    /// Process id (tgid).
    pub pid: u32,
    pub config: TargetConfig,
    pub cookie: Cookie,
}

/// The hit of the probe `ctx` runs for; None when the process is not a target.
#[inline(always)]
pub fn enter(ctx: &ProbeContext) -> Option<Entry> {
    // SAFETY: reads the monotonic clock.
    let start_ns = unsafe { bpf_ktime_get_ns() };
    let pid_tgid = bpf_get_current_pid_tgid();
    let pid = (pid_tgid >> 32) as u32;
    // SAFETY: read-only lookup; the value is copied out at once.
    let config: TargetConfig = *(unsafe { TARGETS.get(pid) })?;
    bump_target_entry(config.slot);
    // SAFETY: the helper only reads the attach cookie of the running program.
    let cookie = Cookie::unpack(unsafe { bpf_get_attach_cookie(ctx.as_ptr()) });
    bump_index(&HITS, cookie.probe_id);
    Some(Entry {
        start_ns,
        pid_tgid,
        pid,
        config,
        cookie,
    })
}
