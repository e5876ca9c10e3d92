//! `cargo xtask bench`: what clprof costs a map-heavy Go service and what it delivers, measured
//! side by side in one run and written to BENCHMARKS.md.
//!
//! - slowdown: the demo workload alone, under `clprof record` at the default budget and at
//!   `--budget 100`, in rotating order, several rounds; medians of operations completed;
//! - detection: the shortest recording (default budget) whose first line is the shared cache;
//! - fold rate: `cargo bench --bench fold` over an event stream recorded here;
//! - symbolization: `cargo bench --bench symbolize` (clprof vs binutils addr2line);
//! - accuracy and efficiency of the estimates (`accuracy`);
//! - the watchpoint hit cost against what a target pays (`watch`);
//! - lines from the data addresses of timer samples: time to rank, what sampling costs, the
//!   named share, a cross-check with perf (`sampled`);
//! - predicted against won: what clprof says fixing a line wins, against the fix measured
//!   alone before and after (`won`).
//!
//! `--only watch` runs the watchpoint part alone and prints its table, `--only start` clprof's
//! start step by step, `--only sampled` the sampled lines' part, `--only won` the predicted
//! against won part; they leave BENCHMARKS.md as it is.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Duration,
};

use anyhow::{bail, Context as _, Result};

mod accuracy;
mod report;
mod results;
mod sampled;
mod sections;
mod service;
mod stats;
mod watch;
mod won;

use crate::{bootstrap, build, demo, util};
use results::{Results, Run, DETECTION_STEPS_MS};
use service::ServiceStart;

/// How long each slowdown run lasts.
const RUN: Duration = Duration::from_secs(6);
/// Fresh workload processes for the detection measurement.
const DETECTION_ROUNDS: usize = 3;

/// A part of the bench that can run alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Section {
    /// Watchpoint hit cost against ground truth.
    Watch,
    /// clprof's start, step by step, on prometheus and a small Go program.
    Start,
    /// Lines from the data addresses of timer samples.
    Sampled,
    /// What clprof predicts a fix wins, against the fix measured.
    Won,
}

/// The three ways the workload runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Alone,
    DefaultBudget,
    FullBudget,
}

pub fn bench(rounds: usize, only: Option<Section>) -> Result<()> {
    if !util::is_root()? {
        bail!("cargo xtask bench must run as root: clprof loads eBPF");
    }
    match only {
        Some(Section::Watch) => return watch_only(),
        Some(Section::Start) => return start_only(),
        Some(Section::Sampled) => return sampled_only(),
        Some(Section::Won) => return won_only(),
        None => {}
    }
    let tools = bootstrap::setup()?;
    let clprof = build::release_clprof()?;
    let out = util::target_dir().join("bench");
    fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let workload = demo::build_workload(&tools.go_new, &out, "workload")?;
    // Go 1.19 writes DWARF 4, which binutils reads; Go 1.27's DWARF 5 line tables it cannot.
    let workload_old = demo::build_workload(&tools.go_old, &out, "workload-go119")?;

    let mut results = Results {
        rounds,
        alone: Vec::new(),
        default_budget: Vec::new(),
        full_budget: Vec::new(),
        detection_ms: Vec::new(),
        fold: Vec::new(),
        symbolize: Vec::new(),
        symbolize_new: Vec::new(),
        calibration: None,
        service: ServiceStart::default(),
        accuracy: accuracy::Results::default(),
        watch: watch::Results::default(),
        sampled: sampled::Results::default(),
        won: Vec::new(),
    };
    let modes = [Mode::Alone, Mode::DefaultBudget, Mode::FullBudget];
    for round in 0..rounds {
        for k in 0..modes.len() {
            let mode = modes[(round + k) % modes.len()];
            let run = run_once(&clprof, &workload, &out, mode, round)?;
            println!("slowdown round {round}: {mode:?} {} ops", run.ops);
            match mode {
                Mode::Alone => results.alone.push(run),
                Mode::DefaultBudget => results.default_budget.push(run),
                Mode::FullBudget => results.full_budget.push(run),
            }
        }
    }
    results.calibration = calibration(&out.join("default-0.json"));
    for round in 0..DETECTION_ROUNDS {
        let ms = detection(&clprof, &workload, &out)?;
        println!("detection round {round}: {ms:?} ms");
        results.detection_ms.push(ms);
    }

    let events = out.join("events.bin");
    record_stream(&clprof, &workload, &out, &events)?;
    results.fold = cargo_bench("fold", "CLPROF_BENCH_EVENTS", &events)?;
    results.symbolize = cargo_bench("symbolize", "CLPROF_BENCH_BINARY", &workload_old)?;
    results.symbolize_new = cargo_bench("symbolize", "CLPROF_BENCH_BINARY", &workload)?;
    results.service = service::measure(&clprof, &tools.prometheus, &out)?;
    let small = service::build_small(&tools.go_new, &out)?;
    results.service.small_steps = service::measure_small(&clprof, &small, &[], &out)?;
    results.service.busy_steps = service::measure_small(&clprof, &workload, &["30s"], &out)?;
    results.accuracy = accuracy::measure(&clprof, &tools.go_new, &out)?;
    results.watch = watch::measure(&clprof, &out)?;
    results.sampled = sampled::measure(&clprof, &tools.go_new, &out)?;
    results.won = won::measure(&clprof, &tools.go_new, &out)?;

    let path = util::repo_root().join("BENCHMARKS.md");
    fs::write(&path, report::markdown(&results, &tools)?)
        .with_context(|| format!("writing {}", path.display()))?;
    println!("{}", report::summary(&results));
    println!("wrote {}", util::rel(&path));
    Ok(())
}

/// The watchpoint hit cost alone: needs only the release clprof and gcc; prints the section.
fn watch_only() -> Result<()> {
    bootstrap::setup_ebpf()?;
    let clprof = build::release_clprof()?;
    let out = util::target_dir().join("bench");
    fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let watch = watch::measure(&clprof, &out)?;
    let mut md = String::new();
    report::watch_section(&mut md, &watch)?;
    print!("\n{md}");
    Ok(())
}

/// The sampled lines' part alone: prints its section.
fn sampled_only() -> Result<()> {
    part_only(|clprof, go, out, md| sampled::markdown(md, &sampled::measure(clprof, go, out)?))
}

/// The predicted against won part alone: prints its section.
fn won_only() -> Result<()> {
    part_only(|clprof, go, out, md| won::markdown(md, &won::measure(clprof, go, out)?))
}

/// One part alone: `part` measures with the release clprof and Go 1.27 in the bench directory
/// and writes its section, which is printed.
fn part_only(part: impl FnOnce(&Path, &Path, &Path, &mut String) -> Result<()>) -> Result<()> {
    let tools = bootstrap::setup()?;
    let clprof = build::release_clprof()?;
    let out = util::target_dir().join("bench");
    fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let mut md = String::new();
    part(&clprof, &tools.go_new, &out, &mut md)?;
    print!("\n{md}");
    Ok(())
}

/// clprof's start alone: prints the stripped service's section.
fn start_only() -> Result<()> {
    let tools = bootstrap::setup()?;
    let clprof = build::release_clprof()?;
    let out = util::target_dir().join("bench");
    fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let workload = demo::build_workload(&tools.go_new, &out, "workload")?;
    let mut service = service::measure(&clprof, &tools.prometheus, &out)?;
    let small = service::build_small(&tools.go_new, &out)?;
    service.small_steps = service::measure_small(&clprof, &small, &[], &out)?;
    service.busy_steps = service::measure_small(&clprof, &workload, &["30s"], &out)?;
    let mut md = String::new();
    report::service_section(&mut md, &service)?;
    print!("\n{md}");
    Ok(())
}

/// "ops N cpu_ms M" from the workload: (operations, CPU milliseconds).
fn parse_ops(stdout: &str) -> Option<(u64, u64)> {
    let line = stdout.lines().find_map(|l| l.strip_prefix("ops "))?;
    let mut words = line.split_whitespace();
    let ops = words.next()?.parse().ok()?;
    let cpu = match (words.next(), words.next()) {
        (Some("cpu_ms"), Some(ms)) => ms.parse().ok()?,
        _ => 0,
    };
    Some((ops, cpu))
}

/// The shared cache's header address the workload names on stderr ("cache 0x...").
fn parse_cache(stderr: &str) -> Option<String> {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("cache "))
        .map(|a| a.trim().to_owned())
}

fn run_once(clprof: &Path, workload: &Path, out: &Path, mode: Mode, round: usize) -> Result<Run> {
    let secs = format!("{}s", RUN.as_secs());
    let (budget, name) = match mode {
        Mode::Alone => {
            let o = Command::new(workload).arg(&secs).output()?;
            let stdout = String::from_utf8_lossy(&o.stdout);
            let (ops, cpu_ms) = parse_ops(&stdout).context("the workload printed no ops line")?;
            return Ok(Run {
                ops,
                cpu_ms,
                ..Run::default()
            });
        }
        Mode::DefaultBudget => ("2", "default"),
        Mode::FullBudget => ("100", "full"),
    };
    let report = out.join(format!("{name}-{round}.json"));
    // A cache of its own: every run measures the line-transfer cost afresh, so the rounds show
    // how far two measurements on this host disagree.
    let cache = out.join(format!("transfer-cache-{name}-{round}"));
    if cache.exists() {
        fs::remove_dir_all(&cache).with_context(|| format!("removing {}", cache.display()))?;
    }
    let o = Command::new(clprof)
        .env("CLPROF_CACHE_DIR", &cache)
        .args(["record", "--quiet", "--budget", budget, "--duration", "60s"])
        .args(["--format", "json", "-o"])
        .arg(&report)
        .arg("--")
        .arg(workload)
        .arg(&secs)
        .stdin(Stdio::null())
        .output()
        .context("running clprof record")?;
    let (stdout, stderr) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    if !o.status.success() {
        bail!("clprof record failed: {stderr}");
    }
    let (ops, cpu_ms) =
        parse_ops(&stdout).context("the workload printed no ops line under clprof")?;
    let json = read_json(&report)?;
    let target = &json["targets"][0];
    Ok(Run {
        ops,
        cpu_ms,
        estimated_overhead_pct: target["estimated_overhead_pct"].as_f64(),
        active_fraction: target["probe_active_fraction"].as_f64(),
        windows: target["probe_windows"].as_u64(),
        cache_rank: parse_cache(&stderr).and_then(|addr| rank_of(&json, &addr)),
        line_transfer_ns: json["sources"]["line_transfer_ns"].as_f64(),
    })
}

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Index in `lines` of the first line holding the object at `addr`.
fn rank_of(report: &serde_json::Value, addr: &str) -> Option<usize> {
    report["lines"].as_array()?.iter().position(|l| {
        l["objects"]
            .as_array()
            .is_some_and(|objs| objs.iter().any(|o| o["addr"] == addr))
    })
}

/// (probe hit cost ns, perf sample cost ns, perf Hz) from a default-budget report.
fn calibration(report: &Path) -> Option<(u64, Option<u64>, Option<u64>)> {
    let json = read_json(report).ok()?;
    let s = &json["sources"];
    Some((
        s["probe_hit_cost_ns"].as_u64()?,
        s["perf_sample_cost_ns"].as_u64(),
        s["perf_sample_hz"].as_u64(),
    ))
}

/// Starts a long workload, then records it for longer and longer until the shared cache's line
/// comes first; returns that recording length.
fn detection(clprof: &Path, workload: &Path, out: &Path) -> Result<Option<u64>> {
    let err_path = out.join("detection-stderr.txt");
    let mut child = Command::new(workload)
        .arg("10m")
        .stdout(Stdio::null())
        .stderr(fs::File::create(&err_path)?)
        .spawn()
        .context("starting the workload")?;
    let pid = child.id().to_string();
    let result = (|| {
        std::thread::sleep(Duration::from_millis(300));
        let addr = parse_cache(&fs::read_to_string(&err_path)?)
            .context("the workload did not name its cache")?;
        for ms in DETECTION_STEPS_MS {
            let report = record_pid(clprof, &pid, ms)?;
            if rank_of(&report, &addr) == Some(0) {
                return Ok(Some(ms));
            }
        }
        Ok(None)
    })();
    let _ = child.kill();
    let _ = child.wait();
    result
}

/// `clprof record --pid PID` for `ms` milliseconds at the defaults: its JSON report.
fn record_pid(clprof: &Path, pid: &str, ms: u64) -> Result<serde_json::Value> {
    let json = util::output(Command::new(clprof).args([
        "record",
        "--quiet",
        "--pid",
        pid,
        "--duration",
        &format!("{ms}ms"),
        "--format",
        "json",
    ]))?;
    Ok(serde_json::from_str(&json)?)
}

/// Records every sampled event of a short, fully probed run (one in one sampled).
fn record_stream(clprof: &Path, workload: &Path, out: &Path, events: &Path) -> Result<()> {
    util::run(
        Command::new(clprof)
            .args([
                "record",
                "--quiet",
                "--budget",
                "100",
                "--sample-every",
                "1",
            ])
            .args(["--duration", "30s", "--format", "json", "-o"])
            .arg(out.join("stream.json"))
            .arg("--save-samples")
            .arg(events)
            .arg("--")
            .arg(workload)
            .arg("4s")
            .stdout(Stdio::null()),
    )
}

/// Runs `cargo bench -p profiler --bench NAME` with `var=path` and returns its `key=value` lines.
fn cargo_bench(name: &str, var: &str, path: &PathBuf) -> Result<Vec<(String, String)>> {
    // With the real eBPF object, as the release build: the bench profile shares its
    // artifacts, so a build without it would replace target/release/clprof.
    let stdout = util::output(
        build::cargo_with_ebpf()
            .args(["bench", "-q", "-p", "profiler", "--bench", name])
            .env(var, path),
    )?;
    let pairs: Vec<(String, String)> = stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    if pairs.is_empty() {
        bail!("cargo bench --bench {name} printed no results:\n{stdout}");
    }
    Ok(pairs)
}
