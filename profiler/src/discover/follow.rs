//! Following processes as they start and end (`--all-go`): a task reads the exec and exit
//! tracepoints' ring buffer, checks each exec'd executable for Go map functions off the async
//! threads, and hands what it found to the collector ([`Follow`]), which attaches new Go
//! processes in the middle of a window and marks exited ones at once.

use std::{sync::Arc, time::Duration};

use aya::maps::{MapData, RingBuf};
use profiler_common::process::{ProcessEvent, PROCESS_EXEC, PROCESS_EXIT};
use tokio::{io::unix::AsyncFd, sync::mpsc};

use crate::{
    discover::scan::GoScanner,
    kernel::{error::AttachError, probes::Probes},
    session::{self, ProbePlan, Session},
    target::Target,
};

/// Found processes waiting for the collector; past this the reader waits (and the kernel's
/// ring buffer holds the rest).
const QUEUE: usize = 1_024;

/// What the reader task found.
pub enum Found {
    /// A process exec'd a Go executable; `exec_ns` is when (CLOCK_MONOTONIC).
    Started { target: Box<Target>, exec_ns: u64 },
    /// A process's main thread exited.
    Exited { pid: u32 },
}

/// What the collector tells the caller as it happens.
pub enum Change<'a> {
    /// A target joined (attached).
    Joined(&'a Target),
    /// A target exited.
    Exited(u32),
}

type Notify = Box<dyn Fn(Change<'_>) + Send + Sync>;

/// The collector's side: new processes to attach, exits to note.
pub struct Follow {
    found: mpsc::Receiver<Found>,
    plan: Arc<ProbePlan>,
    sample_every: u32,
    with_reads: bool,
    /// Targets attached since the caller last took them ([`Follow::take_joined`]).
    joined: Vec<Target>,
    notify: Option<Notify>,
}

impl Follow {
    /// Attaches the exec and exit tracepoints and starts reading them. Call before scanning
    /// `/proc`, so that no process starts unseen in between.
    pub fn start(session: &mut Session, sample_every: u32) -> Result<Follow, AttachError> {
        let ring = session.probes.follow_processes()?;
        // SAFETY: the ring buffer owns its fd (a BPF map) and keeps it open and unchanged for as
        // long as the AsyncFd owns it.
        let ring =
            unsafe { AsyncFd::register(ring) }.map_err(|e| AttachError::Io(Box::new(e.into())))?;
        let (tx, found) = mpsc::channel(QUEUE);
        tokio::spawn(read(ring, session.plan.clone(), tx));
        Ok(Follow {
            found,
            plan: session.plan.clone(),
            sample_every,
            with_reads: session.reads_start_attached(),
            joined: Vec::new(),
            notify: None,
        })
    }

    /// Also tells `notify` of every target that joins or exits.
    pub fn notifying(self, notify: impl Fn(Change<'_>) + Send + Sync + 'static) -> Follow {
        Follow {
            notify: Some(Box::new(notify)),
            ..self
        }
    }

    /// The next thing found; None once the reader stopped.
    pub async fn next(&mut self) -> Option<Found> {
        self.found.recv().await
    }

    /// Attaches a found process; its pid when it joined (not already a target, attached).
    pub fn join(&mut self, probes: &mut Probes, target: Target, exec_ns: u64) -> Option<u32> {
        let pid = target.pid;
        if probes.slot_of(pid).is_some() {
            return None;
        }
        let mut t = target;
        let attached = session::attach(probes, &t, &self.plan, self.sample_every, self.with_reads);
        if let Err(e) = attached {
            let _ = probes.remove_target(pid);
            not_following(pid, &e);
            return None;
        }
        t.read_bias();
        let delay = monotonic_ns().saturating_sub(exec_ns);
        tracing::info!(
            pid,
            exe = %t.exe,
            after_exec_ms = Duration::from_nanos(delay).as_secs_f64() * 1e3,
            "following a new Go process"
        );
        // Read now, once the probes are in, while its executable can still be opened: a process
        // that exits before the window ends is gone from /proc by then.
        t.open_symbols();
        if let Some(notify) = &self.notify {
            notify(Change::Joined(&t));
        }
        self.joined.push(t);
        Some(pid)
    }

    /// The targets attached since the last [`Follow::take_joined`].
    pub fn joined(&self) -> &[Target] {
        &self.joined
    }

    /// The targets attached since the last call.
    pub fn take_joined(&mut self) -> Vec<Target> {
        std::mem::take(&mut self.joined)
    }

    /// Tells the caller a target is gone.
    pub fn exited(&self, pid: u32) {
        if let Some(notify) = &self.notify {
            notify(Change::Exited(pid));
        }
    }
}

/// The reader task: until the collector side is dropped.
async fn read(mut ring: AsyncFd<RingBuf<MapData>>, plan: Arc<ProbePlan>, tx: mpsc::Sender<Found>) {
    let mut scanner = Some(GoScanner::default());
    let mut batch = Vec::new();
    loop {
        let mut guard = match ring.readable_mut().await {
            Ok(guard) => guard,
            Err(e) => {
                tracing::warn!(
                    "exec and exit events: {e}; new processes are found at window starts only"
                );
                return;
            }
        };
        while let Some(item) = guard.get_inner_mut().next() {
            batch.extend(ProcessEvent::read_from(&item));
        }
        guard.clear_ready();
        for event in batch.drain(..) {
            let pid = event.pid;
            let found = match event.kind {
                PROCESS_EXIT => Found::Exited { pid },
                PROCESS_EXEC => {
                    // Reading the executable takes a while: not on the async threads.
                    let (mut s, plan) = (scanner.take().unwrap_or_default(), plan.clone());
                    let checked = tokio::task::spawn_blocking(move || {
                        let began = std::time::Instant::now();
                        let found = s.go_target(pid).map(|t| plan.found(t));
                        tracing::trace!(pid, took = ?began.elapsed(), "exec'd executable read");
                        (s, found)
                    })
                    .await;
                    let Ok((s, found)) = checked else { continue };
                    scanner = Some(s);
                    match found {
                        Some(Ok(target)) => Found::Started {
                            target: Box::new(target),
                            exec_ns: event.ktime_ns,
                        },
                        Some(Err(e)) => {
                            tracing::debug!(pid, "not following: {e}");
                            continue;
                        }
                        None => continue,
                    }
                }
                _ => continue,
            };
            if tx.send(found).await.is_err() {
                return;
            }
        }
    }
}

/// CLOCK_MONOTONIC now (ns), the clock of `bpf_ktime_get_ns`.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Says why `pid` is not followed: quietly when it is gone already or every target slot is
/// taken (the report's notice names those), as a warning otherwise.
pub fn not_following(pid: u32, e: &anyhow::Error) {
    if session::is_full(e) || !crate::inspect::is_alive(pid) {
        tracing::debug!(pid, "not following: {e:#}");
    } else {
        tracing::warn!(pid, "not following a Go process: {e:#}");
    }
}
