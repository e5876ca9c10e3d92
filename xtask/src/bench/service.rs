//! How long clprof takes from its start to probes attached, step by step, on a stripped,
//! distribution-built service (Debian's prometheus, ~50 MB) and on a small Go program, and its
//! peak memory, symbolizer included. The first recording on the service calibrates (an empty
//! cache folder), the others keep that calibration, as recordings within the hour do.

use std::{
    io::{BufRead as _, BufReader},
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{bail, Context as _, Result};

/// Recordings measured with the calibration kept, per program.
const ROUNDS: usize = 3;

/// What the rounds measured.
#[derive(Clone, Debug, Default)]
pub struct ServiceStart {
    /// Size of the binary (bytes).
    pub binary_bytes: u64,
    /// From clprof's start to its "recording" line, printed once probes and perf events are
    /// attached (ms), per round with the calibration kept.
    pub attach_ms: Vec<u64>,
    /// clprof's peak resident memory (`VmHWM`, KiB), per round.
    pub peak_rss_kib: Vec<u64>,
    /// The service's rounds step by step (the first one calibrating).
    pub service_steps: Vec<Steps>,
    /// A small, mostly idle Go program's rounds step by step (calibration kept).
    pub small_steps: Vec<Steps>,
    /// The demo workload's (busy on every CPU), step by step (calibration kept).
    pub busy_steps: Vec<Steps>,
}

/// When each step of clprof's start ended (ms from its start), from its debug log.
#[derive(Clone, Copy, Debug, Default)]
pub struct Steps {
    /// The target's executable inspected (`resolved target`).
    pub resolved: Option<u64>,
    /// The eBPF programs loaded (`programs loaded`; they load while the target is inspected).
    pub loaded: Option<u64>,
    /// Calibrated, or the kept calibration read, and the line-transfer cost (`session opened`).
    pub opened: Option<u64>,
    /// Probes and perf events attached (`recording`).
    pub recording: u64,
    /// Whether this round calibrated.
    pub calibrated: bool,
}

/// Runs prometheus on loopback and records it `ROUNDS` times for 1 s each.
pub fn measure(clprof: &Path, prometheus: &Path, out: &Path) -> Result<ServiceStart> {
    let dir = out.join("prometheus");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: self\n    static_configs:\n      - targets: ['127.0.0.1:19391']\n",
    )?;
    let mut service = Command::new(prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg("--web.listen-address=127.0.0.1:19391")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", prometheus.display()))?;
    std::thread::sleep(Duration::from_secs(2));
    let result = (|| {
        let mut m = ServiceStart {
            binary_bytes: std::fs::metadata(prometheus)?.len(),
            ..ServiceStart::default()
        };
        let cache = out.join("start-cache");
        let _ = std::fs::remove_dir_all(&cache);
        for round in 0..=ROUNDS {
            let (steps, kib) = record_once(clprof, service.id(), &cache)?;
            println!("stripped service round {round}: {steps:?}, peak RSS {kib} KiB");
            if !steps.calibrated {
                m.attach_ms.push(steps.recording);
            }
            m.service_steps.push(steps);
            m.peak_rss_kib.push(kib);
        }
        Ok(m)
    })();
    let _ = service.kill();
    let _ = service.wait();
    result
}

/// A small Go program: a map written every millisecond or so, otherwise idle.
const SMALL_GO: &str = "package main\n\nimport \"time\"\n\nfunc main() {\n\tm := map[int]int{}\n\tfor i := 0; ; i++ {\n\t\tm[i%100] = i\n\t\tif i%1000 == 0 {\n\t\t\ttime.Sleep(time.Millisecond)\n\t\t}\n\t}\n}\n";

/// Builds the small Go program with `go` in `out`; its path.
pub fn build_small(go: &Path, out: &Path) -> Result<std::path::PathBuf> {
    let dir = out.join("small");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let source = dir.join("main.go");
    std::fs::write(&source, SMALL_GO)?;
    let binary = dir.join("small");
    let status = Command::new(go)
        .current_dir(&dir)
        .env("GO111MODULE", "off")
        .args(["build", "-o"])
        .arg(&binary)
        .arg(&source)
        .status()
        .with_context(|| format!("running {}", go.display()))?;
    if !status.success() {
        bail!("building the small Go program failed ({status})");
    }
    Ok(binary)
}

/// A Go program (`program ARGS`) recorded `ROUNDS` times by pid with the calibration
/// kept in `out`'s cache folder (the service's rounds made it): each round's steps.
pub fn measure_small(
    clprof: &Path,
    program: &Path,
    args: &[&str],
    out: &Path,
) -> Result<Vec<Steps>> {
    let mut target = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", program.display()))?;
    std::thread::sleep(Duration::from_millis(500));
    let result = (0..ROUNDS)
        .map(|round| {
            let (steps, _) = record_once(clprof, target.id(), &out.join("start-cache"))?;
            println!("{} round {round}: {steps:?}", program.display());
            Ok(steps)
        })
        .collect();
    let _ = target.kill();
    let _ = target.wait();
    result
}

/// One `clprof record --pid PID --duration 1s` with its debug log, the calibration kept in
/// `cache`: (its start's steps, peak RSS KiB).
fn record_once(clprof: &Path, pid: u32, cache: &Path) -> Result<(Steps, u64)> {
    let start = Instant::now();
    let mut child = Command::new(clprof)
        .env("CLPROF_LOG", "clprof=debug")
        .env("CLPROF_CACHE_DIR", cache)
        .args([
            "record",
            "--pid",
            &pid.to_string(),
            "--duration",
            "1s",
            "--format",
            "json",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting clprof")?;
    let status_path = format!("/proc/{}/status", child.id());
    let stderr = child.stderr.take().context("clprof's stderr")?;
    // Peak memory: VmHWM, read until the process is gone.
    let watcher = std::thread::spawn(move || {
        let mut peak = 0;
        while let Ok(status) = std::fs::read_to_string(&status_path) {
            if let Some(kib) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak = peak.max(kib);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        peak
    });
    let mut steps = Steps::default();
    let mut attached = None;
    let mut text = String::new();
    for line in BufReader::new(stderr).lines() {
        let line = line?;
        let now = Some(start.elapsed().as_millis() as u64);
        if attached.is_none() && line.starts_with("clprof: recording") {
            attached = now;
        } else if line.contains("resolved target") && steps.resolved.is_none() {
            steps.resolved = now;
        } else if line.contains("programs loaded") {
            steps.loaded = now;
        } else if line.contains("session opened") {
            steps.opened = now;
        } else if line.contains(" calibrated ") || line.ends_with(" calibrated") {
            steps.calibrated = true;
        }
        if attached.is_none() {
            text.push_str(&line);
            text.push('\n');
        }
    }
    let status = child.wait()?;
    let peak = watcher.join().unwrap_or(0);
    if !status.success() {
        bail!("clprof record on the service failed ({status}): {text}");
    }
    steps.recording =
        attached.with_context(|| format!("clprof never said it was recording: {text}"))?;
    Ok((steps, peak))
}
