use super::*;
use crate::report::test_report::sample;
use serde_json::Value;

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    k.sort_unstable();
    k
}

#[test]
fn a_watch_report_has_its_words_and_the_time_watched() {
    let watch = WatchReport {
        words: vec![WatchedWordReport {
            addr: hex(0xc000014148),
            len: 8,
            name: "main.stats+8".to_owned(),
            writes: 3,
            threads: 2,
            transfers: 2,
            active_s: 1.5,
            frames: Vec::new(),
        }],
        active_s: 1.5,
    };
    let v = serde_json::to_value(&watch).expect("serialize");
    assert_eq!(keys(&v), ["active_s", "words"]);
    assert_eq!(
        keys(&v["words"][0]),
        [
            "active_s",
            "addr",
            "frames",
            "len",
            "name",
            "threads",
            "transfers",
            "writes"
        ]
    );
    let back: WatchReport = serde_json::from_value(v).expect("deserialize");
    assert_eq!(back, watch);
}

/// The report's own fields.
#[test]
fn json_has_every_top_level_field_of_the_clprof_1_schema() {
    let v = serde_json::to_value(sample()).expect("serialize");
    assert_eq!(v["schema"], "clprof/1");
    assert_eq!(
        keys(&v),
        [
            "drops",
            "duration_s",
            "events",
            "functions",
            "lines",
            "maps",
            "notices",
            "samples",
            "schema",
            "sources",
            "stacks",
            "started_at",
            "targets"
        ]
    );
}

/// Each target's fields, and the sources'.
#[test]
fn json_targets_and_sources_have_every_field() {
    let v = serde_json::to_value(sample()).expect("serialize");
    assert_eq!(
        keys(&v["targets"][0]),
        [
            "build_id",
            "container",
            "cpu_s",
            "est_lower_bound",
            "est_read_scale",
            "est_read_scale_rel_err",
            "est_scale",
            "est_scale_rel_err",
            "estimated_overhead_pct",
            "exe",
            "exited",
            "go_version",
            "layout_source",
            "map_layout",
            "ns_pid",
            "pid",
            "pooled_budget_pct",
            "probe_active_fraction",
            "probe_hit_cost_ns",
            "probe_hit_cost_source",
            "probe_hits",
            "probe_windows",
            "read_probe_active_fraction",
            "read_probe_hits",
            "read_probe_windows",
            "recorded_s",
            "symbols_source",
            "watch_hit_cost_ns",
            "watch_hit_cost_source",
            "watch_hits"
        ]
    );
    assert_eq!(
        keys(&v["sources"]),
        [
            "budget_scope",
            "calibration_age_s",
            "data_addresses",
            "estimated_overhead_pct",
            "line_transfer",
            "line_transfer_ns",
            "overhead_budget_pct",
            "perf",
            "perf_sample_cost_ns",
            "perf_sample_hz",
            "perf_samples",
            "pmu_available",
            "probe_active_fraction",
            "probe_hit_cost_ns",
            "probe_trampoline_samples",
            "total_overhead_pct",
            "uprobes"
        ]
    );
    assert_eq!(
        keys(&v["sources"]["uprobes"][0]),
        ["binary", "hits", "symbol"]
    );
    assert_eq!(
        keys(&v["drops"]),
        ["map_full", "ringbuf", "samples_overflow", "stacks"]
    );
}

/// A line's fields, its objects' and its frames'.
#[test]
fn json_lines_have_every_field() {
    let v = serde_json::to_value(sample()).expect("serialize");
    let line = &v["lines"][0];
    assert_eq!(
        keys(line),
        [
            "advice",
            "concurrent_writers",
            "contention",
            "cost",
            "cpus",
            "data_samples",
            "est_invalidations",
            "est_invalidations_rel_err",
            "est_reads",
            "est_reads_rel_err",
            "est_remote_reads",
            "est_remote_reads_rel_err",
            "est_transfers",
            "est_transfers_rel_err",
            "est_writes",
            "est_writes_rel_err",
            "growth_writes",
            "invalidations",
            "l1_miss_samples",
            "line",
            "objects",
            "pid",
            "reader_threads",
            "reads",
            "remote_reads",
            "samples",
            "threads",
            "threads_exact",
            "top_frames",
            "transfers",
            "verdict",
            "watch",
            "writes"
        ]
    );
    assert_eq!(line["line"], "0xc000014140");
    assert!(line["watch"].is_null(), "no word of the line was watched");
    assert!(
        line["data_samples"].is_null(),
        "no data sample fell in the line"
    );
    assert!(line["growth_writes"].is_null());
    assert_eq!(
        keys(&line["objects"][0]),
        [
            "addr",
            "assign",
            "fields",
            "kind",
            "owner",
            "writer",
            "writers",
            "writes",
            "written_fields"
        ]
    );
    assert_eq!(
        keys(&line["top_frames"][0]),
        ["file", "function", "line", "samples"]
    );
}

/// A map's fields, its latency's and its races'.
#[test]
fn json_maps_have_every_field() {
    let v = serde_json::to_value(sample()).expect("serialize");
    let map = &v["maps"][0];
    assert_eq!(
        keys(map),
        [
            "addr",
            "assign",
            "clears",
            "concurrent_writers",
            "deletes",
            "entries",
            "est_reads",
            "est_reads_rel_err",
            "est_writes",
            "est_writes_rel_err",
            "first_assign",
            "go_type",
            "growth_writes",
            "iterations",
            "key_kind",
            "latency",
            "lines",
            "made_at",
            "perf_samples",
            "pid",
            "races",
            "read_races",
            "reads",
            "writers",
            "writes"
        ]
    );
    assert_eq!(keys(&map["latency"]), ["count", "p50_ns", "p99_ns"]);
    assert!(v["stacks"].as_array().is_some_and(|s| s.is_empty()));
    assert_eq!(
        keys(&map["races"][0]),
        ["frames", "kind", "other_frames", "other_tid", "tid"]
    );
    assert_eq!(map["races"][0]["kind"], "write-write");
}

#[test]
fn json_round_trips() {
    let report = sample();
    let text = serde_json::to_string(&report).expect("serialize");
    let back: Report = serde_json::from_str(&text).expect("deserialize");
    assert_eq!(back, report);
}

#[test]
fn hex_addresses_parse_back() {
    assert_eq!(parse_hex(&hex(0xc000014140)), Some(0xc000014140));
    assert_eq!(parse_hex("c000"), None);
    assert_eq!(parse_hex("0xzz"), None);
}

/// A line's data samples: their fields, their threads' words and accesses, and the decoding's
/// counts.
#[test]
fn json_data_samples_have_every_field() {
    let v =
        serde_json::to_value(crate::report::test_report::with_sampled_line()).expect("serialize");
    let line = &v["lines"][1]["data_samples"];
    assert_eq!(
        keys(line),
        [
            "accesses",
            "cpus",
            "loads",
            "locked",
            "names",
            "samples",
            "share",
            "sharing",
            "stacks",
            "stores",
            "threads",
            "threads_exact",
            "unknown_kind",
            "updates",
            "words"
        ]
    );
    assert_eq!(keys(&line["words"][0]), ["tid", "touched", "written"]);
    assert_eq!(keys(&line["accesses"][0]), ["frame", "object", "samples"]);
    assert_eq!(keys(&line["names"][0]), ["name", "word"]);
    assert_eq!(keys(&line["stacks"][0]), ["frames", "samples"]);
    assert_eq!(keys(&line["stacks"][0]["frames"][0]), ["addr", "lines"]);
    assert_eq!(line["sharing"], "false-sharing");
    for sharing in [
        crate::report::SampledSharing::FalseSharing,
        crate::report::SampledSharing::TrueSharing,
        crate::report::SampledSharing::ReadShared,
        crate::report::SampledSharing::OneThread,
        crate::report::SampledSharing::Unknown,
    ] {
        assert_eq!(
            serde_json::to_value(sharing).expect("serialize"),
            sharing.as_str()
        );
    }
    assert_eq!(
        keys(&v["sources"]["data_addresses"]),
        [
            "address_samples",
            "decoded_ips",
            "ips_without_access",
            "named_share",
            "operand_samples",
            "undecoded_samples",
            "unreadable_ips"
        ]
    );
}

/// A cost's fields, and the names of its bases and of the verdicts.
#[test]
fn json_costs_and_verdicts_have_their_names() {
    let cost = crate::report::Cost {
        cpu_ns_per_s: 1.0,
        target_cpu_pct: 0.5,
        rel_err: 0.1,
        basis: crate::report::CostBasis::Samples,
    };
    let v = serde_json::to_value(cost).expect("serialize");
    assert_eq!(
        keys(&v),
        ["basis", "cpu_ns_per_s", "rel_err", "target_cpu_pct"]
    );
    assert_eq!(v["basis"], "samples");
    // A cost written before it had a basis was measured from moves.
    let old: crate::report::Cost =
        serde_json::from_str(r#"{"cpu_ns_per_s": 1.0, "target_cpu_pct": 0.5, "rel_err": 0.1}"#)
            .expect("deserialize");
    assert_eq!(old.basis, crate::report::CostBasis::Moves);
    for verdict in [
        Verdict::FalseSharing,
        Verdict::TrueSharing,
        Verdict::ReadWriteSharing,
        Verdict::Growth,
        Verdict::Race,
        Verdict::Private,
        Verdict::Undecided,
    ] {
        assert_eq!(
            serde_json::to_value(verdict).expect("serialize"),
            verdict.as_str()
        );
    }
}
