//! `cargo xtask build` and `cargo xtask build-ebpf`.
//!
//! The eBPF object has one build path: `profiler/build.rs` builds `profiler-ebpf` with aya-build
//! and `profiler` embeds the result. `build-ebpf` builds `profiler` in release and copies the
//! embedded object out for inspection (`llvm-objdump`, `bpftool`).

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
    time::SystemTime,
};

use anyhow::{bail, ensure, Context as _, Result};

use crate::{
    bootstrap,
    util::{self, run},
};

/// ELF `e_machine` of eBPF objects.
const EM_BPF: u16 = 247;

/// A `cargo` command run from the repository root, for a build that must embed the real eBPF
/// object (so a `CLPROF_SKIP_EBPF=1` from the caller's shell is dropped, with a note).
pub fn cargo_with_ebpf() -> Command {
    if std::env::var_os("CLPROF_SKIP_EBPF").is_some() {
        println!("note: ignoring CLPROF_SKIP_EBPF for this build (it needs the real eBPF object)");
    }
    let mut cmd = Command::new("cargo");
    cmd.current_dir(util::repo_root())
        .env_remove("CLPROF_SKIP_EBPF");
    cmd
}

pub fn build(release: bool) -> Result<()> {
    bootstrap::setup()?;
    let mut cmd = cargo_with_ebpf();
    cmd.args(["build", "--workspace"]);
    if release {
        cmd.arg("--release");
    }
    run(&mut cmd)?;
    let profile = if release { "release" } else { "debug" };
    println!(
        "built {}",
        util::rel(&util::target_dir().join(profile).join("clprof"))
    );
    Ok(())
}

/// Builds release `clprof` (with its embedded eBPF object) and returns the binary's path.
pub fn release_clprof() -> Result<PathBuf> {
    run(cargo_with_ebpf().args([
        "build",
        "--release",
        "--package",
        "profiler",
        "--bin",
        "clprof",
    ]))?;
    Ok(util::target_dir().join("release/clprof"))
}

pub fn build_ebpf() -> Result<()> {
    bootstrap::setup()?;
    release_clprof()?;
    let build_dir = util::target_dir().join("release/build");
    let object = newest_embedded_object(&build_dir)?;
    let bytes = fs::read(&object).with_context(|| format!("reading {}", object.display()))?;
    check_bpf_elf(&bytes).with_context(|| format!("checking {}", object.display()))?;
    let dest_dir = util::target_dir().join("bpf");
    fs::create_dir_all(&dest_dir).with_context(|| format!("creating {}", dest_dir.display()))?;
    let dest = dest_dir.join("clprof.bpf.o");
    fs::write(&dest, &bytes).with_context(|| format!("writing {}", dest.display()))?;
    println!("eBPF object: {} ({} bytes)", util::rel(&dest), bytes.len());
    Ok(())
}

/// `target/release/build/profiler-<hash>/out/profiler`, the newest if several hashes exist.
fn newest_embedded_object(build_dir: &Path) -> Result<PathBuf> {
    let mut best: Option<(SystemTime, PathBuf)> = None;
    let entries =
        fs::read_dir(build_dir).with_context(|| format!("listing {}", build_dir.display()))?;
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name();
        let Some(hash) = name.to_str().and_then(|n| n.strip_prefix("profiler-")) else {
            continue;
        };
        // Skip `profiler-common-<hash>` and friends.
        if hash.is_empty() || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        let candidate = entry.path().join("out/profiler");
        let Ok(modified) = candidate.metadata().and_then(|m| m.modified()) else {
            continue;
        };
        if best.as_ref().is_none_or(|(t, _)| modified > *t) {
            best = Some((modified, candidate));
        }
    }
    match best {
        Some((_, path)) => Ok(path),
        None => bail!(
            "no embedded eBPF object under {}/profiler-*/out/profiler (did the profiler build script run?)",
            build_dir.display()
        ),
    }
}

fn check_bpf_elf(bytes: &[u8]) -> Result<()> {
    ensure!(
        !bytes.is_empty(),
        "the embedded eBPF object is empty: profiler was built with CLPROF_SKIP_EBPF=1"
    );
    ensure!(
        bytes.len() >= 20 && bytes.starts_with(b"\x7fELF"),
        "not an ELF file"
    );
    let machine = u16::from_le_bytes([bytes[18], bytes[19]]);
    ensure!(
        machine == EM_BPF,
        "ELF machine is {machine}, not eBPF ({EM_BPF})"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_bpf_elf() {
        let mut elf = vec![0u8; 64];
        elf[..4].copy_from_slice(b"\x7fELF");
        elf[18..20].copy_from_slice(&EM_BPF.to_le_bytes());
        check_bpf_elf(&elf).unwrap();
        elf[18] = 62; // x86-64
        assert!(check_bpf_elf(&elf).is_err());
        assert!(check_bpf_elf(&[])
            .unwrap_err()
            .to_string()
            .contains("CLPROF_SKIP_EBPF"));
    }

    #[test]
    fn picks_profiler_build_dirs_only() {
        let dir = std::env::temp_dir().join(format!("clprof-xtask-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        for sub in [
            "profiler-common-0123abcd/out",
            "profiler-89abcdef/out",
            "other-0000/out",
        ] {
            fs::create_dir_all(dir.join(sub)).unwrap();
        }
        fs::write(dir.join("profiler-common-0123abcd/out/profiler"), b"x").unwrap();
        fs::write(dir.join("profiler-89abcdef/out/profiler"), b"y").unwrap();
        let found = newest_embedded_object(&dir).unwrap();
        assert_eq!(found, dir.join("profiler-89abcdef/out/profiler"));
        fs::remove_dir_all(&dir).unwrap();
    }
}
