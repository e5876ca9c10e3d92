//! The diff as a table: one row per line identity, then the totals.

use std::fmt::Write as _;

use super::{
    compare::{NOISE_FLOOR, NOISE_SIGMAS},
    ComparedBy, Diff, Matched, Side,
};

/// Renders the diff; `top` rows at most (None: all).
pub fn text(diff: &Diff, top: Option<usize>) -> String {
    let by = diff.compared_by;
    let mut s = String::new();
    let measure = match by {
        ComparedBy::CpuTime => "CPU time moving the lines (µs per second recorded)",
        ComparedBy::Moves => {
            "line moves per second (transfers + remote reads; a profile has no line costs)"
        }
    };
    let _ = writeln!(s, "clprof diff ({}): cost = {measure}", diff.schema);
    for (name, run) in [("before", &diff.before), ("after ", &diff.after)] {
        let _ = writeln!(
            s,
            "{name}: {}  {:.1}s from {}",
            run.file, run.duration_s, run.started_at
        );
    }
    let _ = writeln!(s);
    let unit = by.unit();
    let _ = writeln!(
        s,
        "{:<9} {:>12} {:>7} {:>12} {:>7} {:>8}  {:<39} LINE",
        "CHANGE",
        format!("BEFORE {unit}"),
        "%CPU",
        format!("AFTER {unit}"),
        "%CPU",
        "Δ",
        "VERDICT"
    );
    let shown = top.unwrap_or(diff.matched.len());
    for m in diff.matched.iter().take(shown) {
        row(&mut s, m, by);
    }
    if diff.matched.len() > shown {
        let _ = writeln!(s, "… {} more", diff.matched.len() - shown);
    }
    if diff.matched.is_empty() {
        let _ = writeln!(s, "(no lines in either profile)");
    }
    let _ = writeln!(s);
    let t = &diff.total;
    let (b, a) = match by {
        ComparedBy::CpuTime => (
            t.before_ns_per_s.unwrap_or(0.0),
            t.after_ns_per_s.unwrap_or(0.0),
        ),
        ComparedBy::Moves => (t.before_moves_per_s, t.after_moves_per_s),
    };
    let pct = t
        .change_pct
        .map_or_else(|| "from nothing".to_owned(), |p| format!("{p:+.1}%"));
    let _ = writeln!(
        s,
        "total: {} → {} {unit} ({pct}): {}",
        by.amount(b),
        by.amount(a),
        t.change.as_str()
    );
    let _ = writeln!(
        s,
        "a change counts when it exceeds {NOISE_SIGMAS}σ of the difference and {:.0}% of the larger cost",
        NOISE_FLOOR * 100.0
    );
    s
}

fn row(s: &mut String, m: &Matched, by: ComparedBy) {
    let cost = |side: &Option<Side>| match side {
        Some(side) => (
            by.amount(side.value(by)),
            side.target_cpu_pct
                .map_or("-".to_owned(), |p| format!("{p:.2}%")),
        ),
        None => ("-".to_owned(), "-".to_owned()),
    };
    let (before, before_pct) = cost(&m.before);
    let (after, after_pct) = cost(&m.after);
    let delta = m
        .change_pct
        .map_or_else(|| "-".to_owned(), |p| format!("{p:+.0}%"));
    let verdict = |side: &Option<Side>| side.as_ref().map_or("-", |s| s.verdict.as_str());
    let verdicts = format!("{} → {}", verdict(&m.before), verdict(&m.after));
    let lines = m
        .before
        .iter()
        .chain(m.after.iter())
        .map(|s| s.lines)
        .max()
        .unwrap_or(0);
    let count = if lines > 1 {
        format!(" (×{lines} lines)")
    } else {
        String::new()
    };
    let _ = writeln!(
        s,
        "{:<9} {:>12} {:>7} {:>12} {:>7} {:>8}  {:<39} {}{count}",
        m.change.as_str(),
        before,
        before_pct,
        after,
        after_pct,
        delta,
        verdicts,
        m.identity.label
    );
}

#[cfg(test)]
#[path = "text_tests.rs"]
mod tests;
