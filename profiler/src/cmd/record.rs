//! `clprof record`: resolve targets, attach, collect, then build and render the report.

use std::{path::Path, process::ExitCode, sync::Arc, time::Duration};

use anyhow::{bail, Context as _};

use crate::{
    cli::RecordArgs,
    collect::{self, CollectOptions},
    discover::{follow::Follow, scan::GoScanner},
    inspect, launch, output,
    render::{self, Format},
    report::build,
    session::{self, Prelude, ProbePlan, Session},
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
    let mut targets = Vec::new();
    for &pid in &args.recording.pids {
        targets.push(plan.resolve(pid)?);
    }
    let program = match args.command.first() {
        Some(cmd) => {
            let path = launch::resolve_program(&cmd.to_string_lossy())?;
            let binary = plan.go_binary(inspect::inspect_binary(&path).map(Arc::new))?;
            Some((path, binary))
        }
        None => None,
    };
    // Symbol tables load before any probe is attached: that time is not charged to the targets.
    for t in &mut targets {
        t.open_symbols();
    }
    let program_symbolizer = program.as_ref().and_then(|(path, _)| open_symbolizer(path));
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
    // Beyond the kernel side's targets, a --pid is left out (the report names it), not fatal.
    let mut given = Vec::with_capacity(targets.len());
    for t in targets.drain(..) {
        match session.attach(&t, args.recording.sample_every) {
            Ok(()) => given.push(t),
            Err(e) if session::is_full(&e) => tracing::info!(pid = t.pid, "not recorded: {e:#}"),
            Err(e) if inspect::is_alive(t.pid) => {
                return Err(e.context(format!("profiling pid {}", t.pid)))
            }
            Err(_) => bail!("pid {} exited before its probes were attached", t.pid),
        }
    }
    targets = given;
    for t in scanned {
        // Gone since, or past the target limit: recorded without it.
        match session.attach(&t, args.recording.sample_every) {
            Ok(()) => targets.push(t),
            Err(e) => {
                let _ = session.probes.remove_target(t.pid);
                tracing::info!(pid = t.pid, "not recorded: {e:#}");
            }
        }
    }
    let mut held = None;
    if let Some((path, binary)) = program {
        let mut child = launch::spawn_held(&path, &args.command[1..])?;
        let mut t = Target::launched(child.pid, &path, binary);
        t.symbolizer = program_symbolizer;
        session
            .attach(&t, args.recording.sample_every)
            .with_context(|| format!("profiling {}", path.display()))?;
        child.release().context("starting the command")?;
        targets.push(t);
        held = Some(child);
    }
    let perf_events = session.start_perf()?;
    if !quiet {
        eprintln!(
            "clprof: recording {} process(es) for {}; Ctrl-C stops early",
            targets.len(),
            humantime::format_duration(args.duration)
        );
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
    let save_samples = match &args.save_samples {
        Some(path) => {
            Some(output::Output::open(path, output::NoReader::Wait).context("--save-samples")?)
        }
        None => None,
    };
    let watch = session.watch(&targets, &args.recording.watch, args.duration)?;
    let mut options = CollectOptions {
        duration: args.duration,
        progress: !quiet,
        duty: session.overhead.duty,
        ledger: Default::default(),
        save_samples,
        signals,
        watcher: watch.watcher,
        auto_watch: watch.auto,
        follow,
    };
    let mut collected = collect::collect(&mut session.probes, &mut streams, &mut options).await?;
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
    // A command that ended by itself gives clprof its exit code; one clprof stopped, none.
    let mut code = ExitCode::SUCCESS;
    if let Some(child) = held {
        if let Some(status) = child.finish(Duration::from_secs(2)).await {
            code = ExitCode::from(launch::exit_code(status));
        }
    }

    let readout = session.readout(collected.watch.is_some(), collected.stack_ids())?;
    let report = build::build(readout, &mut targets, &collected, started_at);
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
        None => Ok(code),
    }
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
