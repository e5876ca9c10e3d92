//! `clprof daemon`: records the targets in back-to-back windows, keeps the last reports, and
//! serves them over HTTP (see `http`) until SIGINT/SIGTERM.

pub mod http;
pub mod pull;
pub mod push;

use std::{
    collections::{HashSet, VecDeque},
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{Arc, RwLock},
    time::Duration,
};

use anyhow::{bail, Context as _};

use crate::{
    cli::DaemonArgs,
    collect::{self, CollectOptions, StopReason},
    discover::{
        follow::{Change, Follow},
        scan::GoScanner,
    },
    inspect, output, render,
    report::{build, Report},
    session::{streams::Streams, Prelude, ProbePlan, Session},
    target::Target,
};

/// Targets listed by `/targets`, exited ones dropped first beyond it.
pub const MAX_LISTED_TARGETS: usize = 256;

/// One finished window.
#[derive(Clone, Debug)]
pub struct Window {
    /// 1 for the first window, counting up.
    pub seq: u64,
    pub report: Arc<Report>,
    /// When its recording started and ended.
    pub span: (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>),
}

/// What a target is doing, for `/targets`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TargetStatus {
    pub pid: u32,
    /// Its pid inside its own pid namespace (a container's); equal to `pid` outside one.
    pub ns_pid: Option<u32>,
    /// The container it runs in; null outside one.
    pub container: Option<crate::inspect::container::Container>,
    pub exe: String,
    pub state: TargetState,
    /// Windows this target was recorded in.
    pub windows: u64,
}

impl TargetStatus {
    /// A target just attached.
    fn recording(t: &Target) -> Self {
        TargetStatus {
            pid: t.pid,
            ns_pid: t.ns_pid,
            container: t.container.clone(),
            exe: t.exe.clone(),
            state: TargetState::Recording,
            windows: 0,
        }
    }
}

/// Whether a target is still recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetState {
    Recording,
    Exited,
}

/// Shared between the recording loop and the HTTP server.
#[derive(Debug, Default)]
pub struct DaemonState {
    /// The last windows, oldest first (at most `keep`).
    pub windows: VecDeque<Window>,
    pub keep: usize,
    pub targets: Vec<TargetStatus>,
    /// Window length (s).
    pub window_s: f64,
    /// Push counters, with `--pyroscope-url`.
    pub push: Option<Arc<push::PushStats>>,
}

impl DaemonState {
    /// The window `seq`, or the latest.
    pub fn window(&self, seq: Option<u64>) -> Option<&Window> {
        match seq {
            Some(seq) => self.windows.iter().find(|w| w.seq == seq),
            None => self.windows.back(),
        }
    }

    /// Lists a new target; finished ones beyond [`MAX_LISTED_TARGETS`] make room (oldest
    /// first).
    fn add_target(&mut self, t: &Target) {
        self.targets.push(TargetStatus::recording(t));
        while self.targets.len() > MAX_LISTED_TARGETS {
            match self
                .targets
                .iter()
                .position(|s| s.state == TargetState::Exited)
            {
                Some(i) => drop(self.targets.remove(i)),
                None => break,
            }
        }
    }

    /// Marks `pid` exited.
    fn exited(&mut self, pid: u32) {
        for status in self.targets.iter_mut().filter(|s| s.pid == pid) {
            status.state = TargetState::Exited;
        }
    }

    fn push(&mut self, window: Window) {
        self.windows.push_back(window);
        while self.windows.len() > self.keep.max(1) {
            self.windows.pop_front();
        }
    }
}

/// Whether `addr` may be listened on: loopback always, anything else only when allowed.
pub fn check_listen(addr: &SocketAddr, allow_remote: bool) -> anyhow::Result<()> {
    if addr.ip().is_loopback() {
        return Ok(());
    }
    if !allow_remote {
        bail!(
            "--listen {addr} is not a loopback address: the reports show code and memory layout of the targets; add --allow-remote to serve them beyond this host"
        );
    }
    eprintln!("clprof: warning: serving reports on {addr}, reachable from other hosts");
    Ok(())
}

pub async fn run(args: DaemonArgs, verbose: bool, quiet: bool) -> anyhow::Result<()> {
    check_listen(&args.listen, args.allow_remote)?;
    let pusher = push::Pusher::from_args(&args)?;
    if args.recording.pids.is_empty() && !args.recording.all_go {
        bail!("nothing to profile: give --pid PID (repeat for several) or --all-go");
    }
    let Prelude {
        signals,
        plan,
        loading,
    } = Prelude::start(&[], verbose)?;
    let plan = plan.watching(&args.recording.watch)?;
    if let Some(dir) = &args.out_dir {
        prepare_out_dir(dir)?;
    }
    let targets = (args.recording.pids.iter())
        .map(|&pid| resolve(pid, &plan))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut session = Session::open(plan, loading, args.recording.events, args.recording.budget)?;
    let mut targets = attach_given(&mut session, targets, args.recording.sample_every)?;
    // The tracepoints before the first scan: a process starting in between is seen by one or
    // the other. Without them, new processes are found at window starts only.
    let follow = match args.recording.all_go {
        true => Follow::start(&mut session, args.recording.sample_every)
            .inspect_err(|e| tracing::warn!("new processes are found at window starts only: {e}"))
            .ok(),
        false => None,
    };
    let mut scanner = args.recording.all_go.then(GoScanner::default);
    let perf_events = session.start_perf()?;
    let mut streams = session.streams()?;

    let (state, server) = serve(&args, &targets, pusher.as_ref()).await?;
    if !quiet {
        announce(&args, targets.len());
    }

    let mut options = CollectOptions {
        duration: args.window,
        progress: false,
        duty: session.overhead.duty,
        ledger: Default::default(),
        save_samples: None,
        signals,
        watcher: None,
        auto_watch: None,
        follow: follow.map(|f| f.notifying(state_follower(state.clone()))),
    };
    let mut seq = 0;
    let stop = loop {
        if let Some(scanner) = &mut scanner {
            follow_new(scanner, &mut session, &mut targets, &args, &state);
        }
        seq += 1;
        let window = Windows {
            args: &args,
            state: &state,
            pusher: pusher.as_ref(),
        };
        let (stop, all_exited) = window
            .record(seq, &mut session, &mut streams, &mut options, &mut targets)
            .await?;
        match stop {
            StopReason::Signal(name) => break name,
            _ if all_exited && scanner.is_none() => break "every target exited",
            _ => {}
        }
        session.open_window(&mut targets);
    };
    if let Some(events) = &perf_events {
        events.disable();
    }
    stop_serving(server, pusher).await;
    if !quiet {
        eprintln!("clprof: daemon stopped ({stop}) after {seq} window(s)");
    }
    Ok(())
}

/// Stops the HTTP `server` and sends what `pusher` still holds.
async fn stop_serving(server: tokio::task::JoinHandle<()>, pusher: Option<push::Pusher>) {
    server.abort();
    if let Some(pusher) = pusher {
        pusher.finish().await;
    }
}

/// Tells the user the daemon records `targets` processes and serves its page.
fn announce(args: &DaemonArgs, targets: usize) {
    eprintln!(
        "clprof: daemon recording {targets} process(es) in {} windows; serving http://{}/",
        humantime::format_duration(args.window),
        args.listen
    );
}

/// The state the HTTP server shares with the recording loop, and the server on `--listen`.
async fn serve(
    args: &DaemonArgs,
    targets: &[Target],
    pusher: Option<&push::Pusher>,
) -> anyhow::Result<(Arc<RwLock<DaemonState>>, tokio::task::JoinHandle<()>)> {
    let state = Arc::new(RwLock::new(DaemonState {
        keep: args.keep,
        window_s: args.window.as_secs_f64(),
        push: pusher.map(push::Pusher::stats),
        targets: targets.iter().map(TargetStatus::recording).collect(),
        ..DaemonState::default()
    }));
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let server = tokio::spawn(http::serve(listener, state.clone()));
    Ok((state, server))
}

/// Keeps `/targets` up to date as the follower attaches new processes and sees them exit.
fn state_follower(state: Arc<RwLock<DaemonState>>) -> impl Fn(Change<'_>) + Send + Sync + 'static {
    move |change| {
        let mut state = state.write().unwrap_or_else(|e| e.into_inner());
        match change {
            Change::Joined(t) => state.add_target(t),
            Change::Exited(pid) => state.exited(pid),
        }
    }
}

/// Attaches the `--pid` targets; past the kernel side's targets one is left out (the first
/// window's notices name it).
fn attach_given(
    session: &mut Session,
    given: Vec<Target>,
    sample_every: u32,
) -> anyhow::Result<Vec<Target>> {
    let mut targets = Vec::with_capacity(given.len());
    for mut t in given {
        match session.attach(&t, sample_every) {
            Err(e) if crate::session::is_full(&e) => {
                tracing::warn!(pid = t.pid, "not recorded: {e:#}");
                continue;
            }
            attached => attached.with_context(|| format!("profiling pid {}", t.pid))?,
        }
        t.read_bias();
        targets.push(t);
    }
    Ok(targets)
}

/// Where each window goes once recorded: the state `/` serves, `--out-dir`, the pusher.
struct Windows<'a> {
    args: &'a DaemonArgs,
    state: &'a RwLock<DaemonState>,
    pusher: Option<&'a push::Pusher>,
}

impl Windows<'_> {
    /// Records window `seq` and hands its report on; why it stopped, and whether every target
    /// has exited.
    async fn record(
        &self,
        seq: u64,
        session: &mut Session,
        streams: &mut Streams,
        options: &mut CollectOptions,
        targets: &mut Vec<Target>,
    ) -> anyhow::Result<(StopReason, bool)> {
        // Watchpoints anew each window: on what `--watch` names in the targets of the moment, or
        // on the window's own top lines.
        match session.watch(targets, &self.args.recording.watch, self.args.window) {
            Ok(watch) => (options.watcher, options.auto_watch) = (watch.watcher, watch.auto),
            Err(e) => tracing::warn!("--watch: {e:#}; this window watches nothing"),
        }
        let started_at = chrono::Utc::now();
        let collected = collect::collect(session, streams, options, targets).await?;
        let ended_at = chrono::Utc::now();
        if let Some(follow) = &mut options.follow {
            targets.append(&mut follow.take_joined());
        }
        let readout = session.readout(collected.watch.is_some(), collected.stack_ids())?;
        let report = build::build(readout, targets, &collected, started_at);
        let window = Window {
            seq,
            report: Arc::new(report),
            span: (started_at, ended_at),
        };
        let all_exited = update_targets(self.state, targets, &collected.exited);
        if let Some(dir) = &self.args.out_dir {
            // A window that cannot be written is still served; the daemon goes on.
            if let Err(e) = write_window(dir, &window) {
                tracing::warn!("window {} not saved: {e:#}", window.seq);
            }
        }
        if let Some(pusher) = self.pusher {
            pusher.window(&window);
        }
        self.state
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(window);
        Ok((collected.stop, all_exited))
    }
}

fn resolve(pid: u32, plan: &ProbePlan) -> anyhow::Result<Target> {
    let mut t = plan.resolve(pid)?;
    t.open_symbols();
    Ok(t)
}

/// `--all-go`: adds the Go processes that appeared since the last scan (all of them at start;
/// later, those the exec tracepoint missed, or every new one where it is not available).
fn follow_new(
    scanner: &mut GoScanner,
    session: &mut Session,
    targets: &mut Vec<Target>,
    args: &DaemonArgs,
    state: &RwLock<DaemonState>,
) {
    let known: HashSet<u32> = targets.iter().map(|t| t.pid).collect();
    for pid in scanner.scan(&known) {
        let added = resolve(pid, &session.plan).and_then(|mut t| {
            session.attach(&t, args.recording.sample_every)?;
            t.read_bias();
            Ok(t)
        });
        match added {
            Ok(t) => {
                tracing::info!(pid, exe = %t.exe, "following a new Go process");
                state
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .add_target(&t);
                targets.push(t);
            }
            Err(e) => {
                // Tried again at the next scan.
                let _ = session.probes.remove_target(pid);
                crate::discover::follow::not_following(pid, &e);
            }
        }
    }
}

/// Counts the window for live targets and marks exited ones; true when none is left.
fn update_targets(
    state: &RwLock<DaemonState>,
    targets: &[Target],
    exited: &std::collections::HashMap<u32, Duration>,
) -> bool {
    let mut state = state.write().unwrap_or_else(|e| e.into_inner());
    for status in &mut state.targets {
        if status.state == TargetState::Exited {
            continue;
        }
        status.windows += 1;
        let alive = targets
            .iter()
            .any(|t| t.pid == status.pid && inspect::is_alive(t.pid));
        if exited.contains_key(&status.pid) || !alive {
            status.state = TargetState::Exited;
        }
    }
    state.targets.iter().all(|t| t.state == TargetState::Exited)
}

/// The file each window is saved to in `--out-dir`, besides `latest.json`.
fn window_file(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("window-{seq:06}.json"))
}

/// `--out-dir` exists as a directory (made, with its parents, when missing) and its
/// `latest.json` can be written.
fn prepare_out_dir(dir: &Path) -> anyhow::Result<()> {
    match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => bail!("--out-dir {} is not a directory", dir.display()),
        Ok(_) => {}
        Err(_) => {
            std::fs::create_dir_all(dir).with_context(|| format!("--out-dir {}", dir.display()))?
        }
    }
    output::check(&dir.join("latest.json")).context("--out-dir")?;
    Ok(())
}

fn write_window(dir: &Path, window: &Window) -> Result<(), output::WriteError> {
    let json = render::json(&window.report);
    // A FIFO nobody reads is skipped: waiting for a reader would stall the recording.
    let no_reader = output::NoReader::Fail;
    output::write(&window_file(dir, window.seq), json.as_bytes(), no_reader)?;
    output::write(&dir.join("latest.json"), json.as_bytes(), no_reader)
}

#[cfg(test)]
mod tests;
