use super::*;

#[test]
fn metrics_are_prometheus_text_per_target() {
    let report = crate::report::test_report::sample();
    let text = prometheus_text(Some((7, &report)));
    let pid = report.targets[0].pid;
    assert!(text.contains("clprof_windows 7\n"), "{text}");
    let top = &report.lines[0];
    let want = format!(
        "clprof_top_line_transfers{{pid=\"{pid}\",exe=\"/srv/app\"}} {}\n",
        top.transfers
    );
    assert!(text.contains(&want), "{text}");
    // No transfer cost measured in the sample: the line cost is not a number.
    assert!(
        text.contains("clprof_line_cost_ns_per_s{pid=\"42\",exe=\"/srv/app\"} NaN\n"),
        "{text}"
    );
    let mut judged = report.clone();
    judged.sources.line_transfer_ns = Some(40.0);
    judged.targets[0].overhead.recorded_s = Some(5.0);
    judged.targets[0].overhead.cpu_s = Some(5.0);
    crate::report::judge::judge(&mut judged);
    let text = prometheus_text(Some((8, &judged)));
    // (16 transfers + 6 remote reads) × 40 ns over 5 s.
    assert!(
        text.contains("clprof_line_cost_ns_per_s{pid=\"42\",exe=\"/srv/app\"} 176\n"),
        "{text}"
    );
    assert!(
        text.contains("clprof_drops{kind=\"ringbuf\"} 0\n"),
        "{text}"
    );
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').expect("series value");
        assert!(series.starts_with("clprof_"), "{line}");
        assert!(value.parse::<f64>().is_ok(), "{line}");
    }
    assert_eq!(
        prometheus_text(None),
        "# HELP clprof_windows Windows finished.\n# TYPE clprof_windows gauge\nclprof_windows 0\n"
    );
    assert_eq!(label("a\"b\\c"), "a\\\"b\\\\c");
    // A target in a container carries its id and pod in every series.
    let mut contained = report.clone();
    contained.targets[0].container = Some(crate::inspect::container::Container {
        id: "ab".repeat(32),
        runtime: crate::inspect::container::Runtime::CriO,
        pod_uid: Some("9d2c3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f".to_owned()),
    });
    let text = prometheus_text(Some((9, &contained)));
    let want = format!(
        "clprof_top_line_writes{{pid=\"{pid}\",exe=\"/srv/app\",container_id=\"{}\",pod_uid=\"9d2c3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f\"}} ",
        "ab".repeat(32)
    );
    assert!(text.contains(&want), "{text}");
}

#[test]
fn sampled_lines_show_in_the_metrics() {
    let report = crate::report::test_report::with_sampled_line();
    let text = prometheus_text(Some((3, &report)));
    // The top line is the probed one: no data samples on it.
    assert!(
        text.contains("clprof_top_line_data_samples{pid=\"42\",exe=\"/srv/app\"} 0\n"),
        "{text}"
    );
    // The sampled line's words are falsely shared: 0.4 of the target's samples.
    assert!(
        text.contains("clprof_shared_line_sample_share{pid=\"42\",exe=\"/srv/app\"} 0.4\n"),
        "{text}"
    );
    let mut private = report.clone();
    let data = private.lines[1].data_samples.as_mut().unwrap();
    data.sharing = crate::report::SampledSharing::OneThread;
    let text = prometheus_text(Some((3, &private)));
    assert!(
        text.contains("clprof_shared_line_sample_share{pid=\"42\",exe=\"/srv/app\"} 0\n"),
        "{text}"
    );
}
