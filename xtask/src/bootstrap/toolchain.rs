//! The Rust side of the bootstrap: the pinned nightly with `rust-src`, an LLVM prefix pointing at
//! that nightly's libLLVM, and a bpf-linker built against it.

use std::{
    env::consts::ARCH,
    fs,
    os::unix::fs::symlink,
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use anyhow::{anyhow, bail, ensure, Context as _, Result};

use crate::util::{self, output, run};

/// The bpf-linker release series that supports the pinned nightly's LLVM.
const BPF_LINKER_SERIES: &str = "0.13";

/// The pinned nightly, its LLVM prefix and a bpf-linker linking that LLVM.
pub fn ensure_ebpf() -> Result<()> {
    let (nightly, nightly_sysroot) = ensure_nightly()?;
    let llvm = ensure_llvm_prefix(&nightly, &nightly_sysroot)?;
    ensure_bpf_linker(&nightly_sysroot, &llvm)
}

// ---- 1. pinned nightly -------------------------------------------------------------------------

/// The `channel` of a rust-toolchain.toml.
fn parse_channel(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix("channel"))
        .filter(|rest| rest.trim_start().starts_with('='))
        .find_map(|rest| rest.split(['"', '\'']).nth(1))
        .map(str::to_owned)
}

pub fn pinned_nightly() -> Result<String> {
    let file = util::repo_root().join("profiler-ebpf/rust-toolchain.toml");
    let text = fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    parse_channel(&text).ok_or_else(|| anyhow!("no `channel = \"...\"` in {}", file.display()))
}

/// The sysroot of an installed toolchain `<channel>-<host>`, from `rustup toolchain list -v`
/// (lines `name [(active, default)] path`).
fn installed_toolchain(channel: &str) -> Result<Option<PathBuf>> {
    let list = output(Command::new("rustup").args(["toolchain", "list", "-v"]))?;
    Ok(find_toolchain(&list, channel))
}

fn find_toolchain(list: &str, channel: &str) -> Option<PathBuf> {
    let prefix = format!("{channel}-{ARCH}-");
    list.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        let name = words.next()?;
        if !name.starts_with(&prefix) {
            return None;
        }
        let path = words.last().map(PathBuf::from).filter(|p| p.is_absolute());
        // Older rustup prints names only: fall back to the usual location.
        path.or_else(|| {
            let rustup_home = std::env::var_os("RUSTUP_HOME")
                .map(PathBuf::from)
                .or_else(|| util::home().ok().map(|h| h.join(".rustup")))?;
            Some(rustup_home.join("toolchains").join(name))
        })
    })
}

pub fn ensure_nightly() -> Result<(String, PathBuf)> {
    let channel = pinned_nightly()?;
    let sysroot = match installed_toolchain(&channel)? {
        Some(sysroot) => sysroot,
        None => {
            println!("installing rust toolchain {channel} (minimal, rust-src)...");
            run(Command::new("rustup").args([
                "toolchain",
                "install",
                &channel,
                "--profile",
                "minimal",
                "-c",
                "rust-src",
            ]))?;
            installed_toolchain(&channel)?
                .ok_or_else(|| anyhow!("rustup installed {channel} but does not list it"))?
        }
    };
    // rust-src puts the standard library sources here; build-std needs them.
    let core_src = sysroot.join("lib/rustlib/src/rust/library/core/Cargo.toml");
    if !core_src.exists() {
        println!("installing rust-src for {channel}...");
        run(Command::new("rustup").args([
            "component",
            "add",
            "rust-src",
            "--toolchain",
            &channel,
        ]))?;
        ensure!(
            core_src.exists(),
            "rust-src for {channel} is still missing ({})",
            core_src.display()
        );
    }
    let version = output(Command::new(sysroot.join("bin/rustc")).arg("-V"))
        .with_context(|| format!("toolchain {channel} is installed but its rustc does not run"))?;
    println!("ok: rust toolchain {channel} ({version}) with rust-src");
    Ok((channel, sysroot))
}

// ---- 2. LLVM prefix ----------------------------------------------------------------------------

/// The nightly's libLLVM and the prefix pointing at it.
struct Llvm {
    prefix: PathBuf,
    /// `lib/libLLVM.so.22.1-rust-1.97.0-nightly`
    library: PathBuf,
    /// `22`
    major: u32,
}

/// `libLLVM.so.22.1-rust-1.97.0-nightly` → 22.
fn llvm_major(file_name: &str) -> Option<u32> {
    let version = file_name.strip_prefix("libLLVM.so.")?;
    version.split(['.', '-']).next()?.parse().ok()
}

fn ensure_llvm_prefix(channel: &str, sysroot: &Path) -> Result<Llvm> {
    let lib_dir = sysroot.join("lib");
    let mut candidates: Vec<(u32, PathBuf)> = fs::read_dir(&lib_dir)
        .with_context(|| format!("listing {}", lib_dir.display()))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            Some((llvm_major(&name)?, e.path()))
        })
        .collect();
    candidates.sort();
    let (major, library) = candidates.pop().ok_or_else(|| {
        anyhow!(
            "no libLLVM.so.* in {} (the nightly should ship it; try `rustup toolchain uninstall {channel}` and rerun setup)",
            lib_dir.display()
        )
    })?;

    let prefix = util::home()?
        .join(".cache/clprof")
        .join(format!("llvm-{channel}"));
    let link = prefix.join("lib/libLLVM.so");
    let name = library
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    if fs::read_link(&link).ok().as_deref() != Some(library.as_path()) {
        println!("installing LLVM prefix {}...", prefix.display());
        fs::create_dir_all(prefix.join("lib"))
            .with_context(|| format!("creating {}", prefix.display()))?;
        if fs::symlink_metadata(&link).is_ok() {
            fs::remove_file(&link).with_context(|| format!("removing stale {}", link.display()))?;
        }
        symlink(&library, &link)
            .with_context(|| format!("linking {} -> {}", link.display(), library.display()))?;
    }
    println!("ok: LLVM prefix {} ({name})", prefix.display());
    Ok(Llvm {
        prefix,
        library,
        major,
    })
}

// ---- 3. bpf-linker -----------------------------------------------------------------------------

/// Why the installed bpf-linker is unusable, or `Ok(version)`.
fn check_bpf_linker(bin: &Path, llvm: &Llvm) -> Result<String, String> {
    if !bin.exists() {
        return Err("not installed".into());
    }
    let version = output(Command::new(bin).arg("--version")).map_err(|e| {
        let first = e.to_string().lines().next().unwrap_or_default().to_owned();
        format!("installed but does not run: {first}")
    })?;
    // `bpf-linker 0.13.0`
    let number = version
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    if !number.starts_with(&format!("{BPF_LINKER_SERIES}.")) {
        return Err(format!("is `{version}`, not {BPF_LINKER_SERIES}.x"));
    }
    // It must load the pinned nightly's LLVM (bitcode from a newer LLVM breaks an older linker).
    if let Ok(deps) = output(Command::new("ldd").arg(bin)) {
        if let Some(line) = deps.lines().find(|l| l.trim_start().starts_with("libLLVM")) {
            let resolved = line
                .split("=>")
                .nth(1)
                .unwrap_or_default()
                .split_whitespace()
                .next();
            let expected_dir = llvm.library.parent().unwrap_or(Path::new("/"));
            let ok = resolved
                .map(Path::new)
                .and_then(|p| p.parent())
                .is_some_and(|dir| same_dir(dir, expected_dir));
            if !ok {
                return Err(format!(
                    "links `{}`, not the pinned nightly's {}",
                    line.trim(),
                    llvm.library.display()
                ));
            }
        }
    }
    Ok(number)
}

fn same_dir(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

fn ensure_bpf_linker(sysroot: &Path, llvm: &Llvm) -> Result<()> {
    let bin = util::cargo_bin_dir()?.join("bpf-linker");
    let reason = match check_bpf_linker(&bin, llvm) {
        Ok(version) => {
            println!("ok: bpf-linker {version} (LLVM {})", llvm.major);
            return Ok(());
        }
        Err(reason) => reason,
    };
    println!(
        "installing bpf-linker {BPF_LINKER_SERIES} ({}: {reason})...",
        bin.display()
    );
    let start = Instant::now();
    let lib_dir = sysroot.join("lib");
    let mut cmd = Command::new("cargo");
    cmd.args([
        "install",
        "bpf-linker",
        "--version",
        &format!("^{BPF_LINKER_SERIES}"),
        "--locked",
        "--force",
        "--no-default-features",
        "--features",
        &format!("llvm-{}", llvm.major),
    ])
    .env("LLVM_PREFIX", &llvm.prefix)
    // Without the rpath the binary cannot find libLLVM.so.<version>-rust-... at run time.
    .env(
        "RUSTFLAGS",
        format!("-C link-arg=-Wl,-rpath,{}", lib_dir.display()),
    )
    .env_remove("CARGO_ENCODED_RUSTFLAGS")
    .env_remove("CARGO_TARGET_DIR")
    .env_remove("CARGO_BUILD_TARGET");
    run(&mut cmd).context("building bpf-linker")?;
    match check_bpf_linker(&bin, llvm) {
        Ok(version) => {
            println!(
                "ok: bpf-linker {version} (LLVM {}, built in {:.0}s)",
                llvm.major,
                start.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Err(reason) => bail!("bpf-linker was rebuilt but {} {reason}", bin.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_from_toolchain_file() {
        let text = "[toolchain]\n# comment channel = \"x\"\nchannel = \"nightly-2026-05-20\"\ncomponents = [\"rust-src\"]\n";
        assert_eq!(parse_channel(text).as_deref(), Some("nightly-2026-05-20"));
        assert_eq!(parse_channel("[toolchain]\nchannels = \"x\"\n"), None);
        // The real file parses.
        assert!(pinned_nightly().unwrap().starts_with("nightly-"));
    }

    #[test]
    fn toolchain_lookup_does_not_confuse_plain_nightly() {
        let list = format!(
            "stable-{ARCH}-unknown-linux-gnu (active, default) /r/toolchains/stable-{ARCH}-unknown-linux-gnu\n\
             nightly-{ARCH}-unknown-linux-gnu /r/toolchains/nightly-{ARCH}-unknown-linux-gnu\n\
             nightly-2026-05-20-{ARCH}-unknown-linux-gnu /r/toolchains/nightly-2026-05-20-{ARCH}-unknown-linux-gnu\n"
        );
        assert_eq!(
            find_toolchain(&list, "nightly"),
            Some(PathBuf::from(format!(
                "/r/toolchains/nightly-{ARCH}-unknown-linux-gnu"
            )))
        );
        assert_eq!(
            find_toolchain(&list, "nightly-2026-05-20"),
            Some(PathBuf::from(format!(
                "/r/toolchains/nightly-2026-05-20-{ARCH}-unknown-linux-gnu"
            )))
        );
        assert_eq!(find_toolchain(&list, "nightly-2026-05-21"), None);
    }

    #[test]
    fn llvm_library_names() {
        assert_eq!(llvm_major("libLLVM.so.22.1-rust-1.97.0-nightly"), Some(22));
        assert_eq!(llvm_major("libLLVM-22-rust-1.97.0-nightly.so"), None);
        assert_eq!(llvm_major("librustc_driver-b5a965480ee51f9a.so"), None);
    }
}
