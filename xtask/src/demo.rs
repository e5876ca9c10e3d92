//! `cargo xtask demo`: profile the demo Go workload (`demo/workload`) and print clprof's table.

use std::{fs, process::Command, time::Duration};

use anyhow::{bail, ensure, Context as _, Result};

use crate::{
    bootstrap, build,
    util::{self, run},
};

/// `5s`, `500ms`, `1m30s`, `2h` → a duration (units h, m, s, ms; at least 1ms).
pub fn parse_duration(text: &str) -> Result<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = text.trim();
    ensure!(!rest.is_empty(), "empty duration");
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        ensure!(
            digits > 0,
            "bad duration {text:?}: expected a number before {rest:?}"
        );
        let n: u64 = rest[..digits]
            .parse()
            .with_context(|| format!("bad duration {text:?}"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let per_unit = match &rest[..unit_len] {
            "ms" => Duration::from_millis(1),
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            unit => bail!("bad duration {text:?}: unknown unit {unit:?} (use h, m, s or ms)"),
        };
        total +=
            per_unit * u32::try_from(n).with_context(|| format!("duration {text:?} too long"))?;
        rest = &rest[unit_len..];
    }
    ensure!(
        total >= Duration::from_millis(1),
        "duration {text:?} is zero"
    );
    Ok(total)
}

/// A spelling both clprof (humantime) and Go (`time.ParseDuration`) accept.
fn spell(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

pub fn demo(duration: &str) -> Result<()> {
    let duration = spell(parse_duration(duration)?);
    if !util::is_root()? {
        bail!("cargo xtask demo must run as root: clprof loads eBPF");
    }
    let tools = bootstrap::setup()?;
    let clprof = build::release_clprof()?;

    let root = util::repo_root();
    let out_dir = util::target_dir().join("demo");
    fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let workload = out_dir.join("workload");
    let mut go = Command::new(&tools.go_new);
    go.current_dir(root.join("demo/workload"))
        .args(["build", "-o"])
        .arg(&workload)
        .arg(".")
        .env("GOCACHE", out_dir.join("gocache"))
        .env("GOTOOLCHAIN", "local")
        .env("CGO_ENABLED", "0")
        .env("GOFLAGS", "-mod=mod");
    if std::env::var_os("HOME").is_none_or(|h| h.is_empty()) {
        go.env("HOME", &out_dir);
    }
    run(&mut go).context("building the demo workload")?;

    let report = out_dir.join("report.json");
    // The workload runs as long as the recording, so clprof never waits on a leftover child.
    run(Command::new(&clprof)
        .args([
            "record",
            "--duration",
            &duration,
            "--format",
            "text",
            "--json-out",
        ])
        .arg(&report)
        .arg("--")
        .arg(&workload)
        .arg(&duration))
    .context("profiling the demo workload")?;

    println!("JSON report: {}", util::rel(&report));
    println!("setup took {:.1}s", tools.elapsed.as_secs_f64());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("0s").is_err());
        assert_eq!(spell(Duration::from_secs(90)), "90s");
        assert_eq!(spell(Duration::from_millis(1500)), "1500ms");
    }
}
