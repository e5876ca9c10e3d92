use super::*;
use crate::test_support::classic_layout as classic;
use profiler_common::{LineKey, LineStats};

fn line_stats(writes: u64, transfers: u64, tids: &[u32], cpus: &[u32]) -> LineStats {
    let mut s = LineStats {
        writes,
        transfers,
        ..Default::default()
    };
    for (i, &t) in tids.iter().enumerate() {
        s.writers.tids[i] = t;
    }
    for &c in cpus {
        s.writers.cpus[(c / 64) as usize] |= 1 << (c % 64);
    }
    s
}

fn object(pid: u32, addr: u64, writes: u64, tids: &[u32]) -> (ObjectKey, ObjectStats) {
    let mut s = ObjectStats {
        writes,
        kind: AssignKind::Fast64 as u32,
        ..Default::default()
    };
    for (i, &t) in tids.iter().enumerate() {
        s.writers.tids[i] = t;
    }
    (ObjectKey { pid, _pad: 0, addr }, s)
}

fn key(pid: u32, line: u64) -> LineKey {
    LineKey { pid, _pad: 0, line }
}

#[test]
fn two_map_headers_in_one_line_are_both_listed_with_their_fields() {
    // Headers at 0x1000 and 0x1030 (48 bytes apart, as Go's allocator places them).
    let snapshot = KernelSnapshot {
        latency: HashMap::new(),
        lines: vec![(key(7, 0x1000), line_stats(100, 60, &[11, 12], &[0, 1]))],
        objects: vec![object(7, 0x1000, 50, &[11]), object(7, 0x1030, 50, &[12])],
    };
    let layouts = HashMap::from([(
        7,
        ProcessInfo {
            layout: Some(classic()),
            reads: false,
        },
    )]);
    let lines = rank_lines(&snapshot, &layouts, &[], 5, Measured::default());
    assert_eq!(lines.len(), 1);
    let line = &lines[0];
    assert_eq!(line.line, "0x1000");
    assert_eq!((line.threads, line.cpus, line.transfers), (2, 2, 60));
    assert_eq!(line.objects.len(), 2);
    let a = &line.objects[0];
    assert_eq!(a.addr, "0x1000");
    assert_eq!(a.fields.len(), 9, "whole first header is in the line");
    assert_eq!(a.written_fields, vec!["flags", "count"]);
    let b = &line.objects[1];
    assert_eq!(b.addr, "0x1030");
    // 0x1030..0x1040 holds count (0..8) and flags..hash0 (8..16) of the second header.
    assert_eq!(b.fields, vec!["count", "flags", "B", "noverflow", "hash0"]);
    assert_eq!(b.written_fields, vec!["flags", "count"]);
    assert_eq!(b.assign.as_deref(), Some("runtime.mapassign_fast64"));
}

#[test]
fn header_tail_in_next_line_lists_only_unwritten_fields() {
    let snapshot = KernelSnapshot {
        latency: HashMap::new(),
        lines: vec![(key(7, 0x1040), line_stats(5, 0, &[11], &[0]))],
        objects: vec![object(7, 0x1030, 5, &[11])],
    };
    let lines = rank_lines(
        &snapshot,
        &HashMap::from([(
            7,
            ProcessInfo {
                layout: Some(classic()),
                reads: false,
            },
        )]),
        &[],
        5,
        Measured::default(),
    );
    let objs = &lines[0].objects;
    assert_eq!(objs.len(), 1);
    assert_eq!(
        objs[0].fields,
        vec!["buckets", "oldbuckets", "nevacuate", "extra"]
    );
    assert!(objs[0].written_fields.is_empty());
}

#[test]
fn lines_rank_by_transfers_then_writes() {
    let snapshot = KernelSnapshot {
        latency: HashMap::new(),
        lines: vec![
            (key(1, 0x40), line_stats(1000, 0, &[1], &[0])),
            (key(1, 0x80), line_stats(10, 5, &[1, 2], &[0, 1])),
            (key(1, 0xc0), line_stats(20, 5, &[1, 2], &[0, 1])),
        ],
        objects: vec![],
    };
    let lines = rank_lines(&snapshot, &HashMap::new(), &[], 5, Measured::default());
    let order: Vec<&str> = lines.iter().map(|l| l.line.as_str()).collect();
    assert_eq!(order, vec!["0xc0", "0x80", "0x40"]);
}

#[test]
fn samples_count_per_line_and_rank_callers() {
    let worker = Frame {
        function: "main.worker".into(),
        file: Some("/src/main.go".into()),
        line: Some(42),
    };
    let other = Frame {
        function: "main.other".into(),
        file: None,
        line: None,
    };
    let s = |lines: [u64; 2], caller: &Frame| SampledWrite {
        pid: 3,
        lines,
        caller: Some(caller.clone()),
        count: 1,
    };
    let samples = vec![
        s([0x40, 0], &worker),
        s([0x40, 0x80], &worker),
        s([0x40, 0], &other),
        s([0x80, 0], &other),
    ];
    let snapshot = KernelSnapshot {
        latency: HashMap::new(),
        lines: vec![
            (key(3, 0x40), line_stats(9, 1, &[1], &[0])),
            (key(3, 0x80), line_stats(9, 0, &[1], &[0])),
        ],
        objects: vec![],
    };
    let lines = rank_lines(&snapshot, &HashMap::new(), &samples, 5, Measured::default());
    assert_eq!(lines[0].line, "0x40");
    assert_eq!(lines[0].samples, 3);
    assert_eq!(lines[0].top_frames[0].function, "main.worker");
    assert_eq!(lines[0].top_frames[0].samples, 2);
    assert_eq!(lines[0].top_frames[0].line, Some(42));
    assert_eq!(lines[1].samples, 2);
    assert_eq!(lines[1].top_frames.len(), 2);
}

#[test]
fn l1_miss_samples_are_reported_only_with_data_addresses() {
    let mut stats = line_stats(1, 0, &[1], &[0]);
    stats.l1_miss_samples = 7;
    let snapshot = KernelSnapshot {
        latency: HashMap::new(),
        lines: vec![(key(1, 0x40), stats)],
        objects: vec![],
    };
    let with = Measured {
        perf: true,
        addresses: true,
    };
    let without = Measured {
        perf: true,
        addresses: false,
    };
    let processes = HashMap::new();
    assert_eq!(
        rank_lines(&snapshot, &processes, &[], 5, with)[0].l1_miss_samples,
        Some(7)
    );
    assert_eq!(
        rank_lines(&snapshot, &processes, &[], 5, without)[0].l1_miss_samples,
        None
    );
}

#[test]
fn unmeasured_metrics_are_null_not_zero() {
    let snapshot = KernelSnapshot {
        latency: HashMap::new(),
        lines: vec![(key(1, 0x40), line_stats(1, 0, &[1], &[0]))],
        objects: vec![],
    };
    let lines = rank_lines(&snapshot, &HashMap::new(), &[], 5, Measured::default());
    let json = serde_json::to_value(&lines[0]).expect("serialize");
    assert!(json["growth_writes"].is_null());
    assert!(json["l1_miss_samples"].is_null());
}

#[test]
fn value_slots_are_listed_in_their_line_with_their_map() {
    let mut slot = object(7, 0x2008, 3, &[11, 12]);
    slot.1.object_kind = OBJECT_GO_MAP_SLOT;
    slot.1.owner = 0x1000;
    let snapshot = KernelSnapshot {
        latency: HashMap::new(),
        lines: vec![(key(7, 0x2000), line_stats(3, 2, &[11, 12], &[0, 1]))],
        objects: vec![object(7, 0x1000, 50, &[11]), slot],
    };
    let processes = HashMap::from([(
        7,
        ProcessInfo {
            layout: Some(classic()),
            reads: false,
        },
    )]);
    let lines = rank_lines(&snapshot, &processes, &[], 5, Measured::default());
    let objs = &lines[0].objects;
    assert_eq!(objs.len(), 1, "the header is two lines away: {objs:?}");
    assert_eq!(objs[0].kind, "go-map-slot");
    assert_eq!(objs[0].owner.as_deref(), Some("0x1000"));
    assert_eq!(objs[0].writers, 2);
    assert_eq!(lines[0].growth_writes, Some(0), "measured for Go targets");
}

#[test]
fn latency_percentiles_come_from_bucket_upper_bounds() {
    let mut hist = LatencyHist::default();
    assert!(percentiles(&hist).is_none());
    hist.buckets[profiler_common::latency_bucket(1000)] = 98;
    hist.buckets[profiler_common::latency_bucket(100_000)] = 2;
    let p = percentiles(&hist).expect("non-empty");
    assert_eq!(p.count, 100);
    assert!(p.p50_ns >= 1000 && p.p50_ns < 1536, "{p:?}");
    assert!(p.p99_ns >= 100_000 && p.p99_ns < 150_000, "{p:?}");
}

#[test]
fn maps_rank_races_first_and_name_their_key_kind() {
    let mut racy = object(7, 0x1000, 10, &[11, 12]);
    racy.1.concurrent_writers = 3;
    let calm = object(7, 0x2000, 1000, &[11]);
    let snapshot = KernelSnapshot {
        latency: HashMap::new(),
        lines: vec![],
        objects: vec![calm, racy],
    };
    let processes = HashMap::from([(
        7,
        ProcessInfo {
            layout: Some(classic()),
            reads: false,
        },
    )]);
    let maps = rank_maps(&snapshot, &processes, &HashMap::new(), Measured::default());
    assert_eq!(maps[0].addr, "0x1000");
    assert_eq!(maps[0].concurrent_writers, 3);
    assert_eq!(maps[0].key_kind, "fast64");
    assert_eq!(
        maps[0].lines,
        vec!["0x1000"],
        "flags and count share the header's line"
    );
    assert!(maps[0].latency.is_none());
}

#[test]
fn many_writer_threads_are_reported_as_the_sketch_estimate() {
    use profiler_common::fold::{record_line_write, record_object_write, Write};
    let mut map = object(7, 0x1000, 0, &[]);
    let mut stats = LineStats::default();
    let add = |v: &mut u64, n: u64| *v += n;
    for tid in 5_000..5_300 {
        let write = Write {
            pid: 7,
            tid,
            cpu: tid % 2,
            now_ns: 1,
            growth: 0,
            concurrent: 0,
            sharing: 1,
            sampling: 0,
        };
        record_line_write(&mut stats, &write, add);
        record_object_write(&mut map.1, &write, AssignKind::Fast64 as u32, add);
    }
    let snapshot = KernelSnapshot {
        latency: HashMap::new(),
        lines: vec![(key(7, 0x1000), stats)],
        objects: vec![map],
    };
    let processes = HashMap::from([(
        7,
        ProcessInfo {
            layout: Some(classic()),
            reads: false,
        },
    )]);
    let lines = rank_lines(&snapshot, &processes, &[], 5, Measured::default());
    let estimate = stats.writers.estimated_threads();
    assert!((255..=345).contains(&estimate), "300 threads: {estimate}");
    assert_eq!(
        (lines[0].threads, lines[0].threads_exact),
        (estimate, false)
    );
    assert_eq!(lines[0].objects[0].writers, estimate);
    let maps = rank_maps(&snapshot, &processes, &HashMap::new(), Measured::default());
    assert_eq!(maps[0].writers, estimate);
}

#[test]
fn undecided_lines_rank_after_the_judged_ones() {
    let mut lines = crate::report::test_report::sample().lines;
    let mut undecided = lines[0].clone();
    undecided.line = "0xc000014180".to_owned();
    undecided.verdict = crate::report::Verdict::Undecided;
    lines[0].verdict = crate::report::Verdict::TrueSharing;
    let cost = |ns| {
        Some(crate::report::Cost {
            cpu_ns_per_s: ns,
            target_cpu_pct: 0.0,
            rel_err: 0.0,
            basis: crate::report::CostBasis::Moves,
        })
    };
    (lines[0].cost, undecided.cost) = (cost(10.0), cost(1_000.0));
    lines.insert(0, undecided);
    rank(&mut lines);
    assert_eq!(lines[0].line, "0xc000014140", "the judged line first");
    assert_eq!(lines[1].verdict, crate::report::Verdict::Undecided);
}
