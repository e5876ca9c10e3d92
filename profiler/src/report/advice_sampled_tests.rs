use super::*;
use crate::{report::test_report::data_samples, symbolize::Frame};

fn access(function: &str, object: Option<&str>, samples: u64) -> AccessSite {
    AccessSite {
        frame: Frame {
            function: function.to_owned(),
            file: Some("/src/main.go".to_owned()),
            line: Some(12),
        },
        object: object.map(str::to_owned),
        samples,
    }
}

#[test]
fn neighbouring_atomics_are_padded_apart_by_name() {
    let text = advice(&data_samples(), Verdict::FalseSharing).expect("advice");
    assert!(
        text.starts_with(
            "Threads write different words of this line (main.hot.a, main.hot.b) in main.worker"
        ),
        "{text}"
    );
    assert!(text.contains("cpu.CacheLinePad"), "{text}");
}

#[test]
fn one_word_updated_by_threads_is_sharded() {
    let mut data = data_samples();
    data.names.truncate(1);
    let text = advice(&data, Verdict::TrueSharing).expect("advice");
    assert!(
        text.starts_with("Threads update the same word (main.hot.a) with atomic"),
        "{text}"
    );
    data.locked = 0;
    data.stores = 120;
    let text = advice(&data, Verdict::TrueSharing).expect("advice");
    assert!(
        text.starts_with("Threads write and read the same words"),
        "{text}"
    );
}

#[test]
fn a_read_mostly_rwmutex_gets_the_snapshot_fix() {
    let mut data = data_samples();
    data.accesses = vec![
        access("main.reader", Some("sync.RWMutex.readerCount"), 90),
        access("main.writer", Some("sync.RWMutex"), 3),
    ];
    let text = advice(&data, Verdict::TrueSharing).expect("advice");
    assert!(
        text.contains("(sync.RWMutex.readerCount) in main.reader, main.writer"),
        "{text}"
    );
    assert!(text.contains("atomic.Pointer"), "{text}");
}

#[test]
fn a_primitive_named_after_a_struct_field_first_still_gets_its_fix() {
    let mut data = data_samples();
    data.accesses = vec![
        access("main.reader", Some("main.config.mu.readerCount"), 90),
        access("main.reader", Some("sync.RWMutex.readerCount"), 40),
    ];
    let text = advice(&data, Verdict::TrueSharing).expect("advice");
    assert!(text.contains("atomic.Pointer"), "{text}");
}

#[test]
fn locks_and_channels_get_their_own_fixes() {
    let mut data = data_samples();
    data.accesses = vec![access("main.add", Some("sync.Mutex.state"), 50)];
    let text = advice(&data, Verdict::TrueSharing).expect("advice");
    assert!(
        text.starts_with("A contended sync.Mutex (sync.Mutex.state) in main.add"),
        "{text}"
    );
    data.accesses = vec![access("main.send", Some("runtime.hchan.lock"), 50)];
    let text = advice(&data, Verdict::TrueSharing).expect("advice");
    assert!(
        text.starts_with("A contended channel (runtime.hchan.lock)"),
        "{text}"
    );
    // A typed atomic is not a primitive with a fix of its own: the words decide.
    data.accesses = vec![access("main.add", Some("sync/atomic.Int64"), 50)];
    let text = advice(&data, Verdict::FalseSharing).expect("advice");
    assert!(text.starts_with("Threads write different words"), "{text}");
}

#[test]
fn lines_without_contention_get_none() {
    for verdict in [Verdict::Private, Verdict::Undecided] {
        assert_eq!(advice(&data_samples(), verdict), None, "{verdict:?}");
    }
}

#[test]
fn fields_named_from_the_code_name_a_heap_line() {
    let mut data = data_samples();
    data.names.clear();
    data.accesses = vec![
        access("main.(*stats).hit", Some("main.stats.hits"), 70),
        access("main.(*stats).miss", Some("main.stats.misses"), 50),
    ];
    let text = advice(&data, Verdict::FalseSharing).expect("advice");
    assert!(
        text.starts_with(
            "Threads write different words of this line (main.stats.hits, main.stats.misses) \
             in main.(*stats).hit, main.(*stats).miss"
        ),
        "{text}"
    );
}
