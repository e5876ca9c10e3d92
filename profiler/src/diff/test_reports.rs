//! Reports for the diff's tests: one program, recorded twice at different addresses.

use crate::report::{test_report::sample, *};

fn frame(function: &str) -> FrameReport {
    FrameReport {
        function: function.to_owned(),
        file: Some("/src/main.go".to_owned()),
        line: Some(10),
        samples: 1,
    }
}

/// A Go map of `go_type` made by `made_in` (below a runtime frame).
pub(crate) fn map(pid: u32, addr: u64, go_type: &str, made_in: &str) -> MapReport {
    MapReport {
        pid,
        addr: hex(addr),
        go_type: Some(go_type.to_owned()),
        made_at: vec![frame("runtime.makemap_small"), frame(made_in)],
        first_assign: vec![frame("main.worker")],
        ..sample().maps[0].clone()
    }
}

/// An object of `kind` at `addr` with `fields` in the line.
pub(crate) fn object(kind: &str, addr: u64, fields: &[&str], owner: Option<u64>) -> ObjectReport {
    ObjectReport {
        kind: kind.parse().expect("an object kind"),
        addr: hex(addr),
        fields: fields.iter().map(|f| f.to_string()).collect(),
        written_fields: Vec::new(),
        owner: owner.map(hex),
        ..sample().lines[0].objects[0].clone()
    }
}

/// A line with `objects`, `transfers` moves (estimated as many) and, when given, its cost in
/// ns/s with a 5% error.
pub(crate) fn line(
    pid: u32,
    addr: u64,
    objects: Vec<ObjectReport>,
    transfers: u64,
    cost_ns: Option<f64>,
    verdict: Verdict,
) -> LineReport {
    let base = sample().lines[0].clone();
    LineReport {
        line: hex(addr & !63),
        pid,
        transfers,
        remote_reads: Some(0),
        est: LineEstimates {
            transfers: Some(transfers),
            transfers_rel_err: Some(0.0),
            remote_reads: Some(0),
            ..base.est
        },
        verdict,
        cost: cost_ns.map(|ns| Cost {
            cpu_ns_per_s: ns,
            target_cpu_pct: ns / 2e7,
            rel_err: 0.05,
            basis: crate::report::CostBasis::Moves,
        }),
        objects,
        ..base
    }
}

/// The program: two stats maps whose headers share a line (false sharing, `stats_ns` of cost)
/// and two bucket lines of a shared cache (true sharing, `cache_ns` each), recorded under `pid`
/// at heap addresses from `base`, 10 s.
pub(crate) fn program(pid: u32, base: u64, stats_ns: f64, cache_ns: f64) -> Report {
    let mut r = sample();
    r.duration_s = 10.0;
    r.targets[0].pid = pid;
    r.targets[0].exe = "/opt/bin/workload".to_owned();
    r.targets[0].overhead.recorded_s = Some(10.0);
    r.targets[0].overhead.cpu_s = Some(20.0);
    let (a, b, cache) = (base, base + 48, base + 0x1000);
    r.maps = vec![
        map(pid, a, "map[int32]int", "main.newStats"),
        map(pid, b, "map[int32]int", "main.newStats"),
        map(pid, cache, "map[uint64]uint64", "main.init"),
    ];
    let moves = |ns: f64| (ns / 100.0) as u64 * 10;
    r.lines = vec![
        line(
            pid,
            a,
            vec![
                object("go-map", a, &["used", "seed", "dirPtr"], None),
                object("go-map", b, &["used"], None),
            ],
            moves(stats_ns),
            Some(stats_ns),
            Verdict::FalseSharing,
        ),
        line(
            pid,
            cache + 0x2000,
            vec![
                object("go-map-slot", cache + 0x2000, &["value"], Some(cache)),
                object("go-map-slot", cache + 0x2008, &["value"], Some(cache)),
            ],
            moves(cache_ns),
            Some(cache_ns),
            Verdict::TrueSharing,
        ),
        line(
            pid,
            cache + 0x3000,
            vec![object(
                "go-map-slot",
                cache + 0x3010,
                &["value"],
                Some(cache),
            )],
            moves(cache_ns),
            Some(cache_ns),
            Verdict::TrueSharing,
        ),
    ];
    r
}
