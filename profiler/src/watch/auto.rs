//! `--watch auto`: once the probes have ranked some lines, watch the words of the top-ranked
//! ones: first the words the map probes see written (the written header fields), then the rest
//! of each line, where the writers no probe sees are.

use std::{collections::HashMap, time::Duration};

use profiler_common::{line_of, CACHE_LINE_BYTES, OBJECT_GO_MAP};

use crate::{
    folded::KernelSnapshot,
    inspect::MapLayout,
    kernel::probes::Probes,
    watch::{words::WatchRange, Watcher},
};

/// Lines watched: the top-ranked ones (16 words on 4 registers: each watched a quarter of the
/// time).
pub const AUTO_LINES: usize = 2;
/// Bytes per watched word (the widest a debug register takes).
const WORD: u64 = 8;
/// The latest time into a recording the lines are ranked at.
const ARM_BY: Duration = Duration::from_secs(2);

/// Watching the top lines, once they are known.
pub struct AutoWatch {
    /// When to rank the lines: a quarter into the recording, at most [`ARM_BY`].
    arm_at: Duration,
    /// Each target's map layout, to find the written header fields.
    layouts: HashMap<u32, MapLayout>,
    cpus: Vec<u32>,
}

impl AutoWatch {
    /// Watching for a recording of `duration` of targets with `layouts`, on `cpus`.
    pub fn new(duration: Duration, layouts: HashMap<u32, MapLayout>, cpus: Vec<u32>) -> Self {
        AutoWatch {
            arm_at: (duration / 4).min(ARM_BY),
            layouts,
            cpus,
        }
    }

    /// Whether the lines are to be ranked now, `elapsed` into the recording.
    pub fn due(&self, elapsed: Duration) -> bool {
        elapsed >= self.arm_at
    }

    /// Arms the watchpoints on the top lines the probes folded so far; None while no line
    /// has been written yet.
    pub fn arm(&self, probes: &Probes) -> anyhow::Result<Option<Watcher>> {
        let ranges = self.ranges(&probes.maps().snapshot()?);
        if ranges.is_empty() {
            return Ok(None);
        }
        let watcher = Watcher::start(&ranges, &self.cpus, probes.watch_program_fd()?)?;
        Ok(Some(watcher.focusing()))
    }

    /// The words to watch, in order, from what the probes folded: for each of the top
    /// [`AUTO_LINES`] lines (by transfers, then writes), first its written header words.
    pub fn ranges(&self, snapshot: &KernelSnapshot) -> Vec<(u32, WatchRange)> {
        let mut lines: Vec<_> = snapshot
            .lines
            .iter()
            .filter(|(_, s)| s.writes > 0)
            .collect();
        lines.sort_by(|(ka, a), (kb, b)| {
            b.transfers
                .cmp(&a.transfers)
                .then(b.writes.cmp(&a.writes))
                .then(ka.cmp(kb))
        });
        let top: Vec<(u32, u64)> = lines
            .iter()
            .take(AUTO_LINES)
            .map(|(k, _)| (k.pid, k.line))
            .collect();
        let mut first = Vec::new();
        let mut rest = Vec::new();
        for &(pid, line) in &top {
            let written = self.written_words(snapshot, pid, line);
            for word in (0..CACHE_LINE_BYTES / WORD).map(|i| line + i * WORD) {
                let range = WatchRange {
                    spec: "auto".to_owned(),
                    symbol: None,
                    addr: word,
                    len: WORD,
                };
                if written.contains(&word) {
                    first.push((pid, range));
                } else {
                    rest.push((pid, range));
                }
            }
        }
        first.extend(rest);
        first
    }

    /// The words of `line` holding header fields a map assign writes, of maps of `pid`.
    fn written_words(&self, snapshot: &KernelSnapshot, pid: u32, line: u64) -> Vec<u64> {
        let Some(layout) = self.layouts.get(&pid) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (key, stats) in &snapshot.objects {
            if key.pid != pid || stats.object_kind != OBJECT_GO_MAP {
                continue;
            }
            for field in &layout.written {
                let addr = key.addr + field.offset;
                let word = addr - addr % WORD;
                if line_of(word) == line && !out.contains(&word) {
                    out.push(word);
                }
            }
        }
        out
    }
}

#[cfg(test)]
#[path = "auto_tests.rs"]
mod tests;
