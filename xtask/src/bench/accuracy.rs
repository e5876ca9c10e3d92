//! `cargo xtask bench`, accuracy and efficiency: clprof's estimates against a program that
//! counts its own map assigns (`profiler/tests/go/countwrites`), and how many assigns the
//! default budget buys against the ideal (the budget over the cost of one bare uprobe hit on
//! the same function, measured in the same run).

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{bail, Context as _, Result};

use crate::{demo, util};

/// Length of each run.
const RUN_S: u64 = 6;
/// The configurations measured: (work rounds between assigns, writers, steady|bursts,
/// own|shared).
const CONFIGS: [(&str, &str, &str, &str); 8] = [
    ("20000", "1", "steady", "own"),
    ("15000", "1", "steady", "own"),
    ("12000", "1", "steady", "own"),
    ("8000", "1", "steady", "own"),
    ("2000", "1", "steady", "own"),
    ("20000", "1", "bursts", "own"),
    ("30000", "2", "steady", "own"),
    ("20000", "2", "steady", "shared"),
];
/// Work rounds between assigns for the efficiency runs: a hot loop, where the budget binds.
const HOT: &str = "200";

/// One line the program printed: what it counted and used.
#[derive(Clone, Copy, Debug, Default)]
struct Truth {
    assigns: u64,
    cpu_ns: u64,
}

/// One accuracy run.
#[derive(Clone, Debug)]
pub struct Accuracy {
    pub config: String,
    pub truth: u64,
    pub observed: u64,
    pub estimate: u64,
    /// The relative error the report gave (largest over the program's maps).
    pub said: f64,
    /// What a probe hit cost the program, as the report gave it (ns).
    pub hit_cost_ns: Option<u64>,
}

/// One efficiency run.
#[derive(Clone, Debug)]
pub struct Efficiency {
    pub probes: String,
    /// Observed assigns per second of the target's CPU time, per 1% of budget.
    pub per_pct: f64,
}

/// Everything this part measures.
#[derive(Clone, Debug, Default)]
pub struct Results {
    pub accuracy: Vec<Accuracy>,
    pub efficiency: Vec<Efficiency>,
    /// Cost of one bare uprobe hit on `runtime.mapassign_fast64` (ns), from `perf probe`.
    pub bare_hit_ns: Option<f64>,
}

/// Builds the counting program with `go` into `out`.
fn build(go: &Path, out: &Path) -> Result<PathBuf> {
    let bin = out.join("countwrites");
    let module = util::repo_root().join("profiler/tests/go");
    demo::go_build(go, &module, "./countwrites", &bin, out).context("building countwrites")?;
    Ok(bin)
}

/// `assigns N cpu_ns C maps ...`.
fn parse_truth(line: &str) -> Option<(Truth, Vec<String>)> {
    let w: Vec<&str> = line.split_whitespace().collect();
    match w.as_slice() {
        ["assigns", n, "cpu_ns", c, "maps", maps @ ..] => Some((
            Truth {
                assigns: n.parse().ok()?,
                cpu_ns: c.parse().ok()?,
            },
            maps.iter().map(|m| m.to_string()).collect(),
        )),
        _ => None,
    }
}

/// Runs `prog` with `args` under `clprof record` (extra options `opts`); the truth line and the
/// JSON report.
fn recorded(
    clprof: &Path,
    prog: &Path,
    opts: &[&str],
    args: &[&str],
) -> Result<(Truth, Vec<String>, serde_json::Value)> {
    let o = Command::new(clprof)
        .args(["record", "--quiet", "--format", "json"])
        .args(opts)
        .arg("--")
        .arg(prog)
        .arg(format!("{RUN_S}s"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("running clprof record")?;
    if !o.status.success() {
        bail!(
            "clprof record failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let stdout = String::from_utf8_lossy(&o.stdout);
    let (first, json) = stdout.split_once('\n').context("no output")?;
    let (truth, maps) = parse_truth(first).with_context(|| format!("no count line: {first}"))?;
    Ok((
        truth,
        maps,
        serde_json::from_str(json).context("clprof's JSON")?,
    ))
}

/// `field` summed over the report's maps among `maps`.
fn sum_maps(report: &serde_json::Value, maps: &[String], field: &str) -> u64 {
    report["maps"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter(|m| maps.iter().any(|a| m["addr"] == a.as_str()))
                .filter_map(|m| m[field].as_u64())
                .sum()
        })
        .unwrap_or(0)
}

/// Header-line writes of a custom-probe run: the lines holding the maps' headers.
fn custom_writes(report: &serde_json::Value, maps: &[String]) -> u64 {
    report["lines"]
        .as_array()
        .map(|lines| {
            lines
                .iter()
                .filter(|l| {
                    l["objects"].as_array().is_some_and(|objs| {
                        objs.iter()
                            .any(|o| maps.iter().any(|a| o["addr"] == a.as_str()))
                    })
                })
                .filter_map(|l| l["writes"].as_u64())
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}

pub fn measure(clprof: &Path, go: &Path, out: &Path) -> Result<Results> {
    let prog = build(go, out)?;
    let mut r = Results::default();
    for (rounds, writers, pattern, maps) in CONFIGS {
        let (truth, addrs, report) = recorded(
            clprof,
            &prog,
            &["--budget", "2"],
            &[rounds, writers, pattern, maps],
        )?;
        let said = report["maps"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| addrs.iter().any(|a| m["addr"] == a.as_str()))
            .filter_map(|m| m["est_writes_rel_err"].as_f64())
            .fold(0.0, f64::max);
        let a = Accuracy {
            config: format!("{rounds} rounds, {writers} writer(s), {pattern}, {maps} map"),
            truth: truth.assigns,
            observed: sum_maps(&report, &addrs, "writes"),
            estimate: sum_maps(&report, &addrs, "est_writes"),
            said,
            hit_cost_ns: report["targets"][0]["overhead"]["probe_hit_cost_ns"].as_u64(),
        };
        println!(
            "accuracy: {} truth {} estimate {}",
            a.config, a.truth, a.estimate
        );
        r.accuracy.push(a);
    }

    // Efficiency on a hot loop: observed assigns per target CPU second per 1% of budget.
    let hot = [HOT, "1", "steady", "own"];
    let (truth, addrs, report) = recorded(clprof, &prog, &["--budget", "2"], &hot)?;
    let cpu_s = truth.cpu_ns as f64 / 1e9;
    r.efficiency.push(Efficiency {
        probes: "entry + RET (clprof's Go probes)".to_owned(),
        per_pct: sum_maps(&report, &addrs, "writes") as f64 / cpu_s / 2.0,
    });
    let entry = format!("{}:runtime.mapassign_fast64:RBX", prog.display());
    let (truth, addrs, report) =
        recorded(clprof, &prog, &["--budget", "2", "--probe", &entry], &hot)?;
    r.efficiency.push(Efficiency {
        probes: "entry only (a custom probe on the entry)".to_owned(),
        per_pct: custom_writes(&report, &addrs) as f64 / (truth.cpu_ns as f64 / 1e9) / 2.0,
    });
    r.bare_hit_ns = match bare_hit(&prog) {
        Ok(ns) => Some(ns),
        Err(e) => {
            println!("bare uprobe cost not measured: {e:#}");
            None
        }
    };
    Ok(r)
}

/// Cost of one bare uprobe hit on `runtime.mapassign_fast64` of `prog`: a `perf probe` event
/// (the kernel's own uprobe handler counting, no eBPF), against the program alone; per hit, the
/// extra CPU time per assign.
fn bare_hit(prog: &Path) -> Result<f64> {
    let args = [&format!("{RUN_S}s"), HOT, "1", "steady", "own"];
    let first_line = |out: &[u8]| {
        parse_truth(String::from_utf8_lossy(out).lines().next().unwrap_or(""))
            .map(|(truth, _)| truth)
            .context("countwrites printed no count")
    };
    let base = first_line(&Command::new(prog).args(args).output()?.stdout)?;
    // perf names the event after the binary and the name given (a symbol's dots are not allowed).
    let event = "probe_countwrites:mapassign";
    let remove = || {
        Command::new("perf")
            .args(["probe", "-q", "-d", event])
            .output()
    };
    let _ = remove();
    util::run(
        Command::new("perf")
            .args(["probe", "-q", "-x"])
            .arg(prog)
            .args(["-a", "mapassign=runtime.mapassign_fast64"]),
    )
    .context("perf probe on runtime.mapassign_fast64")?;
    let stat = Command::new("perf")
        .args(["stat", "-x", ",", "-e", event, "--"])
        .arg(prog)
        .args(args)
        .output();
    let _ = remove();
    let stat = stat?;
    let probed = first_line(&stat.stdout).context("under perf stat")?;
    let hits: f64 = String::from_utf8_lossy(&stat.stderr)
        .lines()
        .find(|l| l.contains(event))
        .and_then(|l| l.split(',').next()?.parse().ok())
        .context("perf stat printed no count")?;
    let per_assign = |t: Truth| t.cpu_ns as f64 / t.assigns.max(1) as f64;
    Ok((per_assign(probed) - per_assign(base)) * probed.assigns as f64 / hits.max(1.0))
}

/// The two tables, for BENCHMARKS.md.
pub fn markdown(md: &mut String, r: &Results) -> Result<()> {
    writeln!(md, "## Estimates against ground truth\n")?;
    writeln!(
        md,
        "`profiler/tests/go/countwrites` counts its own map assigns; each configuration runs \
         {RUN_S} s under `clprof record` at the default budget (2%). Estimate = the maps' \
         `est_writes` summed; error = estimate / truth − 1; said = the largest \
         `est_writes_rel_err` of its maps (one standard error); off = error / said, in standard \
         errors; hit cost = what a probe hit cost the program, as the report measured it.\n"
    )?;
    writeln!(
        md,
        "| program | truth | observed | estimate | error | said | off | hit cost |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|"
    )?;
    for a in &r.accuracy {
        let err = a.estimate as f64 / a.truth.max(1) as f64 - 1.0;
        let off = if a.said > 0.0 {
            format!("{:.1}", err.abs() / a.said)
        } else {
            "-".to_owned()
        };
        let hit = a
            .hit_cost_ns
            .map_or("-".to_owned(), |ns| format!("{:.1} µs", ns as f64 / 1000.0));
        writeln!(
            md,
            "| {} | {} | {} | {} | {:+.1}% | {:.1}% | {off} | {hit} |",
            a.config,
            a.truth,
            a.observed,
            a.estimate,
            err * 100.0,
            a.said * 100.0
        )?;
    }
    writeln!(md, "\n## Efficiency of the budget\n")?;
    let ideal = r.bare_hit_ns.map(|ns| 0.01 / (ns * 1e-9));
    writeln!(
        md,
        "A hot loop ({HOT} rounds between assigns, one writer) under the default budget: assigns \
         seen per second of the target's CPU time, per 1% of budget. Ideal: 1% of a CPU second \
         over the cost of one bare uprobe hit on `runtime.mapassign_fast64` ({}; a `perf probe` \
         event, the kernel's handler without eBPF, against the program alone), one hit per \
         assign.\n",
        r.bare_hit_ns
            .map_or("not measured".to_owned(), |ns| format!("{:.0} ns", ns))
    )?;
    writeln!(
        md,
        "| probes | assigns / CPU-s / 1% | of ideal |\n|---|---:|---:|"
    )?;
    for e in &r.efficiency {
        let share = ideal.map_or("-".to_owned(), |i| format!("{:.2}", e.per_pct / i));
        writeln!(md, "| {} | {:.0} | {share} |", e.probes, e.per_pct)?;
    }
    if let Some(i) = ideal {
        writeln!(md, "| ideal | {i:.0} | 1.00 |")?;
    }
    writeln!(md)?;
    Ok(())
}
