use super::*;
use crate::report::{hex, test_report, verdict::index};

fn map(addr: u64, ty: &str, made_in: &str, line: u32) -> MapReport {
    let mut m = test_report::sample().maps.remove(0);
    m.addr = hex(addr);
    m.go_type = Some(ty.to_owned());
    m.made_at = vec![
        FrameReport {
            function: "runtime.makemap_small".to_owned(),
            file: Some("/go/src/runtime/map.go".to_owned()),
            line: Some(300),
            samples: 1,
        },
        FrameReport {
            function: made_in.to_owned(),
            file: Some("/src/app/main.go".to_owned()),
            line: Some(line),
            samples: 1,
        },
    ];
    m
}

fn header(addr: u64, writers: u32) -> ObjectReport {
    ObjectReport {
        kind: ObjectKind::GoMap,
        addr: hex(addr),
        fields: vec!["count".to_owned(), "flags".to_owned()],
        written_fields: vec!["count".to_owned()],
        writes: 100,
        writers,
        assign: Some("runtime.mapassign_fast64".to_owned()),
        owner: None,
        writer: None,
    }
}

#[test]
fn false_sharing_names_both_maps_where_they_were_made_and_the_fix() {
    let maps = vec![
        map(0x1000, "map[int]int", "main.newStats", 12),
        map(0x1030, "map[string]int", "main.newCache", 40),
    ];
    let mut line = test_report::sample().lines.remove(0);
    line.objects = vec![header(0x1000, 1), header(0x1030, 1)];
    let text = advice(&line, Verdict::FalseSharing, &index(&maps)).expect("advice");
    for want in [
        "map[int]int made in main.newStats (main.go:12)",
        "map[string]int made in main.newCache (main.go:40)",
        "fields count, flags",
        "main.worker",
        "pad",
    ] {
        assert!(text.contains(want), "no {want:?} in {text:?}");
    }
}

#[test]
fn true_sharing_says_how_many_ways_to_shard() {
    let maps = vec![map(0x1000, "map[int]int", "main.main", 7)];
    let mut line = test_report::sample().lines.remove(0);
    line.objects = vec![header(0x1000, 3)];
    let text = advice(&line, Verdict::TrueSharing, &index(&maps)).expect("advice");
    assert!(text.contains("written by 3 threads"), "{text}");
    assert!(text.contains("Shard it 4 ways"), "{text}");
}

#[test]
fn growth_advises_the_size_seen() {
    let mut m = map(0x1000, "map[int]int", "main.load", 9);
    m.entries = Some(5000);
    let maps = vec![m];
    let mut line = test_report::sample().lines.remove(0);
    line.objects = vec![header(0x1000, 2)];
    line.growth_writes = Some(300);
    let text = advice(&line, Verdict::Growth, &index(&maps)).expect("advice");
    assert!(text.contains("make(map[int]int, 5000)"), "{text}");
}

#[test]
fn a_map_made_before_the_probes_is_named_where_first_written() {
    let mut m = map(0x1000, "map[int]int", "main.main", 7);
    m.made_at.clear();
    m.first_assign = vec![FrameReport {
        function: "main.fill".to_owned(),
        file: None,
        line: None,
        samples: 1,
    }];
    assert_eq!(describe_map(&m), "map[int]int first written in main.fill");
    m.first_assign.clear();
    assert_eq!(describe_map(&m), "map[int]int at 0x1000");
}

#[test]
fn races_and_read_write_sharing_get_their_fixes_and_private_lines_none() {
    let maps = vec![map(0x1000, "map[int]int", "main.main", 7)];
    let mut line = test_report::sample().lines.remove(0);
    line.objects = vec![header(0x1000, 2)];
    let race = advice(&line, Verdict::Race, &index(&maps)).expect("advice");
    assert!(
        race.contains("sync.Mutex") && race.contains("bug"),
        "{race}"
    );
    let rw = advice(&line, Verdict::ReadWriteSharing, &index(&maps)).expect("advice");
    assert!(
        rw.contains("atomic.Pointer") && rw.contains("RWMutex"),
        "{rw}"
    );
    assert_eq!(advice(&line, Verdict::Private, &index(&maps)), None);
}
