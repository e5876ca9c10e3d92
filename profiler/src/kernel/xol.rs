//! Perf samples of threads single-stepping a probed instruction in the kernel's `[uprobes]` page
//! (the XOL area; see `profiler_common::xol` for how the kernel side attributes them).
//!
//! The kernel creates a process's XOL area at its first uprobe hit, one page, placed as high as
//! it can (`TASK_SIZE - PAGE_SIZE`, a hint). Each target's area goes to the kernel side in its
//! `TargetConfig`: read from the target's `/proc/PID/maps` (`[uprobes]`) when it is there; until
//! then the page where the kernel put clprof's own area (created by calibration) when that page
//! is free in the target, which is where the kernel will put it; without one of clprof's own (a
//! calibration kept from an earlier recording), the page below the top of a 47-bit address
//! space (`TASK_SIZE` with 4-level paging) when the target maps nothing above it; else none. The collector looks
//! again every second until the target's own `[uprobes]` line shows up, and the report checks
//! the instruction addresses left over against the areas seen.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use profiler_common::TargetConfig;

use crate::folded::{XolArea, XOL_MAPPING};

/// How often targets whose `[uprobes]` mapping was not seen yet are looked at again.
const RECHECK: Duration = Duration::from_secs(1);

/// Where a target's XOL area was taken from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XolSource {
    /// The target's own `[uprobes]` mapping: final (the area never moves).
    Maps(XolArea),
    /// Not created yet: where the kernel put clprof's own, a page free in the target.
    Expected(XolArea),
    /// Unknown: no sample is taken as a step in the kernel.
    Unknown,
}

impl XolSource {
    pub fn area(&self) -> Option<XolArea> {
        match *self {
            XolSource::Maps(a) | XolSource::Expected(a) => Some(a),
            XolSource::Unknown => None,
        }
    }
}

/// Every target's XOL area as last given to the kernel side.
#[derive(Debug, Default)]
pub struct XolAreas {
    by_pid: HashMap<u32, XolSource>,
    /// When the pending targets were last looked at.
    checked: Option<Instant>,
}

/// The `[start, end)` ranges of `/proc/PID/maps` text, with the XOL area apart.
fn parse(maps: &str) -> (Option<XolArea>, Vec<(u64, u64)>) {
    let mut xol = None;
    let mut ranges = Vec::new();
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let Some((start, end)) = fields.next().and_then(|r| r.split_once('-')) else {
            continue;
        };
        let (Ok(start), Ok(end)) = (u64::from_str_radix(start, 16), u64::from_str_radix(end, 16))
        else {
            continue;
        };
        // perms, offset, dev, inode, then the name (none for anonymous mappings).
        if fields.nth(4) == Some(XOL_MAPPING) {
            xol = Some(XolArea { start, end });
        }
        ranges.push((start, end));
    }
    (xol, ranges)
}

/// The XOL area for a process whose maps are `target`, given clprof's own maps `own`.
pub fn area_for(target: &str, own: &str) -> XolSource {
    let (xol, ranges) = parse(target);
    if let Some(area) = xol {
        return XolSource::Maps(area);
    }
    if ranges.is_empty() {
        return XolSource::Unknown;
    }
    let below_47_bits = ranges.iter().all(|&(_, e)| e <= TASK_SIZE_47);
    let placed = parse(own).0.or(below_47_bits.then_some(XolArea {
        start: TASK_SIZE_47 - PAGE,
        end: TASK_SIZE_47,
    }));
    match placed {
        Some(area) if !ranges.iter().any(|&(s, e)| s < area.end && area.start < e) => {
            XolSource::Expected(area)
        }
        _ => XolSource::Unknown,
    }
}

/// x86-64's `TASK_SIZE` with 4-level paging: the top of user space, less a guard page.
const TASK_SIZE_47: u64 = (1 << 47) - PAGE;
const PAGE: u64 = 4096;

/// [`area_for`] process `pid` now.
pub fn area_of(pid: u32) -> XolSource {
    let Ok(target) = std::fs::read_to_string(format!("/proc/{pid}/maps")) else {
        return XolSource::Unknown;
    };
    let own = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    area_for(&target, &own)
}

/// `config` with the XOL area of `source`.
pub fn with_area(config: TargetConfig, source: XolSource) -> TargetConfig {
    let area = source.area().unwrap_or(XolArea { start: 0, end: 0 });
    TargetConfig {
        xol_start: area.start,
        xol_end: area.end,
        ..config
    }
}

impl XolAreas {
    /// `config` with `pid`'s XOL area as it is now, which is remembered as given to the kernel
    /// side.
    pub fn config_for(&mut self, pid: u32, config: TargetConfig) -> TargetConfig {
        let source = area_of(pid);
        self.by_pid.insert(pid, source);
        with_area(config, source)
    }

    /// Every [`RECHECK`], looks again at the targets whose `[uprobes]` mapping was not seen yet:
    /// those whose area is now known (or whose expected page got taken), with the new area.
    /// Give each to the kernel side, then [`XolAreas::set`] it.
    pub fn changed(&mut self) -> Vec<(u32, XolSource)> {
        if self.checked.is_some_and(|t| t.elapsed() < RECHECK) {
            return Vec::new();
        }
        self.checked = Some(Instant::now());
        self.by_pid
            .iter()
            .filter(|(_, s)| !matches!(s, XolSource::Maps(_)))
            .filter_map(|(&pid, &old)| {
                let new = area_of(pid);
                let stale =
                    new == old || (new == XolSource::Unknown && !crate::inspect::is_alive(pid));
                (!stale).then_some((pid, new))
            })
            .collect()
    }

    /// Records `source` as `pid`'s area given to the kernel side.
    pub fn set(&mut self, pid: u32, source: XolSource) {
        self.by_pid.insert(pid, source);
    }

    /// Forgets `pid` (a target gone).
    pub fn remove(&mut self, pid: u32) {
        self.by_pid.remove(&pid);
    }

    /// The XOL area known for `pid`: its own mapping, else the expected one.
    pub fn areas(&self) -> HashMap<u32, XolArea> {
        self.by_pid
            .iter()
            .filter_map(|(&pid, source)| Some((pid, source.area()?)))
            .collect()
    }
}

#[cfg(test)]
#[path = "xol_tests.rs"]
mod tests;
