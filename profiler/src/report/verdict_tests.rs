use super::*;
use crate::report::{test_report, ObjectReport};

fn object(kind: &str, addr: u64, writes: u64, writers: u32) -> ObjectReport {
    ObjectReport {
        kind: kind.parse().expect("an object kind"),
        addr: crate::report::hex(addr),
        fields: vec![],
        written_fields: vec![],
        writes,
        writers,
        assign: None,
        owner: None,
        writer: None,
    }
}

/// A line of two threads with the given moves, no reads, no growth, no race.
fn line(transfers: u64, objects: Vec<ObjectReport>) -> LineReport {
    let mut l = test_report::sample().lines.remove(0);
    l.writes = 1000;
    l.est.writes = Some(1000);
    l.transfers = transfers;
    l.est.transfers = Some(transfers);
    (l.reads, l.remote_reads, l.invalidations) = (Some(0), Some(0), Some(0));
    l.growth_writes = Some(0);
    l.concurrent_writers = Some(0);
    l.threads = 2;
    l.objects = objects;
    l
}

fn judge(l: &LineReport, flavor: LayoutFlavor) -> Verdict {
    verdict(l, &HashMap::new(), Some(flavor))
}

#[test]
fn two_objects_of_one_writer_each_are_false_sharing() {
    let l = line(
        400,
        vec![
            object("go-map", 0x1000, 500, 1),
            object("go-map", 0x1030, 500, 1),
        ],
    );
    assert_eq!(judge(&l, LayoutFlavor::Classic), Verdict::FalseSharing);
}

#[test]
fn one_object_of_two_writers_is_true_sharing() {
    let l = line(30, vec![object("go-map", 0x1000, 1000, 2)]);
    assert_eq!(judge(&l, LayoutFlavor::Swiss), Verdict::TrueSharing);
    // An object written by two threads beside one written by one: still true sharing.
    let l = line(
        30,
        vec![
            object("go-map", 0x1000, 900, 2),
            object("go-map", 0x1030, 100, 1),
        ],
    );
    assert_eq!(judge(&l, LayoutFlavor::Swiss), Verdict::TrueSharing);
}

#[test]
fn a_line_that_barely_moves_or_has_one_writer_is_private() {
    let l = line(0, vec![object("go-map", 0x1000, 1000, 2)]);
    assert_eq!(judge(&l, LayoutFlavor::Classic), Verdict::Private);
    // One move in 10,000 accesses.
    let mut l = line(1, vec![object("go-map", 0x1000, 1000, 2)]);
    (l.writes, l.est.writes) = (10_000, Some(10_000));
    assert_eq!(judge(&l, LayoutFlavor::Classic), Verdict::Private);
    // One writer thread moving between CPUs.
    let mut l = line(50, vec![object("go-map", 0x1000, 1000, 1)]);
    l.threads = 1;
    assert_eq!(judge(&l, LayoutFlavor::Classic), Verdict::Private);
}

#[test]
fn remote_reads_beyond_transfers_are_read_write_sharing() {
    let mut l = line(0, vec![object("go-map", 0x1000, 1000, 1)]);
    l.threads = 1;
    (l.reads, l.remote_reads, l.est.remote_reads) = (Some(5000), Some(300), Some(300));
    assert_eq!(judge(&l, LayoutFlavor::Classic), Verdict::ReadWriteSharing);
}

#[test]
fn growth_is_judged_by_the_share_of_each_layout() {
    let mut l = line(30, vec![object("go-map", 0x1000, 1000, 2)]);
    l.growth_writes = Some(5);
    // 0.5% of the writes: a swiss map growing a table every 200 writes, a classic map barely.
    assert_eq!(judge(&l, LayoutFlavor::Swiss), Verdict::Growth);
    assert_eq!(judge(&l, LayoutFlavor::Classic), Verdict::TrueSharing);
    l.growth_writes = Some(80);
    assert_eq!(judge(&l, LayoutFlavor::Classic), Verdict::Growth);
    // One thread filling a map: private, however it grows.
    l.threads = 1;
    assert_eq!(judge(&l, LayoutFlavor::Classic), Verdict::Private);
}

#[test]
fn a_race_comes_first() {
    let mut l = line(30, vec![object("go-map", 0x1000, 1000, 2)]);
    l.growth_writes = Some(500);
    l.concurrent_writers = Some(1);
    assert_eq!(judge(&l, LayoutFlavor::Classic), Verdict::Race);
    // A lookup racing a write, seen on the map whose header the line holds.
    l.concurrent_writers = Some(0);
    l.growth_writes = Some(0);
    let mut map = test_report::sample().maps.remove(0);
    (map.pid, map.addr) = (l.pid, crate::report::hex(0x1000));
    (map.concurrent_writers, map.read_races) = (0, Some(3));
    let maps = [map];
    let index = index(&maps);
    assert_eq!(
        verdict(&l, &index, Some(LayoutFlavor::Classic)),
        Verdict::Race
    );
    let maps = [MapReport {
        read_races: Some(0),
        ..maps[0].clone()
    }];
    assert_eq!(
        verdict(&l, &super::index(&maps), Some(LayoutFlavor::Classic)),
        Verdict::TrueSharing
    );
}

#[test]
fn a_line_seen_moving_a_handful_of_times_is_undecided() {
    // Two slots of a map written 3 times by two threads: the probes saw 3 moves.
    let mut l = line(
        3,
        vec![
            object("go-map-slot", 0x1000, 2, 1),
            object("go-map-slot", 0x1008, 1, 1),
        ],
    );
    (l.writes, l.est.writes) = (3, Some(3));
    assert_eq!(judge(&l, LayoutFlavor::Swiss), Verdict::Undecided);
    // Scaled up from windows, the estimate does not make the moves seen more.
    l.est.transfers = Some(300);
    assert_eq!(judge(&l, LayoutFlavor::Swiss), Verdict::Undecided);
    l.transfers = MIN_MOVES_SEEN;
    assert_eq!(judge(&l, LayoutFlavor::Swiss), Verdict::FalseSharing);
}

/// A line no probe saw, with data samples of `sharing`.
fn sampled_line(sharing: SampledSharing) -> LineReport {
    LineReport {
        data_samples: Some(crate::report::DataSamples {
            sharing,
            ..test_report::data_samples()
        }),
        ..crate::report::rank::empty_line(42, 0x59c500)
    }
}

#[test]
fn a_line_only_the_data_samples_saw_is_judged_by_their_words() {
    for (sharing, expected) in [
        (SampledSharing::FalseSharing, Verdict::FalseSharing),
        (SampledSharing::TrueSharing, Verdict::TrueSharing),
        (SampledSharing::ReadShared, Verdict::Private),
        (SampledSharing::OneThread, Verdict::Private),
        (SampledSharing::Unknown, Verdict::Undecided),
    ] {
        let l = sampled_line(sharing);
        assert_eq!(judge(&l, LayoutFlavor::Swiss), expected, "{sharing:?}");
    }
    // Nothing seen at all: private.
    let l = crate::report::rank::empty_line(42, 0x59c500);
    assert_eq!(judge(&l, LayoutFlavor::Swiss), Verdict::Private);
}

#[test]
fn data_samples_of_sharing_override_a_private_probe_verdict_only() {
    // A map header one thread writes, beside a lock word two threads take.
    let mut l = line(0, vec![object("go-map", 0x1000, 1000, 1)]);
    l.threads = 1;
    l.data_samples = sampled_line(SampledSharing::TrueSharing).data_samples;
    assert_eq!(judge(&l, LayoutFlavor::Swiss), Verdict::TrueSharing);
    // Samples that find one thread do not make a shared map line private.
    let mut l = line(400, vec![object("go-map", 0x1000, 1000, 2)]);
    l.data_samples = sampled_line(SampledSharing::OneThread).data_samples;
    assert_eq!(judge(&l, LayoutFlavor::Swiss), Verdict::TrueSharing);
}

/// Two maps' headers on one line, each written 500 times by `writers` threads, 60 of the writes
/// seen during growth (6%).
fn growing_maps(writers: u32) -> LineReport {
    let mut l = line(
        300,
        vec![
            object("go-map", 0x1000, 500, writers),
            object("go-map", 0x1030, 500, writers),
        ],
    );
    l.growth_writes = Some(60);
    l
}

#[test]
fn sampled_false_sharing_overrides_growth_and_true_sharing_does_not() {
    // Two maps' headers, each written by its own thread, 6% of the writes seen during growth
    // (their start-up fill).
    let mut l = growing_maps(1);
    assert_eq!(judge(&l, LayoutFlavor::Classic), Verdict::Growth);
    l.data_samples = sampled_line(SampledSharing::FalseSharing).data_samples;
    assert_eq!(judge(&l, LayoutFlavor::Classic), Verdict::FalseSharing);
    // Two threads in one growing map: its growth stands.
    l.data_samples = sampled_line(SampledSharing::TrueSharing).data_samples;
    assert_eq!(judge(&l, LayoutFlavor::Classic), Verdict::Growth);
}

#[test]
fn growth_is_the_share_of_the_sampled_writes_where_windows_sampled_them() {
    // 6% of the writes seen came during growth, all of them outside the sampled windows (a
    // launched program's start-up fill): no steady growth.
    let mut l = growing_maps(2);
    assert_eq!(judge(&l, LayoutFlavor::Classic), Verdict::Growth);
    l.sampled.writes = 700;
    assert_eq!(judge(&l, LayoutFlavor::Classic), Verdict::TrueSharing);
    // 3% of the sampled writes during growth: it keeps growing.
    l.sampled.growth_writes = 21;
    assert_eq!(judge(&l, LayoutFlavor::Classic), Verdict::Growth);
}
