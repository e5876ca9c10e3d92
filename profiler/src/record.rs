//! `clprof record`: resolve targets, attach, collect, fold, symbolize, render.

use std::{collections::HashMap, path::Path, sync::Arc, time::Duration};

use anyhow::{bail, Context as _};
use profiler_common::Counter;

use crate::{
    attach::Probes,
    cli::RecordArgs,
    collect::{self, CollectOptions, Collected, SampleKey, StopReason},
    fold::{self, FoldedSample, KernelSnapshot},
    launch, preflight, render,
    report::{Drops, Report, Sources, TargetInfo, UprobeSource, SCHEMA},
    symbolize::{lookup_addr, Frame, Symbolizer},
    target::{self, GoBinary, LayoutFlavor, LayoutSource, MapLayout},
};

/// One process being recorded.
struct Recorded {
    pid: u32,
    exe: String,
    binary: Arc<GoBinary>,
    symbolizer: Option<Symbolizer>,
    bias: Option<u64>,
}

/// Frames per line in reports.
const TOP_FRAMES: usize = 5;

pub async fn run(args: RecordArgs, verbose: bool, quiet: bool) -> anyhow::Result<()> {
    if args.pids.is_empty() && args.command.is_empty() {
        bail!("nothing to profile: give --pid PID or -- CMD ARGS");
    }
    preflight::require_root()?;
    let mut recorded = Vec::new();
    for &pid in &args.pids {
        let t = target::resolve_pid(pid)?;
        recorded.push((
            t.attach_path.clone(),
            t.exe.display().to_string(),
            pid,
            t.binary,
        ));
    }
    let program = match args.command.first() {
        Some(cmd) => {
            let path = launch::resolve_program(&cmd.to_string_lossy())?;
            let binary = Arc::new(target::inspect_binary(&path)?);
            Some((path, binary))
        }
        None => None,
    };
    preflight::require_uprobes(Path::new("/sys"))?;

    let started_at = chrono::Utc::now();
    let mut probes = Probes::load(verbose)?;
    for (attach_path, _, pid, binary) in &recorded {
        if let Err(e) = probes.attach(*pid, attach_path, binary, args.sample_every) {
            if !target::is_alive(*pid) {
                bail!("pid {pid} exited before its probes were attached");
            }
            return Err(anyhow::Error::new(e).context(format!("profiling pid {pid}")));
        }
    }
    let mut held = None;
    if let Some((path, binary)) = &program {
        let mut child = launch::spawn_held(path, &args.command[1..])?;
        probes
            .attach(child.pid, path, binary, args.sample_every)
            .with_context(|| format!("profiling {}", path.display()))?;
        child.release().context("starting the command")?;
        recorded.push((
            path.clone(),
            path.display().to_string(),
            child.pid,
            binary.clone(),
        ));
        held = Some(child);
    }
    let mut targets: Vec<Recorded> = recorded
        .into_iter()
        .map(|(attach_path, exe, pid, binary)| Recorded {
            symbolizer: open_symbolizer(&attach_path),
            bias: None,
            pid,
            exe,
            binary,
        })
        .collect();
    if !quiet {
        eprintln!(
            "clprof: recording {} process(es) for {}; Ctrl-C stops early",
            targets.len(),
            humantime::format_duration(args.duration)
        );
    }
    let events = probes.take_events()?;
    let logger = probes.take_logger();
    // Load biases now, while the processes are certainly mapped (PIE binaries need it).
    tokio::time::sleep(Duration::from_millis(50)).await;
    for t in &mut targets {
        t.bias = target::load_bias(t.pid, &t.binary).ok();
    }
    let options = CollectOptions {
        duration: args.duration,
        progress: !quiet,
    };
    let collected = collect::collect(&mut probes, events, logger, &options).await?;
    for t in &mut targets {
        if t.bias.is_none() {
            t.bias = target::load_bias(t.pid, &t.binary).ok();
        }
    }
    if let Some(child) = held {
        child.finish(Duration::from_secs(2)).await;
    }

    let report = build_report(&probes, &mut targets, &collected, started_at)?;
    let text = render::render(&report, args.format, args.top);
    match &args.output {
        Some(path) => render::write_atomic(path, text.as_bytes())?,
        None => print!("{text}"),
    }
    if let Some(path) = &args.json_out {
        render::write_atomic(path, render::json(&report).as_bytes())?;
    }
    let table_on_stdout = args.output.is_none() && args.format == crate::cli::Format::Text;
    if !quiet && !table_on_stdout {
        for notice in &report.notices {
            eprintln!("clprof: {notice}");
        }
    }
    Ok(())
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

fn layout_name(layout: &MapLayout) -> (&'static str, &'static str) {
    let flavor = match layout.flavor {
        LayoutFlavor::Classic => "classic",
        LayoutFlavor::Swiss => "swiss",
    };
    let source = match layout.source {
        LayoutSource::Dwarf => "dwarf",
        LayoutSource::BuiltinTable => "builtin-table",
    };
    (flavor, source)
}

fn build_report(
    probes: &Probes,
    targets: &mut [Recorded],
    collected: &Collected,
    started_at: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Report> {
    let snapshot = probes.snapshot()?;
    let counters = probes.counters()?;
    let hits = probes.hits()?;
    let layouts: HashMap<u32, MapLayout> = targets
        .iter()
        .map(|t| (t.pid, t.binary.layout.clone()))
        .collect();
    let samples = symbolize_samples(probes, targets, &collected.samples);
    let lines = fold::fold_lines(&snapshot, &layouts, &samples, TOP_FRAMES);

    let mut uprobes = Vec::new();
    for (slot, t) in probes.targets().iter().zip(targets.iter()) {
        for func in &t.binary.assign_funcs {
            uprobes.push(UprobeSource {
                binary: t.exe.clone(),
                symbol: func.symbol.clone(),
                hits: hits.get(&(slot.slot, func.kind)).copied().unwrap_or(0),
            });
        }
    }
    let pmu = preflight::pmu_available(Path::new("/sys"));
    let mut notices = Vec::new();
    match &collected.stop {
        StopReason::Duration => {}
        StopReason::Signal(name) => notices.push(format!(
            "interrupted by {name} after {:.1}s: partial report",
            collected.elapsed.as_secs_f64()
        )),
        StopReason::TargetsExited => notices.push(format!(
            "every target exited; recording stopped after {:.1}s",
            collected.elapsed.as_secs_f64()
        )),
    }
    let mut exited: Vec<_> = collected.exited.iter().collect();
    exited.sort();
    for (pid, at) in exited {
        notices.push(format!(
            "pid {pid} exited {:.1}s into the recording: the report holds what was seen until then",
            at.as_secs_f64()
        ));
    }
    if !pmu {
        notices.push(
            "no hardware PMU on this machine: no L1-miss sampling; contention is measured from map-assign uprobes only".to_owned(),
        );
    }
    let events = counters.get(Counter::Events);
    if events == 0 {
        notices.push("no map writes were seen: is the target writing Go maps?".to_owned());
    }
    Ok(Report {
        schema: SCHEMA.to_owned(),
        started_at: started_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        duration_s: collected.elapsed.as_secs_f64(),
        targets: targets
            .iter()
            .map(|t| {
                let (flavor, source) = layout_name(&t.binary.layout);
                TargetInfo {
                    pid: t.pid,
                    exe: t.exe.clone(),
                    go_version: t.binary.go_version.clone(),
                    map_layout: Some(flavor.to_owned()),
                    layout_source: Some(source.to_owned()),
                    exited: collected.exited.contains_key(&t.pid),
                }
            })
            .collect(),
        sources: Sources {
            uprobes,
            perf: "none".to_owned(),
            pmu_available: pmu,
            overhead_budget_pct: 100.0,
            probe_active_fraction: 1.0,
        },
        drops: drops(&counters, &snapshot),
        events,
        samples: counters.get(Counter::Samples),
        lines,
        notices,
    })
}

/// Losses: failed inserts plus entries the LRU maps evicted (created minus still present).
fn drops(counters: &crate::attach::Counters, snapshot: &KernelSnapshot) -> Drops {
    let evicted_lines = counters
        .get(Counter::LinesCreated)
        .saturating_sub(snapshot.lines.len() as u64);
    let evicted_objects = counters
        .get(Counter::ObjectsCreated)
        .saturating_sub(snapshot.objects.len() as u64);
    Drops {
        ringbuf: counters.get(Counter::RingbufDrops),
        map_full: counters.get(Counter::MapFull) + evicted_lines + evicted_objects,
        stacks: counters.get(Counter::StackDrops),
    }
}

/// The frame that called the map assign: the return address's innermost frame, or, when it could
/// not be read, the first stack frame outside the runtime's assign functions.
fn symbolize_samples(
    probes: &Probes,
    targets: &mut [Recorded],
    samples: &HashMap<SampleKey, u64>,
) -> Vec<FoldedSample> {
    let mut stacks: HashMap<i64, Option<Vec<u64>>> = HashMap::new();
    let mut out = Vec::new();
    for (key, &count) in samples {
        let caller = targets.iter_mut().find(|t| t.pid == key.pid).and_then(|t| {
            let bias = t.bias.unwrap_or(0);
            let sym = t.symbolizer.as_mut()?;
            let stack = stacks.entry(key.stack_id).or_insert_with(|| {
                u32::try_from(key.stack_id)
                    .ok()
                    .and_then(|id| probes.stack(id))
            });
            caller_frame(sym, bias, key.return_addr, stack.as_deref())
        });
        out.push(FoldedSample {
            pid: key.pid,
            lines: key.lines,
            caller,
            count,
        });
    }
    out
}

fn is_assign_frame(f: &Frame) -> bool {
    f.function.contains("mapassign")
}

fn caller_frame(
    sym: &mut Symbolizer,
    bias: u64,
    return_addr: u64,
    stack: Option<&[u64]>,
) -> Option<Frame> {
    if return_addr != 0 {
        if let Some(f) = sym.frames(lookup_addr(return_addr, bias, 1)).first() {
            if !is_assign_frame(f) {
                return Some(f.clone());
            }
        }
    }
    for (depth, &ip) in stack?.iter().enumerate() {
        if let Some(f) = sym
            .frames(lookup_addr(ip, bias, depth))
            .iter()
            .find(|f| !is_assign_frame(f))
        {
            return Some(f.clone());
        }
    }
    None
}
