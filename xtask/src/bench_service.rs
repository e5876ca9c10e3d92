//! A stripped, distribution-built service (Debian's prometheus, ~50 MB): how long clprof takes
//! from its start to probes attached, and its peak memory, symbolizer included.

use std::{
    io::{BufRead as _, BufReader},
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{bail, Context as _, Result};

/// Recordings measured.
const ROUNDS: usize = 3;

/// What the rounds measured.
#[derive(Clone, Debug, Default)]
pub struct ServiceStart {
    /// Size of the binary (bytes).
    pub binary_bytes: u64,
    /// From clprof's start to its "recording" line, printed once probes and perf events are
    /// attached (ms), per round.
    pub attach_ms: Vec<u64>,
    /// clprof's peak resident memory (`VmHWM`, KiB), per round.
    pub peak_rss_kib: Vec<u64>,
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
        for round in 0..ROUNDS {
            let (ms, kib) = record_once(clprof, service.id())?;
            println!("stripped service round {round}: attached after {ms} ms, peak RSS {kib} KiB");
            m.attach_ms.push(ms);
            m.peak_rss_kib.push(kib);
        }
        Ok(m)
    })();
    let _ = service.kill();
    let _ = service.wait();
    result
}

/// One `clprof record --pid PID --duration 1s`: (ms to the "recording" line, peak RSS KiB).
fn record_once(clprof: &Path, pid: u32) -> Result<(u64, u64)> {
    let start = Instant::now();
    let mut child = Command::new(clprof)
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
    let mut attached = None;
    let mut text = String::new();
    for line in BufReader::new(stderr).lines() {
        let line = line?;
        if attached.is_none() && line.starts_with("clprof: recording") {
            attached = Some(start.elapsed().as_millis() as u64);
        }
        text.push_str(&line);
        text.push('\n');
    }
    let status = child.wait()?;
    let peak = watcher.join().unwrap_or(0);
    if !status.success() {
        bail!("clprof record on the service failed ({status}): {text}");
    }
    let ms = attached.with_context(|| format!("clprof never said it was recording: {text}"))?;
    Ok((ms, peak))
}
