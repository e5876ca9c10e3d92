use super::*;
use crate::overhead::share::Budget;

/// A simulated target: `cores` threads always running; each operation does `work` of its own,
/// `write_hits` write-probe hits while the write probes are attached and `read_hits` read-probe
/// hits while the read probes are, each costing `hit_cost`.
struct Sim {
    cores: f64,
    work: Duration,
    write_hits: f64,
    read_hits: f64,
    hit_cost: Duration,
    /// CPU time an attach and detach cycle of the write probes costs; the read probes (one link
    /// of the four) cost a quarter of it.
    switch_cost: Duration,
}

/// How the probes are metered.
#[derive(Clone, Copy, PartialEq)]
enum Metering {
    /// Two accounts ([`Mix`]).
    Mix,
    /// One account for every probe, attached and detached together.
    Shared,
}

#[derive(Debug)]
struct Outcome {
    /// Share of the time the write probes were attached.
    writes_active: f64,
    /// Share of the time the read probes were attached.
    reads_active: f64,
    /// Share of the time the write windows were sampled.
    writes_sampled: f64,
    /// Everything the probes cost over the target's own work.
    overhead: f64,
    /// What the read probes cost over the target's own work.
    reads_overhead: f64,
}

impl Sim {
    fn run(&self, budget_pct: f64, total: Duration, metering: Metering) -> Outcome {
        let fraction = Budget::from_pct(budget_pct).fraction;
        let has_reads = metering == Metering::Mix && self.read_hits > 0.0;
        let mut mix = Mix::new(fraction, self.hit_cost, Reading::default(), has_reads);
        let (mut writes_on, mut reads_on) =
            (true, has_reads && Mix::reads_start_attached(fraction));
        let (mut cpu_ns, mut write_hits, mut read_hits) = (0.0f64, 0.0f64, 0.0f64);
        let (mut writes_time, mut reads_time) = (Duration::ZERO, Duration::ZERO);
        let mut now = Duration::ZERO;
        let tick = Duration::from_micros(500);
        let c = self.hit_cost.as_nanos() as f64;
        let reading = |now, cpu_ns: f64, write_hits: f64, read_hits: f64| {
            let (w, r) = (write_hits as u64, read_hits as u64);
            match metering {
                Metering::Mix => Reading {
                    now,
                    cpu: Duration::from_nanos(cpu_ns as u64),
                    hits: w + r,
                    entries: w / 2 + r,
                    reads: r,
                    watch: Duration::ZERO,
                },
                Metering::Shared => Reading {
                    now,
                    cpu: Duration::from_nanos(cpu_ns as u64),
                    hits: w + r,
                    entries: w / 2 + r,
                    reads: 0,
                    watch: Duration::ZERO,
                },
            }
        };
        let mut next = mix.next_check();
        while now < total {
            let cpu = self.cores * tick.as_secs_f64() * 1e9;
            cpu_ns += cpu;
            // In shared metering the read probes go with the write probes.
            let reads_live = match metering {
                Metering::Mix => reads_on,
                Metering::Shared => writes_on,
            };
            let (w, r) = (
                if writes_on { self.write_hits } else { 0.0 },
                if reads_live { self.read_hits } else { 0.0 },
            );
            let ops = cpu / (self.work.as_nanos() as f64 + (w + r) * c);
            write_hits += ops * w;
            read_hits += ops * r;
            if writes_on {
                writes_time += tick;
            }
            if reads_live {
                reads_time += tick;
            }
            now += tick;
            if now < next {
                continue;
            }
            let at = reading(now, cpu_ns, write_hits, read_hits);
            let actions = mix.step(&at, true);
            match actions.writes {
                Action::Attach => {
                    assert!(!writes_on, "write attach asked while attached");
                    writes_on = true;
                    mix.writes_attached_at(&at);
                }
                Action::Detach => {
                    assert!(writes_on, "write detach asked while detached");
                    writes_on = false;
                    mix.writes.add_switch_cpu(self.switch_cost);
                }
                Action::Keep => {}
            }
            match actions.reads {
                Action::Attach => {
                    assert!(!reads_on, "read attach asked while attached");
                    reads_on = true;
                    mix.reads_attaching(&at);
                    mix.reads_attached_at(&at);
                }
                Action::Detach => {
                    assert!(reads_on, "read detach asked while detached");
                    reads_on = false;
                    mix.reads_gone_at(&at);
                    if let Some(d) = mix.reads.as_mut() {
                        d.add_switch_cpu(self.switch_cost / 4);
                    }
                }
                Action::Keep => {}
            }
            assert!(
                !reads_on || writes_on,
                "read probes attached without the write probes at {now:?}"
            );
            next = mix.next_check().max(now + tick);
        }
        let at = reading(now, cpu_ns, write_hits, read_hits);
        mix.finish(&at);
        let own = cpu_ns - (write_hits + read_hits) * c;
        let reads_spent = mix.reads.as_ref().map_or(0.0, |d| {
            d.spent(&Observation {
                hits: read_hits as u64,
                ..Observation::default()
            })
            .as_nanos() as f64
        });
        Outcome {
            writes_active: writes_time.as_secs_f64() / total.as_secs_f64(),
            reads_active: reads_time.as_secs_f64() / total.as_secs_f64(),
            writes_sampled: mix.writes.sampled_time().as_secs_f64() / total.as_secs_f64(),
            overhead: mix.writes.overhead(),
            reads_overhead: reads_spent / own,
        }
    }
}

/// A read-mostly map as on a VM: 20 µs of work between lookups, an assign (two hits) every ten
/// lookups, 6 µs a hit.
fn read_mostly(read_hits: f64) -> Sim {
    Sim {
        cores: 2.0,
        work: Duration::from_micros(20),
        write_hits: 0.2,
        read_hits,
        hit_cost: Duration::from_micros(6),
        switch_cost: Duration::from_micros(800),
    }
}

const SPAN: Duration = Duration::from_secs(30);

#[test]
fn reads_keep_the_write_windows_they_do_not_pay_for() {
    let alone = read_mostly(0.0).run(2.0, SPAN, Metering::Mix);
    let mixed = read_mostly(1.0).run(2.0, SPAN, Metering::Mix);
    let shared = read_mostly(1.0).run(2.0, SPAN, Metering::Shared);
    eprintln!("alone {alone:?}\nmixed {mixed:?}\nshared {shared:?}");
    // The reads may take half of the budget: the writes keep half of it, less what the extra
    // attaching and detaching costs.
    assert!(
        mixed.writes_active >= 0.35 * alone.writes_active,
        "write probes attached {:.3} of the time beside the reads, {:.3} alone",
        mixed.writes_active,
        alone.writes_active
    );
    assert!(
        mixed.writes_active >= 1.5 * shared.writes_active,
        "two accounts should give the writes far more time than one shared: {:.3} vs {:.3}",
        mixed.writes_active,
        shared.writes_active
    );
    assert!(
        mixed.reads_active > 0.0,
        "the read probes got no window: {mixed:?}"
    );
}

#[test]
fn reads_stay_within_their_share_and_the_whole_within_the_budget() {
    for read_hits in [0.5, 2.0, 20.0] {
        let mixed = read_mostly(read_hits).run(2.0, SPAN, Metering::Mix);
        assert!(
            mixed.overhead <= 0.02 * 1.1,
            "{read_hits} read hits an op: overhead {:.4} over the 2% budget",
            mixed.overhead
        );
        assert!(
            mixed.reads_overhead <= 0.02 * READ_SHARE * 1.1,
            "{read_hits} read hits an op: the reads took {:.4}, more than their share",
            mixed.reads_overhead
        );
    }
}

#[test]
fn unused_read_share_goes_to_the_writes() {
    // Read probes in place but (almost) never hit: the writes have the whole budget.
    let alone = read_mostly(0.0).run(2.0, SPAN, Metering::Mix);
    let idle_reads = read_mostly(0.001).run(2.0, SPAN, Metering::Mix);
    assert!(
        idle_reads.writes_active >= 0.85 * alone.writes_active,
        "write probes attached {:.3} of the time beside idle read probes, {:.3} alone",
        idle_reads.writes_active,
        alone.writes_active
    );
}

#[test]
fn the_writes_keep_half_their_windows_to_themselves() {
    // Read probes cheap enough to stay on: they still leave the writes half of their attached
    // time, the time write counts are sampled in.
    let mixed = read_mostly(0.5).run(2.0, SPAN, Metering::Mix);
    assert!(
        mixed.reads_active <= 0.55 * mixed.writes_active,
        "reads attached {:.3} of the time, writes {:.3}",
        mixed.reads_active,
        mixed.writes_active
    );
    assert!(
        mixed.writes_sampled >= 0.45 * mixed.writes_active,
        "{mixed:?}"
    );
    // Reads a hundredth of the writes or fewer (none at all, in a program that reads no map):
    // the writes are sampled with the read probes in place too.
    let idle = read_mostly(0.0005).run(2.0, SPAN, Metering::Mix);
    assert!(idle.reads_active > 0.5 * idle.writes_active, "{idle:?}");
    assert!(idle.writes_sampled >= 0.9 * idle.writes_active, "{idle:?}");
}

#[test]
fn unlimited_budget_keeps_both_groups_on() {
    let mixed = read_mostly(20.0).run(100.0, Duration::from_secs(2), Metering::Mix);
    assert!(
        mixed.writes_active > 0.99 && mixed.reads_active > 0.99,
        "{mixed:?}"
    );
}
