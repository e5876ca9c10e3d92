use std::collections::HashMap;

use super::*;
use crate::diff::test_reports::{line, map, object, program};
use crate::report::{hex, WatchReport, WatchedWordReport};

fn identities(report: &Report) -> Vec<Identity> {
    tally(report).into_keys().collect()
}

#[test]
fn addresses_pids_and_source_lines_do_not_matter() {
    let a = program(100, 0xc000014000, 1.0, 1.0);
    let mut b = program(4242, 0x7f0000a00000, 1.0, 1.0);
    for m in &mut b.maps {
        for f in &mut m.made_at {
            f.line = Some(999);
        }
    }
    assert_eq!(identities(&a), identities(&b));
    let stats = &identities(&a)[0];
    assert_eq!(stats.exe, "workload");
    assert_eq!(stats.objects.len(), 2, "two maps of one type: a multiset");
    assert_eq!(stats.objects[0].go_type.as_deref(), Some("map[int32]int"));
    assert_eq!(stats.objects[0].made_in.as_deref(), Some("main.newStats"));
    assert_eq!(
        stats.label,
        "workload: go-map map[int32]int from main.newStats [used] + go-map map[int32]int from main.newStats [used seed dirPtr]"
    );
}

#[test]
fn the_maker_is_the_innermost_frame_outside_the_runtime() {
    let mut m = map(1, 0x1000, "map[int]int", "main.build");
    assert_eq!(made_in(&m).as_deref(), Some("main.build"));
    m.made_at[1].function = "internal/runtime/maps.NewMap".to_owned();
    assert_eq!(
        made_in(&m).as_deref(),
        Some("main.worker"),
        "nothing outside the runtime"
    );
    m.made_at.clear();
    assert_eq!(made_in(&m).as_deref(), Some("main.worker"), "first_assign");
    m.first_assign.clear();
    assert_eq!(made_in(&m), None);
}

#[test]
fn slots_of_one_map_count_once_and_their_lines_add_up() {
    let r = program(100, 0xc000014000, 50_000.0, 20_000.0);
    let t = tally(&r);
    let cache = t
        .iter()
        .find(|(id, _)| id.objects[0].kind == "go-map-slot")
        .expect("cache lines");
    assert_eq!(cache.0.objects.len(), 1, "{:?}", cache.0);
    assert_eq!(
        cache.0.objects[0].go_type.as_deref(),
        Some("map[uint64]uint64")
    );
    assert_eq!(cache.1.lines, 2);
    assert_eq!(cache.1.cpu_ns_per_s, Some(40_000.0));
    // 2 × 2,000 transfers in 10 s.
    assert_eq!(cache.1.transfers_per_s, 400.0);
    let side = cache.1.side(ComparedBy::CpuTime);
    // Two lines of 20,000 ± 5%: σ = √2 × 1,000.
    assert!((side.rel_err - 2f64.sqrt() * 1_000.0 / 40_000.0).abs() < 1e-9);
    assert_eq!(side.verdict, Verdict::TrueSharing);
}

#[test]
fn words_watched_by_address_identify_a_line_only_alone() {
    let mut r = program(100, 0xc000014000, 1.0, 1.0);
    let word = 0xc000014020;
    let watched = |name: &str| {
        let mut o = object("watched", word, &[name], None);
        o.writer = Some(FrameReport {
            function: "main.bump".to_owned(),
            file: None,
            line: None,
            samples: 3,
        });
        o
    };
    let before = identities(&r);
    r.lines[0].objects.push(watched(&hex(word)));
    assert_eq!(
        identities(&r),
        before,
        "an auto-watched word changes nothing"
    );
    r.lines[0].objects.pop();
    r.lines[0].objects.push(watched("main.stats+8"));
    r.lines[0].watch = Some(WatchReport {
        words: vec![WatchedWordReport {
            addr: hex(word),
            len: 8,
            name: "main.stats+8".to_owned(),
            writes: 3,
            threads: 1,
            transfers: 0,
            active_s: 1.0,
            frames: Vec::new(),
        }],
        active_s: 1.0,
    });
    let named = identities(&r);
    assert_ne!(named, before);
    assert!(named.iter().any(|id| id
        .objects
        .iter()
        .any(|o| o.watched.as_deref() == Some("main.stats+8"))));
    // A line with nothing but a word watched by address: told by its writer.
    let alone = line(
        100,
        word,
        vec![watched(&hex(word))],
        5,
        None,
        Verdict::Private,
    );
    let maps = HashMap::new();
    let id = identity(&r, &maps, &alone);
    assert_eq!(id.objects[0].written_by.as_deref(), Some("main.bump"));
    assert_eq!(id.objects[0].watched, None);
}

#[test]
fn without_a_cost_the_rate_of_moves_stands_in() {
    let mut r = program(100, 0xc000014000, 1.0, 1.0);
    r.targets[0].overhead.recorded_s = None;
    r.duration_s = 4.0;
    let mut l = line(
        100,
        0x5000,
        vec![object("custom", 0x5000, &[], None)],
        0,
        None,
        Verdict::Private,
    );
    l.transfers = 100;
    l.est.transfers = Some(400);
    l.est.transfers_rel_err = Some(0.1);
    l.remote_reads = Some(44);
    l.est.remote_reads = None;
    r.lines = vec![l];
    let t = tally(&r);
    let (id, t) = t.iter().next().unwrap();
    assert_eq!(
        id.objects[0].probe.as_deref(),
        Some("runtime.mapassign_fast64")
    );
    assert_eq!(t.transfers_per_s, 100.0);
    assert_eq!(t.remote_reads_per_s, 11.0);
    assert_eq!(t.cpu_ns_per_s, None, "no transfer cost measured");
    assert!(!has_costs(&tally(&r)));
    let side = t.side(ComparedBy::Moves);
    // The estimate's error (40 of 444) and the counting noise of the 144 moves seen.
    let want = ((40.0f64 / 444.0).powi(2) + 1.0 / 144.0).sqrt();
    assert!((side.rel_err - want).abs() < 1e-9, "{}", side.rel_err);
    // With the machine's transfer cost, the CPU time follows.
    r.sources.line_transfer_ns = Some(100.0);
    let t = tally(&r);
    let t = t.values().next().unwrap();
    assert_eq!(t.cpu_ns_per_s, Some(11_100.0));
    // 20 s of CPU in 4 s: 5e9 ns/s.
    assert!((t.target_cpu_pct.unwrap() - 100.0 * 11_100.0 / 5e9).abs() < 1e-12);
}

#[test]
fn lines_only_sampled_are_told_by_their_names_or_code_not_their_address() {
    let sampled = |addr: u64| {
        let mut report = crate::report::test_report::with_sampled_line();
        report.lines.truncate(1);
        report.lines[0].objects.clear();
        report.lines[0].line = hex(addr);
        report.lines[0].data_samples = Some(crate::report::test_report::data_samples());
        report
    };
    let (a, b) = (sampled(0x59c500), sampled(0x7f0000a00040));
    assert_eq!(identities(&a), identities(&b));
    let id = &identities(&a)[0];
    assert_eq!(id.sampled.as_deref(), Some("main.hot.a main.hot.b"));
    assert_eq!(id.label, "app: sampled main.hot.a main.hot.b");
    // No names: the primitive and the code that touched it.
    let mut c = sampled(0x59c500);
    let data = c.lines[0].data_samples.as_mut().expect("data samples");
    data.names.clear();
    data.accesses[0].object = Some("sync.RWMutex.readerCount".to_owned());
    let id = &identities(&c)[0];
    assert_eq!(
        id.sampled.as_deref(),
        Some("sync.RWMutex.readerCount in main.worker")
    );
    assert_ne!(identities(&a), identities(&c));
}
