use super::*;

#[test]
fn probe_overhead_rows_are_named_and_counted() {
    let mut report = crate::report::test_report::sample();
    report.sources.perf = "cpu-clock".to_owned();
    report.sources.perf_samples = Some(400);
    report.sources.probe_trampoline_samples = Some(100);
    report.functions = vec![
        FrameReport {
            function: "main.worker".to_owned(),
            file: Some("/src/main.go".to_owned()),
            line: None,
            samples: 300,
        },
        FrameReport {
            function: "[clprof probe] runtime.mapassign_fast64".to_owned(),
            file: Some("[uprobes]".to_owned()),
            line: None,
            samples: 100,
        },
    ];
    let text = table(&report, 5);
    assert!(
        text.contains("[clprof probe] runtime.mapassign_fast64  [uprobes]"),
        "{text}"
    );
    assert!(
        text.contains("probe overhead: 25.0% of the targets' 400 samples (100)"),
        "{text}"
    );
    report.sources.probe_trampoline_samples = Some(0);
    assert!(!table(&report, 5).contains("probe overhead"));
}

#[test]
fn estimated_thread_counts_show_as_approximate() {
    let mut report = crate::report::test_report::sample();
    let text = table(&report, 5);
    assert!(!text.contains('~'), "{text}");
    let line = &mut report.lines[0];
    line.threads = 240;
    line.threads_exact = false;
    line.objects[0].writers = 240;
    report.maps[0].writers = 9;
    let text = table(&report, 5);
    let row = text
        .lines()
        .find(|l| l.contains("0xc000014140") && l.contains("40.0%"))
        .unwrap_or_default();
    assert!(row.contains(" ~240 "), "{text}");
    assert!(text.contains("writes by ~240 thread(s)"), "{text}");
    let map_row = text
        .lines()
        .find(|l| l.starts_with("0xc000014150"))
        .unwrap_or_default();
    assert!(map_row.contains(" ~9 "), "{text}");
    assert!(!text.contains(">240"), "{text}");
}

#[test]
fn thousands_groups_digits() {
    assert_eq!(thousands(0), "0");
    assert_eq!(thousands(999), "999");
    assert_eq!(thousands(1000), "1,000");
    assert_eq!(thousands(1234567), "1,234,567");
}

#[test]
fn target_line_gives_the_namespace_pid_when_it_differs() {
    let mut report = crate::report::test_report::sample();
    let line = |r: &Report| table(r, 5).lines().nth(1).unwrap_or_default().to_owned();
    assert!(
        line(&report).starts_with("target: pid 42 /srv/app  "),
        "{}",
        line(&report)
    );
    report.targets[0].ns_pid = None;
    assert!(
        line(&report).starts_with("target: pid 42 /srv/app  "),
        "{}",
        line(&report)
    );
    report.targets[0].ns_pid = Some(1);
    assert!(
        line(&report).starts_with("target: pid 42 (pid 1 in its namespace) /srv/app  "),
        "{}",
        line(&report)
    );
}

#[test]
fn watched_words_and_their_unseen_writers_are_listed_under_their_line() {
    use crate::report::{ObjectReport, WatchReport, WatchedWordReport};
    let mut report = crate::report::test_report::sample();
    let writer = FrameReport {
        function: "main.counter".to_owned(),
        file: Some("/src/main.go".to_owned()),
        line: Some(42),
        samples: 900,
    };
    let line = &mut report.lines[0];
    line.watch = Some(WatchReport {
        words: vec![
            WatchedWordReport {
                addr: "0xc000014170".to_owned(),
                len: 8,
                name: "0xc000014170".to_owned(),
                writes: 1_000,
                threads: 2,
                transfers: 400,
                active_s: 2.0,
                frames: vec![writer.clone()],
            },
            WatchedWordReport {
                addr: "0xc000014178".to_owned(),
                len: 8,
                name: "0xc000014178".to_owned(),
                writes: 0,
                threads: 0,
                transfers: 0,
                active_s: 2.0,
                frames: vec![],
            },
        ],
        active_s: 2.0,
    });
    line.objects.push(ObjectReport {
        kind: ObjectKind::Watched,
        addr: "0xc000014170".to_owned(),
        fields: vec!["0xc000014170".to_owned()],
        written_fields: vec!["0xc000014170".to_owned()],
        writes: 900,
        writers: 1,
        assign: None,
        owner: None,
        writer: Some(writer),
    });
    let text = table(&report, 5);
    assert!(
        text.contains("watched 0xc000014170 (0xc000014170, 8 B)  1,000 writes by 2 thread(s), 400 transfers in 2.0 s watched"),
        "{text}"
    );
    assert!(
        text.contains(
            "written outside map assigns: 900 writes, most by main.counter (/src/main.go:42)"
        ),
        "{text}"
    );
    assert!(
        text.contains("watched … (1 more word(s) of the line: not written)")
            && !text.contains("watched 0xc000014178"),
        "unwritten words are counted, not listed: {text}"
    );
    assert!(
        !text.contains("watched 0xc000014170  900 writes"),
        "the watched object is not listed again as a map object: {text}"
    );
}

#[test]
fn each_line_shows_its_cost_verdict_and_advice() {
    let mut report = crate::report::test_report::sample();
    report.sources.line_transfer_ns = Some(40.0);
    report.targets[0].overhead.recorded_s = Some(5.0);
    report.targets[0].overhead.cpu_s = Some(5.0);
    crate::report::judge::judge(&mut report);
    let text = table(&report, 5);
    assert!(
        text.contains("COST/s") && text.contains("VERDICT"),
        "{text}"
    );
    // (16 transfers + 6 remote reads) × 40 ns over 5 s.
    assert!(text.contains("176ns"), "{text}");
    assert!(text.contains(" race "), "{text}");
    assert!(text.contains("advice: "), "{text}");
    assert!(text.contains("line transfer: 40.0 ns a move"), "{text}");
}

#[test]
fn lines_show_their_data_samples_words_and_code() {
    let mut report = crate::report::test_report::with_sampled_line();
    report.sources.perf = "cpu-clock".to_owned();
    report.sources.perf_samples = Some(600);
    crate::report::judge::judge(&mut report);
    let text = table(&report, 5);
    assert!(
        text.contains("data addresses: cpu-clock samples decoded at their instruction"),
        "{text}"
    );
    let row = text
        .lines()
        .find(|l| l.contains("0x59c500"))
        .unwrap_or_else(|| panic!("no row of the sampled line: {text}"));
    assert!(row.contains("false-sharing"), "{row}");
    for part in [
        "data samples: 120 (40.0% of the target's), false-sharing: locked 120",
        "words hold: 2 main.hot.a, 3 main.hot.b",
        "words by thread: wrote 2 | wrote 3",
        "main.worker  /src/atomicpair/main.go:44",
        "advice: Threads write different words of this line (main.hot.a, main.hot.b)",
    ] {
        assert!(text.contains(part), "{part:?} missing from {text}");
    }
    report.lines.truncate(1);
    assert!(!table(&report, 5).contains("data samples:"));
}
