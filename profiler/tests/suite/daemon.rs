//! `clprof daemon`: windows served over HTTP, loopback by default.

use std::{
    io::{Read as _, Write as _},
    net::TcpStream,
    process::Stdio,
    time::Duration,
};

use super::{
    go::{program, Go},
    support::*,
};

/// GET `path` from 127.0.0.1:`port`: (status, body); None when nothing listens.
pub(super) fn get(port: u16, path: &str) -> Option<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, raw[split + 4..].to_vec()))
}

/// `clprof daemon --quiet` on 127.0.0.1:`port` with one-second windows, probes always on, and
/// `args`; killed when dropped.
pub(super) fn daemon(port: u16, args: &[&str]) -> Killed {
    Killed(
        clprof()
            .args([
                "daemon",
                "--quiet",
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .args(["--window", "1s", "--budget", "100"])
            .args(args)
            .stdout(Stdio::null())
            .spawn()
            .expect("start clprof daemon"),
    )
}

/// `clprof daemon --quiet --all-go ARGS` on a free port, once it serves `/targets`.
pub(super) fn all_go_daemon(args: &[&str]) -> (u16, Killed) {
    let port = free_port();
    let daemon = Killed(
        clprof()
            .args(["daemon", "--quiet", "--all-go"])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(args)
            .stdout(Stdio::null())
            .spawn()
            .expect("start clprof daemon"),
    );
    assert!(
        super::support::eventually(std::time::Duration::from_secs(60), || get(port, "/targets")
            .is_some()),
        "the daemon did not serve /targets within 60 s"
    );
    (port, daemon)
}

pub(super) fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

#[test]
fn a_remote_listen_address_needs_allow_remote() {
    let out = clprof()
        .args(["daemon", "--pid", "1", "--listen", "0.0.0.0:17878"])
        .output()
        .expect("run clprof");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--allow-remote"), "unclear refusal: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
}

#[test]
fn windows_are_served_over_http_until_sigterm() {
    let prog = Program::start(&program("sharedmap", Go::New), &["60s"]);
    let map = prog.addresses()[0];
    let port = free_port();
    let out_dir = tempfile::tempdir().expect("tempdir");
    let mut daemon = clprof()
        .args(["daemon", "--quiet", "--pid", &prog.pid().to_string()])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--window", "2s", "--budget", "100", "--out-dir"])
        .arg(out_dir.path())
        .stdout(Stdio::null())
        .spawn()
        .expect("start clprof daemon");
    assert!(
        eventually(Duration::from_secs(20), || get(port, "/healthz")
            .is_some_and(|(s, b)| s == 200 && b == b"ok\n")),
        "/healthz never answered"
    );
    assert!(
        eventually(Duration::from_secs(20), || get(port, "/report.json")
            .is_some_and(|(s, _)| s == 200)),
        "no window was served"
    );
    let (_, body) = get(port, "/report.json").expect("report");
    let report: serde_json::Value = serde_json::from_slice(&body).expect("JSON report");
    let first = first_probed(&report);
    let shared = line_with_object(&report, map).expect("the shared map's line");
    assert_eq!(
        shared["line"], first["line"],
        "shared map not first of the probed lines: {first}"
    );

    let (status, metrics) = get(port, "/metrics").expect("metrics");
    let metrics = String::from_utf8_lossy(&metrics);
    assert_eq!(status, 200);
    let series = format!("clprof_top_line_transfers{{pid=\"{}\"", prog.pid());
    assert!(metrics.contains(&series), "{metrics}");

    let (_, targets) = get(port, "/targets").expect("targets");
    let targets: serde_json::Value = serde_json::from_slice(&targets).expect("targets JSON");
    assert_eq!(targets["targets"][0]["pid"], prog.pid(), "{targets}");
    assert_eq!(targets["targets"][0]["state"], "recording", "{targets}");

    let (_, text) = get(port, "/report.txt").expect("table");
    assert!(String::from_utf8_lossy(&text).contains("clprof cache-line contention report"));
    let (_, svg) = get(port, "/flamegraph.svg").expect("svg");
    let svg = String::from_utf8(svg).expect("UTF-8 SVG");
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(&svg, options).expect("well-formed SVG");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let (_, pprof) = get(port, "/profile.pb.gz").expect("pprof");
    assert_eq!(&pprof[..2], [0x1f, 0x8b], "gzip");
    let (status, _) = get(port, "/report.json?window=999999").expect("missing window");
    assert_eq!(status, 404);

    // SAFETY: signalling our own child.
    unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
    let status = daemon.wait().expect("wait daemon");
    assert!(status.success(), "daemon exit after SIGTERM: {status}");
    assert!(!clprof_program_loaded(), "probes left loaded");
    let latest = out_dir.path().join("latest.json");
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&latest).expect("latest.json written"))
            .expect("latest.json is JSON");
    assert_eq!(saved["schema"], "clprof/1");
}

/// A child process killed when dropped.
pub(super) struct Killed(pub(super) std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn prometheus_scrapes_the_metrics() {
    let prometheus = std::env::var_os("CLPROF_PROMETHEUS")
        .expect("CLPROF_PROMETHEUS names the prometheus binary (cargo xtask test sets it)");
    let prog = Program::start(&program("sharedmap", Go::New), &["60s"]);
    let port = free_port();
    let _daemon = daemon(port, &["--pid", &prog.pid().to_string()]);
    assert!(
        eventually(Duration::from_secs(20), || get(port, "/metrics")
            .is_some_and(
                |(_, b)| String::from_utf8_lossy(&b).contains("clprof_top_line_transfers")
            )),
        "the daemon never served a window's metrics"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: clprof\n    \
             static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        ),
    )
    .expect("write prometheus.yml");
    let web = free_port();
    let _prometheus = Killed(
        std::process::Command::new(&prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{web}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus"),
    );
    let query = "/api/v1/query?query=clprof_top_line_transfers";
    let mut last = String::new();
    let found = eventually(Duration::from_secs(60), || {
        let Some((200, body)) = get(web, query) else {
            return false;
        };
        last = String::from_utf8_lossy(&body).into_owned();
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) else {
            return false;
        };
        v["status"] == "success"
            && v["data"]["result"].as_array().is_some_and(|r| {
                r.iter()
                    .any(|s| s["metric"]["pid"] == prog.pid().to_string().as_str())
            })
    });
    assert!(
        found,
        "Prometheus never had clprof's series; last answer: {last}"
    );
}

/// The `/targets` entry of `pid`, if listed.
fn target_state(port: u16, pid: u32) -> Option<String> {
    let (_, body) = get(port, "/targets")?;
    let v: serde_json::Value = serde_json::from_slice(&body).ok()?;
    v["targets"]
        .as_array()?
        .iter()
        .find(|t| t["pid"] == pid)
        .and_then(|t| t["state"].as_str().map(str::to_owned))
}

#[test]
fn all_go_follows_programs_that_start_and_exit() {
    let port = free_port();
    let _daemon = daemon(port, &["--all-go"]);
    assert!(
        eventually(Duration::from_secs(20), || get(port, "/healthz").is_some()),
        "/healthz never answered"
    );
    // Started after the daemon: found at a window's start.
    let long = Program::start(&program("sharedmap", Go::New), &["60s"]);
    let map = long.addresses()[0];
    assert!(
        eventually(Duration::from_secs(15), || target_state(port, long.pid())
            .as_deref()
            == Some("recording")),
        "pid {} was never followed",
        long.pid()
    );
    let ranked_first = eventually(Duration::from_secs(15), || {
        let Some((200, body)) = get(port, "/report.json") else {
            return false;
        };
        let Ok(report) = serde_json::from_slice::<serde_json::Value>(&body) else {
            return false;
        };
        // The mutex its writers take may rank above it, by its sampled CPU time.
        let probed = array(&report, "lines")
            .iter()
            .find(|l| l["writes"].as_u64().unwrap_or(0) > 0);
        line_with_object(&report, map)
            .is_some_and(|l| probed.is_some_and(|p| p["line"] == l["line"]))
    });
    assert!(
        ranked_first,
        "the shared map's line never came first of the probed lines"
    );

    // A short one: followed, then seen exiting.
    let short = Program::start(&program("sharedmap", Go::New), &["4s"]);
    let pid = short.pid();
    assert!(
        eventually(Duration::from_secs(4), || target_state(port, pid)
            .as_deref()
            == Some("recording")),
        "short-lived pid {pid} was never followed"
    );
    assert!(
        eventually(Duration::from_secs(15), || target_state(port, pid)
            .as_deref()
            == Some("exited")),
        "pid {pid} never shown as exited"
    );
    assert_eq!(target_state(port, long.pid()).as_deref(), Some("recording"));
}

/// (RSS in KiB, open fds) of `pid`.
fn resources(pid: u32) -> (u64, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("daemon status");
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("daemon fds")
        .count();
    (rss, fds)
}

#[test]
fn soak_many_short_lived_programs_keep_memory_and_fds_flat() {
    let port = free_port();
    let daemon = daemon(port, &["--all-go"]);
    let dpid = daemon.0.id();
    assert!(
        eventually(Duration::from_secs(20), || get(port, "/healthz").is_some()),
        "/healthz never answered"
    );
    let binary = program("sharedmap", Go::New);
    let mut running: Vec<Program> = Vec::new();
    let mut samples: Vec<(u64, usize)> = Vec::new();
    let mut started = 0;
    for round in 0..60 {
        // Each lives 2 s; three at a time, a new one every round (~1.7 s).
        running.retain_mut(|p| matches!(p.child.try_wait(), Ok(None)));
        while running.len() < 3 {
            running.push(Program::start(&binary, &["2s"]));
            started += 1;
        }
        std::thread::sleep(Duration::from_millis(1_500));
        if round % 4 == 3 {
            samples.push(resources(dpid));
        }
    }
    drop(running);
    let (_, body) = get(port, "/targets").expect("targets");
    let targets: serde_json::Value = serde_json::from_slice(&body).expect("targets JSON");
    let followed = targets["targets"].as_array().map_or(0, Vec::len);
    // The first third warms up (the daemon's caches and the allocator grow to their working
    // size): the middle third against the last.
    let third = samples.len() / 3;
    let early = &samples[third..2 * third];
    let late = &samples[samples.len() - third..];
    // Medians: a leak moves every sample up; one window that held more targets at once (each
    // with its symbolizer) is a spike, not growth.
    let median = |s: &[(u64, usize)]| {
        let mut rss: Vec<u64> = s.iter().map(|x| x.0).collect();
        let mut fds: Vec<usize> = s.iter().map(|x| x.1).collect();
        rss.sort_unstable();
        fds.sort_unstable();
        (rss[rss.len() / 2], fds[fds.len() / 2])
    };
    let (early_rss, _) = median(early);
    let (late_rss, _) = median(late);
    // Fds go up and down with the targets attached at the moment of a sample (a few each): a
    // leak raises the floor, which is what is compared.
    let floor = |s: &[(u64, usize)]| s.iter().map(|x| x.1).min().unwrap_or(0);
    let (early_fds, late_fds) = (floor(early), floor(late));
    eprintln!(
        "soak: {started} programs started, {followed} followed; daemon RSS {early_rss} KiB -> \
         {late_rss} KiB, fds {early_fds} -> {late_fds}; every sample: {samples:?}"
    );
    assert!(
        followed >= started / 2,
        "only {followed} of {started} followed"
    );
    assert!(
        late_rss <= early_rss + early_rss / 4 + 8 * 1024,
        "RSS grew: {early_rss} KiB -> {late_rss} KiB ({samples:?})"
    );
    assert!(
        late_fds <= early_fds + 8,
        "fds grew: {early_fds} -> {late_fds} ({samples:?})"
    );
}

#[test]
fn every_window_watches_the_named_words() {
    let prog = Program::start(&program("watchglobal", Go::New), &["60s"]);
    let x = prog.addresses()[0];
    let port = free_port();
    let mut daemon = clprof()
        .args(["daemon", "--quiet", "--pid", &prog.pid().to_string()])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--window", "2s", "--budget", "100", "--watch", "main.x:16"])
        .stdout(Stdio::null())
        .spawn()
        .expect("start clprof daemon");
    let second_window = || {
        get(port, "/report.json").is_some_and(|(s, body)| {
            s == 200
                && serde_json::from_slice::<serde_json::Value>(&body)
                    .is_ok_and(|r| r["lines"][0]["watch"].is_object())
        })
    };
    // Two windows served with their watch: the watchpoints come back after the first.
    assert!(
        eventually(Duration::from_secs(30), second_window),
        "no window with watched words was served"
    );
    std::thread::sleep(Duration::from_secs(3));
    let (_, body) = get(port, "/report.json").expect("report");
    let report: serde_json::Value = serde_json::from_slice(&body).expect("JSON report");
    let line = &report["lines"][0];
    assert_eq!(line["line"], format!("{:#x}", x & !63).as_str(), "{line}");
    let words = array(&line["watch"], "words");
    assert_eq!(words.len(), 2, "{line}");
    assert!(words.iter().all(|w| u64_of(w, "writes") > 0), "{line}");
    assert_eq!(line["threads"], 2, "{line}");
    daemon.kill().expect("stop the daemon");
    daemon.wait().expect("reap the daemon");
}
