//! `cargo xtask test`: the project's test command (also what `.ci/run` calls).
//!
//! Builds every target (the debug `clprof` embeds the real eBPF object), then runs the whole
//! workspace's tests (`profiler`, `profiler-common`, `xtask`) one at a time: the integration tests
//! load eBPF programs and profile Go processes built with both Go toolchains. Then every fuzz
//! target runs for [`FUZZ_SECONDS`] (`cargo xtask fuzz` runs them for longer).

use std::{
    io::{BufRead as _, BufReader},
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{bail, Context as _, Result};

use crate::{
    bootstrap,
    build::cargo_with_ebpf,
    test_digest::Digest,
    util::{self, run},
};

/// Seconds each fuzz target runs in `cargo xtask test`.
pub const FUZZ_SECONDS: u64 = 20;

pub fn test() -> Result<()> {
    if !util::is_root()? {
        bail!("cargo xtask test must run as root: the integration tests load eBPF");
    }
    let start = Instant::now();
    let tools = bootstrap::setup()?;

    run(cargo_with_ebpf().args(["build", "--workspace", "--all-targets"]))?;

    let clprof = util::target_dir().join("debug/clprof");
    println!("CLPROF_GO_NEW={}", tools.go_new.display());
    println!("CLPROF_GO_OLD={}", tools.go_old.display());
    println!("CLPROF_BIN={}", clprof.display());
    println!("CLPROF_PROMETHEUS={}", tools.prometheus.display());
    let matrix = crate::bootstrap::go_matrix::env_value(&tools.go_matrix);
    println!("CLPROF_GO_MATRIX={matrix}");
    let (tests, digest) = run_digested(
        cargo_with_ebpf()
            .args([
                "test",
                "--workspace",
                "--no-fail-fast",
                "--",
                "--test-threads=1",
            ])
            .env("CLPROF_GO_NEW", &tools.go_new)
            .env("CLPROF_GO_OLD", &tools.go_old)
            .env("CLPROF_BIN", &clprof)
            .env("CLPROF_PROMETHEUS", &tools.prometheus)
            .env("CLPROF_GO_MATRIX", &matrix),
    );
    let tests = tests.context("tests failed");
    // The fuzz targets run even when a test failed: their findings are news of their own.
    let fuzzed = crate::fuzz::fuzz(FUZZ_SECONDS).context("fuzzing failed");
    print!("{digest}");
    tests?;
    fuzzed?;

    println!(
        "test: all passed in {:.0}s (setup {:.1}s)",
        start.elapsed().as_secs_f64(),
        tools.elapsed.as_secs_f64()
    );
    Ok(())
}

/// Runs `cmd` as [`run`] does, its stdout echoed line by line and read for failed tests; returns
/// whether it passed and the digest of its failures (empty when none failed).
fn run_digested(cmd: &mut Command) -> (Result<()>, String) {
    let mut digest = Digest::default();
    let passed = stream(cmd, &mut digest);
    (passed, digest.render())
}

fn stream(cmd: &mut Command, digest: &mut Digest) -> Result<()> {
    println!("$ {}", util::describe(cmd));
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("could not start `{}`", util::describe(cmd)))?;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line.context("reading the test output")?;
            println!("{line}");
            digest.line(&line);
        }
    }
    let status = child.wait().context("waiting for the tests")?;
    if !status.success() {
        bail!("`{}` failed ({status})", util::describe(cmd));
    }
    Ok(())
}
