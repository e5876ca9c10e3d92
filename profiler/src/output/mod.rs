//! The one writer for every file clprof writes (`-o`, `--json-out`, `--save-samples`, the
//! daemon's windows).
//!
//! What happens depends on what the path names:
//! - a regular file, or a name not taken yet: a temporary file in the same directory, renamed
//!   over it once complete, so readers never see a partial file and a failed write leaves the
//!   old one as it was; an existing file keeps its mode and owner, a new one gets `0666 & !umask`;
//! - a symlink: its final target is written that way; the link stays a link;
//! - a character device or FIFO (`/dev/null`, a named pipe): opened and written in place,
//!   never renamed over; a socket: connected to and written;
//! - `-`, `/dev/stdout`, `/dev/stderr`, `/dev/fd/N`, `/proc/self/fd/N`: clprof's own
//!   descriptor, written in place;
//! - a directory, a block device, or a name whose directory does not exist: an error, and
//!   nothing is touched.

mod classify;

use std::{
    fs::File,
    io::{self, Write},
    os::{
        fd::{FromRawFd as _, RawFd},
        unix::{
            fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _},
            net::UnixStream,
        },
    },
    path::{Path, PathBuf},
};

use classify::{classify, parent_of, Dest};

/// Why an output could not be written: one line, naming the path and what was left.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot write {path}: it is a directory; give a file name inside it")]
    IsDirectory { path: String },
    #[error("cannot write {path}: directory {dir} does not exist; create it first")]
    MissingParent { path: String, dir: String },
    #[error("cannot write {path}: {dir} is not a directory")]
    ParentNotDirectory { path: String, dir: String },
    #[error(
        "cannot write {path}: it is a block device; give a file, a FIFO or a character device"
    )]
    BlockDevice { path: String },
    #[error("cannot write {path}: it is a FIFO that no process is reading")]
    NoReader { path: String },
    #[error("cannot write {path}: {source}{outcome}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
        outcome: Outcome,
    },
}

/// What a failed write left behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing was created or changed (the failure came before any write).
    NothingChanged,
    /// The file existed and is as it was.
    KeptOldFile,
    /// The file did not exist and still does not.
    NoFileCreated,
    /// Written in place (device, FIFO, socket, descriptor): part of the data may have gone.
    InPlace,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Outcome::NothingChanged | Outcome::InPlace => "",
            Outcome::KeptOldFile => "; the existing file was left unchanged",
            Outcome::NoFileCreated => "; no file was created",
        })
    }
}

/// Checks that `path` can be an output (see the module docs), without creating or opening it:
/// run before recording, so a bad path fails at once, not after the recording.
pub fn check(path: &Path) -> Result<(), WriteError> {
    classify(path).map(drop)
}

/// What to do with a FIFO that no process has open for reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoReader {
    /// Wait for a reader, as a shell redirection does (one-shot commands).
    Wait,
    /// Fail with [`WriteError::NoReader`] (the daemon, which must not stall).
    Fail,
}

/// Writes `data` to `path` whole (see the module docs).
pub fn write(path: &Path, data: &[u8], no_reader: NoReader) -> Result<(), WriteError> {
    let mut out = Output::open(path, no_reader)?;
    out.write_all(data).map_err(|e| out.error(e))?;
    out.finish()
}

/// An output being written; [`Output::finish`] completes it. Dropped unfinished, a file being
/// replaced is left as it was and no new file appears.
pub struct Output {
    /// The path as the user gave it.
    shown: String,
    sink: Sink,
}

enum Sink {
    Stdout(io::Stdout),
    InPlace(File),
    Socket(UnixStream),
    Staged {
        tmp: tempfile::NamedTempFile,
        /// Where the file is renamed to.
        dest: PathBuf,
        replaces: bool,
    },
}

impl Output {
    /// Opens `path` for writing (see the module docs); `no_reader` says what a FIFO without a
    /// reader does.
    pub fn open(path: &Path, no_reader: NoReader) -> Result<Output, WriteError> {
        let shown = match path.as_os_str() == "-" {
            true => "stdout".to_owned(),
            false => path.display().to_string(),
        };
        let fail = |source| WriteError::Io {
            path: shown.clone(),
            source,
            outcome: Outcome::NothingChanged,
        };
        let sink = match classify(path)? {
            Dest::Stdout => Sink::Stdout(io::stdout()),
            Dest::OwnFd(fd) => Sink::InPlace(dup(fd).map_err(fail)?),
            Dest::Device { fifo } => match open_in_place(path, fifo, no_reader) {
                Ok(file) => Sink::InPlace(file),
                Err(e) if fifo && e.raw_os_error() == Some(libc::ENXIO) => {
                    return Err(WriteError::NoReader { path: shown });
                }
                Err(e) => return Err(fail(e)),
            },
            Dest::Socket => Sink::Socket(UnixStream::connect(path).map_err(fail)?),
            Dest::File {
                path: dest,
                existing,
            } => {
                let tmp = stage(&dest, existing.as_ref()).map_err(fail)?;
                Sink::Staged {
                    tmp,
                    dest,
                    replaces: existing.is_some(),
                }
            }
        };
        Ok(Output { shown, sink })
    }

    /// The one-line error for a failed write or flush to this output.
    pub fn error(&self, source: io::Error) -> WriteError {
        let outcome = match &self.sink {
            Sink::Staged { replaces: true, .. } => Outcome::KeptOldFile,
            Sink::Staged {
                replaces: false, ..
            } => Outcome::NoFileCreated,
            _ => Outcome::InPlace,
        };
        WriteError::Io {
            path: self.shown.clone(),
            source,
            outcome,
        }
    }

    /// Completes the output: flushed, and for files synced to disk and renamed into place.
    pub fn finish(mut self) -> Result<(), WriteError> {
        self.flush().map_err(|e| self.error(e))?;
        let Output { shown, sink } = self;
        let Sink::Staged {
            tmp,
            dest,
            replaces,
        } = sink
        else {
            return Ok(());
        };
        let outcome = if replaces {
            Outcome::KeptOldFile
        } else {
            Outcome::NoFileCreated
        };
        let fail = |source| WriteError::Io {
            path: shown.clone(),
            source,
            outcome,
        };
        tmp.as_file().sync_all().map_err(fail)?;
        tmp.persist(&dest).map_err(|e| fail(e.error))?;
        // The rename is durable once the directory is; failing that is not worth an error.
        if let Ok(dir) = File::open(parent_of(&dest)) {
            let _ = dir.sync_all();
        }
        Ok(())
    }

    fn writer(&mut self) -> &mut dyn Write {
        match &mut self.sink {
            Sink::Stdout(out) => out,
            Sink::InPlace(file) => file,
            Sink::Socket(stream) => stream,
            // The file itself: NamedTempFile's own Write adds its temporary path to errors.
            Sink::Staged { tmp, .. } => tmp.as_file_mut(),
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer().write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer().flush()
    }
}

/// A temporary file next to `dest`, with the mode (and, as root, the owner) `dest` has or a new
/// file would get.
fn stage(dest: &Path, existing: Option<&std::fs::Metadata>) -> io::Result<tempfile::NamedTempFile> {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".clprof-tmp")
        .tempfile_in(parent_of(dest))?;
    let mode = match existing {
        Some(meta) => meta.mode() & 0o7777,
        None => 0o666 & !umask(),
    };
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))?;
    if let Some(meta) = existing {
        let ours = tmp.as_file().metadata()?;
        if (ours.uid(), ours.gid()) != (meta.uid(), meta.gid()) {
            if let Err(e) =
                std::os::unix::fs::fchown(tmp.as_file(), Some(meta.uid()), Some(meta.gid()))
            {
                tracing::debug!("keeping the owner of {}: {e}", dest.display());
            }
            // chown clears set-id bits: put the mode back.
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
    }
    Ok(tmp)
}

/// Opens a character device or FIFO for writing, without creating, truncating, or taking it as
/// a controlling terminal. A FIFO without a reader fails with ENXIO unless told to wait.
fn open_in_place(path: &Path, fifo: bool, no_reader: NoReader) -> io::Result<File> {
    let open = |flags| {
        std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NOCTTY | flags)
            .open(path)
    };
    if !fifo {
        return open(0);
    }
    match open(libc::O_NONBLOCK) {
        Ok(file) => {
            set_blocking(&file)?;
            Ok(file)
        }
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) && no_reader == NoReader::Wait => {
            tracing::warn!(
                "{} is a FIFO with no reader; waiting for one",
                path.display()
            );
            open(0)
        }
        Err(e) => Err(e),
    }
}

fn set_blocking(file: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd as _;
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor this File owns; only the O_NONBLOCK status flag changes.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags == -1 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A new descriptor for clprof's own `fd`, closed when the File drops.
fn dup(fd: RawFd) -> io::Result<File> {
    // SAFETY: F_DUPFD_CLOEXEC returns a new descriptor that nothing else owns.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if new == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `new` is open and owned by nobody else.
    Ok(unsafe { File::from_raw_fd(new) })
}

/// The process's umask, from /proc (reading it with umask(2) would change it for a moment).
fn umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

#[cfg(test)]
mod tests;
