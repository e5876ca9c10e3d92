//! Judging a built report: per line a verdict (`verdict`), what it costs (`cost`) and what to
//! change (`advice`); then the lines rank by cost.

use std::collections::HashMap;

use crate::report::{advice, cost, rank, verdict, Report, Verdict};

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
    let flavors: HashMap<u32, _> = targets.iter().map(|t| (t.pid, t.map_layout)).collect();
    let recorded: HashMap<u32, cost::Recorded> = targets
        .iter()
        .filter_map(|t| {
            Some((
                t.pid,
                cost::Recorded {
                    seconds: t.overhead.recorded_s.unwrap_or(*duration_s),
                    cpu_s: t.overhead.cpu_s?,
                },
            ))
        })
        .collect();
    let maps = verdict::index(maps);
    for line in lines.iter_mut() {
        let flavor = flavors.get(&line.pid).copied().flatten();
        line.verdict = verdict::verdict(line, &maps, flavor);
        line.cost = sources
            .line_transfer_ns
            .zip(recorded.get(&line.pid))
            .and_then(|(ns, &r)| cost::cost(line, ns, r))
            .map(|c| {
                // A private line's moves are one thread's migrations between CPUs, or too few
                // to matter: no fix wins anything there.
                if line.verdict == Verdict::Private {
                    cost::NOTHING
                } else {
                    c
                }
            });
        line.advice = advice::advice(line, line.verdict, &maps);
    }
    rank::rank(lines);
}

#[cfg(test)]
#[path = "judge_tests.rs"]
mod tests;
