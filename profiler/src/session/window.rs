//! A recording window's two ends, owned by the session: closing one (every probe off, what each
//! target's probes folded counted) and opening the next (gone targets out, the kernel side
//! cleared, the probes back on the live ones).

use super::Session;
use crate::{inspect, overhead::outcome::DutyOutcome, target::Target};

impl Session {
    /// Closes a window: detaches every probe and waits until they are gone, so that a drain
    /// after it sees every event that will ever be sampled, then sets each target's `duty`
    /// outcome to the hits behind its folded counts (those made while attaching and detaching
    /// included: what observed counts scale from).
    pub fn close_window(&mut self, duty: &mut [DutyOutcome]) {
        self.probes.detach_all();
        for (pid, slot) in self.probes.targets() {
            let Some(d) = duty.iter_mut().find(|d| d.pid == pid) else {
                continue;
            };
            let probes = &self.probes;
            let (Ok(entries), Ok(reads), Ok(all)) = (
                probes.folded_entries(slot),
                probes.folded_reads(slot),
                probes.folded_hits(slot),
            ) else {
                continue;
            };
            d.all_hits = all;
            d.entries = entries.saturating_sub(reads);
            if let Some(r) = d.reads.as_mut() {
                r.entries = reads;
            }
        }
    }

    /// Opens a daemon's next window on `targets`: those that exited or exec'd another program
    /// leave the list and the kernel side (freeing their slots; a rescan takes an exec'd one up
    /// as a target of its own), what the kernel side folded and counted is cleared, the list of
    /// refused processes starts anew, and the probes go back on every live target.
    pub fn open_window(&mut self, targets: &mut Vec<Target>) {
        targets.retain(|t| {
            let alive = inspect::is_alive(t.pid) && !self.probes.replaced(t.pid);
            if !alive {
                if let Err(e) = self.probes.remove_target(t.pid) {
                    tracing::debug!(pid = t.pid, "removing an exited target: {e}");
                }
            }
            alive
        });
        self.probes.forget_refused();
        if let Err(e) = self.probes.forget_all() {
            tracing::warn!("clearing the window: {e}");
        }
        if let Err(e) = self.probes.reset_counters_and_events() {
            tracing::warn!("clearing the counters: {e}");
        }
        let with_reads = self.reads_start_attached();
        for t in targets.iter() {
            if let Err(e) = self.probes.attach_pid(t.pid, with_reads) {
                // One that exited since is no news.
                if inspect::is_alive(t.pid) {
                    tracing::warn!(pid = t.pid, "re-attaching: {e}");
                } else {
                    tracing::debug!(pid = t.pid, "re-attaching: {e}");
                }
            }
        }
    }
}
