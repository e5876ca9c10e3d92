//! The daemon's pprof endpoint as pull-based profilers scrape it (Parca, Grafana Alloy's
//! `pyroscope.scrape`): `/profile.pb.gz?seconds=N` is a profile of the next N seconds.

use std::{
    io::Read as _,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use super::{
    daemon::{daemon, free_port, get, Killed},
    go::{program, Go},
    support::*,
};

#[allow(clippy::all, missing_docs)]
mod proto {
    include!(concat!(env!("OUT_DIR"), "/perftools.profiles.rs"));
}

/// A gzipped pprof profile, decoded.
fn decode(gz: &[u8]) -> proto::Profile {
    assert_eq!(&gz[..2], [0x1f, 0x8b], "not gzip");
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_end(&mut bytes)
        .expect("gunzip");
    <proto::Profile as prost::Message>::decode(&bytes[..]).expect("a pprof profile")
}

fn unix_nanos() -> i64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock");
    now.as_nanos() as i64
}

/// `?seconds=2` from a daemon recording one-second windows: the asked call, with the extra
/// parameters scrapers add.
fn scrape(port: u16) -> (i64, proto::Profile) {
    let asked = unix_nanos();
    let (status, body) =
        get(port, "/profile.pb.gz?seconds=2&debug=0&rate=100").expect("profile answered");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    (asked, decode(&body))
}

/// A daemon with one-second windows on `sharedmap`, once it has served a window: the program,
/// the port and the daemon (both stopped when dropped).
fn serving() -> (Program, u16, Killed) {
    let prog = Program::start(&program("sharedmap", Go::New), &["60s"]);
    let port = free_port();
    let daemon = daemon(port, &["--pid", &prog.pid().to_string()]);
    assert!(
        eventually(Duration::from_secs(30), || get(port, "/report.json")
            .is_some_and(|(s, _)| s == 200)),
        "no window was served"
    );
    (prog, port, daemon)
}

#[test]
fn seconds_gives_the_windows_of_the_next_seconds_merged() {
    let (_prog, port, _daemon) = serving();
    let (asked, first) = scrape(port);
    let types: Vec<&str> = first
        .sample_type
        .iter()
        .map(|t| first.string_table[t.r#type as usize].as_str())
        .collect();
    assert_eq!(
        types,
        ["transfers", "writes", "samples", "data_samples", "cost"]
    );
    let writes: i64 = first.sample.iter().map(|s| s.value[1]).sum();
    assert!(writes > 0, "no writes in {:?}", first.sample);
    // The windows that ended in the two seconds after the request: at least one whole window
    // of one second, begun at most one window before the request, ended after it.
    let end = first.time_nanos + first.duration_nanos;
    assert!(end > asked, "the profile ends before it was asked for");
    assert!(
        first.duration_nanos >= 1_000_000_000,
        "{}",
        first.duration_nanos
    );
    assert!(
        first.time_nanos < asked + 2_000_000_000,
        "{}",
        first.time_nanos
    );
    // The next scrape gets the windows after those: none twice.
    let (_, second) = scrape(port);
    assert!(
        second.time_nanos >= end,
        "windows given twice: {} < {end}",
        second.time_nanos
    );
}

#[test]
fn bad_seconds_are_refused_and_unknown_parameters_ignored() {
    let (_prog, port, _daemon) = serving();
    for bad in [
        "seconds=abc",
        "seconds=0",
        "seconds=2&window=1",
        "seconds=99999",
    ] {
        let (status, body) = get(port, &format!("/profile.pb.gz?{bad}")).expect("answered");
        assert_eq!(status, 400, "{bad}: {}", String::from_utf8_lossy(&body));
    }
    let (status, body) = get(port, "/profile.pb.gz?gc=1&foo=bar").expect("answered");
    assert_eq!(status, 200);
    assert!(!decode(&body).sample.is_empty());
    let (status, _) = get(port, "/report.json?seconds=2&foo=bar").expect("answered");
    assert_eq!(status, 200);
}
