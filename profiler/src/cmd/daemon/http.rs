//! The daemon's HTTP endpoints (axum): reports of the kept windows in every output format,
//! the targets, a health check and Prometheus metrics.

use std::{
    fmt::Write as _,
    sync::{Arc, RwLock},
};

use axum::{
    extract::{Query, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};

use crate::{
    cmd::daemon::{pull, DaemonState},
    render::Format,
    render::{self, Weight},
    report::Report,
};

type Shared = Arc<RwLock<DaemonState>>;

/// `?window=SEQ` (default: the latest); other parameters are ignored.
#[derive(Debug, serde::Deserialize)]
struct WindowQuery {
    window: Option<u64>,
}

/// `/profile.pb.gz`'s query: `?window=SEQ`, or `?seconds=N` (see `pull`); other parameters
/// (scrapers add their own) are ignored.
#[derive(Debug, serde::Deserialize)]
struct ProfileQuery {
    window: Option<u64>,
    seconds: Option<String>,
}

/// Serves until the task is aborted.
pub async fn serve(listener: tokio::net::TcpListener, state: Shared) {
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/targets", get(targets))
        .route("/metrics", get(metrics))
        .route("/report.json", get(report_json))
        .route("/report.txt", get(report_txt))
        .route("/flamegraph.svg", get(flamegraph))
        .route("/profile.pb.gz", get(pprof))
        .with_state(state);
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!("HTTP server: {e}");
    }
}

fn read(state: &Shared) -> std::sync::RwLockReadGuard<'_, DaemonState> {
    state.read().unwrap_or_else(|e| e.into_inner())
}

/// The report of the asked window, rendered as `format`.
fn rendered(state: &Shared, query: &WindowQuery, format: Format, content_type: &str) -> Response {
    let report = match read(state).window(query.window) {
        Some(w) => w.report.clone(),
        None => {
            let msg = match query.window {
                Some(seq) => format!("no window {seq} (kept: see /targets)\n"),
                None => "no window finished yet\n".to_owned(),
            };
            return (StatusCode::NOT_FOUND, msg).into_response();
        }
    };
    match render::render(&report, format, None, Weight::Transfers) {
        Ok(body) => ([(header::CONTENT_TYPE, content_type.to_owned())], body).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

async fn report_json(State(s): State<Shared>, Query(q): Query<WindowQuery>) -> Response {
    rendered(&s, &q, Format::Json, "application/json")
}

async fn report_txt(State(s): State<Shared>, Query(q): Query<WindowQuery>) -> Response {
    rendered(&s, &q, Format::Text, "text/plain; charset=utf-8")
}

async fn flamegraph(State(s): State<Shared>, Query(q): Query<WindowQuery>) -> Response {
    rendered(&s, &q, Format::Svg, "image/svg+xml")
}

async fn pprof(State(s): State<Shared>, Query(q): Query<ProfileQuery>) -> Response {
    let Some(raw) = q.seconds.as_deref() else {
        let q = WindowQuery { window: q.window };
        return rendered(&s, &q, Format::Pprof, PPROF_TYPE);
    };
    if q.window.is_some() {
        let msg = "give window=SEQ or seconds=N, not both\n";
        return (StatusCode::BAD_REQUEST, msg).into_response();
    }
    let asked = chrono::Utc::now();
    let kept_s = {
        let state = read(&s);
        state.keep.max(1) as f64 * state.window_s
    };
    let seconds = match pull::parse_seconds(raw, kept_s) {
        Ok(seconds) => seconds,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    };
    let Some(windows) = pull::windows_for(&s, asked, seconds).await else {
        let msg = "no window finished in time: is the daemon still recording?\n";
        return (StatusCode::SERVICE_UNAVAILABLE, msg).into_response();
    };
    let (reports, start, nanos) = pull::merged(&windows);
    let reports: Vec<&Report> = reports.iter().map(|r| r.as_ref()).collect();
    match render::pprof_merged(&reports, start, nanos) {
        Ok(body) => ([(header::CONTENT_TYPE, PPROF_TYPE)], body).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

/// The content type of `/profile.pb.gz`.
const PPROF_TYPE: &str = "application/octet-stream";

async fn targets(State(s): State<Shared>) -> Response {
    let state = read(&s);
    let windows: Vec<u64> = state.windows.iter().map(|w| w.seq).collect();
    let body = serde_json::json!({
        "targets": state.targets,
        "windows": windows,
        "window_s": state.window_s,
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        format!("{body:#}\n"),
    )
        .into_response()
}

async fn metrics(State(s): State<Shared>) -> Response {
    let state = read(&s);
    let mut body = prometheus_text(state.window(None).map(|w| (w.seq, w.report.as_ref())));
    if let Some(push) = &state.push {
        body.push_str(&push.prometheus_text());
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// Escapes a Prometheus label value.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Prometheus text exposition of the latest window (`seq`, report).
pub fn prometheus_text(latest: Option<(u64, &Report)>) -> String {
    let mut out = String::new();
    let Some((seq, report)) = latest else {
        out.push_str("# HELP clprof_windows Windows finished.\n# TYPE clprof_windows gauge\n");
        out.push_str("clprof_windows 0\n");
        return out;
    };
    gauge(
        &mut out,
        ("clprof_windows", "Windows finished."),
        vec![(String::new(), seq as f64)],
    );
    line_gauges(&mut out, report);
    sampled_gauges(&mut out, report);
    target_gauges(&mut out, report);
    let d = &report.drops;
    gauge(
        &mut out,
        ("clprof_drops", "Data lost in the latest window, by kind."),
        vec![
            ("{kind=\"ringbuf\"}".to_owned(), d.ringbuf as f64),
            ("{kind=\"map_full\"}".to_owned(), d.map_full as f64),
            ("{kind=\"stacks\"}".to_owned(), d.stacks as f64),
        ],
    );
    out
}

/// Writes gauge `name` (with its `help`) and its rows of (labels, value) to `out`.
fn gauge(out: &mut String, (name, help): (&str, &str), rows: Vec<(String, f64)>) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    for (labels, value) in rows {
        let _ = writeln!(out, "{name}{labels} {value}");
    }
}

/// A row per target of `report`: its labels and `f` of its pid.
fn per_target(report: &Report, f: impl Fn(u32) -> f64) -> Vec<(String, f64)> {
    report
        .targets
        .iter()
        .map(|t| {
            let container = t.container.as_ref().map_or(String::new(), |c| {
                format!(
                    ",container_id=\"{}\",pod_uid=\"{}\"",
                    label(&c.id),
                    label(c.pod_uid.as_deref().unwrap_or(""))
                )
            });
            (
                format!("{{pid=\"{}\",exe=\"{}\"{container}}}", t.pid, label(&t.exe)),
                f(t.pid),
            )
        })
        .collect()
}

/// The gauges of each target's lines: its top line's transfers and writes, its lines' cost.
fn line_gauges(out: &mut String, report: &Report) {
    let top = |pid: u32| report.lines.iter().find(|l| l.pid == pid);
    gauge(
        out,
        (
            "clprof_top_line_transfers",
            "Cache-line transfers of the target's most contended line in the latest window.",
        ),
        per_target(report, |pid| top(pid).map_or(0.0, |l| l.transfers as f64)),
    );
    gauge(
        out,
        (
            "clprof_top_line_writes",
            "Writes to the target's most contended line in the latest window.",
        ),
        per_target(report, |pid| top(pid).map_or(0.0, |l| l.writes as f64)),
    );
    let cost = |pid: u32| -> f64 {
        let mut costs = report
            .lines
            .iter()
            .filter(|l| l.pid == pid)
            .filter_map(|l| l.cost)
            .peekable();
        if costs.peek().is_none() {
            return f64::NAN;
        }
        costs.map(|c| c.cpu_ns_per_s).sum()
    };
    gauge(
        out,
        (
            "clprof_line_cost_ns_per_s",
            "CPU time the target's lines cost per second, in moves between caches or in the \
             sampled time on shared lines (latest window; NaN where no line could be costed).",
        ),
        per_target(report, cost),
    );
}

/// The gauges of what the perf samples' data addresses saw of each target's lines.
fn sampled_gauges(out: &mut String, report: &Report) {
    let sampled = |pid: u32| {
        let lines = report.lines.iter().filter(move |l| l.pid == pid);
        lines.filter_map(|l| l.data_samples.as_ref())
    };
    let top = |pid: u32| report.lines.iter().find(|l| l.pid == pid);
    gauge(
        out,
        (
            "clprof_top_line_data_samples",
            "Perf samples whose data address fell in the target's most contended line (latest \
             window).",
        ),
        per_target(report, |pid| {
            let data = top(pid).and_then(|l| l.data_samples.as_ref());
            data.map_or(0.0, |d| d.samples as f64)
        }),
    );
    gauge(
        out,
        (
            "clprof_shared_line_sample_share",
            "Largest share of the target's perf samples spent on one line its threads share \
             (false or true sharing), 0 to 1 (latest window).",
        ),
        per_target(report, |pid| {
            let shared = sampled(pid).filter(|d| d.sharing.is_shared());
            shared.map(|d| d.share).fold(0.0, f64::max)
        }),
    );
}

/// The gauges of each target's maps and of its profiling overhead.
fn target_gauges(out: &mut String, report: &Report) {
    let map_sum = |pid: u32, field: fn(&crate::report::MapReport) -> u64| -> f64 {
        let maps = report.maps.iter().filter(|m| m.pid == pid);
        maps.map(|m| field(m) as f64).sum()
    };
    gauge(
        out,
        (
            "clprof_concurrent_writers",
            "Map assigns that found another writer inside the same map (latest window).",
        ),
        per_target(report, |pid| map_sum(pid, |m| m.concurrent_writers)),
    );
    gauge(
        out,
        (
            "clprof_growth_writes",
            "Map assigns during or causing map growth (latest window).",
        ),
        per_target(report, |pid| map_sum(pid, |m| m.growth_writes)),
    );
    let target_field = |pid: u32, f: fn(&crate::report::TargetInfo) -> Option<f64>| {
        let target = report.targets.iter().find(|t| t.pid == pid);
        target.and_then(f).unwrap_or(f64::NAN)
    };
    gauge(
        out,
        (
            "clprof_probe_active_fraction",
            "Fraction of the latest window the target's probes were attached.",
        ),
        per_target(report, |pid| {
            target_field(pid, |t| t.overhead.probe_active_fraction)
        }),
    );
    gauge(
        out,
        (
            "clprof_estimated_overhead_pct",
            "Estimated cost of profiling to the target, percent of its own CPU time.",
        ),
        per_target(report, |pid| {
            target_field(pid, |t| t.overhead.estimated_overhead_pct)
        }),
    );
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
