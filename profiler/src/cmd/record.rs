//! `clprof record`: resolve targets, attach, collect, then build and render the report.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
    process::ExitCode,
    sync::Arc,
    time::Duration,
};

use anyhow::{bail, Context as _};

use crate::{
    cli::RecordArgs,
    collect::{self, CollectOptions},
    discover::{follow::Follow, scan::GoScanner},
    inspect::{self, GoBinary},
    launch, output,
    render::{self, Format},
    report::{build, Report},
    session::{self, streams::Signals, Prelude, ProbePlan, Session},
    symbolize::Symbolizer,
    target::{open_symbolizer, Target},
};

/// Records; the exit code is a launched command's own when it ended by itself.
pub async fn run(args: RecordArgs, verbose: bool, quiet: bool) -> anyhow::Result<ExitCode> {
    if args.recording.pids.is_empty() && args.command.is_empty() && !args.recording.all_go {
        bail!("nothing to profile: give --pid PID, --all-go or -- CMD ARGS");
    }
    check_outputs(&args)?;
    let Prelude {
        signals,
        plan,
        loading,
    } = Prelude::start(&args.probes, verbose)?;
    let plan = plan.watching(&args.recording.watch)?;
    let mut targets = (args.recording.pids.iter())
        .map(|&pid| plan.resolve(pid))
        .collect::<Result<Vec<_>, _>>()?;
    let program = Program::resolve(&args.command, &plan)?;
    // Symbol tables load before any probe is attached: that time is not charged to the targets.
    for t in &mut targets {
        t.open_symbols();
    }
    let mut session = Session::open(plan, loading, args.recording.events, args.recording.budget)?;
    // The tracepoints first: a process starting during the scan is seen by one or the other.
    let follow = match args.recording.all_go {
        true => Some(
            Follow::start(&mut session, args.recording.sample_every)
                .context("--all-go: following new processes")?,
        ),
        false => None,
    };
    let scanned = match args.recording.all_go {
        true => scan_go(&targets, &session.plan),
        false => Vec::new(),
    };
    let started_at = chrono::Utc::now();
    let sample_every = args.recording.sample_every;
    let mut targets = attach_all(&mut session, targets, scanned, sample_every)?;
    let held = match program {
        Some(program) => {
            Some(program.launch(&mut session, &mut targets, &args.command[1..], sample_every)?)
        }
        None => None,
    };
    let perf_events = session.start_perf()?;
    if !quiet {
        announce(targets.len(), args.duration);
    }
    let mut streams = session.streams()?;
    // Load biases now, while the processes are certainly mapped (PIE binaries need them); a
    // launched command needs a moment to be exec'ed first.
    if held.is_some() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for t in &mut targets {
        t.read_bias();
    }
    let mut options = collect_options(&args, &session, &targets, signals, follow, !quiet)?;
    let mut collected =
        collect::collect(&mut session, &mut streams, &mut options, &targets).await?;
    if let Some(follow) = &mut options.follow {
        targets.append(&mut follow.take_joined());
    }
    let save_error = collected.save_error.take();
    if let Some(events) = &perf_events {
        events.disable();
    }
    for t in targets.iter_mut().filter(|t| t.bias.is_none()) {
        t.read_bias();
    }
    let code = exit_code(held).await;

    let readout = session.readout(collected.watch.is_some(), collected.stack_ids())?;
    let report = build::build(readout, &mut targets, &collected, started_at);
    write_report(&args, &report, quiet)?;
    match save_error {
        Some(e) => Err(anyhow::Error::new(e).context("--save-samples")),
        None => Ok(code),
    }
}

/// Tells the user the recording of `targets` processes for `duration` has started.
fn announce(targets: usize, duration: Duration) {
    eprintln!(
        "clprof: recording {targets} process(es) for {}; Ctrl-C stops early",
        humantime::format_duration(duration)
    );
}

/// A launched command that ended by itself gives clprof its exit code; one clprof stopped, or
/// none launched, success.
async fn exit_code(held: Option<launch::Held>) -> ExitCode {
    let Some(child) = held else {
        return ExitCode::SUCCESS;
    };
    match child.finish(Duration::from_secs(2)).await {
        Some(status) => ExitCode::from(launch::exit_code(status)),
        None => ExitCode::SUCCESS,
    }
}

/// What the collection run is given: the duration, `--save-samples` opened, the watchpoints
/// armed (or ready to arm on the top lines) in `targets`, the live countdown when `progress`.
fn collect_options(
    args: &RecordArgs,
    session: &Session,
    targets: &[Target],
    signals: Signals,
    follow: Option<Follow>,
    progress: bool,
) -> anyhow::Result<CollectOptions> {
    let save_samples = match &args.save_samples {
        Some(path) => {
            Some(output::Output::open(path, output::NoReader::Wait).context("--save-samples")?)
        }
        None => None,
    };
    let watch = session.watch(targets, &args.recording.watch, args.duration)?;
    Ok(CollectOptions {
        duration: args.duration,
        progress,
        duty: session.overhead.duty,
        ledger: Default::default(),
        save_samples,
        signals,
        watcher: watch.watcher,
        auto_watch: watch.auto,
        follow,
    })
}

/// The command to launch (`-- CMD ARGS`): found on `PATH` and inspected before anything is
/// loaded.
struct Program {
    path: PathBuf,
    binary: Option<Arc<GoBinary>>,
    symbolizer: Option<Symbolizer>,
}

impl Program {
    fn resolve(command: &[OsString], plan: &ProbePlan) -> anyhow::Result<Option<Self>> {
        let Some(cmd) = command.first() else {
            return Ok(None);
        };
        let path = launch::resolve_program(&cmd.to_string_lossy())?;
        let binary = plan.go_binary(inspect::inspect_binary(&path).map(Arc::new))?;
        let symbolizer = open_symbolizer(&path);
        Ok(Some(Program {
            path,
            binary,
            symbolizer,
        }))
    }

    /// Starts the command held before its first instruction, attaches its probes, then lets it
    /// run; it joins `targets`.
    fn launch(
        self,
        session: &mut Session,
        targets: &mut Vec<Target>,
        args: &[OsString],
        sample_every: u32,
    ) -> anyhow::Result<launch::Held> {
        let mut child = launch::spawn_held(&self.path, args)?;
        let mut t = Target::launched(child.pid, &self.path, self.binary);
        t.symbolizer = self.symbolizer;
        session
            .attach(&t, sample_every)
            .with_context(|| format!("profiling {}", self.path.display()))?;
        child.release().context("starting the command")?;
        targets.push(t);
        Ok(child)
    }
}

/// Attaches the `--pid` targets, then those `--all-go` found: beyond the kernel side's targets a
/// `--pid` is left out (the report names it), not fatal; a found process gone since, or past
/// the target limit, is recorded without.
fn attach_all(
    session: &mut Session,
    given: Vec<Target>,
    scanned: Vec<Target>,
    sample_every: u32,
) -> anyhow::Result<Vec<Target>> {
    let mut targets = Vec::with_capacity(given.len() + scanned.len());
    for t in given {
        match session.attach(&t, sample_every) {
            Ok(()) => targets.push(t),
            Err(e) if session::is_full(&e) => tracing::info!(pid = t.pid, "not recorded: {e:#}"),
            Err(e) if inspect::is_alive(t.pid) => {
                return Err(e.context(format!("profiling pid {}", t.pid)))
            }
            Err(_) => bail!("pid {} exited before its probes were attached", t.pid),
        }
    }
    for t in scanned {
        match session.attach(&t, sample_every) {
            Ok(()) => targets.push(t),
            Err(e) => {
                let _ = session.probes.remove_target(t.pid);
                tracing::info!(pid = t.pid, "not recorded: {e:#}");
            }
        }
    }
    Ok(targets)
}

/// Writes the rendered report (`-o`, else stdout) and `--json-out`; the notices go to stderr
/// unless the table on stdout shows them.
fn write_report(args: &RecordArgs, report: &Report, quiet: bool) -> anyhow::Result<()> {
    let text = render::render(report, args.format, args.top, args.weight)?;
    match &args.output {
        Some(path) => output::write(path, &text, output::NoReader::Wait).context("-o")?,
        None => output::write(Path::new("-"), &text, output::NoReader::Wait)?,
    }
    if let Some(path) = &args.json_out {
        output::write(
            path,
            render::json(report).as_bytes(),
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
    Ok(())
}

/// `--all-go`: the running Go processes not in `targets`, resolved.
fn scan_go(targets: &[Target], plan: &ProbePlan) -> Vec<Target> {
    let known = targets.iter().map(|t| t.pid).collect();
    let mut found = Vec::new();
    for pid in GoScanner::default().scan(&known) {
        match inspect::resolve_pid(pid).and_then(|t| plan.found(t)) {
            Ok(mut t) => {
                t.open_symbols();
                found.push(t);
            }
            Err(e) => tracing::debug!(pid, "not recorded: {e}"),
        }
    }
    found
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
