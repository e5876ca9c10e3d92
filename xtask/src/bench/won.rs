//! Predicted against won: programs with a known fix, each measured alone before and after the
//! fix (CPU time per operation, rounds alternating the two, medians), next to the share of the
//! target's CPU clprof gave the lines the fix removes, recording the unfixed program at its
//! defaults. A user reads a line's CPU% as what fixing it wins: this is the check of that.
//!
//! Every program prints `ops N cpu_ms M` when it ends: the operations it completed and the CPU
//! time it used.

use std::{
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{bail, Context as _, Result};

use super::stats::median;
use crate::{demo, util};

/// Rounds of each program alone, before and after, alternating which goes first.
const ROUNDS: usize = 3;
/// How long each run alone lasts.
const RUN: &str = "3s";
/// How long clprof records the unfixed program.
const RECORD: &str = "4s";
/// Recordings of the unfixed program, each of a fresh process: a user gets one, and they differ.
const RECORDINGS: usize = 3;

/// `DURATION` in a case's arguments stands for the run's duration.
const DURATION: &str = "DURATION";

/// A program with a known fix.
struct Case {
    /// What is compared.
    label: &'static str,
    /// The program: a test program (`profiler/tests/go/NAME`), or the demo workload.
    program: Program,
    /// Its arguments unfixed and fixed.
    before: &'static [&'static str],
    after: &'static [&'static str],
    /// The words of its banner line giving the addresses of the lines the fix removes; None:
    /// every line clprof judged shared.
    banner: Option<&'static str>,
}

#[derive(Clone, Copy)]
enum Program {
    Test(&'static str),
    Demo,
}

const CASES: [Case; 5] = [
    Case {
        label: "neighbouring atomic counters vs 128 bytes apart",
        program: Program::Test("atomicpair"),
        before: &[DURATION, "8"],
        after: &[DURATION, "8", "padded"],
        banner: Some("hot"),
    },
    Case {
        label: "RWMutex readers vs an atomic.Pointer snapshot",
        program: Program::Test("rwconfig"),
        before: &[DURATION],
        after: &[DURATION, "snapshot"],
        banner: Some("mutex"),
    },
    Case {
        label: "a counter behind a contended sync.Mutex vs per-goroutine counters",
        program: Program::Test("mutexcounter"),
        before: &[DURATION],
        after: &[DURATION, "pergoroutine"],
        banner: Some("mutex"),
    },
    Case {
        label: "two map headers on one line vs apart",
        program: Program::Test("adjacentmaps"),
        before: &[DURATION],
        after: &[DURATION, "apart"],
        banner: Some("maps"),
    },
    Case {
        label: "the demo workload vs -fixed (its shared lines)",
        program: Program::Demo,
        before: &[DURATION],
        after: &["-fixed", DURATION],
        banner: None,
    },
];

/// One run of a program: the operations it completed and the CPU time it used.
#[derive(Clone, Copy, Debug, Default)]
pub struct Run {
    pub ops: u64,
    pub cpu_ms: u64,
}

impl Run {
    /// The operations.
    pub fn count(self) -> f64 {
        self.ops as f64
    }

    /// Operations per CPU millisecond.
    pub fn per_cpu_ms(self) -> f64 {
        self.ops as f64 / self.cpu_ms.max(1) as f64
    }

    /// CPU time per operation (ns).
    fn cpu_per_op_ns(self) -> f64 {
        self.cpu_ms as f64 * 1e6 / self.ops.max(1) as f64
    }
}

/// One case measured.
#[derive(Clone, Debug, Default)]
pub struct Measured {
    pub label: String,
    pub before: Vec<Run>,
    pub after: Vec<Run>,
    /// Per recording, the share of the target's CPU (%) clprof gave the lines the fix removes
    /// (None: it reported none of them).
    pub predicted: Vec<Option<f64>>,
    /// Those lines in the first recording: address, verdict, cost basis, share.
    pub lines: Vec<String>,
}

impl Measured {
    /// The median prediction, a recording without the lines counting as 0.
    pub fn predicted_pct(&self) -> Option<f64> {
        median(self.predicted.iter().map(|p| p.unwrap_or(0.0)).collect())
    }

    /// Predicted over won.
    pub fn ratio(&self) -> Option<f64> {
        match (self.predicted_pct(), self.won_pct()) {
            (Some(p), Some(w)) if w > 0.0 => Some(p / w),
            _ => None,
        }
    }

    /// The share of its CPU per operation the fix gave back (%), from the medians.
    pub fn won_pct(&self) -> Option<f64> {
        let before = median(self.before.iter().map(|r| r.cpu_per_op_ns()).collect())?;
        let after = median(self.after.iter().map(|r| r.cpu_per_op_ns()).collect())?;
        (before > 0.0).then(|| (1.0 - after / before) * 100.0)
    }
}

/// Every case: built with `go`, recorded by `clprof`, run alone, in `out`.
pub fn measure(clprof: &Path, go: &Path, out: &Path) -> Result<Vec<Measured>> {
    let mut all = Vec::new();
    for case in &CASES {
        let binary = build(case.program, go, out)?;
        let mut m = Measured {
            label: case.label.to_owned(),
            ..Measured::default()
        };
        for round in 0..ROUNDS {
            for fixed in [round % 2 == 1, round % 2 == 0] {
                let args = if fixed { case.after } else { case.before };
                let run = run_alone(&binary, args)?;
                if fixed {
                    m.after.push(run);
                } else {
                    m.before.push(run);
                }
            }
        }
        for _ in 0..RECORDINGS {
            predict(clprof, &binary, case, out, &mut m)?;
        }
        println!(
            "won {}: predicted {:?}%, won {:?}%",
            case.label,
            m.predicted,
            m.won_pct()
        );
        all.push(m);
    }
    Ok(all)
}

/// The program's binary, built into `out`.
fn build(program: Program, go: &Path, out: &Path) -> Result<PathBuf> {
    match program {
        Program::Demo => demo::build_workload(go, out, "won-workload"),
        Program::Test(name) => {
            let module = util::repo_root().join("profiler/tests/go");
            let binary = out.join(format!("won-{name}"));
            demo::go_build(go, &module, &format!("./{name}"), &binary, out)
                .with_context(|| format!("building {name}"))?;
            Ok(binary)
        }
    }
}

/// `args` with the duration put in.
fn with_duration(args: &[&str], duration: &str) -> Vec<String> {
    args.iter()
        .map(|a| if *a == DURATION { duration } else { a }.to_owned())
        .collect()
}

/// One run of `binary` alone.
fn run_alone(binary: &Path, args: &[&str]) -> Result<Run> {
    ops_of(Command::new(binary).args(with_duration(args, RUN)))
}

/// Runs `cmd`, a program that prints `ops N cpu_ms M`, to its end: what it printed there.
pub fn ops_of(cmd: &mut Command) -> Result<Run> {
    let o = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", util::describe(cmd)))?;
    if !o.status.success() {
        bail!(
            "{} failed: {}",
            util::describe(cmd),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    ops_line(&String::from_utf8_lossy(&o.stdout))
        .with_context(|| format!("{} printed no `ops N cpu_ms M` line", util::describe(cmd)))
}

/// The `ops N cpu_ms M` line of a program's output.
fn ops_line(stdout: &str) -> Option<Run> {
    stdout.lines().find_map(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        match w.as_slice() {
            ["ops", ops, "cpu_ms", cpu] => Some(Run {
                ops: ops.parse().ok()?,
                cpu_ms: cpu.parse().ok()?,
            }),
            _ => None,
        }
    })
}

/// Records the unfixed program at clprof's defaults: the share of its CPU the lines the fix
/// removes cost.
fn predict(clprof: &Path, binary: &Path, case: &Case, out: &Path, m: &mut Measured) -> Result<()> {
    let json = out.join("won-report.json");
    let o = Command::new(clprof)
        .args([
            "record",
            "--quiet",
            "--duration",
            RECORD,
            "--format",
            "json",
            "-o",
        ])
        .arg(&json)
        .arg("--")
        .arg(binary)
        .args(with_duration(case.before, "60s"))
        .stdin(Stdio::null())
        .output()
        .context("recording the unfixed program")?;
    if !o.status.success() {
        bail!(
            "clprof record failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let stdout = String::from_utf8_lossy(&o.stdout);
    let report: serde_json::Value = serde_json::from_slice(&fs::read(&json)?)?;
    let wanted = banner_lines(&stdout, case.banner);
    let first = m.predicted.is_empty();
    let mut total = None;
    for line in report["lines"].as_array().into_iter().flatten() {
        let addr = line["line"].as_str().unwrap_or_default();
        let verdict = line["verdict"].as_str().unwrap_or_default();
        let counts = match &wanted {
            Some(lines) => lines.iter().any(|l| l == addr),
            None => ["false-sharing", "true-sharing"].contains(&verdict),
        };
        let pct = line["cost"]["target_cpu_pct"].as_f64();
        if counts {
            *total.get_or_insert(0.0) += pct.unwrap_or(0.0);
        }
        if counts && first {
            m.lines.push(format!(
                "{addr} {verdict} ({}, {:.2}%)",
                line["cost"]["basis"].as_str().unwrap_or("no cost"),
                pct.unwrap_or(0.0)
            ));
        }
    }
    m.predicted.push(total);
    Ok(())
}

/// The lines (`0x…`, 64-byte aligned) of the addresses after `banner` on the program's first
/// line; None without a banner (every shared line counts).
fn banner_lines(stdout: &str, banner: Option<&str>) -> Option<Vec<String>> {
    let banner = banner?;
    let first = stdout.lines().find(|l| l.starts_with(banner))?;
    Some(
        first
            .split_whitespace()
            .skip(1)
            .filter_map(|a| u64::from_str_radix(a.trim_start_matches("0x"), 16).ok())
            .map(|a| format!("{:#x}", a & !63))
            .collect(),
    )
}

/// Each recording's prediction.
fn each(predicted: &[Option<f64>]) -> String {
    let v: Vec<String> = predicted
        .iter()
        .map(|p| p.map_or("none".to_owned(), |p| format!("{p:.1}")))
        .collect();
    v.join(", ")
}

/// The section, for BENCHMARKS.md and `bench --only won`.
pub fn markdown(md: &mut String, cases: &[Measured]) -> Result<()> {
    writeln!(md, "## Predicted against won\n")?;
    writeln!(
        md,
        "Programs with a known fix. Won = the CPU time per operation the fix gives back, each \
         version run alone ({RUN} runs, {ROUNDS} rounds alternating which goes first, medians). \
         Predicted = the share of the target's CPU (`cost.target_cpu_pct`) clprof gave the lines \
         the fix removes, recording the unfixed program for {RECORD} at its defaults ({RECORDINGS} \
         fresh processes: the median, then each; the lines as the first recording gave them). \
         Goal: predicted within ±20% of won.\n"
    )?;
    writeln!(
        md,
        "| program | predicted | won | predicted / won | lines | CPU per op before / after \
         (ns, each run) |\n|---|---:|---:|---:|---|---|"
    )?;
    for m in cases {
        let won = m.won_pct();
        let predicted = m.predicted_pct();
        let ratio = m.ratio().map_or("-".to_owned(), |x| format!("{x:.2}"));
        let runs = |rs: &[Run]| {
            let v: Vec<String> = rs
                .iter()
                .map(|r| format!("{:.0}", r.cpu_per_op_ns()))
                .collect();
            v.join(", ")
        };
        writeln!(
            md,
            "| {} | {} | {} | {ratio} | {} | {} / {} |",
            m.label,
            predicted.map_or("none".to_owned(), |p| format!(
                "{p:.1}% ({})",
                each(&m.predicted)
            )),
            won.map_or("-".to_owned(), |w| format!("{w:.1}%")),
            if m.lines.is_empty() {
                "none reported".to_owned()
            } else {
                m.lines.join("; ")
            },
            runs(&m.before),
            runs(&m.after),
        )?;
    }
    writeln!(md)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ops_line_and_the_banner_lines_are_read() {
        let out = "maps 0xc000010050 0xc000010098\nops 1200 cpu_ms 3000\n";
        let run = ops_line(out).expect("an ops line");
        assert_eq!((run.ops, run.cpu_ms), (1200, 3000));
        assert_eq!(run.cpu_per_op_ns(), 2.5e6);
        assert_eq!(
            banner_lines(out, Some("maps")),
            Some(vec!["0xc000010040".to_owned(), "0xc000010080".to_owned()])
        );
        assert_eq!(banner_lines(out, None), None);
        assert!(ops_line("ops x cpu_ms 1").is_none());
    }

    #[test]
    fn won_is_the_cpu_per_op_given_back() {
        let m = Measured {
            before: vec![
                Run {
                    ops: 100,
                    cpu_ms: 10
                };
                3
            ],
            after: vec![
                Run {
                    ops: 100,
                    cpu_ms: 6
                };
                3
            ],
            ..Measured::default()
        };
        let won = m.won_pct().expect("won");
        assert!((won - 40.0).abs() < 1e-9, "{won}");
    }
}
