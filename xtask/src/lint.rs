//! `cargo xtask lint`: rustfmt and clippy for the workspace and for `profiler-ebpf`.

use std::process::Command;

use anyhow::{Context as _, Result};

use crate::{
    bootstrap,
    util::{self, output, run},
};

pub fn lint() -> Result<()> {
    let root = util::repo_root();
    let (nightly, sysroot) = bootstrap::ensure_nightly()?;

    // The host toolchain's rustfmt and clippy (default profile has them; minimal does not).
    let has = |sub: &str| {
        output(
            Command::new("cargo")
                .arg(sub)
                .arg("--version")
                .current_dir(&root),
        )
        .is_ok()
    };
    if !has("fmt") || !has("clippy") {
        println!("installing rustfmt and clippy for the host toolchain...");
        run(Command::new("rustup")
            .args(["component", "add", "rustfmt", "clippy"])
            .current_dir(&root))?;
    }
    if !sysroot.join("bin/cargo-clippy").exists() {
        println!("installing clippy for {nightly}...");
        run(Command::new("rustup").args(["component", "add", "clippy", "--toolchain", &nightly]))?;
    }

    run(Command::new("cargo")
        .args(["fmt", "--all", "--", "--check"])
        .current_dir(&root))
    .context("the workspace is not rustfmt-clean (run `cargo fmt --all`)")?;
    // profiler-ebpf is its own workspace; format it with the same rustfmt.
    run(Command::new("cargo")
        .args(["fmt", "--all", "--manifest-path", "profiler-ebpf/Cargo.toml", "--", "--check"])
        .current_dir(&root))
    .context("profiler-ebpf is not rustfmt-clean (run `cargo fmt --all --manifest-path profiler-ebpf/Cargo.toml`)")?;

    // Clippy does not need the eBPF object: skip building it.
    run(Command::new("cargo")
        .args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ])
        .env("CLPROF_SKIP_EBPF", "1")
        .current_dir(&root))?;
    run(Command::new("cargo")
        .arg(format!("+{nightly}"))
        .args([
            "clippy",
            "--target",
            "bpfel-unknown-none",
            "-Z",
            "build-std=core",
            "--release",
            "--",
            "-D",
            "warnings",
        ])
        .current_dir(root.join("profiler-ebpf")))?;
    println!("lint: clean");
    Ok(())
}
