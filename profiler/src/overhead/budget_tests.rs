use super::*;
use crate::overhead::share::Budget;

/// A simulated target: `cores` threads always running; each operation does `work` of its own and,
/// while probes are attached, `hits_per_op` probe hits of `hit_cost` each.
struct Sim {
    cores: f64,
    work: Duration,
    hits_per_op: f64,
    hit_cost: Duration,
    switch_cost: Duration,
    /// No probed calls at all before this time (then `hits_per_op`).
    quiet_for: Duration,
}

struct Outcome {
    active_fraction: f64,
    overhead: f64,
    /// Operations completed, against the same time with no probes.
    throughput: f64,
    switches: u64,
}

impl Sim {
    fn run(&self, budget_pct: f64, total: Duration) -> Outcome {
        let fraction = Budget::from_pct(budget_pct).fraction;
        let mut now = Duration::ZERO;
        let (mut cpu_ns, mut hits, mut ops) = (0.0f64, 0.0f64, 0.0f64);
        let mut duty = Duty::new(
            fraction,
            self.hit_cost,
            Observation {
                now,
                cpu: Duration::ZERO,
                hits: 0,
                entries: 0,
                watch: Duration::ZERO,
                ..Default::default()
            },
        );
        let mut attached = true;
        let mut switches = 0;
        let tick = Duration::from_micros(500);
        let mut next = duty.next_check();
        while now < total {
            let dt = tick.as_secs_f64();
            let cpu = self.cores * dt * 1e9;
            cpu_ns += cpu;
            let hits_per_op = if now < self.quiet_for {
                0.0
            } else {
                self.hits_per_op
            };
            if attached {
                let per_op =
                    self.work.as_nanos() as f64 + hits_per_op * self.hit_cost.as_nanos() as f64;
                ops += cpu / per_op;
                hits += cpu / per_op * hits_per_op;
            } else {
                ops += cpu / self.work.as_nanos() as f64;
            }
            now += tick;
            if now >= next {
                let obs = Observation {
                    now,
                    cpu: Duration::from_nanos(cpu_ns as u64),
                    hits: hits as u64,
                    entries: hits as u64 / 2,
                    watch: Duration::ZERO,
                    ..Default::default()
                };
                match duty.step(obs) {
                    Action::Attach => {
                        assert!(!attached, "attach asked while attached");
                        attached = true;
                    }
                    Action::Detach => {
                        assert!(attached, "detach asked while detached");
                        attached = false;
                        duty.add_switch_cpu(self.switch_cost);
                        switches += 1;
                    }
                    Action::Keep => {}
                }
                assert_eq!(duty.is_attached(), attached, "duty and probes disagree");
                next = duty.next_check().max(now + tick);
            }
        }
        duty.finish(Observation {
            now,
            cpu: Duration::from_nanos(cpu_ns as u64),
            hits: hits as u64,
            entries: hits as u64 / 2,
            watch: Duration::ZERO,
            ..Default::default()
        });
        let alone = self.cores * total.as_secs_f64() * 1e9 / self.work.as_nanos() as f64;
        Outcome {
            active_fraction: duty.active().as_secs_f64() / total.as_secs_f64(),
            overhead: duty.overhead(),
            throughput: ops / alone,
            switches,
        }
    }
}

/// A map loop as measured on a VM: 27 µs per hit, two hits per assign, 1 µs of work.
fn hot_map_loop() -> Sim {
    Sim {
        cores: 2.0,
        work: Duration::from_micros(1),
        hits_per_op: 2.0,
        hit_cost: Duration::from_micros(27),
        switch_cost: Duration::from_micros(800),
        quiet_for: Duration::ZERO,
    }
}

#[test]
fn hot_target_stays_within_budget() {
    for budget in [1.0, 2.0, 5.0] {
        let out = hot_map_loop().run(budget, Duration::from_secs(20));
        let limit = budget / 100.0;
        assert!(
            out.overhead <= limit * 1.05,
            "budget {budget}%: estimated overhead {:.4}",
            out.overhead
        );
        assert!(
            out.throughput >= 1.0 - limit * 1.2,
            "budget {budget}%: throughput {:.4} of unprobed",
            out.throughput
        );
        assert!(
            out.active_fraction > 0.0 && out.active_fraction < limit,
            "budget {budget}%: active fraction {:.5}",
            out.active_fraction
        );
        assert!(
            out.switches >= 10,
            "budget {budget}%: {} windows",
            out.switches
        );
    }
}

#[test]
fn a_target_that_turns_hot_is_cut_off_at_once() {
    // Idle maps for 2 s (the probes stay on, costing nothing), then a hot loop.
    let sim = Sim {
        quiet_for: Duration::from_secs(2),
        ..hot_map_loop()
    };
    let out = sim.run(2.0, Duration::from_secs(10));
    assert!(out.overhead <= 0.021, "overhead {:.4}", out.overhead);
    assert!(out.throughput >= 0.975, "throughput {:.4}", out.throughput);
}

#[test]
fn bigger_budget_buys_more_active_time() {
    let small = hot_map_loop().run(1.0, Duration::from_secs(10));
    let big = hot_map_loop().run(5.0, Duration::from_secs(10));
    assert!(
        big.active_fraction > 3.0 * small.active_fraction,
        "1%: {:.5}, 5%: {:.5}",
        small.active_fraction,
        big.active_fraction
    );
}

#[test]
fn rarely_hit_probes_stay_attached() {
    // One assign per 10 ms of work: the probes cost 0.5% of the target.
    let sim = Sim {
        work: Duration::from_millis(10),
        ..hot_map_loop()
    };
    let out = sim.run(2.0, Duration::from_secs(10));
    assert!(
        out.active_fraction > 0.99,
        "active fraction {:.4}",
        out.active_fraction
    );
    assert_eq!(out.switches, 0, "a cheap target should never be detached");
}

#[test]
fn unlimited_budget_is_always_on() {
    let out = hot_map_loop().run(100.0, Duration::from_secs(5));
    assert!(out.active_fraction > 0.999, "{:.4}", out.active_fraction);
    assert_eq!(out.switches, 0);
    assert!(
        out.overhead > 1.0,
        "overhead {:.2} should show the cost",
        out.overhead
    );
}

#[test]
fn idle_target_costs_nothing_and_stays_on() {
    let sim = Sim {
        cores: 0.0,
        ..hot_map_loop()
    };
    let out = sim.run(2.0, Duration::from_secs(5));
    assert_eq!(out.overhead, 0.0);
    assert!(out.active_fraction > 0.99, "{:.4}", out.active_fraction);
}

#[test]
fn costs_that_take_all_the_cpu_report_a_huge_overhead_not_none() {
    let at = |ms: u64, watch_ms: u64| Observation {
        now: Duration::from_millis(ms),
        cpu: Duration::from_millis(ms),
        hits: 0,
        entries: 0,
        watch: Duration::from_millis(watch_ms),
        ..Default::default()
    };
    let mut d = Duty::new(1.0, Duration::from_micros(5), at(0, 0));
    d.step(at(1_000, 1_100));
    assert!(
        d.overhead() > 10.0,
        "1.1 s of watchpoint hits in 1 s of CPU: {}",
        d.overhead()
    );
}
