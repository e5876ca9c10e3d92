//! Attaching and detaching each target's uprobes, again and again under the overhead budget.
//!
//! Where the kernel has uprobe-multi links, a target's probes are one link per (program,
//! binary): attaching is a syscall each and detaching removes every breakpoint at once (see
//! `uprobe_multi`). Elsewhere each probe is a perf-event uprobe attached through Aya.

use std::{
    collections::HashMap,
    num::NonZeroU32,
    os::fd::OwnedFd,
    path::PathBuf,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use aya::{
    programs::{
        uprobe::{UProbeAttachLocation, UProbeAttachPoint, UProbeLinkId, UProbeScope},
        UProbe,
    },
    Ebpf,
};
use profiler_common::Cookie;

use crate::kernel::{
    error::AttachError,
    held::{self, HeldFiles},
    uprobe_multi::MultiPrograms,
};

/// The probes attached and detached together, each group under its own budget account (see
/// `overhead::mix`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProbeGroup {
    /// Assign entries and RET sites, growth functions, deletes, clears, custom probes.
    Writes,
    /// Lookups and iteration: far more frequent than writes, metered apart so that they cannot
    /// take the write probes' windows.
    Reads,
}

/// One uprobe of a target, kept so that the target's probes can be detached and attached again
/// (duty cycling under the overhead budget).
#[derive(Clone, Debug)]
pub struct AttachPoint {
    /// The eBPF program (`profiler_common::PROGRAM_*`).
    pub program: &'static str,
    /// The binary the uprobe is in.
    pub path: PathBuf,
    /// The instruction's offset in the file (bytes).
    pub file_offset: u64,
    /// What the program is told about this site.
    pub cookie: Cookie,
    /// The function, for errors.
    pub symbol: String,
    /// The group it is attached and detached with.
    pub group: ProbeGroup,
}

/// One attachment: a uprobe-multi link, or one perf-event uprobe held by its Aya program.
pub enum Link {
    Multi(OwnedFd),
    Aya(&'static str, UProbeLinkId),
}

/// ENOTSUPP: `arch_uprobe_analyze_insn` refused the instruction.
const ENOTSUPP: i32 = 524;

/// The OS error number at the root of `e`, if an I/O error is in its chain.
fn os_error(e: &(dyn std::error::Error + 'static)) -> Option<i32> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(code) = err
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::raw_os_error)
        {
            return Some(code);
        }
        cur = err.source();
    }
    None
}

/// Every target's uprobes and the links that attach them.
#[derive(Default)]
pub struct Links {
    /// Attached links, by target pid and group.
    attached: Vec<(u32, ProbeGroup, Link)>,
    /// Every uprobe of each target, attached or not.
    points: HashMap<u32, Vec<AttachPoint>>,
    /// The uprobe programs loaded again for uprobe-multi links; None where the kernel has none.
    multi: Option<MultiPrograms>,
    /// Links being closed in the background.
    closing: Vec<JoinHandle<()>>,
    /// CPU time spent closing each target's links (ns), by group, not yet taken.
    switch_cpu: HashMap<(u32, ProbeGroup), Arc<AtomicU64>>,
    /// Each target's executable, held open so that its probes stay in that file.
    files: HeldFiles,
}

impl Links {
    /// No links yet; `multi` are the programs for uprobe-multi links, if the kernel has them.
    pub fn new(multi: Option<MultiPrograms>) -> Self {
        Links {
            multi,
            ..Links::default()
        }
    }

    /// The path to attach `pid`'s probes in `path` by: the file held open for it (see
    /// [`HeldFiles::pin`]).
    pub fn pin(
        &mut self,
        pid: u32,
        path: &std::path::Path,
        expect: Option<(u64, u64)>,
    ) -> Result<PathBuf, AttachError> {
        self.files.pin(pid, path, expect)
    }

    /// Whether `pid` runs another program than the file its probes are in.
    pub fn replaced(&self, pid: u32) -> bool {
        self.files.replaced(pid)
    }

    /// Adds `point` to `pid`'s set, attached by [`Links::attach`].
    pub fn add(&mut self, pid: u32, point: AttachPoint) {
        self.points.entry(pid).or_default().push(point);
    }

    /// Whether `pid` has uprobes of `group`.
    pub fn has(&self, pid: u32, group: ProbeGroup) -> bool {
        self.points
            .get(&pid)
            .is_some_and(|p| p.iter().any(|p| p.group == group))
    }

    /// Whether some of `pid`'s uprobes of `group` are attached.
    pub fn is_attached(&self, pid: u32, group: ProbeGroup) -> bool {
        self.attached
            .iter()
            .any(|(p, g, _)| *p == pid && *g == group)
    }

    /// Attaches the uprobes of `group` of `pid` (its set, see [`Links::add`]) with `ebpf`'s
    /// programs. On failure the ones attached stay attached.
    pub fn attach(
        &mut self,
        ebpf: &mut Ebpf,
        pid: u32,
        group: ProbeGroup,
    ) -> Result<(), AttachError> {
        let (began, cpu) = (Instant::now(), thread_cpu());
        let points: Vec<AttachPoint> = self
            .points
            .get(&pid)
            .map(|p| p.iter().filter(|p| p.group == group).cloned().collect())
            .unwrap_or_default();
        // Group by (program, binary), keeping the order points were added in.
        let mut groups: Vec<((&'static str, PathBuf), Vec<&AttachPoint>)> = Vec::new();
        for point in &points {
            let key = (point.program, point.path.clone());
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, members)) => members.push(point),
                None => groups.push((key, vec![point])),
            }
        }
        for ((program, path), members) in groups {
            if let Some(multi) = &self.multi {
                let offsets: Vec<u64> = members.iter().map(|p| p.file_offset).collect();
                let cookies: Vec<u64> = members.iter().map(|p| p.cookie.pack()).collect();
                match multi.attach(program, &path, &offsets, &cookies, pid) {
                    Ok(fd) => {
                        self.attached.push((pid, group, Link::Multi(fd)));
                        continue;
                    }
                    // Attach one by one: that names the site at fault, if any.
                    Err(e) => tracing::debug!(pid, program, "uprobe-multi link: {e}"),
                }
            }
            for point in members {
                self.attach_point(ebpf, pid, point)?;
            }
        }
        tracing::trace!(
            pid,
            ?group,
            probes = points.len(),
            took = ?began.elapsed(),
            cpu = ?thread_cpu().saturating_sub(cpu),
            "attached"
        );
        Ok(())
    }

    fn attach_point(
        &mut self,
        ebpf: &mut Ebpf,
        pid: u32,
        point: &AttachPoint,
    ) -> Result<(), AttachError> {
        let program = point.program;
        let prog = load_uprobe(ebpf, program)?;
        let scope = match NonZeroU32::new(pid) {
            Some(pid) => UProbeScope::OneProcess(pid),
            None => UProbeScope::AllProcesses,
        };
        let at = UProbeAttachPoint {
            location: UProbeAttachLocation::AbsoluteOffset(point.file_offset),
            cookie: Some(point.cookie.pack()),
        };
        let link = prog.attach(at, &point.path, scope).map_err(|source| {
            let (symbol, path) = (point.symbol.clone(), held::shown(&point.path));
            if os_error(&source) == Some(ENOTSUPP) {
                AttachError::Unprobeable { symbol, path }
            } else {
                AttachError::Attach {
                    symbol,
                    path,
                    source: Box::new(source),
                }
            }
        })?;
        self.attached
            .push((pid, point.group, Link::Aya(program, link)));
        Ok(())
    }

    /// Detaches and forgets every uprobe of `pid`.
    pub fn drop_pid(&mut self, ebpf: &mut Ebpf, pid: u32) {
        self.detach(ebpf, pid, None);
        self.points.remove(&pid);
        self.files.release(pid);
    }

    /// Forgets the CPU time booked to `pid` (a target gone).
    pub fn forget_pid(&mut self, pid: u32) {
        self.switch_cpu.retain(|(p, _), _| *p != pid);
    }

    /// Detaches the uprobes of `pid` in `group` (every group: None); the kernel-side stats stay.
    pub fn detach(&mut self, ebpf: &mut Ebpf, pid: u32, group: Option<ProbeGroup>) {
        let began = Instant::now();
        let (mine, others): (Vec<_>, Vec<_>) = self
            .attached
            .drain(..)
            .partition(|(p, g, _)| *p == pid && group.is_none_or(|group| *g == group));
        self.attached = others;
        let n = mine.len();
        let mut by_group: Vec<(ProbeGroup, Vec<Link>)> = Vec::new();
        for (_, g, link) in mine {
            match by_group.iter_mut().find(|(k, _)| *k == g) {
                Some((_, links)) => links.push(link),
                None => by_group.push((g, vec![link])),
            }
        }
        for (g, links) in by_group {
            self.detach_links(ebpf, pid, g, links);
        }
        tracing::trace!(pid, ?group, links = n, took = ?began.elapsed(), "detached");
    }

    /// Detaches every probe and waits until they are gone; the maps stay readable.
    pub fn detach_all(&mut self, ebpf: &mut Ebpf) {
        let mut pids: Vec<u32> = self.attached.iter().map(|(pid, _, _)| *pid).collect();
        pids.sort_unstable();
        pids.dedup();
        for pid in pids {
            self.detach(ebpf, pid, None);
        }
        self.wait_detached();
    }

    /// Detaches `links` of `pid`. Closing a link waits for RCU grace periods after removing its
    /// breakpoints, so links are closed on threads of their own and recording goes on; their
    /// CPU time is booked to `pid`'s `group` (see [`Links::take_switch_cpu`]).
    fn detach_links(&mut self, ebpf: &mut Ebpf, pid: u32, group: ProbeGroup, links: Vec<Link>) {
        let booked = self.switch_cpu.entry((pid, group)).or_default().clone();
        for link in links {
            let owned: Box<dyn Send> = match link {
                Link::Multi(fd) => Box::new(fd),
                Link::Aya(program, id) => {
                    let taken = ebpf
                        .program_mut(program)
                        .ok_or(AttachError::Missing(program))
                        .and_then(|p| <&mut UProbe>::try_from(p).map_err(AttachError::from))
                        .and_then(|p| p.take_link(id).map_err(AttachError::from));
                    match taken {
                        Ok(link) => Box::new(link),
                        Err(e) => {
                            tracing::warn!("detaching a uprobe: {e}");
                            continue;
                        }
                    }
                }
            };
            let booked = booked.clone();
            let closing = std::thread::Builder::new()
                .name("clprof-detach".into())
                .spawn(move || {
                    let began = thread_cpu();
                    drop(owned);
                    let spent = thread_cpu().saturating_sub(began);
                    booked.fetch_add(spent.as_nanos() as u64, Ordering::Relaxed);
                });
            match closing {
                Ok(handle) => self.closing.push(handle),
                // No thread to spare: the link went down with the closure, on this thread.
                Err(e) => tracing::debug!("detaching on this thread: {e}"),
            }
        }
        self.closing.retain(|h| !h.is_finished());
    }

    /// Whether detached links are still being closed (attaching now would wait for them: the
    /// kernel serializes uprobe registration behind their removal).
    pub fn detaching(&self) -> bool {
        self.closing.iter().any(|h| !h.is_finished())
    }

    /// Waits until every detached link is closed.
    fn wait_detached(&mut self) {
        for handle in self.closing.drain(..) {
            let _ = handle.join();
        }
    }

    /// CPU time spent detaching `pid`'s probes of `group` since the last call.
    pub fn take_switch_cpu(&self, pid: u32, group: ProbeGroup) -> Duration {
        let ns = self
            .switch_cpu
            .get(&(pid, group))
            .map_or(0, |a| a.swap(0, Ordering::Relaxed));
        Duration::from_nanos(ns)
    }
}

/// CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID).
pub fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write into.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Aya's copy of the uprobe program `name`, loaded (verified) on first use.
pub fn load_uprobe<'a>(
    ebpf: &'a mut Ebpf,
    name: &'static str,
) -> Result<&'a mut UProbe, AttachError> {
    let prog: &mut UProbe = ebpf
        .program_mut(name)
        .ok_or(AttachError::Missing(name))?
        .try_into()?;
    if prog.fd().is_err() {
        prog.load()?;
    }
    Ok(prog)
}
