use super::*;

fn chain(names: &[&str]) -> Vec<Frame> {
    names
        .iter()
        .map(|n| Frame {
            function: (*n).to_owned(),
            file: None,
            line: None,
        })
        .collect()
}

#[test]
fn a_read_lock_is_the_reader_count_whatever_is_inlined_into_it() {
    // Go 1.19: the add is RLock's own; since 1.20 it is inlined from atomic.(*Int32).Add.
    let old = chain(&["sync.(*RWMutex).RLock", "main.reader"]);
    let new = chain(&[
        "sync/atomic.(*Int32).Add",
        "sync.(*RWMutex).RLock",
        "main.reader",
    ]);
    for frames in [old, new] {
        assert_eq!(
            touched(&frames).as_deref(),
            Some("sync.RWMutex.readerCount")
        );
        assert_eq!(
            caller(&frames).map(|f| f.function.as_str()),
            Some("main.reader")
        );
    }
}

#[test]
fn locks_channels_and_typed_atomics_are_named() {
    let mutex = chain(&["sync.(*Mutex).Lock", "main.inc"]);
    assert_eq!(touched(&mutex).as_deref(), Some("sync.Mutex.state"));
    let chan = chain(&[
        "runtime.lock2",
        "runtime.lockWithRank",
        "runtime.lock",
        "runtime.chansend",
        "runtime.chansend1",
        "main.produce",
    ]);
    assert_eq!(touched(&chan).as_deref(), Some("runtime.hchan.lock"));
    assert_eq!(
        caller(&chan).map(|f| f.function.as_str()),
        Some("main.produce")
    );
    let queue = chain(&["runtime.chansend", "runtime.chansend1", "main.produce"]);
    assert_eq!(touched(&queue).as_deref(), Some("runtime.hchan"));
    let counter = chain(&["sync/atomic.(*Int64).Add", "main.count"]);
    assert_eq!(touched(&counter).as_deref(), Some("sync/atomic.Int64"));
    let writer_lock = chain(&["sync.(*RWMutex).Lock", "main.update"]);
    assert_eq!(touched(&writer_lock).as_deref(), Some("sync.RWMutex"));
}

#[test]
fn plain_code_touches_no_primitive() {
    let frames = chain(&["main.worker"]);
    assert_eq!(touched(&frames), None);
    assert_eq!(
        caller(&frames).map(|f| f.function.as_str()),
        Some("main.worker")
    );
    let runtime_only = chain(&["runtime.mallocgc"]);
    assert_eq!(
        caller(&runtime_only).map(|f| f.function.as_str()),
        Some("runtime.mallocgc")
    );
}
