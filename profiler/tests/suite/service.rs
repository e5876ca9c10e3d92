//! A real service no one here wrote, as its distribution ships it: Debian's prometheus (Go 1.19,
//! stripped, externally linked), under a loopback HTTP load while clprof records it.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use super::{
    daemon::{free_port, get, Killed},
    support::*,
};

/// Requests the load sends in turn: queries, metadata, and its own metrics.
const PATHS: [&str; 4] = [
    "/api/v1/query?query=up",
    "/api/v1/query?query=rate(prometheus_http_requests_total%5B10s%5D)",
    "/api/v1/labels",
    "/metrics",
];

/// Counts of the load's requests.
#[derive(Default)]
struct Load {
    requests: AtomicU64,
    errors: AtomicU64,
}

#[test]
fn prometheus_is_profiled_while_it_keeps_answering() {
    let prometheus = std::env::var_os("CLPROF_PROMETHEUS")
        .expect("CLPROF_PROMETHEUS names the prometheus binary (cargo xtask test sets it)");
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: self\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        ),
    )
    .expect("write the config");
    let service = Killed(
        std::process::Command::new(&prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start prometheus"),
    );
    assert!(
        eventually(Duration::from_secs(30), || get(port, "/-/ready")
            .is_some_and(|(s, _)| s == 200)),
        "prometheus never became ready"
    );

    // A bounded load: one client, requests back to back, until recording ends.
    let load = Arc::new(Load::default());
    let stop = Arc::new(AtomicBool::new(false));
    let client = {
        let (load, stop) = (load.clone(), stop.clone());
        std::thread::spawn(move || {
            for path in PATHS.iter().cycle() {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                load.requests.fetch_add(1, Ordering::Relaxed);
                if get(port, path).is_none_or(|(status, _)| status != 200) {
                    load.errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    let pid = service.0.id();
    let report = record_json(pid, 4);
    stop.store(true, Ordering::Relaxed);
    client.join().expect("load thread");
    let (requests, errors) = (
        load.requests.load(Ordering::Relaxed),
        load.errors.load(Ordering::Relaxed),
    );
    // Still answering after clprof detached.
    assert!(
        get(port, "/-/healthy").is_some_and(|(s, _)| s == 200),
        "prometheus stopped answering"
    );

    let target = &report["targets"][0];
    let types: std::collections::BTreeSet<&str> = array(&report, "maps")
        .iter()
        .filter_map(|m| m["go_type"].as_str())
        .collect();
    let lines = array(&report, "lines");
    let head: Vec<String> = lines
        .iter()
        .take(3)
        .map(|l| {
            format!(
                "{} writes {} transfers {} threads {}",
                l["line"], l["writes"], l["transfers"], l["threads"]
            )
        })
        .collect();
    eprintln!(
        "prometheus {}: {requests} requests, {errors} errors; {} lines, top: {head:?}; map types: {types:?}",
        target["go_version"],
        lines.len()
    );
    assert!(requests > 100, "the load sent only {requests} requests");
    assert_eq!(
        errors, 0,
        "{errors} of {requests} requests failed while recording"
    );
    assert_eq!(
        target["symbols_source"], "gopclntab",
        "Debian ships it stripped: {target}"
    );
    assert!(
        target["go_version"]
            .as_str()
            .is_some_and(|v| v.starts_with("go1.")),
        "{target}"
    );
    assert!(!lines.is_empty(), "no lines ranked");
    let cost = |l: &serde_json::Value| l["cost"]["cpu_ns_per_s"].as_f64().unwrap_or(0.0);
    let ranked = lines.windows(2).all(|w| {
        let key = |l: &serde_json::Value| (u64_of(l, "contention"), u64_of(l, "writes"));
        cost(&w[0]) > cost(&w[1]) || (cost(&w[0]) == cost(&w[1]) && key(&w[0]) >= key(&w[1]))
    });
    assert!(
        ranked,
        "lines not ranked by cost, then contention, then writes"
    );
    assert!(
        types.iter().any(|t| t.starts_with("map[")),
        "no map type named: {:?}",
        array(&report, "maps")
    );
    let own_frames = lines.iter().any(|l| {
        l["top_frames"].as_array().is_some_and(|f| {
            f.iter().any(|f| {
                f["function"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("github.com/prometheus/"))
                    && f["line"].as_u64().is_some()
            })
        })
    });
    assert!(
        own_frames,
        "no frame in prometheus' own packages was symbolized"
    );
}
