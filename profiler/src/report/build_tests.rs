use std::{collections::HashSet, time::Duration};

use profiler_common::{LineKey, LineStats};

use super::*;
use crate::report::keep::MAX_REPORT_LINES;
use crate::{folded::Counters, overhead::plan::OverheadPlan, readout::ProbeHits};

/// What a session could have read back: one line that two CPUs took turns writing, one that a
/// single CPU wrote, the probes' hits, and a process left out.
fn readout() -> Readout {
    let line = |line: u64, writes: u64, transfers: u64, cpus: u32| {
        let mut stats = LineStats {
            writes,
            transfers,
            ..LineStats::default()
        };
        for cpu in 0..cpus {
            stats.writers.cpus[0] |= 1 << cpu;
            stats.writers.tids[cpu as usize] = 100 + cpu;
        }
        (
            LineKey {
                pid: 7,
                _pad: 0,
                line,
            },
            stats,
        )
    };
    Readout {
        snapshot: KernelSnapshot {
            lines: vec![line(0xc000_0040, 500, 0, 1), line(0xc000_0080, 400, 300, 2)],
            ..KernelSnapshot::default()
        },
        counters: Counters::default(),
        watched: None,
        perf_ips: Vec::new(),
        sampled_lines: Vec::new(),
        line_ips: Vec::new(),
        line_stacks: Vec::new(),
        probe_steps: Vec::new(),
        stacks: HashMap::new(),
        xol_areas: HashMap::new(),
        hits: vec![
            ProbeHits {
                binary: "/srv/app".to_owned(),
                symbol: "main.add".to_owned(),
                hits: 600,
            },
            ProbeHits {
                binary: "/srv/app".to_owned(),
                symbol: "main.add".to_owned(),
                hits: 300,
            },
        ],
        refused: vec![(9, "worker".to_owned())],
        perf: PerfSource::None,
        pmu_available: false,
        transfer: None,
        overhead: OverheadPlan::always_on(Duration::from_micros(7)),
        probes_access: false,
    }
}

fn collected() -> Collected {
    Collected {
        samples: HashMap::new(),
        first: HashMap::new(),
        made: HashMap::new(),
        stop: StopReason::Duration,
        elapsed: Duration::from_secs(1),
        exited: HashMap::new(),
        execd: Default::default(),
        duty: Vec::new(),
        overflow: 0,
        save_error: None,
        watch: None,
        decoded: Default::default(),
    }
}

#[test]
fn a_report_is_built_from_a_synthetic_readout() {
    let started_at = chrono::DateTime::UNIX_EPOCH;
    let report = build(readout(), &mut [], &collected(), started_at);
    assert_eq!(report.lines.len(), 2, "{:#?}", report.lines);
    assert_eq!(
        report.lines[0].line,
        hex(0xc000_0080),
        "the moving line ranks first"
    );
    assert_eq!(report.lines[0].transfers, 300);
    assert_eq!(report.lines[0].cpus, 2);
    assert_eq!(report.lines[1].transfers, 0);
    let hits: Vec<(&str, u64)> = report
        .sources
        .uprobes
        .iter()
        .map(|u| (u.symbol.as_str(), u.hits))
        .collect();
    assert_eq!(
        hits,
        [("main.add", 900)],
        "one probed function, its hits summed"
    );
    assert_eq!(report.sources.perf, PerfSource::None.name());
    assert!(
        report.notices.iter().any(|n| n.contains("worker")),
        "the refused process is named: {:?}",
        report.notices
    );
}

#[test]
fn lines_cut_as_they_come_are_the_top_of_all_of_them() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mut snapshot = KernelSnapshot::default();
    for i in 0..(5 * MAX_REPORT_LINES as u64 + 17) {
        let stats = LineStats {
            // Ties on purpose: the order then falls to writes, pid and address.
            writes: 1 + next(50),
            transfers: next(40),
            ..LineStats::default()
        };
        let key = LineKey {
            pid: 7 + (i % 3) as u32,
            _pad: 0,
            line: 0xc000_0000 + i * 64,
        };
        snapshot.lines.push((key, stats));
    }
    let measured = Measured {
        perf: false,
        addresses: false,
    };
    let processes = HashMap::new();
    let plan = readout().overhead;
    let overhead = Overhead::of(&[], &plan);
    let judge = Judge::new(&[], None, &[], 1.0, crate::perf::SampleMeaning::Time);
    let builder = LineBuilder::new(&snapshot, &processes, &[], TOP_FRAMES, measured);
    let watched = HashSet::from([(8, 0xc000_0000 + 64)]);
    let (kept, seen) = top_lines(&snapshot, &builder, &overhead, &judge, &watched);
    assert_eq!(seen, snapshot.lines.len());

    let mut all = rank::rank_lines(&snapshot, &processes, &[], TOP_FRAMES, measured);
    overhead.scale_lines(&mut all);
    all.iter_mut().for_each(|l| judge.line(l));
    rank::rank(&mut all);
    let top: Vec<&str> = all[..MAX_REPORT_LINES]
        .iter()
        .map(|l| l.line.as_str())
        .collect();
    let got: Vec<&str> = kept
        .iter()
        .filter(|l| !(l.pid == 8 && l.line == hex(0xc000_0000 + 64)))
        .take(MAX_REPORT_LINES)
        .map(|l| l.line.as_str())
        .collect();
    assert_eq!(
        got, top,
        "the cut kept other lines than the full ranking's top"
    );
    assert!(
        kept.iter()
            .any(|l| l.pid == 8 && l.line == hex(0xc000_0000 + 64)),
        "the watched line is kept wherever it ranks"
    );
}
