use std::io::Read as _;

use super::*;
use crate::inspect::container::{Container, Runtime};

/// The profile of `report`, decoded.
fn decoded(report: &Report) -> Profile {
    let gz = pprof(report).expect("pprof");
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut bytes)
        .expect("gunzip");
    <Profile as prost::Message>::decode(&bytes[..]).expect("decode")
}

/// Every sample's labels as (key, value) strings.
fn labels(p: &Profile) -> Vec<Vec<(String, String)>> {
    let s = |i: i64| p.string_table[i as usize].clone();
    p.sample
        .iter()
        .map(|x| x.label.iter().map(|l| (s(l.key), s(l.str))).collect())
        .collect()
}

#[test]
fn samples_carry_their_targets_container() {
    let mut report = crate::report::test_report::sample();
    let plain = labels(&decoded(&report));
    assert!(!plain.is_empty());
    assert!(
        plain
            .iter()
            .flatten()
            .all(|(k, _)| !k.starts_with("container")),
        "no container, no label: {plain:?}"
    );
    report.targets[0].container = Some(Container {
        id: "ab".repeat(32),
        runtime: Runtime::Containerd,
        pod_uid: Some("9d2c3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f".to_owned()),
    });
    for sample in labels(&decoded(&report)) {
        let get = |k: &str| {
            sample
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(
            get("container_id"),
            Some("ab".repeat(32).as_str()),
            "{sample:?}"
        );
        assert_eq!(get("container_runtime"), Some("containerd"));
        assert_eq!(get("pod_uid"), Some("9d2c3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"));
    }
}

/// Every sample's values, summed per sample type.
fn totals(p: &Profile) -> Vec<i64> {
    let mut sums = vec![0; p.sample_type.len()];
    for s in &p.sample {
        for (sum, v) in sums.iter_mut().zip(&s.value) {
            *sum += v;
        }
    }
    sums
}

#[test]
fn one_targets_profile_holds_its_lines_and_mapping_alone() {
    let mut report = crate::report::test_report::sample();
    let mut other = report.targets[0].clone();
    other.pid = 43;
    other.exe = "/srv/other".to_owned();
    report.targets.push(other);
    let mut line = report.lines[0].clone();
    line.pid = 43;
    line.transfers = 100;
    line.writes = 200;
    report.lines.push(line);

    let decode = |gz: Vec<u8>| {
        let mut bytes = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut bytes)
            .expect("gunzip");
        <Profile as prost::Message>::decode(&bytes[..]).expect("decode")
    };
    let whole = decoded(&report);
    assert_eq!(whole.mapping.len(), 2);
    assert_eq!(totals(&whole)[..2], [104, 210]);
    for (pid, exe, transfers, writes) in [(42, "/srv/app", 4, 10), (43, "/srv/other", 100, 200)] {
        let one = decode(pprof_of_target(&report, pid).expect("pprof"));
        let names: Vec<&str> = one
            .mapping
            .iter()
            .map(|m| one.string_table[m.filename as usize].as_str())
            .collect();
        assert_eq!(names, [exe], "pid {pid}");
        assert_eq!(totals(&one)[..2], [transfers, writes], "pid {pid}");
        let types: Vec<&str> = one
            .sample_type
            .iter()
            .map(|t| one.string_table[t.r#type as usize].as_str())
            .collect();
        let want: Vec<&str> = SAMPLE_TYPES.iter().map(|t| t.name).collect();
        assert_eq!(types, want);
    }
    let nobody = decode(pprof_of_target(&report, 7).expect("pprof"));
    assert!(nobody.sample.is_empty() && nobody.mapping.is_empty());
}

#[test]
fn windows_merge_into_one_profile_of_their_span() {
    let report = crate::report::test_report::sample();
    let one = decoded(&report);
    let gz = merged(&[&report, &report], 1_000_000_000, 2_500_000_000).expect("merged");
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut bytes)
        .expect("gunzip");
    let both = <Profile as prost::Message>::decode(&bytes[..]).expect("decode");
    assert_eq!(
        (both.time_nanos, both.duration_nanos),
        (1_000_000_000, 2_500_000_000)
    );
    assert_eq!(both.sample.len(), 2 * one.sample.len());
    // One mapping per target and one location per address, shared by the windows.
    assert_eq!(both.mapping.len(), one.mapping.len());
    assert_eq!(both.location.len(), one.location.len());
    let total = |p: &Profile| p.sample.iter().map(|s| s.value[0]).sum::<i64>();
    assert_eq!(total(&both), 2 * total(&one));
}

#[test]
fn data_samples_are_their_own_sample_type_on_their_stacks() {
    let report = crate::report::test_report::with_sampled_line();
    let p = decoded(&report);
    let data = SAMPLE_TYPES
        .iter()
        .position(|t| t.name == "data_samples")
        .expect("a data_samples type");
    // The sampled line's 120 samples, and nothing of it in the probes' types.
    assert_eq!(totals(&p)[data], 120);
    let s = |i: i64| p.string_table[i as usize].as_str();
    let sampled: Vec<&Sample> = p
        .sample
        .iter()
        .filter(|x| x.label.iter().any(|l| s(l.str) == "0x59c500"))
        .collect();
    assert_eq!(sampled.len(), 1, "one stack");
    assert_eq!(sampled[0].value, [0, 0, 0, 120, 0], "no cost judged yet");
    // Leaf first: the access in main.worker, then its caller.
    let functions: Vec<&str> = sampled[0]
        .location_id
        .iter()
        .map(|&id| {
            let loc = &p.location[id as usize - 1];
            let f = &p.function[loc.line[0].function_id as usize - 1];
            s(f.name)
        })
        .collect();
    assert_eq!(functions, ["main.worker", "main.main.func1"]);
    let fields = sampled[0]
        .label
        .iter()
        .find(|l| s(l.key) == "fields")
        .map(|l| s(l.str));
    assert_eq!(fields, Some("main.hot.a,main.hot.b"));
}

#[test]
fn cost_is_cpu_time_on_the_stacks_the_cost_rests_on() {
    let mut report = crate::report::test_report::with_sampled_line();
    report.sources.line_transfer_ns = Some(40.0);
    report.targets[0].overhead.recorded_s = Some(5.0);
    report.targets[0].overhead.cpu_s = Some(10.0);
    report.maps[0].concurrent_writers = 0;
    crate::report::judge::judge(&mut report);
    let p = decoded(&report);
    let cost = SAMPLE_TYPES
        .iter()
        .position(|t| t.name == "cost")
        .expect("a cost type");
    let unit = p.sample_type[cost].unit;
    assert_eq!(p.string_table[unit as usize], "nanoseconds");
    let s = |i: i64| p.string_table[i as usize].as_str();
    let of_line = |line: &str| -> Vec<&Sample> {
        p.sample
            .iter()
            .filter(|x| {
                x.label
                    .iter()
                    .any(|l| s(l.key) == "line" && s(l.str) == line)
            })
            .collect()
    };
    for l in &report.lines {
        let c = l.cost.expect("judged");
        let want = (c.cpu_ns_per_s * 5.0).round() as i64;
        let rows = of_line(&l.line);
        let total: i64 = rows.iter().map(|x| x.value[cost]).sum();
        assert_eq!(total, want, "{}: {c:?}", l.line);
        // On the data samples' rows where the samples cost it, else on the probes' rows.
        let sampled = |x: &&&Sample| x.label.iter().any(|l| s(l.str) == "sampled");
        let on_sampled: i64 = rows.iter().filter(sampled).map(|x| x.value[cost]).sum();
        match c.basis {
            crate::report::CostBasis::Samples => assert_eq!(on_sampled, want, "{}", l.line),
            crate::report::CostBasis::Moves => assert_eq!(on_sampled, 0, "{}", l.line),
        }
    }
    // The sampled line: 40% of 2 CPUs for 5 s.
    let sampled: i64 = of_line("0x59c500").iter().map(|x| x.value[cost]).sum();
    assert_eq!(sampled, 4_000_000_000);
}
