use std::time::Duration;

use super::*;
use crate::overhead::{
    budget::{Action, Observation},
    share::Budget,
};

/// A simulated target: `cores` threads always running from `from` on; each operation does
/// `work` of its own and, while probes are attached, `hits_per_op` probe hits of 27 µs each.
#[derive(Clone, Copy)]
struct Target {
    cores: f64,
    work: Duration,
    hits_per_op: f64,
    from: Duration,
}

const HIT: Duration = Duration::from_micros(27);
const SWITCH: Duration = Duration::from_micros(800);

/// A target from the start: `cores` busy threads, two hits per operation of `work`.
fn target(cores: f64, work: Duration) -> Target {
    Target {
        cores,
        work,
        hits_per_op: 2.0,
        from: Duration::ZERO,
    }
}

/// A map loop: 1 µs of work between assigns (the probes would take 98% of its time).
fn hot(cores: f64) -> Target {
    target(cores, Duration::from_micros(1))
}

/// An assign every 400 µs of work: always on, the probes would take 12% of its time.
fn moderate(cores: f64) -> Target {
    target(cores, Duration::from_micros(400))
}

/// Busy threads that never call a probed function.
fn no_hits(cores: f64) -> Target {
    Target {
        hits_per_op: 0.0,
        ..target(cores, Duration::from_micros(1))
    }
}

#[derive(Debug)]
struct Outcome {
    /// Per target: share of its recorded time its probes were attached.
    active: Vec<f64>,
    /// Per target: probe cost over its own work.
    overhead: Vec<f64>,
    /// Every target's probe cost over their summed own work.
    total: f64,
}

struct State {
    duty: Option<Duty>,
    attached: bool,
    cpu_ns: f64,
    hits: f64,
    next: Duration,
}

fn run(targets: &[Target], budget_pct: f64, total: Duration, pooled: bool) -> Outcome {
    let fraction = Budget::from_pct(budget_pct).fraction;
    let mut states: Vec<State> = targets
        .iter()
        .map(|_| State {
            duty: None,
            attached: false,
            cpu_ns: 0.0,
            hits: 0.0,
            next: Duration::ZERO,
        })
        .collect();
    let tick = Duration::from_micros(500);
    let mut now = Duration::ZERO;
    let obs = |now: Duration, s: &State| Observation {
        now,
        cpu: Duration::from_nanos(s.cpu_ns as u64),
        hits: s.hits as u64,
        entries: s.hits as u64 / 2,
        ..Default::default()
    };
    while now < total {
        for (t, s) in targets.iter().zip(states.iter_mut()) {
            if now < t.from {
                continue;
            }
            if s.duty.is_none() {
                // Joins with its probes attached, as the daemon attaches a new target.
                s.duty = Some(Duty::new(fraction, HIT, obs(now, s)));
                s.attached = true;
                s.next = now;
            }
            let cpu = t.cores * tick.as_secs_f64() * 1e9;
            s.cpu_ns += cpu;
            if s.attached && t.hits_per_op > 0.0 {
                let per_op = t.work.as_nanos() as f64 + t.hits_per_op * HIT.as_nanos() as f64;
                s.hits += cpu / per_op * t.hits_per_op;
            }
        }
        now += tick;
        let mut stepped = false;
        for s in states
            .iter_mut()
            .filter(|s| s.duty.is_some() && now >= s.next)
        {
            let at = obs(now, s);
            let duty = s.duty.as_mut().expect("started");
            match duty.step(at) {
                Action::Attach => {
                    assert!(!s.attached, "attach asked while attached");
                    s.attached = true;
                }
                Action::Detach => {
                    assert!(s.attached, "detach asked while detached");
                    s.attached = false;
                    duty.add_switch_cpu(SWITCH);
                }
                Action::Keep => {}
            }
            assert_eq!(duty.is_attached(), s.attached);
            stepped = true;
        }
        if pooled && stepped {
            let mut accounts: Vec<&mut Duty> =
                states.iter_mut().filter_map(|s| s.duty.as_mut()).collect();
            rebalance(&mut accounts);
        }
        // A grant can make a waiting account's window due earlier.
        for s in states.iter_mut() {
            if let Some(d) = &s.duty {
                s.next = d.next_check();
            }
        }
    }
    let (mut spent, mut own) = (0.0, 0.0);
    let mut out = Outcome {
        active: Vec::new(),
        overhead: Vec::new(),
        total: 0.0,
    };
    for (t, s) in targets.iter().zip(states.iter_mut()) {
        let at = obs(now, s);
        let duty = s.duty.as_mut().expect("every target started");
        duty.finish(at);
        spent += duty.spent_now_ns();
        own += duty.own_work_ns();
        let span = total.saturating_sub(t.from).as_secs_f64();
        out.active.push(duty.active().as_secs_f64() / span);
        out.overhead.push(duty.overhead());
    }
    out.total = spent / own;
    out
}

const BUDGET: f64 = 2.0;
const F: f64 = BUDGET / 100.0;

#[test]
fn many_targets_stay_within_the_budget_of_their_summed_cpu() {
    let targets = [
        hot(2.0),
        moderate(1.0),
        no_hits(1.0),
        target(0.5, Duration::from_millis(10)),
    ];
    let total = Duration::from_secs(20);
    let pooled = run(&targets, BUDGET, total, true);
    let alone = run(&targets, BUDGET, total, false);
    assert!(pooled.total <= F * 1.05, "{pooled:?}");
    for (i, &o) in pooled.overhead.iter().enumerate() {
        assert!(
            o <= CAP_FACTOR * F * 1.05,
            "target {i} over its ceiling: {pooled:?}"
        );
    }
    // The allowance the quiet targets leave is spent by the others.
    assert!(pooled.total > alone.total * 1.3, "{pooled:?} vs {alone:?}");
}

#[test]
fn a_target_without_hits_gives_its_share_to_the_others() {
    let targets = [hot(1.0), no_hits(1.0)];
    let total = Duration::from_secs(20);
    let pooled = run(&targets, BUDGET, total, true);
    let alone = run(&targets, BUDGET, total, false);
    assert!(
        pooled.active[0] >= 1.7 * alone.active[0],
        "{pooled:?} vs {alone:?}"
    );
    assert!(
        pooled.overhead[0] > 1.7 * F && pooled.overhead[0] <= CAP_FACTOR * F * 1.05,
        "{pooled:?}"
    );
    assert!(pooled.total <= F * 1.05, "{pooled:?}");
}

#[test]
fn a_hot_target_does_not_starve_a_moderate_one() {
    let targets = [hot(2.0), moderate(1.0), no_hits(2.0)];
    let total = Duration::from_secs(20);
    let pooled = run(&targets, BUDGET, total, true);
    let alone = run(&targets, BUDGET, total, false);
    // The moderate target keeps its own share and gets its part of the pool.
    assert!(
        pooled.active[1] >= 1.2 * alone.active[1],
        "{pooled:?} vs {alone:?}"
    );
    assert!(pooled.overhead[1] >= F * 0.9, "{pooled:?}");
    assert!(pooled.overhead[0] <= CAP_FACTOR * F * 1.05, "{pooled:?}");
    assert!(pooled.total <= F * 1.05, "{pooled:?}");
}

#[test]
fn a_target_added_midway_joins_the_pool() {
    let late = Target {
        from: Duration::from_secs(5),
        ..hot(1.0)
    };
    let targets = [no_hits(1.0), late];
    let total = Duration::from_secs(15);
    let pooled = run(&targets, BUDGET, total, true);
    let alone = run(&targets, BUDGET, total, false);
    assert!(
        pooled.active[1] >= 1.7 * alone.active[1],
        "{pooled:?} vs {alone:?}"
    );
    assert!(pooled.overhead[1] <= CAP_FACTOR * F * 1.05, "{pooled:?}");
    assert!(pooled.total <= F * 1.05, "{pooled:?}");
}

#[test]
fn transfers_sum_to_zero_and_respect_needs_and_ceilings() {
    let standing = |balance_ns: f64, need_ns: f64, own_work_ns: f64| Standing {
        balance_ns,
        need_ns,
        own_work_ns,
        fraction: F,
        granted_ns: 0.0,
    };
    let accounts = [
        // Lenders: 9 ms and 1 ms over their needs.
        standing(10e6, 1e6, 1e9),
        standing(3e6, 2e6, 1e9),
        // Borrowers: short of 50 ms (ceiling 40 ms) and of 2 ms.
        standing(0.0, 50e6, 1e9),
        standing(-1e6, 1e6, 0.5e9),
        // An idle target: nothing to give, nothing to take.
        standing(0.0, 0.0, 0.0),
    ];
    let t = transfers(&accounts);
    let sum: f64 = t.iter().sum();
    assert!(sum.abs() < 1.0, "{t:?}");
    // 10 ms in the pool, lent in proportion to the surpluses.
    assert!(
        (t[0] + 9e6).abs() < 1.0 && (t[1] + 1e6).abs() < 1.0,
        "{t:?}"
    );
    // Borrowers raised by the same fraction of their own work: 2 ms fills the small one
    // (1 ms at that level would be 0.5e9 × 10e6 / 1.5e9 = 3.3 ms), the rest goes to the other.
    assert!(
        (t[3] - 2e6).abs() < 1.0 && (t[2] - 8e6).abs() < 1.0,
        "{t:?}"
    );
    assert_eq!(t[4], 0.0);
    // Past its ceiling (2 × 2% of 1 s = 40 ms) a borrower takes nothing more.
    let capped = Standing {
        granted_ns: 40e6,
        ..accounts[2]
    };
    let t = transfers(&[accounts[0], capped]);
    assert_eq!(t, vec![0.0, 0.0]);
    // With the budget unlimited nobody borrows.
    let unlimited = Standing {
        fraction: 1.0,
        ..accounts[2]
    };
    assert_eq!(transfers(&[accounts[0], unlimited]), vec![0.0, 0.0]);
}
