//! One recording session, the setup `record` and `daemon` share: checks, signals, the probe plan,
//! the perf source, loading clprof's programs and calibrating, attaching each target, starting
//! perf sampling and the event streams.

pub mod preflight;
pub mod streams;
mod window;

use std::{path::Path, sync::Arc};

use anyhow::Context as _;
use streams::{Signals, Streams};

use crate::{
    inspect::{self, GoBinary, ProbeSite, TargetError},
    kernel::{
        calibrate::{self, WatchCalibration},
        probes::Probes,
        target_config::target_config,
    },
    machine,
    overhead::{mix::Mix, plan::OverheadPlan, share, share::Budget},
    perf::{self, PerfEvents, PerfSource, Sampling},
    probe_spec::{CustomProbe, ProbeSpec},
    readout::{ProbeHits, Readout},
    target::Target,
    watch::{
        auto::AutoWatch,
        spec::{self, WatchSpec, WatchSpecError},
        words, Watcher,
    },
};

/// Which Go map probes are attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GoProbes {
    None,
    /// The assigns (`--probe go-writes`).
    Writes,
    /// Assigns, lookups, iteration, deletes and clears (`--probe go`, the default).
    All,
}

/// Which probes the user asked for.
pub struct ProbePlan {
    go: GoProbes,
    custom: Vec<(CustomProbe, ProbeSite)>,
    /// `--watch` names memory to watch: a process without Go maps is a target too.
    watching: bool,
    /// Whether and how the watchpoint hit cost is calibrated.
    watch_calibration: WatchCalibration,
}

impl ProbePlan {
    pub fn new(specs: &[ProbeSpec]) -> anyhow::Result<Self> {
        let mut plan = ProbePlan {
            go: if specs.is_empty() {
                GoProbes::All
            } else {
                GoProbes::None
            },
            custom: Vec::new(),
            watching: false,
            watch_calibration: WatchCalibration::Skip,
        };
        for spec in specs {
            match spec {
                ProbeSpec::Go => plan.go = GoProbes::All,
                ProbeSpec::GoWrites if plan.go == GoProbes::None => plan.go = GoProbes::Writes,
                ProbeSpec::GoWrites => {}
                ProbeSpec::Custom(c) => {
                    let site = inspect::find_symbol(&c.binary, &c.symbol)?;
                    plan.custom.push((c.clone(), site));
                }
            }
        }
        Ok(plan)
    }

    /// The plan, with `specs` to watch in every target (`--watch`; `off` only alone).
    pub fn watching(self, specs: &[WatchSpec]) -> Result<Self, WatchSpecError> {
        spec::check(specs)?;
        let named = specs
            .iter()
            .any(|w| !matches!(w, WatchSpec::Off | WatchSpec::Auto));
        Ok(ProbePlan {
            watching: named,
            // Named words need watchpoints; `auto` uses them where they work.
            watch_calibration: if named {
                WatchCalibration::Required
            } else if specs.contains(&WatchSpec::Auto) {
                WatchCalibration::IfAvailable
            } else {
                WatchCalibration::Skip
            },
            ..self
        })
    }

    /// `pid` to record: its `/proc` entry read and its executable inspected, once.
    pub fn resolve(&self, pid: u32) -> Result<Target, TargetError> {
        let process = inspect::resolve_process(pid)?;
        let binary = self.go_binary(inspect::inspect_process(&process))?;
        Ok(Target::of_process(process, binary))
    }

    /// A Go process `--all-go` found, to record. Its symbols are not opened yet: a process found
    /// by its exec is attached first.
    pub fn found(&self, found: inspect::GoProcess) -> Result<Target, TargetError> {
        let binary = self.go_binary(Ok(found.binary))?;
        Ok(Target::of_process(found.process, binary))
    }

    /// Whether the Go map lookups, iteration, deletes and clears are probed.
    pub fn probes_access(&self) -> bool {
        self.go == GoProbes::All
    }

    /// The Go map probes for `inspected`; without them a process is fine only when custom probes
    /// are asked for or memory is watched.
    pub fn go_binary(
        &self,
        inspected: Result<Arc<GoBinary>, TargetError>,
    ) -> Result<Option<Arc<GoBinary>>, TargetError> {
        if self.go == GoProbes::None {
            return Ok(None);
        }
        match inspected {
            Ok(b) => Ok(Some(b)),
            Err(TargetError::NoMapFunctions { .. }) if !self.custom.is_empty() || self.watching => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

/// What is settled before any target is resolved: root, uprobes, the open-files limit,
/// SIGINT/SIGTERM caught, and the probes asked for; clprof's programs are being loaded
/// meanwhile.
pub struct Prelude {
    pub signals: Signals,
    pub plan: ProbePlan,
    pub loading: Loading,
}

impl Prelude {
    pub fn start(probes: &[ProbeSpec], verbose: bool) -> anyhow::Result<Self> {
        preflight::require_root()?;
        preflight::require_uprobes(Path::new("/sys"))?;
        let loading = Loading::start(verbose);
        let open_files = preflight::raise_open_files_limit();
        tracing::debug!(open_files, "open files limit");
        let signals = Signals::catch().context("catching SIGINT and SIGTERM")?;
        let plan = ProbePlan::new(probes)?;
        Ok(Prelude {
            signals,
            plan,
            loading,
        })
    }
}

/// clprof's programs being loaded on a thread of their own: the kernel's verifier takes a few
/// hundred milliseconds, which the targets' inspection (symbol tables of a 50 MB executable)
/// can use too.
pub struct Loading {
    began: std::time::Instant,
    thread: std::thread::JoinHandle<Result<Probes, crate::kernel::error::AttachError>>,
}

impl Loading {
    fn start(verbose: bool) -> Self {
        Loading {
            began: std::time::Instant::now(),
            thread: std::thread::spawn(move || Probes::load(verbose)),
        }
    }

    /// The loaded programs, once they are.
    fn wait(self) -> anyhow::Result<Probes> {
        let probes = self.thread.join().map_err(|_| {
            anyhow::anyhow!("loading clprof's eBPF programs: the thread panicked")
        })??;
        tracing::debug!(took = ?self.began.elapsed(), "programs loaded");
        Ok(probes)
    }
}

/// The watchpoints of a recording: armed from the start on named memory, or armed on the
/// top-ranked lines once ranked (`auto`); neither without `--watch`.
pub struct WatchSetup {
    pub watcher: Option<Watcher>,
    pub auto: Option<AutoWatch>,
}

/// clprof's programs loaded and calibrated, with the perf source and the budget's plan.
pub struct Session {
    pub probes: Probes,
    /// Shared with the task that follows new processes (`--all-go`).
    pub plan: Arc<ProbePlan>,
    pub source: PerfSource,
    pub overhead: OverheadPlan,
    /// The CPU's hardware PMU is exposed (absent in most VMs).
    pub pmu_available: bool,
    /// What moving a cache line between CPUs costs here (cached per host); None where it could
    /// not be measured (one CPU).
    pub transfer: Option<machine::TransferCosts>,
}

impl Session {
    /// Chooses the perf source (`events`), takes the loaded programs and calibrates
    /// what a hit and a sample cost on this machine under `budget_pct`.
    pub fn open(
        plan: ProbePlan,
        loading: Loading,
        events: perf::EventsChoice,
        budget_pct: f64,
    ) -> anyhow::Result<Self> {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let source = perf::choose(events, &perf::detect_pmu(Path::new("/sys"), &cpuinfo))?;
        let mut probes = loading.wait()?;
        let began = std::time::Instant::now();
        let overhead = plan_overhead(&mut probes, budget_pct, &source, plan.watch_calibration)?;
        let calibrated = began.elapsed();
        let transfer = machine::transfer_costs()
            .inspect_err(|e| tracing::info!("line-transfer cost not measured: {e}"))
            .ok();
        tracing::debug!(
            calibrate = ?calibrated,
            line_transfer = ?(began.elapsed() - calibrated),
            "session opened"
        );
        Ok(Session {
            probes,
            plan: Arc::new(plan),
            source,
            overhead,
            pmu_available: preflight::pmu_available(Path::new("/sys")),
            transfer,
        })
    }

    /// Everything a report needs from the kernel side and the session, read once: with what the
    /// watchpoints folded when `watched`, and the user stacks under `stack_ids` (those the
    /// collected samples name), under the watched writes and under the sampled lines.
    pub fn readout(
        &self,
        watched: bool,
        stack_ids: impl IntoIterator<Item = i64>,
    ) -> anyhow::Result<Readout> {
        let maps = self.probes.maps();
        let perf = self.source != PerfSource::None;
        let watched = if watched {
            Some(maps.watch_snapshot()?)
        } else {
            None
        };
        let watch_stacks = watched
            .iter()
            .flat_map(|w| w.sites.iter().map(|(_, s)| s.stack_id));
        let line_stacks = if perf {
            maps.line_stacks()?
        } else {
            Vec::new()
        };
        let sampled_stacks = line_stacks.iter().map(|(k, _)| i64::from(k.stack_id));
        let stacks = maps.stacks(
            stack_ids
                .into_iter()
                .chain(watch_stacks)
                .chain(sampled_stacks),
        );
        let hits = self.probes.hits()?.into_iter();
        Ok(Readout {
            snapshot: maps.snapshot()?,
            counters: maps.counters()?,
            perf_ips: if perf { maps.perf_ips()? } else { Vec::new() },
            sampled_lines: if perf {
                maps.sampled_lines()?
            } else {
                Vec::new()
            },
            line_ips: if perf { maps.line_ips()? } else { Vec::new() },
            line_stacks,
            probe_steps: if perf {
                maps.probe_steps()?
            } else {
                Vec::new()
            },
            watched,
            stacks,
            xol_areas: self.probes.xol_areas(),
            hits: hits
                .map(|(probe, hits)| ProbeHits {
                    binary: probe.binary,
                    symbol: probe.symbol,
                    hits,
                })
                .collect(),
            refused: self.probes.refused().to_vec(),
            perf: self.source.clone(),
            pmu_available: self.pmu_available,
            transfer: self.transfer.clone(),
            overhead: self.overhead,
            probes_access: self.plan.probes_access(),
        })
    }

    /// Whether a target's read probes are attached with its write probes (see
    /// [`Mix::reads_start_attached`]).
    pub fn reads_start_attached(&self) -> bool {
        Mix::reads_start_attached(self.overhead.duty.fraction)
    }

    /// Adds `t` to the kernel side and attaches its probes.
    pub fn attach(&mut self, t: &Target, sample_every: u32) -> anyhow::Result<()> {
        let with_reads = self.reads_start_attached();
        attach(&mut self.probes, t, &self.plan, sample_every, with_reads)
    }

    /// Opens the perf events at the planned frequency; None for no perf events.
    pub fn start_perf(&self) -> anyhow::Result<Option<PerfEvents>> {
        start_perf(&self.probes, &self.source, &self.overhead)
    }

    /// Arms write watchpoints on what `specs` name in each of `targets` (their load biases
    /// known), or, for `auto` alone, prepares to watch the top lines of a recording of
    /// `duration` once ranked.
    pub fn watch(
        &self,
        targets: &[Target],
        specs: &[WatchSpec],
        duration: std::time::Duration,
    ) -> anyhow::Result<WatchSetup> {
        let mut ranges = Vec::new();
        for t in targets {
            for spec in specs {
                let exe = Path::new(&t.attach_path);
                if let Some(range) = words::resolve(spec, exe, t.bias.unwrap_or(0))? {
                    ranges.push((t.pid, range));
                }
            }
        }
        let auto_asked = specs.contains(&WatchSpec::Auto);
        if ranges.is_empty() && auto_asked && self.overhead.calibration.watch_cost.is_none() {
            // Calibration found no watchpoint to use: `auto` watches nothing, and says so.
            return Ok(WatchSetup {
                watcher: Some(Watcher::unavailable(
                    "watchpoints: none could be used here (no free debug register, or no hardware breakpoints): --watch auto watched nothing".to_owned(),
                )),
                auto: None,
            });
        }
        if ranges.is_empty() {
            // With `off` nothing is read or opened.
            let auto = if auto_asked {
                let layouts = targets
                    .iter()
                    .filter_map(|t| Some((t.pid, t.binary.as_ref()?.layout.clone())))
                    .collect();
                let auto = AutoWatch::new(duration, layouts, perf::online_cpus()?);
                Some(auto.with_sampled_lines(self.source.meaning().shows_sharing()))
            } else {
                None
            };
            return Ok(WatchSetup {
                watcher: None,
                auto,
            });
        }
        let cpus = perf::online_cpus()?;
        let mut watcher = Watcher::start(&ranges, &cpus, self.probes.watch_program_fd()?)
            .context("arming the write watchpoints")?;
        if auto_asked {
            watcher.notice(
                "watchpoints: --watch auto was ignored: the words named by --watch take the debug registers"
                    .to_owned(),
            );
        }
        Ok(WatchSetup {
            watcher: Some(watcher),
            auto: None,
        })
    }

    /// The sampled-event ring buffer and the eBPF log, as streams the collector reads.
    pub fn streams(&mut self) -> anyhow::Result<Streams> {
        let events = self.probes.take_events()?;
        let logger = self.probes.take_logger();
        Ok(Streams::new(events, logger)?)
    }
}

/// Calibrates on this machine and splits the `budget_pct` budget between perf sampling and
/// the probes.
fn plan_overhead(
    probes: &mut Probes,
    budget_pct: f64,
    source: &PerfSource,
    watch: WatchCalibration,
) -> anyhow::Result<OverheadPlan> {
    let calibration = calibrate::calibrate(probes, Some(source), watch)
        .context("measuring what a probe hit costs on this machine")?;
    Ok(OverheadPlan::new(
        Budget::from_pct(budget_pct),
        calibration,
        source,
    ))
}

/// Opens `source`'s perf events at the planned frequency, feeding the perf program; None for
/// no perf events.
fn start_perf(
    probes: &Probes,
    source: &PerfSource,
    overhead: &OverheadPlan,
) -> anyhow::Result<Option<PerfEvents>> {
    if *source == PerfSource::None {
        return Ok(None);
    }
    let hz = overhead.perf_hz.unwrap_or(share::MAX_PERF_HZ);
    let events = PerfEvents::open(source, Sampling::at_hz(source, hz))?;
    events.attach_bpf(probes.perf_program_fd()?)?;
    Ok(Some(events))
}

/// Adds `t` to the kernel side and attaches its probes (its read probes too `with_reads`).
pub fn attach(
    probes: &mut Probes,
    t: &Target,
    plan: &ProbePlan,
    sample_every: u32,
    with_reads: bool,
) -> anyhow::Result<()> {
    let layout = t.binary.as_ref().map(|b| &b.layout);
    probes.add_target(t.pid, target_config(layout, sample_every))?;
    if let Some(binary) = &t.binary {
        let access = plan.go == GoProbes::All;
        probes.attach_go(t.pid, &t.attach_path, &t.exe, binary, access)?;
    }
    for (probe, site) in &plan.custom {
        probes.attach_custom(t.pid, probe, site)?;
    }
    probes.attach_pid(t.pid, with_reads)?;
    Ok(())
}

/// Whether attaching failed because every target slot is taken.
pub fn is_full(e: &anyhow::Error) -> bool {
    matches!(
        e.downcast_ref::<crate::kernel::error::AttachError>(),
        Some(crate::kernel::error::AttachError::TooManyTargets)
    )
}
