//! Comparing two profiles of one program (before and after a change), serialized as schema
//! `clprof-diff/1` (see README.md, "Comparing two profiles").
//!
//! Heap addresses differ between runs, so lines are matched by what lives in them
//! ([`identity`]: the executable, and each object's kind, Go type, the function that made it
//! and its fields in the line), aggregated per identity, then compared with the estimates'
//! uncertainty ([`compare`]). [`text`] renders the result as a table.

pub mod compare;
pub mod identity;
#[cfg(test)]
mod test_reports;
pub mod text;

use serde::{Deserialize, Serialize};

use crate::report::{Report, Verdict};

pub use compare::{regressions, Regression};
pub use text::text;

/// Schema identifier of a diff; bump when a field changes meaning.
pub const SCHEMA: &str = "clprof-diff/1";

/// Output formats of `clprof diff`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A table of the matched lines, then the totals.
    Text,
    /// Schema clprof-diff/1.
    Json,
}

/// Two profiles compared.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Diff {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// What costs are compared in: CPU time moving lines (`cpu-time`, ns per second) when both
    /// profiles give it for every line, else line moves per second (`moves`).
    pub compared_by: ComparedBy,
    /// The profile before the change.
    pub before: Run,
    /// The profile after it.
    pub after: Run,
    /// Every line's cost added up, before and after.
    pub total: Total,
    /// One entry per line identity found in either profile, by the larger of its two costs
    /// (in `compared_by`), descending.
    pub matched: Vec<Matched>,
}

/// What costs are compared in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ComparedBy {
    /// `cpu_ns_per_s`: CPU time spent moving the lines, per second recorded.
    CpuTime,
    /// `moves_per_s`: transfers plus remote reads per second (a profile without line costs).
    Moves,
}

impl ComparedBy {
    /// The unit costs are shown in.
    pub fn unit(self) -> &'static str {
        match self {
            ComparedBy::CpuTime => "µs/s",
            ComparedBy::Moves => "moves/s",
        }
    }

    /// `value` in the compared unit: µs/s from ns/s, or moves/s.
    pub fn amount(self, value: f64) -> String {
        match self {
            ComparedBy::CpuTime => format!("{:.1}", value / 1000.0),
            ComparedBy::Moves => format!("{value:.0}"),
        }
    }
}

/// One of the two profiles.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// The file it was read from, as given.
    pub file: String,
    /// When its recording started (RFC 3339, UTC).
    pub started_at: String,
    /// How long it recorded (s).
    pub duration_s: f64,
    /// Its lines' CPU time moving them, added up (ns/s); null when compared by moves.
    pub total_cost_ns_per_s: Option<f64>,
    /// Its lines' moves (transfers plus remote reads) per second, added up.
    pub total_moves_per_s: f64,
}

/// The totals compared.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Total {
    /// The before profile's total (ns/s); null when compared by moves.
    pub before_ns_per_s: Option<f64>,
    /// The after profile's total (ns/s); null when compared by moves.
    pub after_ns_per_s: Option<f64>,
    /// The totals in moves per second.
    pub before_moves_per_s: f64,
    pub after_moves_per_s: f64,
    /// (after − before) / before, in percent, of the compared measure; null when before is 0.
    pub change_pct: Option<f64>,
    /// `better`, `same` or `worse`, by the noise rule (README).
    pub change: Change,
}

/// One line identity, before and after.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Matched {
    /// What lives in the line(s).
    pub identity: identity::Identity,
    /// Its lines in the before profile; null when `new`.
    pub before: Option<Side>,
    /// Its lines in the after profile; null when `resolved` because it is gone.
    pub after: Option<Side>,
    /// (after − before) / before of the compared measure, in percent; null when either side is
    /// missing or before is 0.
    pub change_pct: Option<f64>,
    pub change: Change,
}

/// The lines of one identity in one profile, added up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Side {
    /// How many lines have this identity (the bucket lines of one map, say).
    pub lines: usize,
    /// Writes per second recorded (`est_writes`, else `writes`, over the target's `recorded_s`,
    /// else the profile's `duration_s`).
    pub writes_per_s: f64,
    /// Transfers per second, the same way.
    pub transfers_per_s: f64,
    /// Remote reads per second, the same way (0 where reads were not probed).
    pub remote_reads_per_s: f64,
    /// `transfers_per_s + remote_reads_per_s`.
    pub moves_per_s: f64,
    /// CPU time moving the lines (ns/s): the lines' `cost`, or their moves per second × the
    /// profile's `sources.line_transfer_ns` where `cost` is null; null where neither is known.
    pub cpu_ns_per_s: Option<f64>,
    /// That over the target's own CPU time (percent); null where its CPU time is unknown.
    pub target_cpu_pct: Option<f64>,
    /// Relative standard error of the compared measure (0.05 = 5%).
    pub rel_err: f64,
    /// The verdict of its costliest line.
    pub verdict: Verdict,
}

impl Side {
    /// The compared measure: ns/s or moves/s.
    pub fn value(&self, by: ComparedBy) -> f64 {
        match by {
            ComparedBy::CpuTime => self.cpu_ns_per_s.unwrap_or(0.0),
            ComparedBy::Moves => self.moves_per_s,
        }
    }

    /// Its standard error, in the same unit.
    pub fn sigma(&self, by: ComparedBy) -> f64 {
        self.value(by) * self.rel_err
    }
}

/// How a line identity (or the total) changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// Gone after, or no longer contended (the after verdict is `private`).
    Resolved,
    /// Cheaper beyond the noise.
    Better,
    /// Within the noise.
    Same,
    /// Costlier beyond the noise.
    Worse,
    /// Only in the after profile.
    New,
}

impl Change {
    /// The JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Resolved => "resolved",
            Change::Better => "better",
            Change::Same => "same",
            Change::Worse => "worse",
            Change::New => "new",
        }
    }
}

/// Compares `before` against `after`; the file names are only shown.
pub fn diff(before: &Report, before_file: &str, after: &Report, after_file: &str) -> Diff {
    let tallies_before = identity::tally(before);
    let tallies_after = identity::tally(after);
    let by = if identity::has_costs(&tallies_before) && identity::has_costs(&tallies_after) {
        ComparedBy::CpuTime
    } else {
        ComparedBy::Moves
    };
    let matched = compare::match_sides(tallies_before, tallies_after, by);
    let total = compare::total(&matched, by);
    let run = |report: &Report, file: &str, ns: Option<f64>, moves: f64| Run {
        file: file.to_owned(),
        started_at: report.started_at.clone(),
        duration_s: report.duration_s,
        total_cost_ns_per_s: ns,
        total_moves_per_s: moves,
    };
    Diff {
        schema: SCHEMA.to_owned(),
        compared_by: by,
        before: run(
            before,
            before_file,
            total.before_ns_per_s,
            total.before_moves_per_s,
        ),
        after: run(
            after,
            after_file,
            total.after_ns_per_s,
            total.after_moves_per_s,
        ),
        total,
        matched,
    }
}

/// Schema clprof-diff/1, pretty-printed, newline-terminated.
pub fn json(diff: &Diff) -> String {
    let mut s = serde_json::to_string_pretty(diff).expect("a Diff always serializes");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests;
