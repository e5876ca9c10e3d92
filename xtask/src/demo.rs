//! `cargo xtask demo`: profile the demo Go workload (`demo/workload`) and print clprof's table,
//! then profile it again with its contention fixed (`-fixed`) and print `clprof diff` of the two.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context as _, Result};

use crate::{
    bootstrap, build,
    util::{self, run},
};

/// Builds the demo Go workload with the `go` toolchain into `out_dir/name`.
pub fn build_workload(go_bin: &Path, out_dir: &Path, name: &str) -> Result<PathBuf> {
    let workload = out_dir.join(name);
    go_build(
        go_bin,
        &util::repo_root().join("demo/workload"),
        ".",
        &workload,
        out_dir,
    )
    .context("building the demo workload")?;
    Ok(workload)
}

/// `go build -o out package` in the module at `module`, static, with its build cache in
/// `cache_dir` and the local toolchain only (the module proxy is not needed).
pub fn go_build(
    go_bin: &Path,
    module: &Path,
    package: &str,
    out: &Path,
    cache_dir: &Path,
) -> Result<()> {
    let mut go = Command::new(go_bin);
    go.current_dir(module)
        .args(["build", "-o"])
        .arg(out)
        .arg(package)
        .env("GOCACHE", cache_dir.join("gocache"))
        .env("GOTOOLCHAIN", "local")
        .env("CGO_ENABLED", "0")
        .env("GOFLAGS", "-mod=mod");
    if std::env::var_os("HOME").is_none_or(|h| h.is_empty()) {
        go.env("HOME", cache_dir);
    }
    run(&mut go)
}

pub fn demo(duration: &str) -> Result<()> {
    if !util::is_root()? {
        bail!("cargo xtask demo must run as root: clprof loads eBPF");
    }
    let tools = bootstrap::setup()?;
    let clprof = build::release_clprof()?;

    let out_dir = util::target_dir().join("demo");
    fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let workload = build_workload(&tools.go_new, &out_dir, "workload")?;

    let report = out_dir.join("report.json");
    // clprof validates the duration and stops the workload (which would run 10 minutes) when
    // the recording ends.
    run(Command::new(&clprof)
        .args([
            "record",
            // Every write, for the demo's table and flamegraph; production use keeps the
            // default budget.
            "--budget",
            "100",
            "--duration",
            duration,
            "--format",
            "text",
            "--json-out",
        ])
        .arg(&report)
        .arg("--")
        .arg(&workload)
        .arg("10m"))
    .context("profiling the demo workload")?;

    // The same workload with its contention fixed, then what the fix changed, line by line.
    let fixed = out_dir.join("report-fixed.json");
    println!("\nprofiling it again with -fixed (sharded cache, maps on lines of their own)...");
    run(Command::new(&clprof)
        .args([
            "record",
            "--quiet",
            "--budget",
            "100",
            "--duration",
            duration,
            "--format",
            "json",
            "-o",
        ])
        .arg(&fixed)
        .arg("--")
        .arg(&workload)
        .args(["-fixed", "10m"]))
    .context("profiling the fixed demo workload")?;
    println!();
    run(Command::new(&clprof)
        .arg("diff")
        .arg(&report)
        .arg(&fixed)
        .args(["--top", "12"]))
    .context("comparing the two profiles")?;
    println!();

    let svg = out_dir.join("flamegraph.svg");
    run(Command::new(&clprof)
        .arg("report")
        .arg(&report)
        .args(["--format", "svg", "--top", "12", "-o"])
        .arg(&svg))
    .context("drawing the flamegraph")?;

    let pprof = out_dir.join("profile.pb.gz");
    run(Command::new(&clprof)
        .arg("report")
        .arg(&report)
        .args(["--format", "pprof", "-o"])
        .arg(&pprof))
    .context("writing the pprof profile")?;

    println!("JSON report: {}", util::rel(&report));
    println!(
        "fixed:       {} (clprof diff {} {})",
        util::rel(&fixed),
        util::rel(&report),
        util::rel(&fixed)
    );
    println!("pprof:       {}", util::rel(&pprof));
    println!("flamegraph:  {}", util::rel(&svg));
    println!("setup took {:.1}s", tools.elapsed.as_secs_f64());
    Ok(())
}
