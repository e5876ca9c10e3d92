//! `cargo xtask fuzz [--seconds N]`: runs every cargo-fuzz target in `fuzz/` for N seconds.
//!
//! Installs cargo-fuzz when missing, builds all targets once with the pinned nightly (the
//! profiler library with an empty eBPF object: the targets exercise parsers only), then runs
//! each target from its seed corpus `fuzz/corpus/<target>/`. New inputs go to
//! `fuzz/target/corpus/<target>/` (ignored), so the seeds in the tree stay small. Fails when a
//! target crashes; the crashing input is left in `fuzz/artifacts/<target>/`.

use std::{
    fs,
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{bail, Context as _, Result};

use crate::{
    bootstrap,
    util::{self, run},
};

/// The fuzz targets, as `fuzz/Cargo.toml` names them.
pub const TARGETS: &[&str] = &[
    "gopclntab",
    "elf",
    "dwarf",
    "report",
    "probe_spec",
    "watch_spec",
    "sysfs",
    "operand",
];

/// What one target's run did.
struct Outcome {
    target: &'static str,
    runs: Option<u64>,
    per_sec: Option<u64>,
    crashed: bool,
}

pub fn fuzz(seconds: u64) -> Result<()> {
    let start = Instant::now();
    let (nightly, _) = bootstrap::ensure_nightly()?;
    ensure_cargo_fuzz()?;
    let fuzz_dir = util::repo_root().join("fuzz");
    run(cargo_fuzz(&nightly).arg("build"))?;

    let mut outcomes = Vec::new();
    for &target in TARGETS {
        let work = fuzz_dir.join("target/corpus").join(target);
        fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
        let seeds = fuzz_dir.join("corpus").join(target);
        let mut cmd = cargo_fuzz(&nightly);
        cmd.args(["run", target])
            .arg(&work)
            .arg(&seeds)
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .arg("-timeout=10")
            .arg("-print_final_stats=1");
        outcomes.push(run_target(target, &mut cmd)?);
    }

    println!(
        "\n{:<12} {:>14} {:>10}  result",
        "target", "executions", "exec/s"
    );
    for o in &outcomes {
        let show = |n: Option<u64>| n.map_or_else(|| "?".to_owned(), |n| n.to_string());
        println!(
            "{:<12} {:>14} {:>10}  {}",
            o.target,
            show(o.runs),
            show(o.per_sec),
            if o.crashed { "CRASHED" } else { "ok" }
        );
    }
    let crashed: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.crashed)
        .map(|o| o.target)
        .collect();
    if !crashed.is_empty() {
        bail!(
            "fuzz targets crashed: {} (inputs in {})",
            crashed.join(", "),
            util::rel(&fuzz_dir.join("artifacts"))
        );
    }
    println!(
        "fuzz: {} targets, {seconds}s each, no crashes ({:.0}s in all)",
        outcomes.len(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `cargo +NIGHTLY fuzz` in `fuzz/`, with the empty eBPF object.
fn cargo_fuzz(nightly: &str) -> Command {
    let mut cmd = Command::new("cargo");
    cmd.arg(format!("+{nightly}"))
        .arg("fuzz")
        .current_dir(util::repo_root().join("fuzz"))
        .env("CLPROF_SKIP_EBPF", "1");
    cmd
}

fn ensure_cargo_fuzz() -> Result<()> {
    let present = Command::new("cargo")
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !present {
        println!("installing cargo-fuzz...");
        run(Command::new("cargo").args(["install", "cargo-fuzz", "--locked"]))?;
    }
    Ok(())
}

/// Runs one target, echoing libFuzzer's output except the per-input `NEW`/`REDUCE` lines and
/// the dictionary entries, and
/// reads the execution count and rate from its final stats.
fn run_target(target: &'static str, cmd: &mut Command) -> Result<Outcome> {
    println!("$ (cd fuzz && {})", util::describe(cmd));
    let mut child = cmd
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting `{}`", util::describe(cmd)))?;
    let stderr = child.stderr.take().context("no stderr pipe")?;
    let mut stats = Stats::default();
    for line in BufReader::new(stderr).lines() {
        let line = line.context("reading libFuzzer output")?;
        stats.offer(&line);
        // Per-input progress, newly covered functions and the recommended dictionary are noise
        // in a summary run.
        let quiet = (line.starts_with('#')
            && matches!(line.split_whitespace().nth(1), Some("NEW" | "REDUCE")))
            || line.trim_start().starts_with("NEW_FUNC[")
            || line.contains("\" # Uses: ");
        if !quiet {
            eprintln!("{line}");
        }
    }
    let status = child.wait().context("waiting for cargo fuzz")?;
    Ok(Outcome {
        target,
        runs: stats.runs,
        per_sec: stats.per_sec,
        crashed: !status.success(),
    })
}

/// libFuzzer's final numbers: `stat::number_of_executed_units: N` and
/// `stat::average_exec_per_sec: N` (with `-print_final_stats=1`), else the last status line
/// `#N DONE ... exec/s: M ...` (or any `#N ...` line).
#[derive(Default, Debug, PartialEq, Eq)]
struct Stats {
    runs: Option<u64>,
    per_sec: Option<u64>,
    from_stat: bool,
}

impl Stats {
    fn offer(&mut self, line: &str) {
        let number = |s: &str| s.trim().parse::<u64>().ok();
        if let Some(n) = line.strip_prefix("stat::number_of_executed_units:") {
            self.runs = number(n).or(self.runs);
            self.from_stat = true;
        } else if let Some(n) = line.strip_prefix("stat::average_exec_per_sec:") {
            self.per_sec = number(n).or(self.per_sec);
            self.from_stat = true;
        } else if let Some(rest) = line.strip_prefix('#') {
            if self.from_stat {
                return;
            }
            let mut words = rest.split_whitespace();
            if let Some(n) = words.next().and_then(number) {
                self.runs = Some(n);
            }
            let mut words = rest.split_whitespace().skip_while(|w| *w != "exec/s:");
            if let Some(n) = words.nth(1).and_then(number) {
                self.per_sec = Some(n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_from_status_and_stat_lines() {
        let mut s = Stats::default();
        s.offer("#2\tINITED cov: 10 ft: 11 corp: 1/1b exec/s: 0 rss: 30Mb");
        s.offer("#123456\tDONE   cov: 99 ft: 120 corp: 20/300b lim: 4 exec/s: 4115 rss: 60Mb");
        assert_eq!((s.runs, s.per_sec), (Some(123456), Some(4115)));
        s.offer("stat::number_of_executed_units: 123460");
        s.offer("stat::average_exec_per_sec:     4116");
        s.offer("#7\tpulse  cov: 1 exec/s: 1");
        assert_eq!((s.runs, s.per_sec), (Some(123460), Some(4116)));
    }
}
