//! Before against after: the noise rule that says `better`, `same` or `worse`, the totals, and
//! what `--fail-if-worse` fails on.

use std::collections::BTreeMap;

use super::{
    identity::{Identity, Tally},
    Change, ComparedBy, Matched, Side, Total,
};
use crate::report::Verdict;

/// A difference counts when it exceeds this many standard errors of the difference...
pub const NOISE_SIGMAS: f64 = 3.0;
/// ... and this share of the larger of the two costs: runs of one program vary more than one
/// run's error bars say (where the scheduler puts threads, the transfer cost measured anew at
/// each recording), and a single run's errors do not capture that.
pub const NOISE_FLOOR: f64 = 0.10;

/// `better`, `same` or `worse`: `after` against `before`, each with its standard error.
pub fn judge(before: f64, sigma_before: f64, after: f64, sigma_after: f64) -> Change {
    let difference = after - before;
    let noise =
        (NOISE_SIGMAS * sigma_before.hypot(sigma_after)).max(NOISE_FLOOR * before.max(after));
    if difference.abs() <= noise {
        Change::Same
    } else if difference > 0.0 {
        Change::Worse
    } else {
        Change::Better
    }
}

/// How one identity changed.
pub fn change(before: Option<&Side>, after: Option<&Side>, by: ComparedBy) -> Change {
    match (before, after) {
        (Some(_), None) => Change::Resolved,
        (None, _) => Change::New,
        (Some(b), Some(a)) => {
            if a.verdict == Verdict::Private && b.verdict != Verdict::Private {
                Change::Resolved
            } else {
                judge(b.value(by), b.sigma(by), a.value(by), a.sigma(by))
            }
        }
    }
}

/// (after − before) / before in percent; None when before is 0.
pub fn change_pct(before: f64, after: f64) -> Option<f64> {
    (before > 0.0).then(|| 100.0 * (after - before) / before)
}

/// Both profiles' identities side by side, costliest first.
pub fn match_sides(
    before: BTreeMap<Identity, Tally>,
    mut after: BTreeMap<Identity, Tally>,
    by: ComparedBy,
) -> Vec<Matched> {
    let mut out: Vec<Matched> = Vec::new();
    let mut push = |identity: Identity, b: Option<Side>, a: Option<Side>| {
        let change = change(b.as_ref(), a.as_ref(), by);
        let change_pct = match (&b, &a) {
            (Some(b), Some(a)) => change_pct(b.value(by), a.value(by)),
            _ => None,
        };
        out.push(Matched {
            identity,
            before: b,
            after: a,
            change_pct,
            change,
        });
    };
    let mut unmatched = Vec::new();
    for (identity, b) in before {
        match after.remove(&identity) {
            Some(a) => push(identity, Some(b.side(by)), Some(a.side(by))),
            None => unmatched.push((identity, b)),
        }
    }
    // Objects placed a few bytes apart in another run put other fields in the line, and
    // another run's sampled stacks may name another maker: a line left alone on each side with
    // objects of the same kinds and types is the same line.
    let mut before_shapes: BTreeMap<Identity, usize> = BTreeMap::new();
    for (identity, _) in &unmatched {
        *before_shapes.entry(identity.shape()).or_default() += 1;
    }
    // Each shape's identity on the after side, None where two share it.
    let mut after_shapes: BTreeMap<Identity, Option<Identity>> = BTreeMap::new();
    for identity in after.keys() {
        after_shapes
            .entry(identity.shape())
            .and_modify(|twin| *twin = None)
            .or_insert_with(|| Some(identity.clone()));
    }
    for (identity, b) in unmatched {
        let shape = identity.shape();
        let twin = match before_shapes.get(&shape) {
            Some(1) => after_shapes.get(&shape).cloned().flatten(),
            _ => None,
        };
        let a = twin.and_then(|t| after.remove(&t)).map(|t| t.side(by));
        push(identity, Some(b.side(by)), a);
    }
    for (identity, a) in after {
        push(identity, None, Some(a.side(by)));
    }
    let larger = |m: &Matched| {
        let v = |s: &Option<Side>| s.as_ref().map_or(0.0, |s| s.value(by));
        v(&m.before).max(v(&m.after))
    };
    out.sort_by(|x, y| {
        larger(y)
            .total_cmp(&larger(x))
            .then_with(|| x.identity.label.cmp(&y.identity.label))
    });
    out
}

/// Every line's cost added up, before and after, judged by the same rule.
pub fn total(matched: &[Matched], by: ComparedBy) -> Total {
    #[derive(Default)]
    struct Sum {
        ns: Option<f64>,
        moves: f64,
        var: f64,
    }
    let sum = |side: fn(&Matched) -> Option<&Side>| {
        let mut s = Sum {
            ns: Some(0.0),
            ..Sum::default()
        };
        for side in matched.iter().filter_map(side) {
            s.ns = s.ns.zip(side.cpu_ns_per_s).map(|(a, b)| a + b);
            s.moves += side.moves_per_s;
            s.var += side.sigma(by) * side.sigma(by);
        }
        if by == ComparedBy::Moves {
            s.ns = None;
        }
        s
    };
    let b = sum(|m| m.before.as_ref());
    let a = sum(|m| m.after.as_ref());
    let value = |s: &Sum| match by {
        ComparedBy::CpuTime => s.ns.unwrap_or(0.0),
        ComparedBy::Moves => s.moves,
    };
    Total {
        before_ns_per_s: b.ns,
        after_ns_per_s: a.ns,
        before_moves_per_s: b.moves,
        after_moves_per_s: a.moves,
        change_pct: change_pct(value(&b), value(&a)),
        change: judge(value(&b), b.var.sqrt(), value(&a), a.var.sqrt()),
    }
}

/// What got worse by more than the `--fail-if-worse` percentage.
#[derive(Clone, Debug, PartialEq)]
pub enum Regression {
    /// The total cost.
    Total { before: f64, after: f64 },
    /// One line identity (`new` ones have a before of 0).
    Line {
        label: String,
        change: Change,
        before: f64,
        after: f64,
    },
}

impl Regression {
    /// One line for stderr, in the compared unit.
    pub fn describe(&self, by: ComparedBy) -> String {
        let show = |v: f64| by.amount(v);
        let pct = |b: f64, a: f64| {
            change_pct(b, a).map_or("from nothing".to_owned(), |p| format!("{p:+.1}%"))
        };
        let unit = by.unit();
        match self {
            Regression::Total { before, after } => format!(
                "total cost {} → {} {unit} ({})",
                show(*before),
                show(*after),
                pct(*before, *after)
            ),
            Regression::Line {
                label,
                change,
                before,
                after,
            } => format!(
                "{}: {} → {} {unit} ({}): {label}",
                change.as_str(),
                show(*before),
                show(*after),
                pct(*before, *after)
            ),
        }
    }
}

/// The total and the lines that got worse by more than `pct` percent: `worse` ones beyond the
/// noise, and `new` ones with any cost (worse than nothing by more than any percentage).
/// Lines within the noise (`same`) never count.
pub fn regressions(diff: &super::Diff, pct: f64) -> Vec<Regression> {
    let by = diff.compared_by;
    let beyond = |before: f64, after: f64| {
        change_pct(before, after).is_none_or(|p| p > pct) && after > before
    };
    let mut out = Vec::new();
    let value = |s: &Option<f64>| s.unwrap_or(0.0);
    let (tb, ta) = match by {
        ComparedBy::CpuTime => (
            value(&diff.total.before_ns_per_s),
            value(&diff.total.after_ns_per_s),
        ),
        ComparedBy::Moves => (diff.total.before_moves_per_s, diff.total.after_moves_per_s),
    };
    if diff.total.change == Change::Worse && beyond(tb, ta) {
        out.push(Regression::Total {
            before: tb,
            after: ta,
        });
    }
    for m in &diff.matched {
        if !matches!(m.change, Change::Worse | Change::New) {
            continue;
        }
        let before = m.before.as_ref().map_or(0.0, |s| s.value(by));
        let after = m.after.as_ref().map_or(0.0, |s| s.value(by));
        if beyond(before, after) {
            out.push(Regression::Line {
                label: m.identity.label.clone(),
                change: m.change,
                before,
                after,
            });
        }
    }
    out
}

#[cfg(test)]
#[path = "compare_tests.rs"]
mod tests;
