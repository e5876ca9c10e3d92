//! What a perf source's data samples stand for.

use super::PerfSource;

/// What a data sample stands for, by the perf source that took it (`sources.perf`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SampleMeaning {
    /// A timer sample: CPU time spent on the access (cpu-clock).
    Time,
    /// A load that missed the L1 (PEBS, IBS): which threads miss on which words, not time.
    Miss,
    /// A page fault: the first touch of a page, not contention.
    FirstTouch,
}

impl SampleMeaning {
    /// The meaning of the samples of the source named `perf` ([`PerfSource::name`]).
    pub fn of(perf: &str) -> Self {
        match perf {
            "pebs-l1-miss" | "ibs-op" => SampleMeaning::Miss,
            "page-faults" => SampleMeaning::FirstTouch,
            _ => SampleMeaning::Time,
        }
    }

    /// Which threads touched which words of a line says how it is shared.
    pub fn shows_sharing(self) -> bool {
        self != SampleMeaning::FirstTouch
    }

    /// A line's share of the samples is its share of the target's CPU time.
    pub fn is_time(self) -> bool {
        self == SampleMeaning::Time
    }
}

impl PerfSource {
    /// What this source's data samples stand for.
    pub fn meaning(&self) -> SampleMeaning {
        SampleMeaning::of(self.name())
    }
}
