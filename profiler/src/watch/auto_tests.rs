use profiler_common::{sampled::SampledLine, LineKey, LineStats, ObjectKey, ObjectStats};

use super::*;
use crate::test_support::classic_layout;

const PID: u32 = 9;

fn line(line: u64, writes: u64, transfers: u64) -> (LineKey, LineStats) {
    (
        LineKey {
            pid: PID,
            _pad: 0,
            line,
        },
        LineStats {
            writes,
            transfers,
            ..LineStats::default()
        },
    )
}

fn map_header(addr: u64) -> (ObjectKey, ObjectStats) {
    (
        ObjectKey {
            pid: PID,
            _pad: 0,
            addr,
        },
        ObjectStats {
            writes: 1,
            object_kind: OBJECT_GO_MAP,
            ..ObjectStats::default()
        },
    )
}

fn auto() -> AutoWatch {
    AutoWatch::new(
        Duration::from_secs(10),
        HashMap::from([(PID, classic_layout())]),
        vec![0],
    )
}

#[test]
fn the_top_lines_are_watched_written_header_words_first() {
    // A header at 0x1010 (count at +0, flags at +8) on the most contended line; a quieter
    // line; one more that is not in the top two.
    let snapshot = KernelSnapshot {
        lines: vec![
            line(0x1000, 100, 40),
            line(0x2000, 500, 0),
            line(0x3000, 5, 0),
        ],
        objects: vec![map_header(0x1010)],
        ..KernelSnapshot::default()
    };
    let ranges = auto().ranges(&snapshot, &[]);
    let addrs: Vec<u64> = ranges.iter().map(|(_, r)| r.addr).collect();
    assert_eq!(ranges.len(), 16, "two lines of eight words");
    assert_eq!(
        &addrs[..2],
        [0x1010, 0x1018],
        "count's word and flags' first"
    );
    assert!(addrs.iter().all(|a| line_of(*a) != 0x3000), "{addrs:x?}");
    assert!(
        addrs.contains(&0x1038) && addrs.contains(&0x2038),
        "the rest of each line"
    );
    assert!(ranges.iter().all(|(pid, r)| *pid == PID && r.len == 8));
    let mut sorted = addrs.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), 16, "each word once");
}

#[test]
fn nothing_is_watched_before_a_line_is_written_and_arming_waits_a_quarter() {
    assert!(auto().ranges(&KernelSnapshot::default(), &[]).is_empty());
    let a = auto();
    assert!(!a.due(Duration::from_millis(1900)));
    assert!(a.due(Duration::from_secs(2)), "at most 2 s in");
    let short = AutoWatch::new(Duration::from_secs(2), HashMap::new(), vec![0]);
    assert!(short.due(Duration::from_millis(500)));
    assert!(!short.due(Duration::from_millis(499)));
}

/// A sampled line of two threads at `line`, each writing word `w` or `w + 1`.
fn sampled(line: u64, samples: u64, w: u8) -> (LineKey, SampledLine) {
    let mut s = SampledLine {
        samples,
        ..SampledLine::default()
    };
    s.threads.tids[..2].copy_from_slice(&[100, 200]);
    (s.touched[0], s.written[0]) = (1 << w, 1 << w);
    (s.touched[1], s.written[1]) = (2 << w, 2 << w);
    (
        LineKey {
            pid: PID,
            _pad: 0,
            line,
        },
        s,
    )
}

#[test]
fn the_top_sampled_line_takes_a_turn_with_its_written_words_first() {
    let snapshot = KernelSnapshot {
        lines: vec![line(0x1000, 100, 40), line(0x2000, 500, 0)],
        objects: vec![map_header(0x1010)],
        ..KernelSnapshot::default()
    };
    // Counters at words 2 and 3 of 0x5000 (the most sampled), 0 and 1 of 0x6000.
    let lines = [sampled(0x6000, 50, 0), sampled(0x5000, 90, 2)];
    let ranges = auto().ranges(&snapshot, &lines);
    let addrs: Vec<u64> = ranges.iter().map(|(_, r)| r.addr).collect();
    assert_eq!(ranges.len(), 16, "two lines of eight words: {addrs:x?}");
    assert_eq!(
        &addrs[..4],
        [0x1010, 0x1018, 0x5010, 0x5018],
        "the written words of both lines first"
    );
    assert!(
        addrs.iter().all(|a| matches!(line_of(*a), 0x1000 | 0x5000)),
        "{addrs:x?}"
    );
    // One thread alone, or nothing written: not shared, not watched.
    let mut alone = sampled(0x5000, 90, 2);
    alone.1.threads.tids[1] = 0;
    let mut read = sampled(0x6000, 90, 2);
    read.1.written = [0; profiler_common::TRACKED_TIDS];
    let ranges = auto().ranges(&KernelSnapshot::default(), &[alone, read]);
    assert!(ranges.is_empty(), "{ranges:?}");
    // Only sampled lines: the top two of them.
    let ranges = auto().ranges(&KernelSnapshot::default(), &lines);
    assert_eq!(ranges.len(), 16);
    assert_eq!(line_of(ranges[0].1.addr), 0x5000, "the most sampled first");
}
