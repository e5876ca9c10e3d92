//! Running commands with clear errors, and the paths every task needs.

use std::{
    env,
    ffi::OsString,
    fs,
    io::ErrorKind,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{bail, Context as _, Result};

/// The command line as a shell would show it (program and arguments; not the environment).
pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        let arg = arg.to_string_lossy();
        s.push(' ');
        if arg.is_empty()
            || arg.contains(|c: char| c.is_whitespace() || "'\"$*?<>|&;()".contains(c))
        {
            s.push('\'');
            s.push_str(&arg.replace('\'', r"'\''"));
            s.push('\'');
        } else {
            s.push_str(&arg);
        }
    }
    s
}

fn spawn_error(cmd: &Command, err: std::io::Error) -> anyhow::Error {
    let program = cmd.get_program().to_string_lossy();
    if err.kind() == ErrorKind::NotFound {
        anyhow::anyhow!("`{program}` not found (is it installed and on PATH?)")
    } else {
        anyhow::Error::new(err).context(format!("could not start `{}`", describe(cmd)))
    }
}

/// Runs `cmd` with inherited stdio, echoing it first; fails unless it exits 0.
pub fn run(cmd: &mut Command) -> Result<()> {
    let shown = describe(cmd);
    match cmd.get_current_dir() {
        Some(dir) => println!("$ (cd {} && {shown})", dir.display()),
        None => println!("$ {shown}"),
    }
    let status = cmd.status().map_err(|e| spawn_error(cmd, e))?;
    if !status.success() {
        bail!("`{shown}` failed ({status})");
    }
    Ok(())
}

/// Runs `cmd` quietly and returns its trimmed stdout; on failure the error carries its stderr.
pub fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| spawn_error(cmd, e))?;
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let detail = stderr.trim();
        let detail = if detail.is_empty() {
            stdout.as_str()
        } else {
            detail
        };
        bail!("`{}` failed ({}): {detail}", describe(cmd), out.status);
    }
    Ok(stdout)
}

/// The repository root (the parent of the xtask crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the repository")
        .to_path_buf()
}

/// Cargo's target directory for the root workspace.
pub fn target_dir() -> PathBuf {
    match env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => repo_root().join(dir),
        _ => repo_root().join("target"),
    }
}

pub fn home() -> Result<PathBuf> {
    match env::var_os("HOME") {
        Some(h) if !h.is_empty() => Ok(PathBuf::from(h)),
        _ => bail!("HOME is not set"),
    }
}

/// `$CARGO_HOME/bin` (default `~/.cargo/bin`): where rustup's proxies and `cargo install` live.
pub fn cargo_bin_dir() -> Result<PathBuf> {
    let cargo_home = match env::var_os("CARGO_HOME") {
        Some(h) if !h.is_empty() => PathBuf::from(h),
        _ => home()?.join(".cargo"),
    };
    Ok(cargo_home.join("bin"))
}

/// Puts `~/.cargo/bin` first on this process's PATH, so that every command we start (and the
/// eBPF build inside `profiler/build.rs`) finds the bpf-linker that setup verified.
pub fn prepend_cargo_bin_to_path() -> Result<()> {
    let bin = cargo_bin_dir()?;
    let mut parts = vec![bin.clone()];
    if let Some(path) = env::var_os("PATH") {
        parts.extend(env::split_paths(&path).filter(|p| *p != bin));
    }
    let joined: OsString = env::join_paths(parts).context("building PATH")?;
    env::set_var("PATH", joined);
    Ok(())
}

/// Whether we run with effective uid 0 (from /proc/self/status, `Uid: real effective ...`).
pub fn is_root() -> Result<bool> {
    let status = fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|rest| rest.split_whitespace().nth(1))
        .context("no Uid line in /proc/self/status")?;
    Ok(euid == "0")
}

/// Path shown relative to the repository root when it lies inside it.
pub fn rel(path: &Path) -> String {
    path.strip_prefix(repo_root())
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_quotes_only_when_needed() {
        let mut cmd = Command::new("cargo");
        cmd.args(["install", "bpf-linker", "--version", "^0.13", "a b", ""]);
        assert_eq!(
            describe(&cmd),
            "cargo install bpf-linker --version ^0.13 'a b' ''"
        );
    }

    #[test]
    fn output_reports_stderr_of_failures() {
        let err = output(Command::new("sh").args(["-c", "echo boom >&2; exit 3"])).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("boom") && msg.contains("exit status: 3"),
            "{msg}"
        );
    }

    #[test]
    fn missing_program_is_named() {
        let err = output(&mut Command::new("clprof-no-such-program")).unwrap_err();
        assert!(
            err.to_string()
                .contains("`clprof-no-such-program` not found"),
            "{err}"
        );
    }
}
