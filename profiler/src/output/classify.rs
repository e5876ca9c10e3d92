//! What an output path names, decided by looking at it (never by writing).

use std::{
    fs::Metadata,
    io,
    os::{fd::RawFd, unix::fs::FileTypeExt as _},
    path::{Path, PathBuf},
};

use super::WriteError;

/// Symlinks followed at most when resolving a dangling link (the kernel's own limit).
const MAX_LINKS: usize = 40;

/// Where the bytes for an output path go.
#[derive(Debug)]
pub(super) enum Dest {
    /// `-`, `/dev/stdout` or clprof's fd 1 by name: clprof's standard output.
    Stdout,
    /// Another of clprof's open descriptors named as `/dev/stderr`, `/dev/fd/N` or
    /// `/proc/self/fd/N`: written through a duplicate, in place.
    OwnFd(RawFd),
    /// A regular file (symlinks followed) or a name not taken yet: replaced atomically.
    File {
        /// The file itself: a symlink's final target.
        path: PathBuf,
        /// The file being replaced; None when it does not exist yet.
        existing: Option<Metadata>,
    },
    /// A character device or a FIFO: opened and written in place.
    Device { fifo: bool },
    /// A Unix stream socket: connected to and written.
    Socket,
}

/// Decides what `path` is. Errors for paths clprof must not write: directories, block devices,
/// names whose parent directory does not exist.
pub(super) fn classify(path: &Path) -> Result<Dest, WriteError> {
    let shown = || path.display().to_string();
    if path.as_os_str() == "-" {
        return Ok(Dest::Stdout);
    }
    if let Some(fd) = own_fd(path) {
        return Ok(if fd == 1 {
            Dest::Stdout
        } else {
            Dest::OwnFd(fd)
        });
    }
    match std::fs::metadata(path) {
        Ok(meta) => {
            let kind = meta.file_type();
            if kind.is_dir() {
                Err(WriteError::IsDirectory { path: shown() })
            } else if kind.is_block_device() {
                Err(WriteError::BlockDevice { path: shown() })
            } else if kind.is_char_device() || kind.is_fifo() {
                Ok(Dest::Device {
                    fifo: kind.is_fifo(),
                })
            } else if kind.is_socket() {
                Ok(Dest::Socket)
            } else {
                let real = std::fs::canonicalize(path).map_err(|e| io_error(path, e))?;
                Ok(Dest::File {
                    path: real,
                    existing: Some(meta),
                })
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let target = resolve_dangling(path).map_err(|e| io_error(path, e))?;
            check_parent(path, &target)?;
            Ok(Dest::File {
                path: target,
                existing: None,
            })
        }
        Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => Err(WriteError::ParentNotDirectory {
            path: shown(),
            dir: parent_of(path).display().to_string(),
        }),
        Err(e) => Err(io_error(path, e)),
    }
}

fn io_error(path: &Path, source: io::Error) -> WriteError {
    WriteError::Io {
        path: path.display().to_string(),
        source,
        outcome: super::Outcome::NothingChanged,
    }
}

/// The directory a new file named `path` goes into.
pub(super) fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// The new file `target` (which `path` names, perhaps through symlinks) needs an existing
/// directory to go into.
fn check_parent(path: &Path, target: &Path) -> Result<(), WriteError> {
    let dir = parent_of(target);
    let missing = || WriteError::MissingParent {
        path: path.display().to_string(),
        dir: dir.display().to_string(),
    };
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(WriteError::ParentNotDirectory {
            path: path.display().to_string(),
            dir: dir.display().to_string(),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(missing()),
        Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => Err(missing()),
        Err(e) => Err(io_error(path, e)),
    }
}

/// Follows the symlinks of a path that names nothing yet, to the name the new file gets.
fn resolve_dangling(path: &Path) -> io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&current) {
            Ok(m) if m.file_type().is_symlink() => {
                let next = std::fs::read_link(&current)?;
                current = if next.is_absolute() {
                    next
                } else {
                    parent_of(&current).join(next)
                };
            }
            Ok(_) => return Ok(current),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(current),
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::from_raw_os_error(libc::ELOOP))
}

/// The descriptor `path` names when it is one of clprof's own open descriptors: `/dev/stdout`,
/// `/dev/stderr`, `/dev/fd/N`, `/proc/self/fd/N`, `/proc/thread-self/fd/N`, `/proc/PID/fd/N`
/// with clprof's PID. Writing those in place is what the shell means by them (a pipe, a
/// socket, or a file opened for appending), whatever they point to.
fn own_fd(path: &Path) -> Option<RawFd> {
    let text = path.to_str()?;
    let fd = match text {
        "/dev/stdout" => 1,
        "/dev/stderr" => 2,
        _ => {
            let number = text
                .strip_prefix("/dev/fd/")
                .or_else(|| text.strip_prefix("/proc/self/fd/"))
                .or_else(|| text.strip_prefix("/proc/thread-self/fd/"))
                .or_else(|| {
                    let rest = text.strip_prefix("/proc/")?;
                    let (pid, rest) = rest.split_once('/')?;
                    (pid.parse::<u32>().ok()? == std::process::id())
                        .then(|| rest.strip_prefix("fd/"))
                        .flatten()
                })?;
            number.parse().ok()?
        }
    };
    // SAFETY: F_GETFD only reads the descriptor's flags.
    let open = unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1;
    open.then_some(fd)
}
