//! Which probe a thread is single-stepping: every uprobe program remembers, per thread, the site
//! it ran for, and the perf program charges a sample whose IP is in the XOL area to that site
//! (see `profiler_common::xol`). Not a program: helpers for the uprobe and perf programs.

use profiler_common::{xol::UNKNOWN_STEP_KIND, ProbeHit, StepKey};

use crate::{
    fold::atomic_add,
    maps::{LAST_PROBE, PROBE_STEPS},
};

/// Remembers that the current thread just hit the probe at `site` (the probed instruction's
/// address; `kind` as in `ProbeHit::kind`). The kernel single-steps that instruction right after
/// the program returns.
#[inline(always)]
pub fn remember_hit(pid_tgid: u64, site: u64, kind: u32) {
    let tid = pid_tgid as u32;
    let hit = ProbeHit {
        site,
        pid: (pid_tgid >> 32) as u32,
        kind,
    };
    match LAST_PROBE.get_ptr_mut(tid) {
        // SAFETY: a live map value; only this thread writes its entry, and a perf sample that
        // interrupts this program is in kernel mode, so it never reads the entry half-written.
        Some(entry) => unsafe { *entry = hit },
        None => {
            let _ = LAST_PROBE.insert(tid, hit, 0);
        }
    }
}

/// Counts a perf sample of the current thread taken in the XOL area for the probe site the
/// thread hit last (`UNKNOWN_STEP_KIND` when none of clprof's programs ran for it).
#[inline(always)]
pub fn count_step(pid_tgid: u64) {
    let pid = (pid_tgid >> 32) as u32;
    // SAFETY: read-only lookup, copied out at once.
    let hit = unsafe { LAST_PROBE.get(pid_tgid as u32) }
        .copied()
        .filter(|h| h.pid == pid);
    let key = match hit {
        Some(h) => StepKey {
            pid,
            kind: h.kind,
            site: h.site,
        },
        None => StepKey {
            pid,
            kind: UNKNOWN_STEP_KIND,
            site: 0,
        },
    };
    match PROBE_STEPS.get_ptr_mut(key) {
        // SAFETY: a live map value.
        Some(n) => atomic_add(unsafe { &mut *n }, 1),
        None => {
            let _ = PROBE_STEPS.insert(key, 1u64, 0);
        }
    }
}
