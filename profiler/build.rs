//! Generates the pprof protobuf types, and builds the eBPF programs (`profiler-ebpf`) with aya-build and leaves the object in `OUT_DIR`,
//! where `src/kernel/probes.rs` embeds it. The nightly comes from `profiler-ebpf/rust-toolchain.toml`.
//! `CLPROF_SKIP_EBPF=1` writes an empty object instead (fast `cargo check` / clippy); such a
//! binary refuses to record.

use std::{env, fs, path::PathBuf};

use anyhow::{anyhow, Context as _};

fn pinned_nightly(toolchain_file: &str) -> anyhow::Result<String> {
    let text =
        fs::read_to_string(toolchain_file).with_context(|| format!("reading {toolchain_file}"))?;
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("channel"))
        .filter_map(|rest| rest.split('"').nth(1))
        .map(str::to_owned)
        .next()
        .ok_or_else(|| anyhow!("no channel in {toolchain_file}"))
}

/// Rust types for pprof's profile.proto, compiled without protoc (protox) for prost.
fn pprof_types() -> anyhow::Result<()> {
    println!("cargo:rerun-if-changed=proto/profile.proto");
    let descriptors = protox::compile(["proto/profile.proto"], ["proto"])
        .context("compiling proto/profile.proto")?;
    prost_build::Config::new()
        .compile_fds(descriptors)
        .context("generating pprof types")?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    pprof_types()?;
    println!("cargo:rerun-if-env-changed=CLPROF_SKIP_EBPF");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").context("OUT_DIR not set")?);
    if env::var("CLPROF_SKIP_EBPF").is_ok_and(|v| v == "1") {
        fs::write(out_dir.join("profiler"), []).context("writing empty eBPF object")?;
        return Ok(());
    }
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let ebpf_dir = manifest_dir.join("../profiler-ebpf");
    let toolchain_file = ebpf_dir.join("rust-toolchain.toml");
    println!("cargo:rerun-if-changed={}", toolchain_file.display());
    // The programs are built from profiler-common too (aya-build watches profiler-ebpf only).
    println!(
        "cargo:rerun-if-changed={}",
        manifest_dir.join("../profiler-common").display()
    );
    let nightly = pinned_nightly(toolchain_file.to_str().context("non-UTF-8 path")?)?;
    let root_dir = ebpf_dir.to_str().context("non-UTF-8 path")?;
    // profiler-ebpf is its own workspace (bpf target, pinned nightly, own lock file); aya-build runs
    // cargo in the current directory, so run it from there.
    env::set_current_dir(&ebpf_dir).context("entering profiler-ebpf")?;
    aya_build::build_ebpf(
        [aya_build::Package {
            name: "profiler-ebpf",
            root_dir,
            ..Default::default()
        }],
        aya_build::Toolchain::Custom(&nightly),
    )
}
