//! `clprof daemon --pyroscope-url URL`: each finished window's profile of each target is pushed
//! to Grafana Pyroscope's `/ingest` (see `ingest` for the request).
//!
//! The window loop hands a window over with [`Pusher::window`], which only appends to a bounded
//! queue ([`QUEUE_LEN`] profiles; the oldest is dropped when full) and never waits; one task of
//! its own renders each profile and sends it, with a per-request timeout and retries with
//! exponential backoff. Outcomes are counted in [`PushStats`] (served in `/metrics`); the first
//! failure after a success is logged as a warning, the rest of the burst only counted.

pub mod ingest;

use std::{
    collections::VecDeque,
    fmt::Write as _,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use anyhow::Context as _;
use tokio::sync::Notify;

use super::Window;
use crate::{cli::DaemonArgs, render, report::Report};
use ingest::{ConfigError, Endpoint, Verdict};

/// Profiles waiting to be sent, at most.
pub const QUEUE_LEN: usize = 64;

/// The longest the daemon waits, when it stops, for the profiles still queued to be sent.
pub const MAX_FLUSH: Duration = Duration::from_secs(10);

/// What the push flags asked for, checked.
#[derive(Clone, Debug)]
pub struct Config {
    pub endpoint: Endpoint,
    /// `--label` pairs, in the order given.
    pub labels: Vec<(String, String)>,
    /// Per request (`--push-timeout`).
    pub timeout: Duration,
    /// `X-Scope-OrgID` (`--pyroscope-tenant`).
    pub tenant: Option<String>,
}

impl Config {
    /// The push configuration of the daemon's flags; None without `--pyroscope-url`.
    pub fn from_args(args: &DaemonArgs) -> Result<Option<Config>, ConfigError> {
        let Some(url) = &args.pyroscope_url else {
            if !args.labels.is_empty() {
                return Err(ConfigError::LabelWithoutUrl);
            }
            return Ok(None);
        };
        if args.push_timeout.is_zero() {
            return Err(ConfigError::ZeroTimeout);
        }
        Ok(Some(Config {
            endpoint: ingest::parse_url(url)?,
            labels: ingest::parse_labels(&args.labels)?,
            timeout: args.push_timeout,
            tenant: args.pyroscope_tenant.clone(),
        }))
    }
}

/// Push outcomes, for `/metrics`.
#[derive(Debug, Default)]
pub struct PushStats {
    /// Profiles the server took (2xx).
    pub pushes: AtomicU64,
    /// Requests that failed: no connection, timeout, or a status other than 2xx (every try).
    pub errors: AtomicU64,
    /// Profiles dropped from a full queue (the oldest first).
    pub dropped_queue_full: AtomicU64,
    /// Profiles the server refused with a 4xx status other than 429 (not retried).
    pub dropped_rejected: AtomicU64,
    /// Profiles given up after the last try, or not sent before the daemon stopped.
    pub dropped_failed: AtomicU64,
    /// Profiles waiting in the queue now.
    pub queued: AtomicU64,
}

impl PushStats {
    /// The counters in Prometheus text format.
    pub fn prometheus_text(&self) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, rows: &[(&str, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in rows {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        metric(
            "clprof_pushes_total",
            "counter",
            "Profiles pushed to Pyroscope and accepted (2xx).",
            &[("", get(&self.pushes))],
        );
        metric(
            "clprof_push_errors_total",
            "counter",
            "Push requests that failed (no connection, timeout, or a non-2xx status), every try.",
            &[("", get(&self.errors))],
        );
        metric(
            "clprof_push_dropped_total",
            "counter",
            "Profiles never delivered, by reason: queue_full (the oldest queued one makes room), \
             rejected (4xx other than 429), failed (the last try failed, or still queued at exit).",
            &[
                ("{reason=\"queue_full\"}", get(&self.dropped_queue_full)),
                ("{reason=\"rejected\"}", get(&self.dropped_rejected)),
                ("{reason=\"failed\"}", get(&self.dropped_failed)),
            ],
        );
        metric(
            "clprof_push_queued",
            "gauge",
            "Profiles waiting to be pushed.",
            &[("", get(&self.queued))],
        );
        out
    }
}

/// One target's profile of one window, to render and send.
struct Job {
    report: Arc<Report>,
    pid: u32,
    seq: u64,
    /// The window's bounds, Unix seconds.
    from: i64,
    until: i64,
}

/// The bounded queue between the window loop and the sending task.
#[derive(Default)]
struct Queue {
    jobs: Mutex<VecDeque<Job>>,
    ready: Notify,
    closed: AtomicBool,
}

impl Queue {
    fn pop(&self, stats: &PushStats) -> Option<Job> {
        let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        let job = jobs.pop_front();
        stats.queued.store(jobs.len() as u64, Ordering::Relaxed);
        job
    }
}

/// Appends `job`, dropping the oldest when [`QUEUE_LEN`] are queued already.
fn enqueue(jobs: &mut VecDeque<Job>, job: Job, stats: &PushStats) {
    while jobs.len() >= QUEUE_LEN {
        jobs.pop_front();
        stats.dropped_queue_full.fetch_add(1, Ordering::Relaxed);
    }
    jobs.push_back(job);
}

/// The pushing task and its queue.
pub struct Pusher {
    queue: Arc<Queue>,
    stats: Arc<PushStats>,
    task: tokio::task::JoinHandle<()>,
    flush: Duration,
}

impl Pusher {
    /// The pusher the daemon's flags ask for, started (None without `--pyroscope-url`).
    pub fn from_args(args: &DaemonArgs) -> anyhow::Result<Option<Pusher>> {
        match Config::from_args(args)? {
            Some(config) => Pusher::start(config).map(Some),
            None => Ok(None),
        }
    }

    /// Starts the sending task (on the current tokio runtime).
    pub fn start(config: Config) -> anyhow::Result<Pusher> {
        // rustls's crypto: ring. An error only says that a provider is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .connect_timeout(config.timeout)
            .user_agent(concat!("clprof/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("setting up the HTTP client for --pyroscope-url")?;
        let queue = Arc::new(Queue::default());
        let stats = Arc::new(PushStats::default());
        let flush = config.timeout.min(MAX_FLUSH);
        let sender = Sender {
            client,
            config,
            stats: stats.clone(),
            failing: false,
            failures: 0,
        };
        let task = tokio::spawn(sender.run(queue.clone()));
        Ok(Pusher {
            queue,
            stats,
            task,
            flush,
        })
    }

    /// The counters, for `/metrics`.
    pub fn stats(&self) -> Arc<PushStats> {
        self.stats.clone()
    }

    /// Queues the window's profile of each target that has lines in it; never waits (the queue
    /// drops its oldest profile when full).
    pub fn window(&self, window: &Window) {
        let report = &window.report;
        let from =
            chrono::DateTime::parse_from_rfc3339(&report.started_at).map_or(0, |t| t.timestamp());
        let until = chrono::Utc::now().timestamp().max(from);
        let mut jobs = self.queue.jobs.lock().unwrap_or_else(|e| e.into_inner());
        for t in &report.targets {
            if !report.lines.iter().any(|l| l.pid == t.pid) {
                continue;
            }
            let job = Job {
                report: report.clone(),
                pid: t.pid,
                seq: window.seq,
                from,
                until,
            };
            enqueue(&mut jobs, job, &self.stats);
        }
        self.stats
            .queued
            .store(jobs.len() as u64, Ordering::Relaxed);
        drop(jobs);
        self.queue.ready.notify_one();
    }

    /// Lets the task send what is queued, for at most the push timeout (10 s at most), then
    /// stops it; profiles left unsent count as failed.
    pub async fn finish(mut self) {
        self.queue.closed.store(true, Ordering::Relaxed);
        self.queue.ready.notify_one();
        if tokio::time::timeout(self.flush, &mut self.task)
            .await
            .is_err()
        {
            self.task.abort();
            let left = {
                let mut jobs = self.queue.jobs.lock().unwrap_or_else(|e| e.into_inner());
                let n = jobs.len() as u64;
                jobs.clear();
                n
            };
            // The profile being sent when the task stopped was not delivered either.
            let lost = left + 1;
            self.stats.dropped_failed.fetch_add(lost, Ordering::Relaxed);
            self.stats.queued.store(0, Ordering::Relaxed);
            tracing::warn!(
                "pyroscope: {lost} profile(s) not pushed before the daemon stopped (waited {})",
                humantime::format_duration(self.flush)
            );
        }
    }
}

/// Why one request failed.
#[derive(Debug, thiserror::Error)]
enum PushError {
    #[error("{}", chain(.0))]
    Request(#[source] reqwest::Error),
    #[error("HTTP {status}{}", if body.is_empty() { String::new() } else { format!(": {body}") })]
    Status {
        status: u16,
        body: String,
        retry_after: Option<Duration>,
    },
}

/// An error and its causes, `: `-separated (reqwest keeps "timed out" and "connection refused"
/// in the causes).
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            let _ = write!(text, ": {more}");
        }
        cause = c.source();
    }
    text
}

/// The sending task's state.
struct Sender {
    client: reqwest::Client,
    config: Config,
    stats: Arc<PushStats>,
    /// Whether the last request failed (the warning is logged once per burst).
    failing: bool,
    /// Failed requests in the current burst.
    failures: u64,
}

impl Sender {
    async fn run(mut self, queue: Arc<Queue>) {
        loop {
            match queue.pop(&self.stats) {
                Some(job) => self.push(job).await,
                None if queue.closed.load(Ordering::Relaxed) => break,
                // A window queued between the pop and here left a permit: no wake-up is lost.
                None => queue.ready.notified().await,
            }
        }
    }

    /// Renders and sends one profile, with retries.
    async fn push(&mut self, job: Job) {
        let Some(target) = job.report.targets.iter().find(|t| t.pid == job.pid) else {
            return;
        };
        let pprof = match render::pprof_of_target(&job.report, job.pid) {
            Ok(pprof) => pprof,
            Err(e) => {
                tracing::warn!(pid = job.pid, "pyroscope: window {}: {e}", job.seq);
                self.stats.dropped_failed.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        let labels = ingest::target_labels(target, &self.config.labels);
        let name = ingest::app_name(&ingest::service_name(&target.exe), &labels);
        let url = ingest::ingest_url(&self.config.endpoint.ingest, &name, job.from, job.until);
        let config = ingest::sample_type_config();
        let (content_type, body) = ingest::multipart(&ingest::ingest_parts(&pprof, &config));
        for retry in 0..ingest::TRIES {
            let error = match self.send(&url, &content_type, body.clone()).await {
                Ok(()) => {
                    self.stats.pushes.fetch_add(1, Ordering::Relaxed);
                    if self.failing {
                        tracing::info!(
                            "pyroscope: pushing works again after {} failed request(s)",
                            self.failures
                        );
                    }
                    tracing::debug!(pid = job.pid, "pyroscope: window {} pushed", job.seq);
                    (self.failing, self.failures) = (false, 0);
                    return;
                }
                Err(e) => e,
            };
            self.stats.errors.fetch_add(1, Ordering::Relaxed);
            self.failures += 1;
            let (rejected, retry_after) = match &error {
                PushError::Status {
                    status,
                    retry_after,
                    ..
                } => (ingest::verdict(*status) == Verdict::Rejected, *retry_after),
                PushError::Request(_) => (false, None),
            };
            if !self.failing {
                tracing::warn!(
                    "pyroscope: pushing to {} failed: {error}; further failures are counted in \
                     clprof_push_errors_total until a push succeeds",
                    self.config.endpoint.ingest
                );
                self.failing = true;
            } else {
                tracing::debug!(pid = job.pid, "pyroscope: window {}: {error}", job.seq);
            }
            if rejected {
                self.stats.dropped_rejected.fetch_add(1, Ordering::Relaxed);
                return;
            }
            if retry + 1 < ingest::TRIES {
                tokio::time::sleep(ingest::retry_delay(retry, retry_after)).await;
            }
        }
        self.stats.dropped_failed.fetch_add(1, Ordering::Relaxed);
    }

    async fn send(
        &self,
        url: &reqwest::Url,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<(), PushError> {
        let mut request = self
            .client
            .post(url.clone())
            .timeout(self.config.timeout)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        if let Some((user, password)) = &self.config.endpoint.basic_auth {
            request = request.basic_auth(user, password.as_ref());
        }
        if let Some(tenant) = &self.config.tenant {
            request = request.header("X-Scope-OrgID", tenant);
        }
        let response = request.send().await.map_err(PushError::Request)?;
        let status = response.status().as_u16();
        if ingest::verdict(status) == Verdict::Delivered {
            return Ok(());
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(ingest::parse_retry_after);
        // The server's reason, first line, shortened.
        let text = response.text().await.unwrap_or_default();
        let body: String = text
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(200)
            .collect();
        Err(PushError::Status {
            status,
            body,
            retry_after,
        })
    }
}

#[cfg(test)]
mod tests;
