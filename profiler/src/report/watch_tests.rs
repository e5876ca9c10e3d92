use std::time::Duration;

use profiler_common::{
    fold::{record_line_write, Write},
    watch::{WatchSite, WatchSiteKey, WordKey},
};

use super::*;
use crate::{perf::breakpoint::Word, report::rank::empty_line};

const PID: u32 = 7;
const LINE: u64 = 0xc000_0100;

fn write(tid: u32, cpu: u32) -> Write {
    Write {
        pid: PID,
        tid,
        cpu,
        now_ns: 0,
        growth: 0,
        concurrent: 0,
        sharing: 1,
        sampling: 0,
    }
}

fn fold(writes: &[(u32, u32)]) -> LineStats {
    let mut stats = LineStats::default();
    for &(tid, cpu) in writes {
        record_line_write(&mut stats, &write(tid, cpu), |v, n| *v += n);
    }
    stats
}

fn frame(function: &str, line: u32) -> Frame {
    Frame {
        function: function.to_owned(),
        file: Some("/src/main.go".to_owned()),
        line: Some(line),
    }
}

/// Instruction 0x100 is in a map assign; 0x200 is an atomic add inlined into main.counter.
struct Fake;

impl DescribeSite for Fake {
    fn site(&mut self, _pid: u32, ip_after: u64, _stack_id: i64) -> Site {
        match ip_after {
            0x100 => Site {
                frames: vec![frame("runtime.mapassign_fast64", 1)],
                own: 1,
                probed: true,
            },
            _ => Site {
                frames: vec![
                    frame("sync/atomic.(*Int64).Add", 9),
                    frame("main.counter", 42),
                    frame("main.main", 50),
                ],
                own: 2,
                probed: false,
            },
        }
    }
}

fn watched(addr: u64, name: &str) -> WatchedWord {
    WatchedWord {
        pid: PID,
        word: Word { addr, len: 8 },
        name: name.to_owned(),
        active: Duration::from_millis(1500),
    }
}

fn probed_line(writes: &[(u32, u32)]) -> (KernelSnapshot, LineReport) {
    let stats = fold(writes);
    let key = LineKey {
        pid: PID,
        _pad: 0,
        line: LINE,
    };
    let report = LineReport {
        writes: stats.writes,
        threads: stats.writers.estimated_threads(),
        cpus: stats.writers.cpu_count(),
        transfers: stats.transfers,
        ..empty_line(PID, LINE)
    };
    let snapshot = KernelSnapshot {
        lines: vec![(key, stats)],
        ..KernelSnapshot::default()
    };
    (snapshot, report)
}

/// The map writer (tid 1, CPU 0) and a counter thread (tid 2, CPU 1) alternate on the line:
/// the header word written by the assign, the counter word by the atomic add.
fn shared_line() -> WatchSnapshot {
    let header = fold(&[(1, 0), (1, 0)]);
    let counter = fold(&[(2, 1), (2, 1)]);
    let line = fold(&[(1, 0), (2, 1), (1, 0), (2, 1)]);
    let site = |word, ip_after, writes| {
        (
            WatchSiteKey {
                pid: PID,
                _pad: 0,
                word,
                ip_after,
            },
            WatchSite {
                writes,
                stack_id: -1,
            },
        )
    };
    WatchSnapshot {
        words: vec![
            (
                WordKey {
                    pid: PID,
                    _pad: 0,
                    addr: LINE + 8,
                },
                header,
            ),
            (
                WordKey {
                    pid: PID,
                    _pad: 0,
                    addr: LINE + 48,
                },
                counter,
            ),
        ],
        lines: vec![(
            LineKey {
                pid: PID,
                _pad: 0,
                line: LINE,
            },
            line,
        )],
        sites: vec![site(LINE + 8, 0x100, 2), site(LINE + 48, 0x200, 2)],
    }
}

#[test]
fn a_line_the_probes_saw_one_writer_on_shows_the_watched_second_writer() {
    let (probed, line) = probed_line(&[(1, 0), (1, 0), (1, 0)]);
    assert_eq!((line.threads, line.transfers), (1, 0));
    let mut lines = vec![line];
    let outcome = WatchOutcome {
        words: vec![
            watched(LINE + 8, "0xc0000108"),
            watched(LINE + 48, "0xc0000130"),
        ],
        registers: 2,
        notices: Vec::new(),
    };
    join(&mut lines, &outcome, &shared_line(), &probed, &mut Fake);
    assert_eq!(lines.len(), 1);
    let l = &lines[0];
    assert_eq!(l.threads, 2, "the counter thread joins the map writer");
    assert_eq!(l.cpus, 2);
    assert_eq!(
        l.transfers, 3,
        "the watched line moved between the CPUs three times"
    );
    assert_eq!(l.writes, 3, "writes stay the probes' own");
    let watch = l.watch.as_ref().expect("a watch report");
    assert_eq!(watch.words.len(), 2);
    assert_eq!(watch.active_s, 1.5);
    assert_eq!(watch.words[1].threads, 1);
    assert_eq!(watch.words[1].frames[1].line, Some(42));
    let objects: Vec<&ObjectReport> = l.objects.iter().filter(|o| o.kind == "watched").collect();
    assert_eq!(
        objects.len(),
        1,
        "only the word written outside map assigns: {objects:?}"
    );
    let writer = objects[0].writer.as_ref().expect("its writer");
    assert_eq!(
        (writer.function.as_str(), writer.line),
        ("main.counter", Some(42)),
        "the atomic helper inlined into the writer is skipped"
    );
    assert_eq!(objects[0].addr, hex(LINE + 48));
}

#[test]
fn a_line_only_the_watchpoints_saw_is_added_and_ranked() {
    let (probed, other) = probed_line(&[(1, 0)]);
    let mut lines = vec![LineReport {
        line: hex(0xd000_0000),
        ..other
    }];
    let outcome = WatchOutcome {
        words: vec![watched(LINE + 48, "main.stats+48")],
        registers: 1,
        notices: Vec::new(),
    };
    join(&mut lines, &outcome, &shared_line(), &probed, &mut Fake);
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0].line,
        hex(LINE),
        "transfers rank the watched line first"
    );
    assert_eq!(lines[0].writes, 0);
    assert_eq!(lines[0].threads, 2);
    assert_eq!(
        lines[0].watch.as_ref().unwrap().words[0].name,
        "main.stats+48"
    );
}

#[test]
fn a_word_no_one_wrote_is_reported_with_zero_writes() {
    let mut lines = Vec::new();
    let outcome = WatchOutcome {
        words: vec![watched(0xe000_0000, "main.idle")],
        registers: 1,
        notices: Vec::new(),
    };
    join(
        &mut lines,
        &outcome,
        &WatchSnapshot::default(),
        &KernelSnapshot::default(),
        &mut Fake,
    );
    let w = &lines[0].watch.as_ref().unwrap().words[0];
    assert_eq!((w.writes, w.threads, w.transfers), (0, 0, 0));
    assert!(lines[0].objects.is_empty());
}
