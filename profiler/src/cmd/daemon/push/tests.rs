use std::time::Duration;

use super::ingest::*;
use super::*;
use crate::inspect::container::{Container, Runtime};

fn labels(args: &[&str]) -> Result<Vec<(String, String)>, ConfigError> {
    parse_labels(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn labels_are_prometheus_names_with_plain_values() {
    assert_eq!(
        labels(&["node=n1", "cluster=eu-1", "_x=a=b"]).map_err(|e| e.to_string()),
        Err("--label _x=a=b: the value must be non-empty, without `,` `{` `}` `=` `\"`, control characters or spaces at either end; e.g. --label node=n1".to_owned())
    );
    assert_eq!(
        labels(&["node=n1", "cluster=eu-1.b/c:d", "_x9=v"]).unwrap(),
        pairs(&[("node", "n1"), ("cluster", "eu-1.b/c:d"), ("_x9", "v")])
    );
    assert!(matches!(
        labels(&["node"]),
        Err(ConfigError::LabelSyntax { .. })
    ));
    for bad in ["9node=x", "no-de=x", "nöde=x", "=x", "a.b=x", "a b=x"] {
        assert!(
            matches!(labels(&[bad]), Err(ConfigError::LabelName { .. })),
            "{bad}: {:?}",
            labels(&[bad])
        );
    }
    for bad in [
        "k=", "k=a,b", "k=a}", "k={a", "k= a", "k=a ", "k=a\"b", "k=a\nb",
    ] {
        assert!(
            matches!(labels(&[bad]), Err(ConfigError::LabelValue { .. })),
            "{bad:?}: {:?}",
            labels(&[bad])
        );
    }
    for reserved in [
        "pid=1",
        "pod_uid=x",
        "service_name=x",
        "__name__=x",
        "__x=y",
    ] {
        assert!(
            matches!(labels(&[reserved]), Err(ConfigError::LabelReserved { .. })),
            "{reserved}"
        );
    }
    assert_eq!(
        labels(&["node=a", "node=b"]),
        Err(ConfigError::LabelTwice {
            key: "node".to_owned()
        })
    );
    // Every refusal is one line that names the flag.
    for bad in ["node", "9x=1", "k=", "pid=1"] {
        let text = labels(&[bad]).unwrap_err().to_string();
        assert!(
            text.starts_with("--label ") && !text.contains('\n'),
            "{text}"
        );
    }
}

#[test]
fn the_url_gets_ingest_appended_and_its_user_info_becomes_basic_auth() {
    let e = parse_url("http://127.0.0.1:4040").unwrap();
    assert_eq!(e.ingest.as_str(), "http://127.0.0.1:4040/ingest");
    assert_eq!(e.basic_auth, None);
    let e = parse_url("https://pyro.example/prefix/").unwrap();
    assert_eq!(e.ingest.as_str(), "https://pyro.example/prefix/ingest");
    let e = parse_url("https://pyro.example/ingest").unwrap();
    assert_eq!(e.ingest.as_str(), "https://pyro.example/ingest");
    let e = parse_url("https://12345:glc%2Fsecret@profiles.example").unwrap();
    assert_eq!(e.ingest.as_str(), "https://profiles.example/ingest");
    assert_eq!(
        e.basic_auth,
        Some(("12345".to_owned(), Some("glc/secret".to_owned())))
    );
    let e = parse_url("http://user@h:1").unwrap();
    assert_eq!(e.basic_auth, Some(("user".to_owned(), None)));
    for bad in [
        "ftp://h/",
        "pyroscope:4040",
        "h:4040",
        "http://h/?x=1",
        "http://h/#f",
        "",
    ] {
        assert!(
            matches!(parse_url(bad), Err(ConfigError::Url { .. })),
            "{bad}"
        );
    }
    let text = parse_url("ftp://u:secret@h/").unwrap_err().to_string();
    assert!(!text.contains("secret"), "password shown: {text}");
}

#[test]
fn the_service_is_the_executables_file_name() {
    assert_eq!(service_name("/usr/bin/foo"), "foo");
    assert_eq!(service_name("/srv/api-server.v2"), "api-server.v2");
    assert_eq!(service_name("/tmp/my app+x (deleted)"), "my_app_x");
    assert_eq!(service_name("relative"), "relative");
    assert_eq!(service_name("/"), "unknown");
    assert_eq!(service_name("/opt/ünï"), "_n_");
}

fn target(container: Option<Container>) -> crate::report::TargetInfo {
    let mut t = crate::report::test_report::sample().targets.remove(0);
    t.pid = 4242;
    t.container = container;
    t
}

#[test]
fn the_name_holds_pid_container_and_static_labels() {
    let statics = pairs(&[("node", "n1")]);
    let plain = target_labels(&target(None), &statics);
    assert_eq!(plain, pairs(&[("pid", "4242"), ("node", "n1")]));
    assert_eq!(app_name("foo", &plain), "foo{pid=4242,node=n1}");
    let in_pod = target_labels(
        &target(Some(Container {
            id: "ab".repeat(32),
            runtime: Runtime::CriO,
            pod_uid: Some("9d2c3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f".to_owned()),
        })),
        &statics,
    );
    assert_eq!(
        app_name("foo", &in_pod),
        format!(
            "foo{{pid=4242,container_id={},container_runtime=cri-o,\
             pod_uid=9d2c3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f,node=n1}}",
            "ab".repeat(32)
        )
    );
    let odd = target_labels(
        &target(Some(Container {
            id: "a,b}c".to_owned(),
            runtime: Runtime::Docker,
            pod_uid: None,
        })),
        &[],
    );
    assert_eq!(
        app_name("foo", &odd),
        "foo{pid=4242,container_id=a_b_c,container_runtime=docker}"
    );
}

#[test]
fn the_ingest_url_carries_the_encoded_name_and_the_window() {
    let base = parse_url("http://127.0.0.1:4040/").unwrap().ingest;
    let url = ingest_url(&base, "foo{pid=1,node=n1}", 1_700_000_000, 1_700_000_060);
    assert_eq!(
        url.as_str(),
        "http://127.0.0.1:4040/ingest?name=foo%7Bpid%3D1%2Cnode%3Dn1%7D&from=1700000000\
         &until=1700000060&format=pprof&spyName=clprof"
    );
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert_eq!(
        query[0],
        ("name".to_owned(), "foo{pid=1,node=n1}".to_owned())
    );
}

#[test]
fn the_sample_type_config_names_every_pprof_sample_type() {
    let config: serde_json::Value = serde_json::from_str(&sample_type_config()).unwrap();
    let map = config.as_object().expect("an object");
    assert_eq!(map.len(), crate::render::SAMPLE_TYPES.len());
    for t in crate::render::SAMPLE_TYPES {
        let kind = t.name;
        let c = &map[kind];
        let units = match kind {
            "cost" => "lock_nanoseconds",
            _ => "objects",
        };
        assert_eq!(c["units"], units, "{kind}");
        assert_eq!(c["aggregation"], "sum", "{kind}");
        assert_eq!(c["display-name"], format!("cacheline_{kind}"), "{kind}");
        assert_eq!(c["sampled"], false, "{kind}");
    }
}

#[test]
fn the_body_has_two_file_parts_with_an_unused_boundary() {
    let config = sample_type_config();
    let pprof = b"\x1f\x8b pprof bytes clprof-pyroscope-00000000 inside".to_vec();
    let (content_type, body) = multipart(&ingest_parts(&pprof, &config));
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .expect("multipart content type");
    assert_eq!(
        boundary, "clprof-pyroscope-00000001",
        "the used one is skipped"
    );
    let text = String::from_utf8_lossy(&body).into_owned();
    let parts: Vec<&str> = text.split(&format!("--{boundary}")).collect();
    // "", profile, sample_type_config, "--\r\n"
    assert_eq!(parts.len(), 4, "{text}");
    assert_eq!(parts[0], "");
    assert_eq!(parts[3], "--\r\n");
    let profile = format!(
        "\r\nContent-Disposition: form-data; name=\"profile\"; filename=\"profile.pprof\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n{}\r\n",
        String::from_utf8_lossy(&pprof)
    );
    assert_eq!(parts[1], profile);
    let stc = format!(
        "\r\nContent-Disposition: form-data; name=\"sample_type_config\"; \
         filename=\"sample_type_config.json\"\r\nContent-Type: application/json\r\n\r\n{config}\r\n"
    );
    assert_eq!(parts[2], stc);
}

#[test]
fn retries_back_off_exponentially_up_to_a_cap() {
    let ms = |n| Duration::from_millis(n);
    assert_eq!(TRIES, 4);
    let waits: Vec<Duration> = (0..TRIES - 1).map(backoff).collect();
    assert_eq!(waits, [ms(500), ms(1000), ms(2000)]);
    assert_eq!(backoff(5), MAX_BACKOFF);
    assert_eq!(backoff(60), MAX_BACKOFF);
    assert_eq!(retry_delay(0, None), ms(500));
    assert_eq!(retry_delay(0, Some(ms(3000))), ms(3000));
    assert_eq!(retry_delay(2, Some(ms(100))), ms(2000));
    assert_eq!(
        retry_delay(0, Some(Duration::from_secs(3600))),
        MAX_RETRY_AFTER
    );
    assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
    assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
}

#[test]
fn only_2xx_is_delivered_and_only_429_among_4xx_is_retried() {
    assert_eq!(verdict(200), Verdict::Delivered);
    assert_eq!(verdict(204), Verdict::Delivered);
    assert_eq!(verdict(400), Verdict::Rejected);
    assert_eq!(verdict(401), Verdict::Rejected);
    assert_eq!(verdict(413), Verdict::Rejected);
    assert_eq!(verdict(429), Verdict::Retry);
    assert_eq!(verdict(500), Verdict::Retry);
    assert_eq!(verdict(503), Verdict::Retry);
    assert_eq!(verdict(302), Verdict::Retry);
}

#[test]
fn metrics_are_counters_with_drop_reasons() {
    let stats = PushStats::default();
    stats.pushes.store(3, Ordering::Relaxed);
    stats.errors.store(2, Ordering::Relaxed);
    stats.dropped_queue_full.store(1, Ordering::Relaxed);
    let text = stats.prometheus_text();
    for line in [
        "# TYPE clprof_pushes_total counter",
        "clprof_pushes_total 3",
        "# TYPE clprof_push_errors_total counter",
        "clprof_push_errors_total 2",
        "# TYPE clprof_push_dropped_total counter",
        "clprof_push_dropped_total{reason=\"queue_full\"} 1",
        "clprof_push_dropped_total{reason=\"rejected\"} 0",
        "clprof_push_dropped_total{reason=\"failed\"} 0",
        "# TYPE clprof_push_queued gauge",
        "clprof_push_queued 0",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing: {text}");
    }
}

#[test]
fn a_full_queue_drops_its_oldest_profile() {
    let report = std::sync::Arc::new(crate::report::test_report::sample());
    let stats = PushStats::default();
    let mut jobs = VecDeque::new();
    let job = |seq| Job {
        report: report.clone(),
        pid: 42,
        seq,
        from: 0,
        until: 1,
    };
    for seq in 1..=QUEUE_LEN as u64 + 2 {
        enqueue(&mut jobs, job(seq), &stats);
    }
    assert_eq!(jobs.len(), QUEUE_LEN);
    assert_eq!(jobs.front().map(|j| j.seq), Some(3), "the oldest two went");
    assert_eq!(jobs.back().map(|j| j.seq), Some(QUEUE_LEN as u64 + 2));
    assert_eq!(stats.dropped_queue_full.load(Ordering::Relaxed), 2);
}
