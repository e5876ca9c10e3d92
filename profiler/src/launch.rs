//! `clprof record -- CMD ARGS`: starts the command held just before its `exec`, so probes are in
//! place before its first instruction, then lets it go.

use std::{
    ffi::OsString,
    os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd},
    path::{Path, PathBuf},
    time::Duration,
};

use tokio::process::{Child, Command};

/// Errors starting the command.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("command not found: {0} (give a path or put it on PATH)")]
    NotFound(String),
    #[error("cannot start {path}: {source}")]
    Spawn {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create a pipe: {0}")]
    Pipe(#[source] std::io::Error),
}

/// Finds `program` the way a shell would: as given when it contains a slash, else on PATH.
pub fn resolve_program(program: &str) -> Result<PathBuf, LaunchError> {
    if program.contains('/') {
        let path = PathBuf::from(program);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(LaunchError::NotFound(program.to_owned()))
        };
    }
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path_var)
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
        .ok_or_else(|| LaunchError::NotFound(program.to_owned()))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A started command waiting, before `exec`, for [`Held::release`].
pub struct Held {
    pub child: Child,
    pub pid: u32,
    release: Option<OwnedFd>,
}

/// The fd on which the holding shell waits for the go-ahead.
const HOLD_FD: i32 = 3;

/// Starts `path` with `args` held before its `exec`: a shell waits on a pipe, then `exec`s the
/// program in place, so the pid (which the probes are scoped to) stays the same. A plain
/// `Command` cannot block in `pre_exec`: `spawn` itself waits for the `exec`.
pub fn spawn_held(path: &Path, args: &[OsString]) -> Result<Held, LaunchError> {
    let mut fds = [0i32; 2];
    // SAFETY: plain pipe2 on a local array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(LaunchError::Pipe(std::io::Error::last_os_error()));
    }
    // SAFETY: pipe2 just returned these two fresh descriptors; each is owned once.
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let read_fd = read_end.as_raw_fd();
    let mut command = Command::new("/bin/sh");
    // `read` gets EOF (and the shell exits 127) if clprof dies before releasing it.
    command
        .arg("-c")
        .arg(format!(
            "read -r _ <&{HOLD_FD} || exit 127; exec {HOLD_FD}<&-; exec \"$0\" \"$@\""
        ))
        .arg(path)
        .args(args)
        .kill_on_drop(false);
    // SAFETY: dup2 is async-signal-safe; it runs between fork and exec only.
    unsafe {
        command.pre_exec(move || {
            if libc::dup2(read_fd, HOLD_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = command.spawn().map_err(|source| LaunchError::Spawn {
        path: path.display().to_string(),
        source,
    })?;
    drop(read_end);
    let pid = child.id().unwrap_or(0);
    Ok(Held {
        child,
        pid,
        release: Some(write_end),
    })
}

impl Held {
    /// Lets the child `exec`.
    pub fn release(&mut self) -> std::io::Result<()> {
        if let Some(fd) = self.release.take() {
            let mut file = std::fs::File::from(fd);
            std::io::Write::write_all(&mut file, b"go\n")?;
        }
        Ok(())
    }

    /// Stops the child if it still runs (SIGTERM, then SIGKILL after `grace`) and reaps it.
    /// `Some` with its status when it had ended by itself; `None` when it was stopped here.
    pub async fn finish(mut self, grace: Duration) -> Option<std::process::ExitStatus> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Some(status);
        }
        // SAFETY: signalling our own child, which has not been reaped (try_wait said so).
        unsafe { libc::kill(self.pid as i32, libc::SIGTERM) };
        if tokio::time::timeout(grace, self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
            let _ = self.child.wait().await;
        }
        None
    }
}

/// The exit code `clprof record -- CMD` ends with when CMD ended by itself: CMD's own code, or
/// 128 plus the signal that killed it (as a shell reports it).
pub fn exit_code(status: std::process::ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(code), _) => code as u8,
        (None, Some(signal)) => 128u8.saturating_add(signal as u8),
        (None, None) => 1,
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt as _;

    use super::exit_code;

    #[test]
    fn exit_codes_are_the_commands_own_or_128_plus_its_signal() {
        // Wait statuses as waitpid(2) gives them: the code in the second byte, a signal in the
        // low seven bits.
        assert_eq!(exit_code(std::process::ExitStatus::from_raw(0)), 0);
        assert_eq!(exit_code(std::process::ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(
            exit_code(std::process::ExitStatus::from_raw(libc::SIGKILL)),
            137
        );
        assert_eq!(
            exit_code(std::process::ExitStatus::from_raw(libc::SIGSEGV)),
            139
        );
    }
}
