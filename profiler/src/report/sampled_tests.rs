use super::*;
use crate::report::test_report::{data_samples, sample};

#[test]
fn sampled_lines_join_the_line_at_their_address_or_come_as_their_own() {
    let mut lines = sample().lines;
    let probed = parse_line(&lines[0].line);
    let added = join(
        &mut lines,
        vec![
            ((42, probed), data_samples()),
            ((42, 0x59c500), data_samples()),
        ],
    );
    assert_eq!(added, 1, "one line nothing else saw");
    assert_eq!(lines.len(), 2);
    assert!(
        lines[0].data_samples.is_some(),
        "joined to the probes' line"
    );
    assert!(lines[0].writes > 0, "which keeps what the probes saw");
    assert_eq!(lines[1].line, "0x59c500");
    assert_eq!(lines[1].writes, 0);
    assert!(lines[1].data_samples.is_some());
}

fn parse_line(hex: &str) -> u64 {
    crate::report::parse_hex(hex).expect("a hex line")
}

#[test]
fn the_named_share_counts_named_lines_whole_and_others_by_their_code() {
    let named = data_samples(); // 120 samples, words named
    let mut by_code = data_samples();
    by_code.names.clear();
    by_code.samples = 80;
    by_code.accesses[0].samples = 30;
    by_code.accesses[0].object = Some("sync.Mutex.state".to_owned());
    let line = |at: u64, data: DataSamples| LineReport {
        data_samples: Some(data),
        ..rank::empty_line(42, at)
    };
    let mut lines = vec![line(0x1000, named), line(0x2000, by_code.clone())];
    // (120 + 30) of 200; a line without data samples counts for nothing.
    lines.push(rank::empty_line(42, 0x3000));
    assert_eq!(named_share(&lines), 0.75);
    by_code.accesses[0].object = None;
    let mut unnamed = line(0x2000, by_code);
    assert_eq!(named_share(std::slice::from_ref(&unnamed)), 0.0);
    // A Go map the probes saw in the line names it.
    let mut slot = sample().lines[0].objects[0].clone();
    slot.kind = ObjectKind::GoMapSlot;
    unnamed.objects.push(slot);
    assert_eq!(named_share(&[unnamed]), 1.0);
    assert_eq!(named_share(&[]), 0.0);
}

#[test]
fn a_line_s_share_is_of_its_target_s_samples() {
    assert_eq!(share(30, 120), 0.25);
    assert_eq!(share(30, 0), 0.0, "no total: unknown");
    assert_eq!(
        share(30, 20),
        1.0,
        "a total below the line's own counts as the line's"
    );
}

/// A line of `threads` threads, each writing word `w` of its own, `samples` in all.
fn line_of_threads(threads: usize, samples: u64, shared_word: bool) -> SampledLine {
    let mut s = SampledLine {
        samples,
        ..SampledLine::default()
    };
    for i in 0..threads.min(TRACKED_TIDS) {
        s.threads.tids[i] = 100 + i as u32;
        let word = if shared_word { 1 } else { 1 << i };
        (s.touched[i], s.written[i]) = (word, word);
    }
    s
}

#[test]
fn sharing_needs_eight_samples_and_reads_the_tracked_threads_beyond_eight() {
    assert_eq!(
        sharing(&line_of_threads(2, 7, false)),
        SampledSharing::Unknown
    );
    assert_eq!(
        sharing(&line_of_threads(2, 8, false)),
        SampledSharing::FalseSharing
    );
    assert_eq!(
        sharing(&line_of_threads(2, 8, true)),
        SampledSharing::TrueSharing
    );
    assert_eq!(
        sharing(&line_of_threads(1, 50, false)),
        SampledSharing::OneThread
    );
    let mut many = line_of_threads(8, 500, true);
    many.threads.tid_overflow = 40;
    assert!(!many.threads.tids_exact());
    assert_eq!(sharing(&many), SampledSharing::TrueSharing);
    many.written = [0; TRACKED_TIDS];
    assert_eq!(sharing(&many), SampledSharing::ReadShared);
}
