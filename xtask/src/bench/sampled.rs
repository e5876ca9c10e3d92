//! Lines found from the data addresses of timer samples, at clprof's defaults, on two programs no
//! Go map is at fault in (`profiler/tests/go`): `atomicpair` (two goroutines add to neighbouring
//! fields of one struct: false sharing) and `rwconfig` (readers take a `sync.RWMutex` read lock:
//! its reader count moves between their CPUs).
//!
//! - time to rank: a fresh process, recorded by pid for longer and longer until its line comes
//!   first and is judged shared;
//! - what sampling alone costs: `atomicpair`'s adds alone, under `clprof record --watch off`
//!   (perf sampling, and probes on map functions the program does not call) and under the
//!   defaults (`--watch auto` watches the line found), in rotating order; and under `--watch
//!   off` at a larger budget, whose faster sampling makes its cost per sample measurable;
//! - the named share of the reported lines' samples;
//! - a cross-check: `perf record -e cpu-clock --user-regs=…` of the same program, decoded by
//!   clprof's decoder outside its kernel side (`cargo bench --bench perfdecode`), gives the same
//!   top line.

use std::{
    fmt::Write as _,
    fs,
    io::{BufRead as _, BufReader},
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{bail, Context as _, Result};

use super::{stats::median, won::Run};
use crate::{build, demo, util};

/// Recording lengths tried for the time to rank, shortest first (ms).
const RANK_STEPS_MS: [u64; 5] = [500, 1_000, 2_000, 3_000, 5_000];
/// Fresh processes per program for the time to rank.
const RANK_ROUNDS: usize = 3;
/// Rounds of work between `atomicpair`'s adds tried for a line that costs about 2%.
const WORK_ROUNDS: [u64; 6] = [400, 800, 1_600, 3_200, 6_400, 12_800];
/// Rounds of the sampling-cost comparison.
const COST_ROUNDS: usize = 5;
/// How long each cost run lasts.
const COST_RUN: &str = "5s";
/// Rounds of work between the cost runs' adds: enough that their pace is steady from run to
/// run (the line still moves on every add), so that what sampling takes shows.
const COST_WORK: &str = "3200";

/// The programs: name, and the word of the banner line that gives the contended address.
const PROGRAMS: [(&str, &str); 2] = [("atomicpair", "hot"), ("rwconfig", "mutex")];

/// What one program gave.
#[derive(Clone, Debug, Default)]
pub struct Program {
    pub name: &'static str,
    /// How the table names the row (the name, with the arguments when given).
    pub label: String,
    /// Arguments after the run time.
    pub args: Vec<String>,
    /// Per round: the shortest recording (ms) whose first line held the contended address.
    pub rank_ms: Vec<Option<u64>>,
    /// From the longest recording of each round: the top line's verdict, CPU share and the
    /// named share of the sampled lines.
    pub verdicts: Vec<String>,
    pub cpu_pct: Vec<f64>,
    pub named_share: Vec<f64>,
    /// perf's samples decoded by clprof: (samples, decoded, top line, its share), and whether
    /// the top line is the contended one.
    pub perf: Option<(u64, u64, String, f64)>,
    pub perf_agrees: Option<bool>,
}

/// What sampling costs `atomicpair`: its runs alone, under `--watch off`, under the same at
/// [`FAST_BUDGET`] (sampling faster, so that its cost stands out of the noise), under the
/// defaults.
#[derive(Clone, Debug, Default)]
pub struct Cost {
    pub alone: Vec<Run>,
    pub sampling: Vec<Run>,
    pub fast: Vec<Run>,
    pub defaults: Vec<Run>,
    /// The perf sample rate the sampling runs reported (Hz).
    pub hz: Vec<u64>,
    /// The same for the fast runs.
    pub fast_hz: Vec<u64>,
}

/// The budget (%) of the fast sampling runs.
const FAST_BUDGET: &str = "20";

/// Everything this section measured.
#[derive(Clone, Debug, Default)]
pub struct Results {
    pub programs: Vec<Program>,
    pub cost: Cost,
}

pub fn measure(clprof: &Path, go: &Path, out: &Path) -> Result<Results> {
    let module = util::repo_root().join("profiler/tests/go");
    let mut results = Results::default();
    for (name, banner) in PROGRAMS {
        let binary = out.join(format!("sampled-{name}"));
        demo::go_build(go, &module, &format!("./{name}"), &binary, out)
            .with_context(|| format!("building {name}"))?;
        let mut program = Program {
            name,
            label: name.to_owned(),
            ..Program::default()
        };
        rank_rounds(clprof, &binary, banner, &mut program)?;
        cross_check(&binary, banner, out, &mut program)?;
        results.programs.push(program);
    }
    let atomicpair = out.join("sampled-atomicpair");
    if let Some(program) = two_percent(clprof, &atomicpair)? {
        results.programs.push(program);
    }
    results.cost = sampling_cost(clprof, &atomicpair)?;
    Ok(results)
}

/// [`RANK_ROUNDS`] fresh processes of `binary`, each ranked by [`rank_round`].
fn rank_rounds(clprof: &Path, binary: &Path, banner: &str, p: &mut Program) -> Result<()> {
    for round in 0..RANK_ROUNDS {
        rank_round(clprof, binary, banner, p)?;
        let ms = p.rank_ms.last().copied().flatten();
        println!(
            "sampled {} round {round}: ranked first at {ms:?} ms",
            p.label
        );
    }
    Ok(())
}

/// `atomicpair` with enough work between adds that its line costs about 2% of its CPU (the
/// first of [`WORK_ROUNDS`] whose 5-second recording costs it at most 2.5%), ranked as the
/// others are; None when none came that low.
fn two_percent(clprof: &Path, binary: &Path) -> Result<Option<Program>> {
    for rounds in WORK_ROUNDS {
        let args = vec![rounds.to_string()];
        let running = start(binary, "hot", "10m", &args)?;
        let want = format!("{:#x}", running.addr & !63);
        let report = super::record_pid(clprof, &running.child.id().to_string(), 5_000)?;
        drop(running);
        let lines = report["lines"].as_array().cloned().unwrap_or_default();
        let pct = lines
            .iter()
            .find(|l| l["line"] == want.as_str())
            .and_then(|l| l["cost"]["target_cpu_pct"].as_f64())
            .unwrap_or(0.0);
        println!("sampled atomicpair with {rounds} rounds of work: its line costs {pct:.2}%");
        if pct > 0.0 && pct <= 2.5 {
            let mut program = Program {
                name: "atomicpair",
                label: format!(
                    "atomicpair, {rounds} rounds of work between adds ({pct:.1}% in 5 s)"
                ),
                args,
                ..Program::default()
            };
            rank_rounds(clprof, binary, "hot", &mut program)?;
            return Ok(Some(program));
        }
    }
    Ok(None)
}

/// A running test program and the contended address its banner named.
struct Running {
    child: std::process::Child,
    addr: u64,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `binary` for `duration` and reads the address after `banner` on its first line.
fn start(binary: &Path, banner: &str, duration: &str, args: &[String]) -> Result<Running> {
    let mut child = Command::new(binary)
        .arg(duration)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut first = String::new();
    BufReader::new(stdout).read_line(&mut first)?;
    let addr = first
        .strip_prefix(banner)
        .and_then(|a| u64::from_str_radix(a.trim().trim_start_matches("0x"), 16).ok())
        .with_context(|| format!("no `{banner} 0x…` banner: {first:?}"))?;
    Ok(Running { child, addr })
}

/// One fresh process, recorded for longer and longer until its contended line ranks first,
/// judged shared (a line ranked first on too few samples to say is not found yet).
fn rank_round(clprof: &Path, binary: &Path, banner: &str, p: &mut Program) -> Result<()> {
    let running = start(binary, banner, "10m", &p.args)?;
    let want = format!("{:#x}", running.addr & !63);
    let pid = running.child.id().to_string();
    let mut found = None;
    let mut last = serde_json::Value::Null;
    for ms in RANK_STEPS_MS {
        last = super::record_pid(clprof, &pid, ms)?;
        let top = &last["lines"][0];
        let shared =
            ["false-sharing", "true-sharing"].contains(&top["verdict"].as_str().unwrap_or(""));
        if top["line"] == want.as_str() && shared {
            found = Some(ms);
            break;
        }
    }
    p.rank_ms.push(found);
    let top = &last["lines"][0];
    p.verdicts
        .push(top["verdict"].as_str().unwrap_or("-").to_owned());
    p.cpu_pct
        .push(top["cost"]["target_cpu_pct"].as_f64().unwrap_or(0.0));
    let named = &last["sources"]["data_addresses"]["named_share"];
    p.named_share.push(named.as_f64().unwrap_or(0.0));
    Ok(())
}

/// `perf record -e cpu-clock --user-regs=…` of the program, decoded by clprof's decoder.
fn cross_check(binary: &Path, banner: &str, out: &Path, p: &mut Program) -> Result<()> {
    if which("perf").is_none() {
        println!("sampled: perf not found, no cross-check");
        return Ok(());
    }
    let data = out.join(format!("sampled-{}.perf.data", p.name));
    let script = out.join(format!("sampled-{}.perf.txt", p.name));
    let regs = "AX,BX,CX,DX,SI,DI,BP,SP,IP,R8,R9,R10,R11,R12,R13,R14,R15";
    let mut record = Command::new("perf");
    record
        .args(["record", "-q", "-e", "cpu-clock", "-F", "999"])
        // An optional value: it must be given with `=`.
        .arg(format!("--user-regs={regs}"))
        .arg("-o")
        .arg(&data)
        .arg("--")
        .arg(binary)
        .arg("4s")
        .stdout(Stdio::piped());
    let o = record.output().context("running perf record")?;
    if !o.status.success() {
        bail!("perf record failed: {}", String::from_utf8_lossy(&o.stderr));
    }
    let first = String::from_utf8_lossy(&o.stdout);
    let addr = first
        .lines()
        .next()
        .and_then(|l| l.strip_prefix(banner))
        .and_then(|a| u64::from_str_radix(a.trim().trim_start_matches("0x"), 16).ok())
        .context("no banner under perf")?;
    let text = util::output(
        Command::new("perf")
            .args(["script", "-F", "tid,ip,uregs", "-i"])
            .arg(&data),
    )?;
    fs::write(&script, text)?;
    let pairs = perfdecode(binary, &script)?;
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let num = |k: &str| get(k).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    let top = get("perfdecode_line0").unwrap_or_default();
    p.perf_agrees = Some(top == format!("{:#x}", addr & !63));
    p.perf = Some((
        num("perfdecode_samples") as u64,
        num("perfdecode_decoded") as u64,
        top,
        num("perfdecode_line0_share"),
    ));
    Ok(())
}

/// `cargo bench --bench perfdecode` on `binary` and the perf script output `script`.
fn perfdecode(binary: &Path, script: &Path) -> Result<Vec<(String, String)>> {
    let stdout = util::output(
        build::cargo_with_ebpf()
            .args(["bench", "-q", "-p", "profiler", "--bench", "perfdecode"])
            .env("CLPROF_BENCH_BINARY", binary)
            .env("CLPROF_BENCH_PERF_SCRIPT", script),
    )?;
    Ok(stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
    })
}

/// The adds `atomicpair` made in [`COST_RUN`] alone, under `--watch off` and under the defaults,
/// in rotating order.
fn sampling_cost(clprof: &Path, binary: &Path) -> Result<Cost> {
    let mut cost = Cost::default();
    for round in 0..COST_ROUNDS {
        for k in 0..4 {
            match (round + k) % 4 {
                0 => cost.alone.push(adds(&mut Command::new(binary))?),
                1 => {
                    let (ops, hz) = adds_under(clprof, binary, &["--watch", "off"])?;
                    cost.sampling.push(ops);
                    cost.hz.extend(hz);
                }
                2 => {
                    let fast = ["--watch", "off", "--budget", FAST_BUDGET];
                    let (ops, hz) = adds_under(clprof, binary, &fast)?;
                    cost.fast.push(ops);
                    cost.fast_hz.extend(hz);
                }
                _ => cost.defaults.push(adds_under(clprof, binary, &[])?.0),
            }
        }
        println!("sampled cost round {round} done");
    }
    Ok(cost)
}

/// What the program printed: its adds (`ops N`) and its CPU time (`cpu_ms M`).
fn adds(cmd: &mut Command) -> Result<Run> {
    super::won::ops_of(cmd.args([COST_RUN, COST_WORK]))
}

/// The adds under `clprof record` with `extra` options, and the perf rate its report gave.
fn adds_under(clprof: &Path, binary: &Path, extra: &[&str]) -> Result<(Run, Option<u64>)> {
    let report = util::target_dir().join("bench/sampled-cost.json");
    let mut cmd = Command::new(clprof);
    cmd.args(["record", "--quiet", "--duration", "60s"])
        .args(extra)
        .args(["--format", "json", "-o"])
        .arg(&report)
        .arg("--")
        .arg(binary);
    let ops = adds(&mut cmd)?;
    let json: serde_json::Value = serde_json::from_slice(&fs::read(&report)?)?;
    Ok((ops, json["sources"]["perf_sample_hz"].as_u64()))
}

fn range(v: &[f64], unit: &str) -> String {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if v.is_empty() {
        "-".to_owned()
    } else {
        format!("{lo:.1}–{hi:.1}{unit}")
    }
}

/// The section, for BENCHMARKS.md and `bench --only sampled`.
pub fn markdown(md: &mut String, r: &Results) -> Result<()> {
    writeln!(md, "## Lines from timer samples' data addresses\n")?;
    writeln!(
        md,
        "Two test programs no map is at fault in, recorded at the defaults by pid. Ranked first = \
         the shortest recording ({} ms tried) whose first line holds the contended word and is \
         judged false or true sharing, per fresh process; CPU = the top line's `cost.target_cpu_pct`; named = \
         `sources.data_addresses.named_share`. perf = `perf record -e cpu-clock -F 999 \
         --user-regs=…` of the program, decoded by clprof's decoder outside its kernel side: \
         the top line's share of all samples, and whether it is the contended line. The last row is \
         `atomicpair` with enough work between its adds that its line costs about 2% of its CPU \
         in a 5-second recording (the first number of rounds tried that brings it to 2.5% or \
         less): the goal is to rank such a line within 5 s.\n",
        RANK_STEPS_MS.map(|ms| ms.to_string()).join(", ")
    )?;
    writeln!(
        md,
        "| program | ranked first (ms) | verdict | CPU | named | perf top line |\n\
         |---|---|---|---:|---:|---|"
    )?;
    for p in &r.programs {
        let ranked: Vec<String> = p
            .rank_ms
            .iter()
            .map(|ms| ms.map_or("not in 5 s".to_owned(), |ms| ms.to_string()))
            .collect();
        let perf = match (&p.perf, p.perf_agrees) {
            (Some((samples, decoded, line, share)), Some(agrees)) => format!(
                "{line}, {:.1}% of {samples} samples ({decoded} decoded){}",
                share * 100.0,
                if agrees {
                    ", the same line"
                } else {
                    ", a different line"
                }
            ),
            _ => "not run".to_owned(),
        };
        writeln!(
            md,
            "| {} | {} | {} | {} | {} | {perf} |",
            p.label,
            ranked.join(", "),
            p.verdicts.join(", "),
            range(&p.cpu_pct, "%"),
            range(&p.named_share, ""),
        )?;
    }
    cost_markdown(md, &r.cost)
}

/// The median of `of` over `runs`, over its median alone.
fn ratio_of(c: &Cost, runs: &[Run], of: fn(Run) -> f64) -> Option<f64> {
    let alone: Vec<f64> = c.alone.iter().map(|&a| of(a)).collect();
    let these: Vec<f64> = runs.iter().map(|&a| of(a)).collect();
    match (median(these), median(alone)) {
        (Some(x), Some(a)) if a > 0.0 => Some(x / a),
        _ => None,
    }
}

fn cost_markdown(md: &mut String, c: &Cost) -> Result<()> {
    let ratio = |runs: &[Run], of: fn(Run) -> f64| {
        ratio_of(c, runs, of).map_or("-".to_owned(), |r| format!("{r:.3}"))
    };

    let list = |v: &[Run]| {
        let runs: Vec<String> = v
            .iter()
            .map(|a| format!("{} in {} ms", a.ops, a.cpu_ms))
            .collect();
        runs.join(", ")
    };
    let hz: Vec<f64> = c.hz.iter().map(|&h| h as f64).collect();
    writeln!(
        md,
        "\nWhat sampling costs `atomicpair` with {COST_WORK} rounds of work between adds ({COST_RUN} \
         runs, {} rounds in rotating order, medians; \
         its adds, and its adds per CPU millisecond, over the same alone): under `--watch off` \
         (perf sampling at {} Hz, probes on map functions it does not call) {} of its adds and \
         {} per CPU ms; under the defaults (the line found is watched) {} and {}. On 2 vCPUs \
         that two busy threads fill, the adds also lose what clprof's own threads take; the \
         adds per CPU ms do not. Runs: alone {}; `--watch off` {}; defaults {}.\n",
        c.alone.len(),
        median(hz.to_vec()).map_or("-".to_owned(), |hz| format!("{hz:.0}")),
        ratio(&c.sampling, Run::count),
        ratio(&c.sampling, Run::per_cpu_ms),
        ratio(&c.defaults, Run::count),
        ratio(&c.defaults, Run::per_cpu_ms),
        list(&c.alone),
        list(&c.sampling),
        list(&c.defaults),
    )?;
    fast_markdown(md, c, &hz)
}

/// The fast sampling runs, and what their loss per sample says the default rate costs.
fn fast_markdown(md: &mut String, c: &Cost, hz: &[f64]) -> Result<()> {
    let fast_hz: Vec<f64> = c.fast_hz.iter().map(|&h| h as f64).collect();
    let alone: Vec<f64> = c.alone.iter().map(|&a| a.per_cpu_ms()).collect();
    let (Some(fast), Some(f_hz), Some(d_hz), Some(mid)) = (
        ratio_of(c, &c.fast, Run::per_cpu_ms),
        median(fast_hz),
        median(hz.to_vec()),
        median(alone.clone()),
    ) else {
        return Ok(());
    };
    let loss = (1.0 - fast) * 100.0;
    // Half the spread of the runs alone: a loss below it is not told from the noise.
    let lo = alone.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = alone.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let noise = (hi - lo) / 2.0 / mid.max(f64::MIN_POSITIVE) * 100.0;
    let scale = d_hz / f_hz.max(1.0);
    let verdict = if loss > noise {
        format!(
            "at that loss per sample, the default's {d_hz:.0} Hz costs {:.2}%",
            loss * scale
        )
    } else {
        format!(
            "within the runs' spread alone (±{noise:.1}%): the default's {d_hz:.0} Hz costs less \
             than {:.2}%",
            noise.max(loss) * scale
        )
    };
    let runs: Vec<String> = c
        .fast
        .iter()
        .map(|a| format!("{} in {} ms", a.ops, a.cpu_ms))
        .collect();
    writeln!(
        md,
        "\nSampling faster, so that its cost stands out of the noise (`--watch off --budget \
         {FAST_BUDGET}`: {f_hz:.0} Hz): {fast:.3} of the adds per CPU ms alone, a loss of \
         {loss:.1}%; {verdict} (goal: at most 1%). Runs: {}.",
        runs.join(", ")
    )?;
    Ok(())
}
