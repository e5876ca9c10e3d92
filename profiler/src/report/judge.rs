//! Judging a built report: per line a verdict (`verdict`), what it costs (`cost`) and what to
//! change (`advice`); then the lines rank by cost.

use std::collections::HashMap;

use crate::{
    inspect::LayoutFlavor,
    perf::SampleMeaning,
    report::{advice, cost, rank, verdict, LineReport, MapReport, Report, TargetInfo, Verdict},
};

/// Fills in every line's verdict, cost and advice, and ranks the lines by cost.
pub fn judge(report: &mut Report) {
    let Report {
        targets,
        sources,
        lines,
        maps,
        duration_s,
        ..
    } = report;
    let samples = SampleMeaning::of(&sources.perf);
    let judge = Judge::new(
        targets,
        sources.line_transfer_ns,
        maps,
        *duration_s,
        samples,
    );
    for line in lines.iter_mut() {
        judge.line(line);
    }
    rank::rank(lines);
}

/// What a line is judged against: its target's map layout and CPU time, the line-transfer cost,
/// every map, and what the data samples stand for.
pub struct Judge<'m> {
    flavors: HashMap<u32, Option<LayoutFlavor>>,
    recorded: HashMap<u32, cost::Recorded>,
    line_transfer_ns: Option<f64>,
    maps: verdict::MapIndex<'m>,
    samples: SampleMeaning,
}

impl<'m> Judge<'m> {
    pub fn new(
        targets: &[TargetInfo],
        line_transfer_ns: Option<f64>,
        maps: &'m [MapReport],
        duration_s: f64,
        samples: SampleMeaning,
    ) -> Self {
        let flavors = targets.iter().map(|t| (t.pid, t.map_layout)).collect();
        let recorded = targets
            .iter()
            .filter_map(|t| {
                Some((
                    t.pid,
                    cost::Recorded {
                        seconds: t.overhead.recorded_s.unwrap_or(duration_s),
                        cpu_s: t.overhead.cpu_s?,
                    },
                ))
            })
            .collect();
        Judge {
            flavors,
            recorded,
            line_transfer_ns,
            maps: verdict::index(maps),
            samples,
        }
    }

    /// Fills in `line`'s verdict, cost and advice.
    pub fn line(&self, line: &mut LineReport) {
        let flavor = self.flavors.get(&line.pid).copied().flatten();
        let (verdict, by_samples) = verdict::judgement(line, &self.maps, flavor, self.samples);
        line.verdict = verdict;
        // The cost rests on what the verdict rests on: the samples' time where they showed the
        // line shared (timer samples only: a miss or a fault is no measure of time), else the
        // moves (none counted: 0).
        let recorded = self.recorded.get(&line.pid).copied();
        let moves = self
            .line_transfer_ns
            .zip(recorded)
            .and_then(|(ns, r)| cost::cost(line, ns, r));
        let cost = match by_samples && self.samples.is_time() {
            true => recorded.and_then(|r| cost::sampled(line, r)).or(moves),
            false => moves,
        };
        line.cost = cost.map(|c| {
            // A private line's moves are one thread's migrations between CPUs, or too few
            // to matter, and its sampled time is spent uncontended: no fix wins anything.
            if line.verdict == Verdict::Private {
                cost::NOTHING
            } else {
                c
            }
        });
        line.advice = advice::advice(line, line.verdict, &self.maps);
    }
}

#[cfg(test)]
#[path = "judge_tests.rs"]
mod tests;
