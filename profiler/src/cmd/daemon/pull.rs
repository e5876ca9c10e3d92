//! `/profile.pb.gz?seconds=N` for pull-based profilers (Parca, Grafana Alloy's
//! `pyroscope.scrape`): like Go's `/debug/pprof/profile?seconds=N`, the answer is a profile of
//! the next N seconds. The daemon records in windows, so it waits for the windows that end
//! within N seconds of the request and merges them into one profile; where none ends in that
//! time (windows longer than N), it waits for the next one to end, at most one window and a
//! margin past the N seconds. Each window ends in exactly one such interval, so a scraper that
//! asks every N seconds for N seconds gets every window once.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};

use crate::{cmd::daemon::Window, report::Report};

/// Longest `seconds` accepted (Go's pprof handler is bounded by its server's write timeout).
pub const MAX_SECONDS: f64 = 3600.0;
/// Time past the N seconds and one window length after which the request gives up.
pub const MARGIN: Duration = Duration::from_secs(5);

/// Why `seconds` was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SecondsError {
    #[error("seconds={0:?} is not a number of seconds above 0")]
    NotPositive(String),
    #[error("seconds={0} is more than {MAX_SECONDS} s")]
    TooLong(f64),
    #[error("seconds={seconds} is more than the {kept} s of windows the daemon keeps (--keep × --window)")]
    MoreThanKept { seconds: f64, kept: f64 },
}

/// The asked duration, from `seconds` (a positive number, fractions allowed), for a daemon
/// that keeps `kept_s` seconds of windows.
pub fn parse_seconds(raw: &str, kept_s: f64) -> Result<Duration, SecondsError> {
    let seconds: f64 = raw
        .trim()
        .parse()
        .ok()
        .filter(|s: &f64| s.is_finite() && *s > 0.0)
        .ok_or_else(|| SecondsError::NotPositive(raw.to_owned()))?;
    if seconds > MAX_SECONDS {
        return Err(SecondsError::TooLong(seconds));
    }
    if seconds > kept_s {
        return Err(SecondsError::MoreThanKept {
            seconds,
            kept: kept_s,
        });
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// A finished window as the selection sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub seq: u64,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// Which windows answer a request made at `asked` for `seconds`, as of `now`, from the windows
/// that ended after `asked` (oldest first): None while the answer is not complete yet.
pub fn pick(
    windows: &[Span],
    asked: DateTime<Utc>,
    seconds: Duration,
    now: DateTime<Utc>,
) -> Option<Vec<u64>> {
    let until = asked + chrono::TimeDelta::from_std(seconds).unwrap_or(chrono::TimeDelta::MAX);
    let within: Vec<u64> = windows
        .iter()
        .filter(|w| w.end > asked && w.end <= until)
        .map(|w| w.seq)
        .collect();
    let later = windows.iter().find(|w| w.end > until);
    if now < until && later.is_none() {
        return None;
    }
    if !within.is_empty() {
        return Some(within);
    }
    // No window ended in the N seconds: the first one to end after them.
    later.map(|w| vec![w.seq])
}

/// The windows of the kept ones in `state` that answer a request made at `asked` for
/// `seconds`, waiting for them as long as needed (checking every 100 ms), at most `seconds` +
/// one window + [`MARGIN`]: None when none came in time.
pub async fn windows_for(
    state: &std::sync::RwLock<super::DaemonState>,
    asked: DateTime<Utc>,
    seconds: Duration,
) -> Option<Vec<Window>> {
    let window_s = state.read().unwrap_or_else(|e| e.into_inner()).window_s;
    let limit = seconds + Duration::from_secs_f64(window_s.max(0.0)) + MARGIN;
    let deadline = tokio::time::Instant::now() + limit;
    // Windows are collected as they come: the daemon may drop them before the answer is whole.
    let mut seen: Vec<Window> = Vec::new();
    loop {
        {
            let state = state.read().unwrap_or_else(|e| e.into_inner());
            for w in &state.windows {
                if w.span.1 > asked && !seen.iter().any(|s| s.seq == w.seq) {
                    seen.push(w.clone());
                }
            }
        }
        seen.sort_by_key(|w| w.seq);
        let spans: Vec<Span> = seen
            .iter()
            .map(|w| Span {
                seq: w.seq,
                start: w.span.0,
                end: w.span.1,
            })
            .collect();
        if let Some(seqs) = pick(&spans, asked, seconds, Utc::now()) {
            seen.retain(|w| seqs.contains(&w.seq));
            return Some(seen);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The reports of `windows` and the time they span: (start, length) in nanoseconds.
pub fn merged(windows: &[Window]) -> (Vec<Arc<Report>>, i64, i64) {
    let reports = windows.iter().map(|w| w.report.clone()).collect();
    let start = windows.iter().map(|w| w.span.0).min();
    let end = windows.iter().map(|w| w.span.1).max();
    match (start, end) {
        (Some(start), Some(end)) => {
            let nanos = (end - start).num_nanoseconds().unwrap_or(i64::MAX);
            (
                reports,
                start.timestamp_nanos_opt().unwrap_or(0),
                nanos.max(0),
            )
        }
        _ => (reports, 0, 0),
    }
}

#[cfg(test)]
#[path = "pull_tests.rs"]
mod tests;
