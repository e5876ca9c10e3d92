use super::*;

fn add(v: &mut u64, n: u64) {
    *v += n;
}

fn sample(tid: u32, addr: u64, width: u8, kind: DataAccessKind) -> DataSample {
    DataSample {
        tid,
        cpu: tid % 2,
        now_ns: 1_000 + u64::from(tid),
        addr,
        width,
        kind: kind as u8,
    }
}

#[test]
fn words_cover_the_bytes_accessed_within_the_line() {
    let mask = |addr, width| sample(1, addr, width, DataAccessKind::Load).word_mask();
    assert_eq!(mask(0x1000, 8), 0b0000_0001);
    assert_eq!(mask(0x1008, 8), 0b0000_0010);
    assert_eq!(mask(0x103f, 1), 0b1000_0000);
    // Straddles words 0 and 1.
    assert_eq!(mask(0x1004, 8), 0b0000_0011);
    // A 64-byte access covers the line; one past the line's end is cut there.
    assert_eq!(mask(0x1000, 64), 0xff);
    assert_eq!(mask(0x1038, 16), 0b1000_0000);
    // Width unknown (0) counts as one byte.
    assert_eq!(mask(0x1010, 0), 0b0000_0100);
}

#[test]
fn neighbouring_words_written_by_two_threads_are_told_apart() {
    let mut line = SampledLine::default();
    // Two threads, each a locked add to its own word of one line (hot.a, hot.b).
    for _ in 0..3 {
        record_sample(
            &mut line,
            &sample(10, 0x2000, 8, DataAccessKind::Locked),
            add,
        );
        record_sample(
            &mut line,
            &sample(11, 0x2008, 8, DataAccessKind::Locked),
            add,
        );
    }
    assert_eq!(line.samples, 6);
    assert_eq!(line.of_kind(DataAccessKind::Locked), 6);
    assert_eq!(
        (line.of_kind(DataAccessKind::Load), line.unknown_kind),
        (0, 0)
    );
    assert_eq!(&line.threads.tids[..3], &[10, 11, 0]);
    assert_eq!(line.threads.cpu_count(), 2);
    assert_eq!(line.touched[..2], [0b01, 0b10]);
    assert_eq!(line.written[..2], [0b01, 0b10]);
    assert_eq!(line.touched_words(), 0b11);
    assert!(!line.shared_written_word(), "false sharing: {line:?}");
    assert_eq!((line.first_ns, line.last_ns), (1_010, 1_011));
}

#[test]
fn a_word_one_thread_writes_and_another_reads_is_shared() {
    let mut line = SampledLine::default();
    record_sample(
        &mut line,
        &sample(20, 0x3010, 8, DataAccessKind::Locked),
        add,
    );
    record_sample(&mut line, &sample(21, 0x3010, 8, DataAccessKind::Load), add);
    assert_eq!(line.written[..2], [0b100, 0]);
    assert_eq!(line.touched[..2], [0b100, 0b100]);
    assert!(line.shared_written_word());
    // Readers alone share nothing.
    let mut read = SampledLine::default();
    record_sample(&mut read, &sample(20, 0x3010, 8, DataAccessKind::Load), add);
    record_sample(&mut read, &sample(21, 0x3010, 8, DataAccessKind::Load), add);
    assert!(!read.shared_written_word());
}

#[test]
fn threads_beyond_the_tracked_ones_are_counted_but_get_no_words() {
    let mut line = SampledLine::default();
    for tid in 1..=(TRACKED_TIDS as u32 + 2) {
        record_sample(
            &mut line,
            &sample(tid, 0x4000, 4, DataAccessKind::Store),
            add,
        );
    }
    assert_eq!(line.threads.tid_overflow, 2);
    assert!(line.touched.iter().all(|&m| m == 1));
    assert_eq!(line.of_kind(DataAccessKind::Store), TRACKED_TIDS as u64 + 2);
}

#[test]
fn an_unknown_kind_is_counted_apart_and_writes_nothing() {
    let mut line = SampledLine::default();
    let s = DataSample {
        kind: 0,
        ..sample(5, 0x5000, 8, DataAccessKind::Load)
    };
    record_sample(&mut line, &s, add);
    assert_eq!(
        (line.unknown_kind, line.of_kind(DataAccessKind::Load)),
        (1, 0)
    );
    assert_eq!((line.touched[0], line.written[0]), (1, 0));
}

#[test]
fn a_line_takes_stacks_from_its_eighth_sample_then_one_in_sixteen() {
    let mut taken = (0..=64).filter(|&n| wants_stack(n));
    for expected in [8, 16, 32, 48, 64] {
        assert_eq!(taken.next(), Some(expected));
    }
    assert_eq!(taken.next(), None);
    // A line sampled fewer than 8 times takes none; a hot one about one in STACK_EVERY.
    assert!((1..FIRST_STACK_AT).all(|n| !wants_stack(n)));
    let over_a_million = (1..=1_000_000u64).filter(|&n| wants_stack(n)).count() as u64;
    assert_eq!(over_a_million, 1 + 1_000_000 / STACK_EVERY);
}
