//! A sample report for tests: one target, line, object and map.

use crate::{report::*, symbolize::Frame};

/// A small report with one target, line, object and map.
pub(crate) fn sample() -> Report {
    Report {
        schema: SCHEMA.to_owned(),
        started_at: "2026-11-22T03:00:00Z".to_owned(),
        duration_s: 5.0,
        targets: vec![target()],
        sources: sources(),
        drops: Drops::default(),
        events: 10,
        samples: 1,
        lines: vec![line()],
        maps: vec![map()],
        functions: vec![],
        stacks: vec![],
        notices: vec![],
    }
}

/// The target: a Go 1.27 program whose probes were on a quarter of the time.
fn target() -> TargetInfo {
    TargetInfo {
        pid: 42,
        container: None,
        ns_pid: Some(42),
        exe: "/srv/app".to_owned(),
        go_version: Some("go1.27.3".to_owned()),
        map_layout: Some(crate::inspect::LayoutFlavor::Swiss),
        layout_source: Some(crate::inspect::LayoutSource::Dwarf),
        symbols_source: Some(crate::inspect::SymbolsSource::Symtab),
        exited: false,
        build_id: None,
        overhead: TargetOverhead {
            probe_active_fraction: Some(0.25),
            probe_hits: Some(20),
            probe_windows: Some(3),
            estimated_overhead_pct: Some(1.5),
            pooled_budget_pct: Some(0.0),
            probe_hit_cost_ns: Some(9_000),
            probe_hit_cost_source: Some(HitCostSource::Measured),
            est_scale: Some(4.0),
            est_scale_rel_err: Some(0.1),
            est_lower_bound: None,
            read_probe_active_fraction: None,
            read_probe_windows: None,
            read_probe_hits: None,
            est_read_scale: None,
            est_read_scale_rel_err: None,
            recorded_s: None,
            cpu_s: None,
            watch_hits: None,
            watch_hit_cost_ns: None,
            watch_hit_cost_source: None,
        },
    }
}

/// Its sources: one probed assign function, no perf events.
/// [`sample`] with a second line that only the sampled data addresses saw.
pub(crate) fn with_sampled_line() -> Report {
    let mut report = sample();
    report.lines.push(LineReport {
        data_samples: Some(data_samples()),
        ..crate::report::rank::empty_line(42, 0x59c500)
    });
    report
}

/// Two goroutines' locked adds to neighbouring words of one line.
pub(crate) fn data_samples() -> DataSamples {
    let words = |tid, w: u8| ThreadWords {
        tid,
        touched: vec![w],
        written: vec![w],
    };
    DataSamples {
        samples: 120,
        share: 0.4,
        loads: 0,
        stores: 0,
        updates: 0,
        locked: 120,
        unknown_kind: 0,
        threads: 2,
        threads_exact: true,
        cpus: 2,
        words: vec![words(648064, 2), words(647520, 3)],
        names: vec![
            WordName {
                word: 2,
                name: "main.hot.a".to_owned(),
            },
            WordName {
                word: 3,
                name: "main.hot.b".to_owned(),
            },
        ],
        sharing: SampledSharing::FalseSharing,
        accesses: vec![AccessSite {
            frame: Frame {
                function: "main.worker".to_owned(),
                file: Some("/src/atomicpair/main.go".to_owned()),
                line: Some(44),
            },
            object: None,
            samples: 120,
        }],
        stacks: vec![DataStack {
            frames: vec![
                location(0x4a1000, "main.main.func1", 30),
                location(0x4a1234, "main.worker", 44),
            ],
            samples: 9,
        }],
    }
}

fn location(addr: u64, function: &str, line: u32) -> StackLocation {
    StackLocation {
        addr: hex(addr),
        lines: vec![Frame {
            function: function.to_owned(),
            file: Some("/src/atomicpair/main.go".to_owned()),
            line: Some(line),
        }],
    }
}

fn sources() -> Sources {
    Sources {
        uprobes: vec![UprobeSource {
            binary: "/srv/app".to_owned(),
            symbol: "runtime.mapassign_fast64".to_owned(),
            hits: 10,
        }],
        perf: "none".to_owned(),
        pmu_available: false,
        overhead: RecordingOverhead {
            overhead_budget_pct: 2.0,
            probe_active_fraction: 0.25,
            estimated_overhead_pct: Some(1.5),
            budget_scope: Some(crate::report::BudgetScope::AllTargets),
            total_overhead_pct: Some(1.5),
            probe_hit_cost_ns: Some(27_000),
            calibration_age_s: Some(0),
            perf_sample_cost_ns: None,
            perf_sample_hz: None,
        },
        perf_samples: None,
        probe_trampoline_samples: None,
        line_transfer_ns: None,
        line_transfer: Vec::new(),
        data_addresses: Some(DataAddressSources {
            decoded_ips: 3,
            ips_without_access: 9,
            unreadable_ips: 1,
            operand_samples: 120,
            address_samples: 0,
            undecoded_samples: 4,
            named_share: 1.0,
        }),
    }
}

/// The line: written by two threads on two CPUs, read by three.
fn line() -> LineReport {
    LineReport {
        line: hex(0xc000014140),
        pid: 42,
        writes: 10,
        samples: 1,
        threads: 2,
        threads_exact: true,
        cpus: 2,
        transfers: 4,
        reads: Some(30),
        remote_reads: Some(6),
        reader_threads: Some(3),
        invalidations: Some(5),
        contention: 12,
        est: LineEstimates {
            writes: Some(40),
            writes_rel_err: Some(0.2),
            transfers: Some(16),
            transfers_rel_err: Some(0.3),
            ..Default::default()
        },
        growth_writes: None,
        concurrent_writers: None,
        l1_miss_samples: None,
        verdict: Default::default(),
        cost: None,
        advice: None,
        objects: vec![ObjectReport {
            kind: ObjectKind::GoMap,
            addr: hex(0xc000014150),
            fields: vec!["used".to_owned()],
            written_fields: vec!["used".to_owned()],
            writes: 10,
            writers: 2,
            assign: Some("runtime.mapassign_fast64".to_owned()),
            owner: None,
            writer: None,
        }],
        top_frames: vec![FrameReport {
            function: "main.worker".to_owned(),
            file: Some("/src/main.go".to_owned()),
            line: Some(31),
            samples: 1,
        }],
        watch: None,
        data_samples: None,
        sampled: Default::default(),
    }
}

/// The map whose header is in the line.
fn map() -> MapReport {
    MapReport {
        pid: 42,
        addr: hex(0xc000014150),
        go_type: Some("map[int]int".to_owned()),
        key_kind: "fast64".to_owned(),
        assign: "runtime.mapassign_fast64".to_owned(),
        writes: 10,
        est_writes: Some(40),
        est_writes_rel_err: Some(0.2),
        writers: 2,
        growth_writes: 1,
        concurrent_writers: 1,
        reads: Some(30),
        est_reads: None,
        est_reads_rel_err: None,
        deletes: Some(2),
        clears: Some(0),
        iterations: Some(1),
        read_races: Some(0),
        perf_samples: None,
        lines: vec![hex(0xc000014140)],
        latency: Some(LatencyReport {
            count: 10,
            p50_ns: 1023,
            p99_ns: 4095,
        }),
        entries: None,
        made_at: Vec::new(),
        first_assign: vec![],
        races: vec![RaceReport {
            kind: RaceKind::WriteWrite,
            tid: 7,
            other_tid: Some(8),
            frames: vec![],
            other_frames: vec![],
        }],
        sampled: Default::default(),
    }
}
