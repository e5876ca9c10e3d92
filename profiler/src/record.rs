//! `clprof record`: resolve targets, attach, collect, then build and render the report.

use std::{path::Path, path::PathBuf, sync::Arc, time::Duration};

use anyhow::{bail, Context as _};

use crate::{
    attach::{target_config, Probes},
    cli::{Format, RecordArgs},
    collect::{self, CollectOptions},
    launch,
    perf::{self, PerfEvents, PerfSource},
    preflight,
    probe_spec::{CustomProbe, ProbeSpec},
    render, report_build,
    symbolize::Symbolizer,
    target::{self, GoBinary, ProbeSite, TargetError},
};

/// One process being recorded.
pub struct Recorded {
    pub pid: u32,
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
struct ProbePlan {
    go: bool,
    custom: Vec<(CustomProbe, ProbeSite)>,
}

impl ProbePlan {
    fn new(specs: &[ProbeSpec]) -> anyhow::Result<Self> {
        let mut plan = ProbePlan {
            go: specs.is_empty(),
            custom: Vec::new(),
        };
        for spec in specs {
            match spec {
                ProbeSpec::Go => plan.go = true,
                ProbeSpec::Custom(c) => {
                    let site = target::find_symbol(&c.binary, &c.symbol)?;
                    plan.custom.push((c.clone(), site));
                }
            }
        }
        Ok(plan)
    }

    /// The Go map probes for `inspected`; without them a process is fine only when custom probes
    /// are asked for.
    fn go_binary(
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
    preflight::require_root()?;
    let plan = ProbePlan::new(&args.probes)?;
    let mut targets = Vec::new();
    for &pid in &args.pids {
        let process = target::resolve_process(pid)?;
        let binary = plan.go_binary(target::resolve_pid(pid).map(|t| t.binary))?;
        targets.push(Recorded {
            pid,
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
            let binary = plan.go_binary(target::inspect_binary(&path).map(Arc::new))?;
            Some((path, binary))
        }
        None => None,
    };
    preflight::require_uprobes(Path::new("/sys"))?;
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let source = perf::choose(args.events, &perf::probe_pmu(Path::new("/sys"), &cpuinfo))?;

    let started_at = chrono::Utc::now();
    let mut probes = Probes::load(verbose)?;
    for t in &targets {
        attach(&mut probes, t, &plan, args.sample_every).or_else(|e| {
            if target::is_alive(t.pid) {
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
            exe: path.display().to_string(),
            attach_path: path.clone(),
            binary,
            symbolizer: None,
            bias: None,
        };
        attach(&mut probes, &t, &plan, args.sample_every)
            .with_context(|| format!("profiling {}", path.display()))?;
        child.release().context("starting the command")?;
        targets.push(t);
        held = Some(child);
    }
    for t in &mut targets {
        t.symbolizer = open_symbolizer(&t.attach_path);
    }
    let perf_events = match &source {
        PerfSource::None => None,
        source => {
            let events = PerfEvents::open(source, sample_period(source))?;
            events.attach_bpf(probes.perf_program_fd()?)?;
            Some(events)
        }
    };
    if !quiet {
        eprintln!(
            "clprof: recording {} process(es) for {}; Ctrl-C stops early",
            targets.len(),
            humantime::format_duration(args.duration)
        );
    }
    let events = probes.take_events()?;
    let logger = probes.take_logger();
    // Load biases now, while the processes are certainly mapped (PIE binaries need them).
    tokio::time::sleep(Duration::from_millis(50)).await;
    for t in &mut targets {
        t.bias = load_bias(t);
    }
    let options = CollectOptions {
        duration: args.duration,
        progress: !quiet,
    };
    let collected = collect::collect(&mut probes, events, logger, &options).await?;
    if let Some(events) = &perf_events {
        events.disable();
    }
    for t in targets.iter_mut().filter(|t| t.bias.is_none()) {
        t.bias = load_bias(t);
    }
    if let Some(child) = held {
        child.finish(Duration::from_secs(2)).await;
    }

    let report = report_build::build(&probes, &mut targets, &collected, &source, started_at)?;
    let text = render::render(&report, args.format, args.top, args.weight)?;
    render::emit(args.output.as_deref(), &text)?;
    if let Some(path) = &args.json_out {
        render::write_atomic(path, render::json(&report).as_bytes())?;
    }
    let table_on_stdout = args.output.is_none() && args.format == Format::Text;
    if !quiet && !table_on_stdout {
        for notice in &report.notices {
            eprintln!("clprof: {notice}");
        }
    }
    Ok(())
}

/// Events between samples: cpu-clock counts nanoseconds of CPU time (1 ms: 1 kHz per busy CPU);
/// hardware events count misses (a prime, so sampling does not lock onto a loop's period).
fn sample_period(source: &PerfSource) -> u64 {
    match source {
        PerfSource::CpuClock => 1_000_000,
        _ => 10_007,
    }
}

fn attach(
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
    Ok(())
}

fn load_bias(t: &Recorded) -> Option<u64> {
    match &t.binary {
        Some(binary) => target::load_bias(t.pid, binary).ok(),
        None => target::load_bias_of(t.pid, &t.attach_path).ok(),
    }
}

fn open_symbolizer(path: &Path) -> Option<Symbolizer> {
    match Symbolizer::open(path) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!("stacks will not be symbolized: {e}");
            None
        }
    }
}
