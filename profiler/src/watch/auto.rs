//! `--watch auto`: once the probes and the sampled data addresses have ranked some lines, watch
//! the words of the top-ranked ones: first the words seen written (the header fields map
//! assigns write, the words sampled threads wrote), then the rest of each line, where the
//! writers nobody saw are.

use std::{collections::HashMap, time::Duration};

use profiler_common::{line_of, sampled::SampledLine, LineKey, CACHE_LINE_BYTES, OBJECT_GO_MAP};

use crate::{
    folded::KernelSnapshot,
    inspect::MapLayout,
    kernel::probes::Probes,
    watch::{words::WatchRange, Watcher},
};

/// Lines watched: the top-ranked ones, the probes' and the samples' in turn (16 words on 4
/// registers: each watched a quarter of the time).
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
    /// The data samples' lines are ranked too (their samples show how lines are shared: not
    /// so for page faults).
    sampled: bool,
}

impl AutoWatch {
    /// Watching for a recording of `duration` of targets with `layouts`, on `cpus`.
    pub fn new(duration: Duration, layouts: HashMap<u32, MapLayout>, cpus: Vec<u32>) -> Self {
        AutoWatch {
            arm_at: (duration / 4).min(ARM_BY),
            layouts,
            cpus,
            sampled: true,
        }
    }

    /// The same, ranking the data samples' lines too or not.
    pub fn with_sampled_lines(mut self, sampled: bool) -> Self {
        self.sampled = sampled;
        self
    }

    /// Whether the lines are to be ranked now, `elapsed` into the recording.
    pub fn due(&self, elapsed: Duration) -> bool {
        elapsed >= self.arm_at
    }

    /// Arms the watchpoints on the top lines the probes and the data samples folded so far;
    /// None while no line has been seen written yet.
    pub fn arm(&self, probes: &Probes) -> anyhow::Result<Option<Watcher>> {
        let maps = probes.maps();
        let sampled = match self.sampled {
            true => maps.sampled_lines().unwrap_or_else(|e| {
                tracing::debug!("--watch auto: no sampled lines: {e}");
                Vec::new()
            }),
            false => Vec::new(),
        };
        let ranges = self.ranges(&maps.snapshot()?, &sampled);
        if ranges.is_empty() {
            return Ok(None);
        }
        let watcher = Watcher::start(&ranges, &self.cpus, probes.watch_program_fd()?)?;
        Ok(Some(watcher.focusing()))
    }

    /// The words to watch, in order: of the top [`AUTO_LINES`] lines, taken in turn from the
    /// probes' (by transfers, then writes) and from the `sampled` ones that several threads
    /// touched and one wrote (by samples), first the words seen written.
    pub fn ranges(
        &self,
        snapshot: &KernelSnapshot,
        sampled: &[(LineKey, SampledLine)],
    ) -> Vec<(u32, WatchRange)> {
        let mut first = Vec::new();
        let mut rest = Vec::new();
        for (pid, line) in top_lines(snapshot, sampled) {
            let mut written = self.written_words(snapshot, pid, line);
            written.extend(sampled_written_words(sampled, pid, line));
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

/// The [`AUTO_LINES`] lines to watch, (pid, line): the probes' top lines and the sampled ones
/// in turn, each once.
fn top_lines(snapshot: &KernelSnapshot, sampled: &[(LineKey, SampledLine)]) -> Vec<(u32, u64)> {
    let mut probed: Vec<_> = snapshot
        .lines
        .iter()
        .filter(|(_, s)| s.writes > 0)
        .collect();
    probed.sort_by(|(ka, a), (kb, b)| {
        b.transfers
            .cmp(&a.transfers)
            .then(b.writes.cmp(&a.writes))
            .then(ka.cmp(kb))
    });
    let mut shared: Vec<_> = sampled.iter().filter(|(_, s)| shared_written(s)).collect();
    shared.sort_by(|(ka, a), (kb, b)| b.samples.cmp(&a.samples).then(ka.cmp(kb)));
    let (mut probed, mut shared) = (probed.into_iter(), shared.into_iter());
    let mut top: Vec<(u32, u64)> = Vec::new();
    loop {
        let next = [probed.next().map(|(k, _)| k), shared.next().map(|(k, _)| k)];
        if next.iter().all(Option::is_none) {
            return top;
        }
        for key in next.into_iter().flatten() {
            if top.len() < AUTO_LINES && !top.contains(&(key.pid, key.line)) {
                top.push((key.pid, key.line));
            }
        }
        if top.len() == AUTO_LINES {
            return top;
        }
    }
}

/// Several threads were sampled touching the line, and one of them writing it.
fn shared_written(s: &SampledLine) -> bool {
    let threads = s.threads.tids.iter().filter(|&&t| t != 0).count();
    threads >= 2 && s.written.iter().any(|&w| w != 0)
}

/// The words of `line` of `pid` that sampled threads wrote.
fn sampled_written_words(sampled: &[(LineKey, SampledLine)], pid: u32, line: u64) -> Vec<u64> {
    let Some((_, s)) = sampled.iter().find(|(k, _)| k.pid == pid && k.line == line) else {
        return Vec::new();
    };
    let mask = s.written.iter().fold(0u8, |all, w| all | w);
    (0..8u64)
        .filter(|w| mask & (1 << w) != 0)
        .map(|w| line + WORD * w)
        .collect()
}

#[cfg(test)]
#[path = "auto_tests.rs"]
mod tests;
