//! A sample report for tests, and the report's schema tests.

use super::*;

/// A small report with one target, line, object and map.
pub(crate) fn sample() -> Report {
    Report {
        schema: SCHEMA.to_owned(),
        started_at: "2026-11-22T03:00:00Z".to_owned(),
        duration_s: 5.0,
        targets: vec![TargetInfo {
            pid: 42,
            ns_pid: Some(42),
            exe: "/srv/app".to_owned(),
            go_version: Some("go1.27.3".to_owned()),
            map_layout: Some(crate::inspect::LayoutFlavor::Swiss),
            layout_source: Some(crate::inspect::LayoutSource::Dwarf),
            symbols_source: Some(crate::inspect::SymbolsSource::Symtab),
            exited: false,
            build_id: None,
            probe_active_fraction: Some(0.25),
            probe_hits: Some(20),
            probe_windows: Some(3),
            estimated_overhead_pct: Some(1.5),
            probe_hit_cost_ns: Some(9_000),
            probe_hit_cost_source: Some(HitCostSource::Measured),
            est_scale: Some(4.0),
            est_scale_rel_err: Some(0.1),
        }],
        sources: Sources {
            uprobes: vec![UprobeSource {
                binary: "/srv/app".to_owned(),
                symbol: "runtime.mapassign_fast64".to_owned(),
                hits: 10,
            }],
            perf: "none".to_owned(),
            pmu_available: false,
            overhead_budget_pct: 2.0,
            probe_active_fraction: 0.25,
            estimated_overhead_pct: Some(1.5),
            probe_hit_cost_ns: Some(27_000),
            perf_sample_cost_ns: None,
            perf_sample_hz: None,
            perf_samples: None,
            probe_trampoline_samples: None,
        },
        drops: Drops::default(),
        events: 10,
        samples: 1,
        lines: vec![LineReport {
            line: hex(0xc000014140),
            pid: 42,
            writes: 10,
            samples: 1,
            threads: 2,
            threads_exact: true,
            cpus: 2,
            transfers: 4,
            est_writes: Some(40),
            est_writes_rel_err: Some(0.2),
            est_transfers: Some(16),
            est_transfers_rel_err: Some(0.3),
            growth_writes: None,
            concurrent_writers: None,
            l1_miss_samples: None,
            objects: vec![ObjectReport {
                kind: "go-map".to_owned(),
                addr: hex(0xc000014150),
                fields: vec!["used".to_owned()],
                written_fields: vec!["used".to_owned()],
                writes: 10,
                writers: 2,
                assign: Some("runtime.mapassign_fast64".to_owned()),
                owner: None,
            }],
            top_frames: vec![FrameReport {
                function: "main.worker".to_owned(),
                file: Some("/src/main.go".to_owned()),
                line: Some(31),
                samples: 1,
            }],
        }],
        maps: vec![MapReport {
            pid: 42,
            addr: hex(0xc000014150),
            go_type: Some("map[int]int".to_owned()),
            key_kind: "fast64".to_owned(),
            assign: "runtime.mapassign_fast64".to_owned(),
            writes: 10,
            est_writes: Some(40),
            est_writes_rel_err: Some(0.2),
            writers: 2,
            growth_writes: 1,
            concurrent_writers: 1,
            perf_samples: None,
            lines: vec![hex(0xc000014140)],
            latency: Some(LatencyReport {
                count: 10,
                p50_ns: 1023,
                p99_ns: 4095,
            }),
            first_assign: vec![],
            races: vec![RaceReport {
                tid: 7,
                other_tid: Some(8),
                frames: vec![],
                other_frames: vec![],
            }],
        }],
        functions: vec![],
        stacks: vec![],
        notices: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use super::sample;
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
    fn json_has_every_field_of_the_clprof_1_schema() {
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
        assert_eq!(
            keys(&v["targets"][0]),
            [
                "build_id",
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
                "probe_active_fraction",
                "probe_hit_cost_ns",
                "probe_hit_cost_source",
                "probe_hits",
                "probe_windows",
                "symbols_source"
            ]
        );
        assert_eq!(
            keys(&v["sources"]),
            [
                "estimated_overhead_pct",
                "overhead_budget_pct",
                "perf",
                "perf_sample_cost_ns",
                "perf_sample_hz",
                "perf_samples",
                "pmu_available",
                "probe_active_fraction",
                "probe_hit_cost_ns",
                "probe_trampoline_samples",
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
        let line = &v["lines"][0];
        assert_eq!(
            keys(line),
            [
                "concurrent_writers",
                "cpus",
                "est_transfers",
                "est_transfers_rel_err",
                "est_writes",
                "est_writes_rel_err",
                "growth_writes",
                "l1_miss_samples",
                "line",
                "objects",
                "pid",
                "samples",
                "threads",
                "threads_exact",
                "top_frames",
                "transfers",
                "writes"
            ]
        );
        assert_eq!(line["line"], "0xc000014140");
        assert!(line["growth_writes"].is_null());
        assert_eq!(
            keys(&line["objects"][0]),
            [
                "addr",
                "assign",
                "fields",
                "kind",
                "owner",
                "writers",
                "writes",
                "written_fields"
            ]
        );
        let map = &v["maps"][0];
        assert_eq!(
            keys(map),
            [
                "addr",
                "assign",
                "concurrent_writers",
                "est_writes",
                "est_writes_rel_err",
                "first_assign",
                "go_type",
                "growth_writes",
                "key_kind",
                "latency",
                "lines",
                "perf_samples",
                "pid",
                "races",
                "writers",
                "writes"
            ]
        );
        assert_eq!(keys(&map["latency"]), ["count", "p50_ns", "p99_ns"]);
        assert!(v["stacks"].as_array().is_some_and(|s| s.is_empty()));
        assert_eq!(
            keys(&map["races"][0]),
            ["frames", "other_frames", "other_tid", "tid"]
        );
        assert_eq!(
            keys(&line["top_frames"][0]),
            ["file", "function", "line", "samples"]
        );
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
}
