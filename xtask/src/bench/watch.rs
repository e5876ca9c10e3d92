//! `cargo xtask bench`, watchpoint hit cost: the cost clprof calibrates for one watchpoint hit
//! (`watch_hit_cost_ns`, measured at its start on a word of its own) against what a target pays
//! per watched write. `xtask/bench/watchcost.c` writes one word in a loop and prints its own CPU
//! time per iteration every batch; it runs on while `clprof record --pid` watches that word in
//! several recordings, and each recording's cost is read from the batches inside it against
//! the batches around it.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    thread,
    time::Duration,
};

use anyhow::{bail, Context as _, Result};

use super::stats::median;
use crate::util;

/// Recordings of the program.
pub const ROUNDS: usize = 5;
/// Length of each recording.
pub const RECORD_S: u64 = 6;
/// The program runs alone this long before the first recording and after each one.
pub const LEAD_S: u64 = 3;
pub const GAP_S: u64 = 6;
/// The program's run: a bound on the recordings (clprof's start and stop included) and gaps.
const PROGRAM_S: u64 = ROUNDS as u64 * 14 + 6;
/// Batches ending this long into a recording are not counted: clprof is still attaching.
pub const SETTLE_S: f64 = 2.0;
/// Batches this close to a recording's end are not counted, inside or outside.
pub const MARGIN_S: f64 = 0.5;
/// Alone: the batches from LEAD_S to this long before a recording, and from MARGIN_S to
/// AFTER_S after it.
const BEFORE_GAP_S: f64 = 0.2;
pub const AFTER_S: f64 = 4.0;
/// The watched symbol, 8 bytes.
const WORD: &str = "shared_word:8";

/// One recording.
#[derive(Clone, Debug, Default)]
pub struct Round {
    /// `watch_hit_cost_ns` of the report.
    pub calibrated_ns: Option<u64>,
    /// `watch_hits` of the report.
    pub hits: Option<u64>,
    /// Median CPU time per iteration (ns) alone, around the recording, and inside it.
    pub alone_ns: Option<f64>,
    pub watched_ns: Option<f64>,
}

impl Round {
    /// What the program paid per watched write (ns): one write per iteration.
    pub fn paid_ns(&self) -> Option<f64> {
        Some(self.watched_ns? - self.alone_ns?)
    }

    /// Calibrated / paid.
    pub fn ratio(&self) -> Option<f64> {
        let (calibrated, paid) = (self.calibrated_ns?, self.paid_ns()?);
        (paid > 0.0).then(|| calibrated as f64 / paid)
    }
}

/// Everything this part measures.
#[derive(Clone, Debug, Default)]
pub struct Results {
    pub rounds: Vec<Round>,
}

/// CLOCK_MONOTONIC in seconds: the clock of the program's batch times.
fn monotonic_s() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// Builds the program with gcc into `out`.
fn build(out: &Path) -> Result<PathBuf> {
    let bin = out.join("watchcost");
    util::run(
        Command::new("gcc")
            .args(["-O2", "-g", "-o"])
            .arg(&bin)
            .arg(util::repo_root().join("xtask/bench/watchcost.c")),
    )
    .context("building xtask/bench/watchcost.c")?;
    Ok(bin)
}

/// `T NS` lines: (batch end, CPU ns per iteration).
fn parse_batches(text: &str) -> Vec<(f64, f64)> {
    text.lines()
        .filter_map(|l| {
            let (t, ns) = l.split_once(' ')?;
            Some((t.trim().parse().ok()?, ns.trim().parse().ok()?))
        })
        .collect()
}

/// Median per-iteration cost of the batches ending inside any of `windows` (open intervals).
fn median_in(batches: &[(f64, f64)], windows: &[(f64, f64)]) -> Option<f64> {
    median(
        batches
            .iter()
            .filter(|(t, _)| windows.iter().any(|&(a, b)| a < *t && *t < b))
            .map(|&(_, ns)| ns)
            .collect(),
    )
}

/// The program's cost alone around a recording from `t0` to `t1`, and inside it.
fn costs(batches: &[(f64, f64)], t0: f64, t1: f64) -> (Option<f64>, Option<f64>) {
    let alone = median_in(
        batches,
        &[
            (t0 - LEAD_S as f64, t0 - BEFORE_GAP_S),
            (t1 + MARGIN_S, t1 + AFTER_S),
        ],
    );
    let watched = median_in(batches, &[(t0 + SETTLE_S, t1 - MARGIN_S)]);
    (alone, watched)
}

/// One `clprof record` of `pid` watching the word: (calibrated cost, hits).
fn record(clprof: &Path, pid: u32, report: &Path) -> Result<(Option<u64>, Option<u64>)> {
    util::output(
        Command::new(clprof)
            .args(["record", "-q", "-p", &pid.to_string(), "--budget", "100"])
            .args(["--watch", WORD, "--duration", &format!("{RECORD_S}s")])
            .args(["--format", "json", "-o"])
            .arg(report),
    )
    .context("clprof record --watch")?;
    let text = fs::read(report).with_context(|| format!("reading {}", report.display()))?;
    let json: serde_json::Value =
        serde_json::from_slice(&text).with_context(|| format!("parsing {}", report.display()))?;
    let target = &json["targets"][0];
    Ok((
        target["watch_hit_cost_ns"].as_u64(),
        target["watch_hits"].as_u64(),
    ))
}

/// One recording as it went: from `t0` to `t1` (CLOCK_MONOTONIC, s) and what it reported.
struct Recording {
    t0: f64,
    t1: f64,
    calibrated_ns: Option<u64>,
    hits: Option<u64>,
}

/// The recordings, while `child` runs.
fn recordings(clprof: &Path, child: &mut Child, out: &Path) -> Result<Vec<Recording>> {
    thread::sleep(Duration::from_secs(LEAD_S));
    let mut done = Vec::new();
    for round in 0..ROUNDS {
        if child.try_wait()?.is_some() {
            println!("watch cost: the program ended before round {round}");
            break;
        }
        let report = out.join(format!("watchcost-{round}.json"));
        let t0 = monotonic_s();
        let (calibrated_ns, hits) = record(clprof, child.id(), &report)?;
        let t1 = monotonic_s();
        println!(
            "watch cost round {round}: calibrated {} ns, {} hits",
            calibrated_ns.map_or("-".to_owned(), |c| c.to_string()),
            hits.map_or("-".to_owned(), |h| h.to_string())
        );
        done.push(Recording {
            t0,
            t1,
            calibrated_ns,
            hits,
        });
        thread::sleep(Duration::from_secs(GAP_S));
    }
    Ok(done)
}

pub fn measure(clprof: &Path, out: &Path) -> Result<Results> {
    let prog = build(out)?;
    // Batches go to a file: a pipe read only at the end would fill and stop the program.
    let batches_path = out.join("watchcost.txt");
    let mut child = Command::new(&prog)
        .arg(PROGRAM_S.to_string())
        .stdin(Stdio::null())
        .stdout(fs::File::create(&batches_path)?)
        .spawn()
        .context("starting watchcost")?;
    let done = recordings(clprof, &mut child, out);
    if done.is_err() {
        let _ = child.kill();
    }
    let status = child.wait()?;
    let done = done?;
    if !status.success() {
        bail!("watchcost failed ({status})");
    }
    let text = fs::read_to_string(&batches_path)
        .with_context(|| format!("reading {}", batches_path.display()))?;
    let batches = parse_batches(&text);
    let rounds = done
        .into_iter()
        .map(|rec| {
            let (alone_ns, watched_ns) = costs(&batches, rec.t0, rec.t1);
            Round {
                calibrated_ns: rec.calibrated_ns,
                hits: rec.hits,
                alone_ns,
                watched_ns,
            }
        })
        .collect();
    Ok(Results { rounds })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_inside_and_around_a_recording() {
        let text = "9.0 40.0\n9.9 4000.0\n10.5 41.0\n12.5 4040.0\n15.2 4100.0\n16.2 900.0\n\
                    17.0 42.0\nnoise\n";
        let batches = parse_batches(text);
        assert_eq!(batches.len(), 7);
        let (alone, watched) = costs(&batches, 10.0, 16.0);
        assert_eq!(alone, Some(41.0));
        assert_eq!(watched, Some(4070.0));
        let round = Round {
            calibrated_ns: Some(4029),
            hits: Some(1),
            alone_ns: alone,
            watched_ns: watched,
        };
        assert_eq!(round.paid_ns(), Some(4029.0));
        assert_eq!(round.ratio(), Some(1.0));
    }
}
