//! `cargo xtask test`: the project's test command (also what `.ci/run` calls).
//!
//! Builds every target (the debug `clprof` embeds the real eBPF object), then runs the whole
//! workspace's tests (`profiler`, `profiler-common`, `xtask`) one at a time: the integration tests
//! load eBPF programs and profile Go processes built with both Go toolchains. Then every fuzz
//! target runs for [`FUZZ_SECONDS`] (`cargo xtask fuzz` runs them for longer).

use std::time::Instant;

use anyhow::{bail, Context as _, Result};

use crate::{
    bootstrap,
    build::cargo_with_ebpf,
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
    let tests = run(cargo_with_ebpf()
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
        .env("CLPROF_GO_MATRIX", &matrix))
    .context("tests failed");
    // The fuzz targets run even when a test failed: their findings are news of their own.
    let fuzzed = crate::fuzz::fuzz(FUZZ_SECONDS).context("fuzzing failed");
    tests?;
    fuzzed?;

    println!(
        "test: all passed in {:.0}s (setup {:.1}s)",
        start.elapsed().as_secs_f64(),
        tools.elapsed.as_secs_f64()
    );
    Ok(())
}
