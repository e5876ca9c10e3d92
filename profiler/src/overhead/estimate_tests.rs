use std::time::Duration;

use profiler_common::gap_bucket;

use super::*;

fn window(cpu_us: u64, hits: u64) -> WindowSample {
    WindowSample {
        cpu: Duration::from_micros(cpu_us),
        wall: Duration::ZERO,
        hits,
        entries: 0,
        other_entries: 0,
        hit_ns: None,
        watch: Duration::ZERO,
    }
}

/// A target doing `w` ns of its own work per hit, probed at `c` ns a hit in `windows` windows of
/// `hits` hits each, whose whole recording holds `total_hits` hits' worth of own work.
fn simulated(
    w: f64,
    c: f64,
    windows: usize,
    hits: u64,
    total_hits: u64,
) -> (Vec<WindowSample>, f64, u64) {
    let win: Vec<WindowSample> = (0..windows)
        .map(|_| WindowSample {
            cpu: Duration::from_nanos((hits as f64 * (w + c)) as u64),
            wall: Duration::ZERO,
            hits,
            entries: 0,
            other_entries: 0,
            hit_ns: None,
            watch: Duration::ZERO,
        })
        .collect();
    let seen_hits = windows as u64 * hits;
    // Outside the windows the target works unprobed: (total - seen) hits' worth of own work.
    let cpu = seen_hits as f64 * (w + c) + (total_hits - seen_hits) as f64 * w;
    (win, cpu, seen_hits)
}

#[test]
fn probe_cost_is_program_time_plus_the_median_gap() {
    let mut t = ProbeTime {
        prog_ns: 1_500 * 1_000,
        prog_runs: 1_000,
        ..ProbeTime::default()
    };
    assert_eq!(probe_cost(&t), None, "no gaps yet");
    for _ in 0..300 {
        t.gaps[gap_bucket(5_020)] += 1;
    }
    for _ in 0..100 {
        t.gaps[gap_bucket(9_000)] += 1;
    }
    let cost = probe_cost(&t).expect("400 gaps are enough");
    assert_eq!(cost.prog_ns, 1_500.0);
    // Bucket midpoints: 5020 is in [4992, 5120), 9000 in [8960, 9088).
    assert_eq!(cost.gap_ns, 5_056.0);
    assert_eq!(cost.hit_ns, 1_500.0 + 1.125 * 5_056.0);
    // Mean up to the 90th percentile: (300 × 5056 + 100 × 9024) / 400 = 6048; plus half a bucket;
    // with the unseen RET-to-entry overhead's spread (uniform over 0.35 of the gap per hit).
    let median = 6_048.0 - 5_056.0 + 64.0;
    let unseen = 5_056.0 * 0.35 / 12f64.sqrt();
    assert!((cost.err_ns - (median * median + unseen * unseen).sqrt()).abs() < 1e-6);
}

#[test]
fn the_observer_effect_is_undone() {
    // 3 µs of own work per hit, 7 µs a hit: in windows the target runs at 30% of its rate.
    let (windows, cpu, seen) = simulated(3_000.0, 7_000.0, 20, 500, 1_000_000);
    let s = scale(&Seen {
        cpu_ns: cpu,
        hits: seen,
        entries: 0,
        windows: &windows,
        hit_ns: 7_000.0,
        hit_err_ns: 100.0,
        watch_ns: 0.0,
        watch_err: 0.0,
        always_on: false,
    })
    .expect("windows saw hits");
    let est = seen as f64 * s.factor;
    assert!((est - 1_000_000.0).abs() < 1.0, "estimated {est} hits");
    // A 100 ns error on c is 100/3000 of the own work per hit in windows: about 3.3%.
    assert!(s.rel_err > 0.025 && s.rel_err < 0.04, "{s:?}");
}

#[test]
fn a_wrong_hit_cost_moves_the_estimate_as_the_error_says() {
    let (windows, cpu, seen) = simulated(3_000.0, 7_000.0, 20, 500, 1_000_000);
    let s = scale(&Seen {
        cpu_ns: cpu,
        hits: seen,
        entries: 0,
        windows: &windows,
        hit_ns: 7_300.0,
        hit_err_ns: 300.0,
        watch_ns: 0.0,
        watch_err: 0.0,
        always_on: false,
    })
    .expect("windows saw hits");
    let off = seen as f64 * s.factor / 1_000_000.0 - 1.0;
    assert!(off > 0.05, "a cost too high must overestimate: {off}");
    assert!(off < 2.0 * s.rel_err, "the error {s:?} must cover {off}");
}

#[test]
fn window_spread_grows_the_error() {
    let steady = vec![window(10_000, 1_000); 10];
    let mut uneven = steady.clone();
    for (i, w) in uneven.iter_mut().enumerate() {
        w.hits = if i % 2 == 0 { 600 } else { 1_400 };
    }
    let seen = |windows: &[WindowSample]| {
        scale(&Seen {
            cpu_ns: 1e9,
            hits: 10_000,
            entries: 0,
            windows,
            hit_ns: 2_000.0,
            hit_err_ns: 0.0,
            watch_ns: 0.0,
            watch_err: 0.0,
            always_on: false,
        })
        .expect("windows saw hits")
    };
    assert_eq!(seen(&steady).rel_err, 0.0);
    assert!(seen(&uneven).rel_err > 0.05, "{:?}", seen(&uneven));
}

#[test]
fn always_on_probes_scale_by_one_without_error() {
    let s = scale(&Seen {
        cpu_ns: 1e9,
        hits: 10,
        entries: 0,
        windows: &[],
        hit_ns: 5_000.0,
        hit_err_ns: 1_000.0,
        watch_ns: 0.0,
        watch_err: 0.0,
        always_on: true,
    })
    .expect("always on");
    assert_eq!(s.estimate(1234, 1000), (1234, 0.0));
}

#[test]
fn a_count_carries_its_own_sampling_error() {
    let s = Scale {
        factor: 8.0,
        per_sampled: 10.0,
        rel_err: 0.0,
    };
    assert_eq!(s.estimate(120, 100), (1_000, 0.1));
    assert_eq!(s.estimate(0, 0), (0, 1.0));
}

#[test]
fn counts_seen_only_outside_the_sampled_windows_stand_as_observed() {
    let s = Scale {
        factor: 8.0,
        per_sampled: 10.0,
        rel_err: 0.05,
    };
    assert_eq!(s.estimate(156, 0).0, 156, "a burst while attaching");
    assert_eq!(s.estimate(50, 4).0, 50, "never below what was seen");
}

#[test]
fn no_hits_in_windows_gives_no_estimate() {
    let windows = [window(10_000, 0)];
    assert_eq!(
        scale(&Seen {
            cpu_ns: 1e9,
            hits: 5,
            entries: 0,
            windows: &windows,
            hit_ns: 5_000.0,
            hit_err_ns: 0.0,
            watch_ns: 0.0,
            watch_err: 0.0,
            always_on: false,
        }),
        None
    );
}

#[test]
fn each_window_is_charged_its_own_hit_cost() {
    // 4 µs of own work per hit; the probes cost 6 µs a hit in half the windows (600 hits), 9 µs
    // in the others (200 hits), with where the threads ran. The recording's cost (a median
    // over every gap, 7.5 µs) is not the windows' hit-weighted mean (6.75 µs): charged at it,
    // the windows' own work comes out short; at their own costs every window is exact.
    let w = 4_000.0;
    let windows: Vec<WindowSample> = [(6_000.0, 600u64), (9_000.0, 200)]
        .iter()
        .cycle()
        .take(20)
        .map(|&(c, hits)| WindowSample {
            cpu: Duration::from_nanos((hits as f64 * (w + c)) as u64),
            wall: Duration::ZERO,
            hits,
            entries: hits / 2,
            other_entries: 0,
            hit_ns: Some(c as u64),
            watch: Duration::ZERO,
        })
        .collect();
    let seen_hits = 10 * 600 + 10 * 200;
    let total_hits = 2_000_000u64;
    let cpu = windows.iter().map(|x| x.cpu.as_nanos() as f64).sum::<f64>()
        + (total_hits - seen_hits) as f64 * w;
    let s = scale(&Seen {
        cpu_ns: cpu,
        hits: seen_hits,
        entries: seen_hits / 2,
        windows: &windows,
        hit_ns: 7_500.0,
        hit_err_ns: 100.0,
        watch_ns: 0.0,
        watch_err: 0.0,
        always_on: false,
    })
    .expect("windows saw hits");
    let est = (seen_hits / 2) as f64 * s.factor;
    assert!(
        (est - total_hits as f64 / 2.0).abs() < 1.0,
        "estimated {est} assigns of {}",
        total_hits / 2
    );
}

#[test]
fn counts_scale_with_the_entries_behind_them() {
    // Windows: 100 entries and 100 RETs each. Attaching and detaching left 500 more entries
    // without their RETs (folded too): observed counts scale from 2,500 entries, not from hits.
    let windows: Vec<WindowSample> = (0..20)
        .map(|_| WindowSample {
            cpu: Duration::from_micros(1_000),
            wall: Duration::ZERO,
            hits: 200,
            entries: 100,
            other_entries: 0,
            hit_ns: Some(2_500),
            watch: Duration::ZERO,
        })
        .collect();
    // Own work in windows: 20 × (1 ms − 200 × 2.5 µs) = 10 ms for 2,000 entries; over the
    // recording 1 s of own work: 200,000 entries.
    let s = scale(&Seen {
        cpu_ns: 20e6 + 1e9 - 10e6,
        hits: 4_000,
        entries: 2_500,
        windows: &windows,
        hit_ns: 2_500.0,
        hit_err_ns: 0.0,
        watch_ns: 0.0,
        watch_err: 0.0,
        always_on: false,
    })
    .expect("windows saw hits");
    assert!(
        (2_500.0 * s.factor - 200_000.0).abs() < 1.0,
        "scale {} gives {} entries, not 200000",
        s.factor,
        2_500.0 * s.factor
    );
}

#[test]
fn a_wrong_watchpoint_cost_moves_the_estimate_as_the_error_says() {
    // 3 µs of own work and 7 µs of probes per hit; in the windows each hit also brings 2 µs of
    // watchpoint hits, taken out of the CPU time at the calibrated cost.
    let watched = |watch_ns: f64| {
        let (mut windows, cpu, seen) = simulated(3_000.0, 7_000.0, 20, 500, 1_000_000);
        for w in &mut windows {
            w.watch = Duration::from_nanos((500.0 * watch_ns) as u64);
        }
        (windows, cpu, seen)
    };
    let scale_with = |windows: &[WindowSample], cpu: f64, seen: u64, watch_ns: f64| {
        scale(&Seen {
            cpu_ns: cpu,
            hits: seen,
            entries: 0,
            windows,
            hit_ns: 7_000.0,
            hit_err_ns: 0.0,
            watch_ns: seen as f64 * watch_ns,
            watch_err: 0.15,
            always_on: false,
        })
        .expect("windows saw hits")
    };
    let (windows, cpu, seen) = watched(2_000.0);
    let right = scale_with(&windows, cpu, seen, 2_000.0);
    assert!(
        (seen as f64 * right.factor - 1_000_000.0).abs() < 1.0,
        "the watch cost taken out exactly: {right:?}"
    );
    // Charged 15% too dear: the windows' own work looks 300 ns (10%) smaller per hit.
    let (mut windows, _, _) = watched(2_000.0);
    for w in &mut windows {
        w.cpu -= Duration::from_nanos(500 * 300);
    }
    let dear = scale_with(&windows, cpu - seen as f64 * 300.0, seen, 2_300.0);
    let moved = dear.factor / right.factor - 1.0;
    assert!(moved > 0.05, "the estimate moves up: {moved}");
    assert!(
        (right.rel_err - moved).abs() < 0.5 * moved,
        "the error said ({}) is about the move ({moved})",
        right.rel_err
    );
}

/// A read window that saw `reads` lookups and `writes` write entries.
fn read_window(reads: u64, writes: u64) -> WindowSample {
    WindowSample {
        cpu: Duration::from_millis(5),
        wall: Duration::ZERO,
        hits: reads + 2 * writes,
        entries: reads,
        other_entries: writes,
        hit_ns: None,
        watch: Duration::ZERO,
    }
}

#[test]
fn nested_counts_scale_against_the_writes_seen_beside_them() {
    // Eight lookups a write in every read window; 10,000 writes in the whole recording.
    let windows: Vec<WindowSample> = (0..20).map(|i| read_window(80 + i % 3, 10)).collect();
    let seen_in: u64 = windows.iter().map(|w| w.entries).sum();
    // A few lookups were counted while the probes were being attached, outside the windows.
    let s = nested_scale(&windows, seen_in + 20, 10_000.0, 0.05).expect("scale");
    let est = (seen_in + 20) as f64 * s.factor;
    let want = 10_000.0 * seen_in as f64 / 200.0;
    assert!(
        (est / want - 1.0).abs() < 1e-9,
        "estimated {est} lookups, want {want}"
    );
    assert!(
        s.rel_err >= 0.05 && s.rel_err < 0.06,
        "the writes' 5% and a small spread: {}",
        s.rel_err
    );
}

#[test]
fn nested_counts_need_enough_writes_beside_them() {
    let windows = [read_window(100, 10), read_window(100, 10)];
    assert_eq!(nested_scale(&windows, 200, 1_000.0, 0.05), None);
    let uneven = [read_window(100, 40), read_window(10, 40)];
    let s = nested_scale(&uneven, 110, 1_000.0, 0.0).expect("80 writes seen");
    assert!(
        s.rel_err > 0.5,
        "windows that disagree ten to one give a wide error: {}",
        s.rel_err
    );
}

#[test]
fn the_watchpoint_cost_is_how_much_longer_a_watched_assign_takes_per_trap() {
    let mut t = ProbeTime::default();
    // Unwatched gaps of 5 and 6 µs; watched ones with two traps of 7 µs each on top.
    for i in 0..200u64 {
        t.add_gap(5_000 + (i % 2) * 1_000, 0);
    }
    for i in 0..(MIN_WATCHED - 1) {
        t.add_gap(5_000 + (i % 2) * 1_000 + 2 * 7_000, 2);
    }
    assert_eq!(watch_cost(&t), None, "too few watched assigns");
    t.add_gap(6_000 + 2 * 7_000, 2);
    let cost = watch_cost(&t).expect("enough watched assigns");
    assert!((cost.ns - 7_000.0).abs() < 1.0, "{cost:?}");
    // The gaps' own spread (±0.5 µs) over 20 draws, and the systematic 5%.
    assert!(
        cost.rel_err >= WATCH_SYSTEMATIC && cost.rel_err < 0.06,
        "{cost:?}"
    );
    // Watched assigns no longer than the others: no cost can be told.
    let mut flat = ProbeTime::default();
    for _ in 0..100 {
        flat.add_gap(5_000, 0);
        flat.add_gap(5_000, 1);
    }
    assert_eq!(watch_cost(&flat), None);
}

#[test]
fn repricing_the_watchpoint_hits_moves_their_cost_between_watch_and_cpu() {
    // 100 hits reckoned at 4 µs; they cost 6 µs: 200 µs of the CPU time was theirs.
    let mut w = window(10_000, 50);
    w.watch = Duration::from_micros(400);
    let mut samples = [w];
    reprice_watch(&mut samples, Duration::from_micros(4), 6_000.0);
    assert_eq!(samples[0].watch, Duration::from_micros(600));
    assert_eq!(samples[0].cpu, Duration::from_micros(9_800));
    // Never more than the window's CPU time in all.
    let mut tiny = [WindowSample {
        watch: Duration::from_micros(400),
        ..window(100, 1)
    }];
    reprice_watch(&mut tiny, Duration::from_micros(4), 40_000.0);
    assert_eq!(tiny[0].cpu + tiny[0].watch, Duration::from_micros(500));
    assert_eq!(tiny[0].cpu, Duration::ZERO);
}

fn timed(cpu_ms: u64, wall_ms: u64) -> WindowSample {
    WindowSample {
        wall: Duration::from_millis(wall_ms),
        ..window(cpu_ms * 1_000, 100)
    }
}

#[test]
fn threads_that_wait_on_each_other_while_probed_are_told() {
    // Two threads busy outside the windows (1.85 CPUs over 6 s); about one inside them: the
    // figures of two writers sharing a map under a mutex.
    let waiting: Vec<WindowSample> = [(8, 7), (5, 6), (7, 7), (4, 6), (6, 5), (3, 4)]
        .into_iter()
        .map(|(c, w)| timed(c, w))
        .collect();
    let ratio = waits_while_probed(&waiting, 11.1e9, 6e9).expect("told");
    assert!((0.4..0.7).contains(&ratio), "{ratio}");
    // A lock held longer while probed: 0.75 of the rate outside the windows, as measured.
    let slowed: Vec<WindowSample> = [(15, 10), (14, 10), (13, 10), (16, 10), (15, 10), (14, 10)]
        .into_iter()
        .map(|(c, w)| timed(c, w))
        .collect();
    let ratio = waits_while_probed(&slowed, 11.58e9, 6e9).expect("told");
    assert!((0.7..0.8).contains(&ratio), "{ratio}");
    // Two threads that never wait, with clprof taking a little of the CPUs in the windows
    // (0.94 of the rate outside them, as measured).
    let independent: Vec<WindowSample> =
        [(18, 10), (19, 10), (17, 10), (18, 10), (19, 10), (18, 10)]
            .into_iter()
            .map(|(c, w)| timed(c, w))
            .collect();
    assert_eq!(waits_while_probed(&independent, 11.58e9, 6e9), None);
    // One busy thread, in the windows and out of them: no waiting.
    let steady: Vec<WindowSample> = (0..6).map(|_| timed(6, 6)).collect();
    assert_eq!(waits_while_probed(&steady, 6e9, 6e9), None);
    // Bursts: windows fall in the rests and in the bursts alike; their rate is too scattered
    // to tell anything.
    let bursts: Vec<WindowSample> = [(0, 6), (6, 6), (0, 6), (0, 6), (6, 6), (1, 6)]
        .into_iter()
        .map(|(c, w)| timed(c, w))
        .collect();
    assert_eq!(waits_while_probed(&bursts, 2e9, 6e9), None);
    let mostly_rests: Vec<WindowSample> = [(0, 6), (0, 6), (0, 6), (0, 6), (6, 6), (1, 6)]
        .into_iter()
        .map(|(c, w)| timed(c, w))
        .collect();
    assert_eq!(waits_while_probed(&mostly_rests, 2e9, 6e9), None);
    // One thread (under 1.05 CPUs outside the windows) whose windows all fell in its rests,
    // their rate steady: no waiting without a second thread.
    let rests: Vec<WindowSample> = (0..6).map(|_| timed(1, 10)).collect();
    assert_eq!(waits_while_probed(&rests, 2e9, 6e9), None);
    // One steady thread with the windows a little slower (clprof takes some of the CPUs then).
    let one: Vec<WindowSample> = (0..6).map(|_| timed(9, 10)).collect();
    assert_eq!(waits_while_probed(&one, 5.9e9, 6e9), None);
    // Two writers that sleep on a contended lock: 1.2 CPUs outside the windows, 0.78 inside
    // them (300 rounds of work between assigns, as measured).
    let sleeping: Vec<WindowSample> = [(8, 10), (7, 10), (8, 10), (9, 10), (7, 10), (8, 10)]
        .into_iter()
        .map(|(c, w)| timed(c, w))
        .collect();
    let ratio = waits_while_probed(&sleeping, 7.15e9, 6e9).expect("told");
    assert!((0.6..0.7).contains(&ratio), "{ratio}");
    // Too few windows, or too little time outside them.
    assert_eq!(waits_while_probed(&waiting[..2], 11.1e9, 6e9), None);
    assert_eq!(waits_while_probed(&waiting, 0.1e9, 0.06e9), None);
}
