//! The user stacks some of a sampled line's samples took (`LINE_STACKS`), symbolized and merged
//! per line: the code paths that reach the accesses, for the flamegraph and pprof.

use std::collections::{HashMap, HashSet};

use profiler_common::{
    sampled::{LineStackKey, SampledLine},
    LineKey,
};

use crate::report::{stacks::Stacks, DataStack, StackLocation};

/// Stacks kept per line, most sampled first.
pub const TOP_STACKS: usize = 32;
/// Locations kept per stack, from the access outwards.
const MAX_DEPTH: usize = 64;

/// The stacks of each of `lines`, root first, merged where symbolization makes two stack ids one
/// (most sampled first, at most [`TOP_STACKS`] a line), by (pid, line address).
pub fn stacks_by_line(
    line_stacks: &[(LineStackKey, u64)],
    stacks: &mut Stacks<'_, '_>,
    lines: &[&(LineKey, SampledLine)],
) -> HashMap<(u32, u64), Vec<DataStack>> {
    let wanted: HashSet<(u32, u64)> = lines.iter().map(|(k, _)| (k.pid, k.line)).collect();
    let mut merged: HashMap<(u32, u64), HashMap<Vec<StackLocation>, u64>> = HashMap::new();
    for &(key, count) in line_stacks {
        if !wanted.contains(&(key.pid, key.line)) {
            continue;
        }
        let mut frames = stacks.access_locations(key.pid, key.stack_id, MAX_DEPTH);
        if frames.is_empty() {
            continue;
        }
        frames.reverse();
        let line = merged.entry((key.pid, key.line)).or_default();
        *line.entry(frames).or_default() += count;
    }
    merged
        .into_iter()
        .map(|(key, by_frames)| (key, ranked(by_frames)))
        .collect()
}

/// The stacks by samples, descending (ties by frames, so the order is stable), at most
/// [`TOP_STACKS`].
fn ranked(by_frames: HashMap<Vec<StackLocation>, u64>) -> Vec<DataStack> {
    let mut out: Vec<DataStack> = by_frames
        .into_iter()
        .map(|(frames, samples)| DataStack { frames, samples })
        .collect();
    out.sort_unstable_by(|a, b| {
        b.samples
            .cmp(&a.samples)
            .then_with(|| a.frames.cmp(&b.frames))
    });
    out.truncate(TOP_STACKS);
    out
}

#[cfg(test)]
#[path = "sampled_stacks_tests.rs"]
mod tests;
