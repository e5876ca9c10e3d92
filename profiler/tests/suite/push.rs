//! `clprof daemon --pyroscope-url`: windows pushed to Pyroscope's `/ingest`. No Pyroscope server
//! can be installed here, so the receiver below implements the documented contract (POST
//! `/ingest?name=…&from=…&until=…&format=pprof`, a multipart/form-data body whose file parts
//! `profile` and `sample_type_config` the server reads) and `go tool pprof` checks the profile.

use std::{
    collections::HashMap,
    io::{BufRead as _, BufReader, Read as _, Write as _},
    net::{TcpListener, TcpStream},
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use super::{
    daemon::{daemon, free_port, get},
    go::{program, Go},
    support::*,
};

/// One request the receiver took.
#[derive(Debug)]
struct Ingest {
    /// `POST /ingest?… HTTP/1.1`.
    request_line: String,
    /// The decoded query.
    query: HashMap<String, String>,
    /// (name, filename, bytes) of each body part.
    parts: Vec<(String, String, usize)>,
    /// The `profile` part: the gzipped pprof.
    profile: Vec<u8>,
    /// The `sample_type_config` part.
    sample_type_config: serde_json::Value,
}

/// A loopback HTTP server implementing Pyroscope's `/ingest`; requests that break the contract
/// get a 400 and are kept as errors.
struct Receiver {
    port: u16,
    got: Arc<Mutex<Vec<Result<Ingest, String>>>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the receiver");
        let port = listener.local_addr().expect("receiver address").port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let kept = got.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let result = ingest(&mut stream);
                let (status, text) = match &result {
                    Ok(_) => ("200 OK", String::new()),
                    Err(e) => ("400 Bad Request", format!("{e}\n")),
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                );
                kept.lock().unwrap_or_else(|e| e.into_inner()).push(result);
            }
        });
        Receiver { port, got }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn count(&self) -> usize {
        self.got.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    fn take(&self) -> Vec<Result<Ingest, String>> {
        std::mem::take(&mut *self.got.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// `%XX` and `+` decoded.
fn form_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'+', _) => out.push(b' '),
            (b'%', Some(b)) => {
                out.push(b);
                i += 2;
            }
            (b, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads one request and checks it against the `/ingest` contract.
fn ingest(stream: &mut TcpStream) -> Result<Ingest, String> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) => return Err("connection closed in the request head".to_owned()),
            Ok(_) if line == "\r\n" => break,
            Ok(_) => head.push(line.trim_end().to_owned()),
            Err(e) => return Err(format!("reading the head: {e}")),
        }
    }
    let request_line = head.first().cloned().unwrap_or_default();
    let headers: HashMap<String, String> = head[1..]
        .iter()
        .filter_map(|h| h.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut words = request_line.split(' ');
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    if method != "POST" {
        return Err(format!("method {method}, not POST: {request_line}"));
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if path != "/ingest" {
        return Err(format!("path {path}, not /ingest"));
    }
    let query: HashMap<String, String> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (form_decode(k), form_decode(v)))
        .collect();
    for required in ["name", "from", "until"] {
        if !query.contains_key(required) {
            return Err(format!("no {required} in the query: {request_line}"));
        }
    }
    let unix = |k: &str| {
        query[k]
            .parse::<i64>()
            .map_err(|_| format!("{k}={} is not Unix seconds", query[k]))
    };
    let (from, until) = (unix("from")?, unix("until")?);
    if from > until {
        return Err(format!("from {from} > until {until}"));
    }
    if query.get("format").map(String::as_str) != Some("pprof") {
        return Err(format!("format is not pprof: {request_line}"));
    }

    // The body: Content-Length or chunked.
    let mut body = Vec::new();
    if let Some(len) = headers.get("content-length") {
        let len: usize = len.parse().map_err(|_| format!("Content-Length {len}"))?;
        body.resize(len, 0);
        reader
            .read_exact(&mut body)
            .map_err(|e| format!("reading the body: {e}"))?;
    } else if headers
        .get("transfer-encoding")
        .is_some_and(|t| t.contains("chunked"))
    {
        loop {
            let mut size = String::new();
            reader
                .read_line(&mut size)
                .map_err(|e| format!("chunk size: {e}"))?;
            let size = usize::from_str_radix(size.trim(), 16)
                .map_err(|_| format!("chunk size {size:?}"))?;
            let mut chunk = vec![0; size + 2];
            reader
                .read_exact(&mut chunk)
                .map_err(|e| format!("chunk: {e}"))?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        return Err("neither Content-Length nor chunked".to_owned());
    }

    let content_type = headers.get("content-type").cloned().unwrap_or_default();
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .ok_or_else(|| format!("Content-Type {content_type:?} is not multipart/form-data"))?
        .trim_matches('"')
        .to_owned();
    let (mut profile, mut config, mut parts) = (None, None, Vec::new());
    let delimiter = format!("\r\n--{boundary}");
    // A leading CRLF makes the first delimiter look like the others.
    let mut whole = b"\r\n".to_vec();
    whole.extend_from_slice(&body);
    let mut rest: &[u8] = &whole;
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    let first = find(rest, delimiter.as_bytes()).ok_or("no multipart boundary in the body")?;
    rest = &rest[first + delimiter.len()..];
    while !rest.starts_with(b"--") {
        rest = rest
            .strip_prefix(b"\r\n")
            .ok_or("no CRLF after a boundary")?;
        let end = find(rest, delimiter.as_bytes()).ok_or("a part without its closing boundary")?;
        let part = &rest[..end];
        rest = &rest[end + delimiter.len()..];
        let split = find(part, b"\r\n\r\n").ok_or("a part without headers")?;
        let part_head = String::from_utf8_lossy(&part[..split]).into_owned();
        let data = part[split + 4..].to_vec();
        let disposition = part_head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))
            .ok_or("a part without Content-Disposition")?;
        let param = |key: &str| {
            disposition
                .split(';')
                .filter_map(|p| p.trim().strip_prefix(&format!("{key}=")))
                .map(|v| v.trim_matches('"').to_owned())
                .next()
        };
        let name = param("name").ok_or("a part without a name")?;
        // Pyroscope reads these parts from the form's files: each needs a filename.
        let filename = param("filename").ok_or(format!("part {name} has no filename"))?;
        parts.push((name.clone(), filename, data.len()));
        match name.as_str() {
            "profile" => profile = Some(data),
            "sample_type_config" => config = Some(data),
            _ => {}
        }
    }
    let profile = profile.ok_or("no profile part")?;
    let config = config.ok_or("no sample_type_config part")?;
    let sample_type_config = serde_json::from_slice(&config)
        .map_err(|e| format!("sample_type_config is not JSON: {e}"))?;
    Ok(Ingest {
        request_line,
        query,
        parts,
        profile,
        sample_type_config,
    })
}

/// `service{k=v,…}` split: (service, labels).
fn parse_name(name: &str) -> (String, HashMap<String, String>) {
    let (service, labels) = name
        .strip_suffix('}')
        .and_then(|n| n.split_once('{'))
        .unwrap_or_else(|| panic!("name {name:?} is not service{{labels}}"));
    let labels = labels
        .split(',')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv
                .split_once('=')
                .unwrap_or_else(|| panic!("label {kv:?} in {name}"));
            (k.to_owned(), v.to_owned())
        })
        .collect();
    (service.to_owned(), labels)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

/// The value of the unlabelled series `name` in the daemon's /metrics.
fn metric(port: u16, name: &str) -> Option<f64> {
    let (_, body) = get(port, "/metrics")?;
    let text = String::from_utf8_lossy(&body).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
}

#[test]
fn windows_are_pushed_to_pyroscope_ingest_one_profile_per_target() {
    let prog = Program::start(&program("sharedmap", Go::New), &["60s"]);
    let pid = prog.pid().to_string();
    let receiver = Receiver::start();
    let port = free_port();
    let started = unix_now();
    let _daemon = daemon(
        port,
        &[
            "--pid",
            &pid,
            "--pyroscope-url",
            &receiver.url(),
            "--label",
            "node=n1",
        ],
    );
    let pushed = eventually(Duration::from_secs(60), || receiver.count() >= 2);
    let got = receiver.take();
    let n = got.len();
    let ingests: Vec<Ingest> = got
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("a push broke the /ingest contract: {e}")))
        .collect();
    assert!(pushed, "{n} window(s) pushed in 60 s, expected 2 or more");
    // While the target runs (the daemon stops when it exits).
    let pushes = metric(port, "clprof_pushes_total").expect("clprof_pushes_total in /metrics");
    assert!(pushes >= 2.0, "clprof_pushes_total {pushes}");
    assert_eq!(metric(port, "clprof_push_errors_total"), Some(0.0));

    for i in &ingests {
        let (service, labels) = parse_name(&i.query["name"]);
        assert_eq!(
            service, "sharedmap",
            "service from the executable: {}",
            i.request_line
        );
        assert_eq!(labels.get("pid"), Some(&pid), "{}", i.request_line);
        assert_eq!(
            labels.get("node").map(String::as_str),
            Some("n1"),
            "{}",
            i.request_line
        );
        let (from, until): (i64, i64) = (
            i.query["from"].parse().unwrap(),
            i.query["until"].parse().unwrap(),
        );
        assert!(
            started - 1 <= from && until <= unix_now() + 1,
            "window [{from}, {until}] outside the test's run from {started}"
        );
        let names: Vec<&str> = i.parts.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(names, ["profile", "sample_type_config"], "{:?}", i.parts);
        assert_eq!(&i.profile[..2], [0x1f, 0x8b], "the profile part is gzipped");
        for kind in ["transfers", "writes", "samples", "data_samples"] {
            let c = &i.sample_type_config[kind];
            assert!(
                c["units"].is_string() && c["display-name"].is_string(),
                "sample_type_config lacks {kind}: {}",
                i.sample_type_config
            );
        }
    }
    let first = &ingests[0];
    eprintln!("one pushed request: {}", first.request_line);
    eprintln!("its parts (name, filename, bytes): {:?}", first.parts);
    eprintln!("its sample_type_config: {}", first.sample_type_config);

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("pushed.pb.gz");
    std::fs::write(&file, &ingests[ingests.len() - 1].profile).expect("save the profile");
    let raw = super::export::go_pprof(&["-raw"], &file);
    for kind in ["transfers/count", "writes/count", "samples/count"] {
        assert!(
            raw.contains(kind),
            "go tool pprof -raw shows no {kind}: {raw}"
        );
    }
    assert!(
        raw.contains("runtime.mapassign"),
        "no map-assign stack: {raw}"
    );
    assert!(raw.contains("sharedmap"), "no mapping of the target: {raw}");
}

/// Runs the daemon pushing to `url` (`--push-timeout timeout`): failures are counted, and
/// windows go on being recorded at their pace meanwhile.
fn windows_go_on_while_pushes_fail(url: &str, timeout: &str, what: &str) {
    let prog = Program::start(&program("sharedmap", Go::New), &["60s"]);
    let port = free_port();
    let _daemon = daemon(
        port,
        &[
            "--pid",
            &prog.pid().to_string(),
            "--pyroscope-url",
            url,
            "--push-timeout",
            timeout,
        ],
    );
    let failed = eventually(Duration::from_secs(60), || {
        metric(port, "clprof_push_errors_total").is_some_and(|e| e > 0.0)
    });
    let metrics = get(port, "/metrics").map(|(_, b)| String::from_utf8_lossy(&b).into_owned());
    assert!(
        failed,
        "{what}: no push error counted in 60 s; /metrics: {metrics:?}"
    );
    // Pushes are failing now (each try waiting up to the timeout, then backing off): the
    // windows must still come every second or so.
    let before = metric(port, "clprof_windows").expect("clprof_windows");
    let mut last = before;
    let went_on = eventually(Duration::from_secs(20), || {
        last = metric(port, "clprof_windows").unwrap_or(last);
        last >= before + 3.0
    });
    assert!(
        went_on,
        "{what}: windows stalled while pushes failed: {before} -> {last} in 20 s (1 s windows)"
    );
    assert_eq!(metric(port, "clprof_pushes_total"), Some(0.0), "{what}");
}

#[test]
fn a_receiver_that_is_down_costs_no_window() {
    let down = free_port();
    windows_go_on_while_pushes_fail(&format!("http://127.0.0.1:{down}"), "1s", "receiver down");
}

#[test]
fn a_receiver_that_never_answers_costs_no_window() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    // Accepts and holds every connection, answering nothing.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.extend(stream.ok());
        }
    });
    // Each try waits the whole timeout: were pushing in the window loop's way, a window would
    // take over 20 s (four tries and their backoff).
    windows_go_on_while_pushes_fail(&format!("http://127.0.0.1:{port}"), "5s", "slow receiver");
}

#[test]
fn bad_push_flags_get_one_line_with_the_fix() {
    let url = "http://127.0.0.1:1";
    for (args, needle) in [
        (
            vec!["--pyroscope-url", url, "--label", "9node=n1"],
            "`9node` is not a label name",
        ),
        (
            vec!["--pyroscope-url", url, "--label", "node"],
            "not KEY=VALUE; e.g. --label node=n1",
        ),
        (
            vec!["--pyroscope-url", url, "--label", "pid=7"],
            "set by clprof itself",
        ),
        (
            vec!["--pyroscope-url", url, "--label", "node=a,b"],
            "the value must be non-empty",
        ),
        (vec!["--label", "node=n1"], "add --pyroscope-url URL"),
        (
            vec!["--pyroscope-url", "ftp://h"],
            "the scheme must be http or https",
        ),
    ] {
        let out = clprof()
            .args(["daemon", "--pid", "1"])
            .args(&args)
            .output()
            .expect("run clprof");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {needle:?} not in {err}");
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{args:?}: one line: {err}"
        );
    }
}
