use super::*;

fn bytes_of(e: &SampleEvent) -> Vec<u8> {
    // SAFETY: SampleEvent is plain integers with explicit padding.
    unsafe {
        std::slice::from_raw_parts((e as *const SampleEvent).cast(), size_of::<SampleEvent>())
    }
    .to_vec()
}

#[test]
fn a_saved_stream_folds_like_the_live_one() {
    let a = SampleEvent {
        pid: 7,
        tid: 8,
        object: 0xc000_0100,
        lines: [0xc000_0100, 0],
        stack_id: 3,
        ..SampleEvent::default()
    };
    let b = SampleEvent { tid: 9, ..a };
    let race = SampleEvent {
        flags: SampleFlags::CONCURRENT,
        ..a
    };
    let mut stream = Vec::new();
    for e in [&a, &b, &race] {
        stream.extend(bytes_of(e));
    }
    stream.extend_from_slice(&[0u8; 5]); // a torn last record
    let mut samples = Samples::default();
    samples.fold_stream(&stream);
    assert_eq!(samples.total, 3);
    // Thread ids split only races.
    assert_eq!(samples.folded.len(), 2);
    assert_eq!(samples.folded[&SampleKey::from(&a)], 2);
    assert_eq!(samples.folded[&SampleKey::from(&race)], 1);
    assert_eq!(samples.first[&(7, 0xc000_0100)].stack_id, 3);
}

#[test]
fn a_million_distinct_keys_stay_within_the_cap() {
    let mut samples = Samples::default();
    for i in 0..1_000_000u64 {
        samples.add(&SampleEvent {
            pid: 7,
            object: 0xc000_0000 + 64 * i,
            lines: [0xc000_0000 + 64 * i, 0],
            stack_id: (i % 4096) as i64,
            ..SampleEvent::default()
        });
    }
    assert_eq!(samples.total, 1_000_000);
    assert_eq!(samples.folded.len(), MAX_SAMPLE_KEYS);
    assert!(samples.first.len() <= MAX_SAMPLE_KEYS);
    assert_eq!(samples.overflow, 1_000_000 - MAX_SAMPLE_KEYS as u64);
    // Keys already held keep counting.
    let held = *samples.folded.keys().next().expect("a key");
    let before = samples.folded[&held];
    samples.add(&SampleEvent {
        pid: held.pid,
        kind: held.kind,
        object: held.object,
        lines: held.lines,
        return_addr: held.return_addr,
        stack_id: held.stack_id,
        flags: held.flags,
        other_tid: held.other_tid,
        other_stack_id: held.other_stack_id,
        ..SampleEvent::default()
    });
    assert_eq!(samples.folded[&held], before + 1);
}
