//! `clprof record`: resolve targets, attach, collect, then build and render the report.

use std::{path::Path, path::PathBuf, sync::Arc, time::Duration};

use anyhow::{bail, Context as _};

use crate::{
    cli::{Format, RecordArgs},
    collect::{self, CollectOptions},
    inspect::{self, GoBinary, ProbeSite, TargetError},
    kernel::calibrate::Calibration,
    kernel::probes::{target_config, Probes},
    launch, output,
    overhead::budget,
    overhead::budget::Budget,
    overhead::duty::DutyPlan,
    perf::{self, PerfEvents, PerfSource, Sampling},
    preflight,
    probe_spec::{CustomProbe, ProbeSpec},
    render,
    report::build,
    symbolize::Symbolizer,
};

/// One process being recorded.
pub struct Recorded {
    pub pid: u32,
    /// Its pid inside its own pid namespace (see [`inspect::Process::ns_pid`]).
    pub ns_pid: Option<u32>,
    /// The executable as the user knows it.
    pub exe: String,
    /// Path the kernel and clprof open it by.
    pub attach_path: PathBuf,
    /// None when only custom probes apply to it.
    pub binary: Option<Arc<GoBinary>>,
    pub symbolizer: Option<Symbolizer>,
    pub bias: Option<u64>,
}

/// Which probes the user asked for.
pub(crate) struct ProbePlan {
    go: bool,
    custom: Vec<(CustomProbe, ProbeSite)>,
}

impl ProbePlan {
    pub(crate) fn new(specs: &[ProbeSpec]) -> anyhow::Result<Self> {
        let mut plan = ProbePlan {
            go: specs.is_empty(),
            custom: Vec::new(),
        };
        for spec in specs {
            match spec {
                ProbeSpec::Go => plan.go = true,
                ProbeSpec::Custom(c) => {
                    let site = inspect::find_symbol(&c.binary, &c.symbol)?;
                    plan.custom.push((c.clone(), site));
                }
            }
        }
        Ok(plan)
    }

    /// The Go map probes for `inspected`; without them a process is fine only when custom probes
    /// are asked for.
    pub(crate) fn go_binary(
        &self,
        inspected: Result<Arc<GoBinary>, TargetError>,
    ) -> Result<Option<Arc<GoBinary>>, TargetError> {
        if !self.go {
            return Ok(None);
        }
        match inspected {
            Ok(b) => Ok(Some(b)),
            Err(TargetError::NoMapFunctions { .. }) if !self.custom.is_empty() => Ok(None),
            Err(e) => Err(e),
        }
    }
}

pub async fn run(args: RecordArgs, verbose: bool, quiet: bool) -> anyhow::Result<()> {
    if args.pids.is_empty() && args.command.is_empty() {
        bail!("nothing to profile: give --pid PID or -- CMD ARGS");
    }
    check_outputs(&args)?;
    preflight::require_root()?;
    let open_files = preflight::raise_open_files_limit();
    tracing::debug!(open_files, "open files limit");
    let signals = collect::Signals::catch().context("catching SIGINT and SIGTERM")?;
    let plan = ProbePlan::new(&args.probes)?;
    let mut targets = Vec::new();
    for &pid in &args.pids {
        let process = inspect::resolve_process(pid)?;
        let binary = plan.go_binary(inspect::resolve_pid(pid).map(|t| t.binary))?;
        targets.push(Recorded {
            pid,
            ns_pid: process.ns_pid,
            exe: process.exe.display().to_string(),
            attach_path: process.attach_path,
            binary,
            symbolizer: None,
            bias: None,
        });
    }
    let program = match args.command.first() {
        Some(cmd) => {
            let path = launch::resolve_program(&cmd.to_string_lossy())?;
            let binary = plan.go_binary(inspect::inspect_binary(&path).map(Arc::new))?;
            Some((path, binary))
        }
        None => None,
    };
    preflight::require_uprobes(Path::new("/sys"))?;
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let source = perf::choose(args.events, &perf::probe_pmu(Path::new("/sys"), &cpuinfo))?;

    // Symbol tables load before any probe is attached: that time is not charged to the targets.
    for t in &mut targets {
        t.symbolizer = open_symbolizer(&t.attach_path);
    }
    let program_symbolizer = program.as_ref().and_then(|(path, _)| open_symbolizer(path));
    let started_at = chrono::Utc::now();
    let mut probes = Probes::load(verbose)?;
    let overhead = plan_overhead(&mut probes, args.budget, &source)?;
    for t in &targets {
        attach(&mut probes, t, &plan, args.sample_every).or_else(|e| {
            if inspect::is_alive(t.pid) {
                Err(e.context(format!("profiling pid {}", t.pid)))
            } else {
                bail!("pid {} exited before its probes were attached", t.pid)
            }
        })?;
    }
    let mut held = None;
    if let Some((path, binary)) = program {
        let mut child = launch::spawn_held(&path, &args.command[1..])?;
        let t = Recorded {
            pid: child.pid,
            ns_pid: inspect::ns_pid_of(child.pid),
            exe: path.display().to_string(),
            attach_path: path.clone(),
            binary,
            symbolizer: program_symbolizer,
            bias: None,
        };
        attach(&mut probes, &t, &plan, args.sample_every)
            .with_context(|| format!("profiling {}", path.display()))?;
        child.release().context("starting the command")?;
        targets.push(t);
        held = Some(child);
    }
    let perf_events = start_perf(&probes, &source, &overhead)?;
    if !quiet {
        eprintln!(
            "clprof: recording {} process(es) for {}; Ctrl-C stops early",
            targets.len(),
            humantime::format_duration(args.duration)
        );
    }
    let events = probes.take_events()?;
    let logger = probes.take_logger();
    // Load biases now, while the processes are certainly mapped (PIE binaries need them); a
    // launched command needs a moment to be exec'ed first.
    if held.is_some() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for t in &mut targets {
        t.bias = load_bias(t);
    }
    let save_samples = match &args.save_samples {
        Some(path) => {
            Some(output::Output::open(path, output::NoReader::Wait).context("--save-samples")?)
        }
        None => None,
    };
    let mut options = CollectOptions {
        duration: args.duration,
        progress: !quiet,
        duty: overhead.duty,
        save_samples,
        signals,
    };
    let mut streams = collect::Streams::new(events, logger)?;
    let mut collected = collect::collect(&mut probes, &mut streams, &mut options).await?;
    let save_error = collected.save_error.take();
    if let Some(events) = &perf_events {
        events.disable();
    }
    for t in targets.iter_mut().filter(|t| t.bias.is_none()) {
        t.bias = load_bias(t);
    }
    if let Some(child) = held {
        child.finish(Duration::from_secs(2)).await;
    }

    let report = build::build(
        &probes,
        &mut targets,
        &collected,
        &source,
        &overhead,
        started_at,
    )?;
    let text = render::render(&report, args.format, args.top, args.weight)?;
    match &args.output {
        Some(path) => output::write(path, &text, output::NoReader::Wait).context("-o")?,
        None => output::write(Path::new("-"), &text, output::NoReader::Wait)?,
    }
    if let Some(path) = &args.json_out {
        output::write(
            path,
            render::json(&report).as_bytes(),
            output::NoReader::Wait,
        )
        .context("--json-out")?;
    }
    let table_on_stdout = args.output.is_none() && args.format == Format::Text;
    if !quiet && !table_on_stdout {
        for notice in &report.notices {
            eprintln!("clprof: {notice}");
        }
    }
    match save_error {
        Some(e) => Err(anyhow::Error::new(e).context("--save-samples")),
        None => Ok(()),
    }
}

/// Refuses output paths that cannot be written (a directory, a missing parent) before anything
/// is recorded.
fn check_outputs(args: &RecordArgs) -> anyhow::Result<()> {
    let outputs = [
        ("-o", &args.output),
        ("--json-out", &args.json_out),
        ("--save-samples", &args.save_samples),
    ];
    for (option, path) in outputs {
        if let Some(path) = path {
            output::check(path).context(option)?;
        }
    }
    Ok(())
}

/// Calibrates on this machine and splits the `budget_pct` budget between perf sampling and
/// the probes.
pub(crate) fn plan_overhead(
    probes: &mut Probes,
    budget_pct: f64,
    source: &PerfSource,
) -> anyhow::Result<OverheadPlan> {
    let calibration = probes
        .calibrate(Some(source))
        .context("measuring what a probe hit costs on this machine")?;
    Ok(OverheadPlan::new(
        Budget::from_pct(budget_pct),
        calibration,
        source,
    ))
}

/// Opens `source`'s perf events at the planned frequency, feeding the perf program; None for
/// no perf events.
pub(crate) fn start_perf(
    probes: &Probes,
    source: &PerfSource,
    overhead: &OverheadPlan,
) -> anyhow::Result<Option<PerfEvents>> {
    if *source == PerfSource::None {
        return Ok(None);
    }
    let hz = overhead.perf_hz.unwrap_or(budget::MAX_PERF_HZ);
    let events = PerfEvents::open(source, Sampling::at_hz(source, hz))?;
    events.attach_bpf(probes.perf_program_fd()?)?;
    Ok(Some(events))
}

/// How the overhead budget is spent: perf sampling first (its rate fixed for the recording),
/// the rest on uprobes (metered while recording).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OverheadPlan {
    pub budget: Budget,
    pub calibration: Calibration,
    /// Perf sampling frequency per CPU; None without perf events.
    pub perf_hz: Option<u64>,
    /// Expected perf sampling cost over a target's CPU time (0.005 = 0.5%).
    pub perf_overhead: f64,
    pub duty: DutyPlan,
}

impl OverheadPlan {
    pub fn new(budget: Budget, calibration: Calibration, source: &PerfSource) -> Self {
        let perf_hz = match (source, calibration.sample_cost) {
            (PerfSource::None, _) | (_, None) => None,
            (_, Some(cost)) => Some(budget.perf_hz(cost, perf::max_sample_rate())),
        };
        let perf_overhead = match (perf_hz, calibration.sample_cost) {
            (Some(hz), Some(cost)) => hz as f64 * cost.as_secs_f64(),
            _ => 0.0,
        };
        let fraction = if budget.unlimited() {
            1.0
        } else {
            budget.probe_fraction(perf_overhead)
        };
        OverheadPlan {
            budget,
            calibration,
            perf_hz,
            perf_overhead,
            duty: DutyPlan {
                fraction,
                hit_cost: calibration.hit_cost,
            },
        }
    }
}

pub(crate) fn attach(
    probes: &mut Probes,
    t: &Recorded,
    plan: &ProbePlan,
    sample_every: u32,
) -> anyhow::Result<()> {
    let layout = t.binary.as_ref().map(|b| &b.layout);
    probes.add_target(t.pid, target_config(layout, sample_every))?;
    if let Some(binary) = &t.binary {
        probes.attach_go(t.pid, &t.attach_path, &t.exe, binary)?;
    }
    for (probe, site) in &plan.custom {
        probes.attach_custom(t.pid, probe, site)?;
    }
    probes.attach_pid(t.pid)?;
    Ok(())
}

pub(crate) fn load_bias(t: &Recorded) -> Option<u64> {
    match &t.binary {
        Some(binary) => inspect::load_bias(t.pid, binary).ok(),
        None => inspect::load_bias_of(t.pid, &t.attach_path).ok(),
    }
}

pub(crate) fn open_symbolizer(path: &Path) -> Option<Symbolizer> {
    match Symbolizer::open(path) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!("stacks will not be symbolized: {e}");
            None
        }
    }
}
