//! Each target's executable held open while it is probed. Uprobes are attached by path, and a
//! target's path is its `/proc/PID/exe` link, which names another file once the process execs:
//! offsets read from the first file would land inside the second one's instructions. Attaching
//! through `/proc/self/fd/N` of a file opened (and checked) once puts every window's probes in
//! the file that was read, whatever the process runs since.

use std::{
    collections::HashMap,
    fs::File,
    os::{fd::AsRawFd, unix::fs::MetadataExt},
    path::{Path, PathBuf},
};

use crate::kernel::error::AttachError;

/// The executables held open, by target pid.
#[derive(Default)]
pub struct HeldFiles {
    files: HashMap<u32, Vec<Held>>,
}

/// One executable held open.
struct Held {
    /// The path it was opened by (a `/proc/PID/exe` link).
    path: PathBuf,
    file: File,
    /// Its (device, inode).
    id: (u64, u64),
}

impl HeldFiles {
    /// Opens `path` for `pid` (once; again it returns the same file) and returns the path to
    /// attach by. `expect` is the (device, inode) of the file that was read: another file
    /// there means the process exec'd since.
    pub fn pin(
        &mut self,
        pid: u32,
        path: &Path,
        expect: Option<(u64, u64)>,
    ) -> Result<PathBuf, AttachError> {
        let replaced = |id: (u64, u64)| expect.is_some_and(|e| e != id);
        let refused = || AttachError::Replaced {
            pid,
            path: path.display().to_string(),
        };
        let held = self.files.entry(pid).or_default();
        // A file held from before an exec is not the one read now.
        if let Some(h) = held.iter().find(|h| h.path == path) {
            return if replaced(h.id) {
                Err(refused())
            } else {
                Ok(fd_path(&h.file))
            };
        }
        let file = File::open(path).map_err(|e| AttachError::Io(Box::new(e)))?;
        let md = file.metadata().map_err(|e| AttachError::Io(Box::new(e)))?;
        let id = (md.dev(), md.ino());
        if replaced(id) {
            return Err(refused());
        }
        let at = fd_path(&file);
        held.push(Held {
            path: path.to_owned(),
            file,
            id,
        });
        Ok(at)
    }

    /// Whether `pid`'s `/proc/PID/exe` names another file than the one held for it: the
    /// process exec'd another program. False for a process gone (its exit tells that).
    pub fn replaced(&self, pid: u32) -> bool {
        let exe = PathBuf::from(format!("/proc/{pid}/exe"));
        self.files.get(&pid).is_some_and(|held| {
            held.iter()
                .filter(|h| h.path == exe)
                .any(|h| std::fs::metadata(&exe).is_ok_and(|md| (md.dev(), md.ino()) != h.id))
        })
    }

    /// Closes `pid`'s files.
    pub fn release(&mut self, pid: u32) {
        self.files.remove(&pid);
    }
}

fn fd_path(file: &File) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()))
}

/// `path` as errors show it: the file behind a `/proc/self/fd/N` clprof holds.
pub fn shown(path: &Path) -> String {
    match path.strip_prefix("/proc/self/fd") {
        Ok(_) => std::fs::read_link(path).unwrap_or_else(|_| path.to_owned()),
        Err(_) => path.to_owned(),
    }
    .display()
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_held_once_per_target_and_names_itself_in_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("prog");
        std::fs::write(&path, b"x").expect("write");
        let md = std::fs::metadata(&path).expect("stat");
        let mut held = HeldFiles::default();
        let at = held.pin(7, &path, Some((md.dev(), md.ino()))).expect("pin");
        assert_eq!(held.pin(7, &path, None).expect("again"), at);
        let other_id = Some((md.dev(), md.ino() + 1));
        assert!(
            held.pin(7, &path, other_id).is_err(),
            "a file held for another binary is not handed out again"
        );
        assert_eq!(shown(&at), path.display().to_string());
        // The name now points at another file: the one held stays what probes go into.
        let other = dir.path().join("other");
        std::fs::write(&other, b"y").expect("write");
        std::fs::rename(&other, &path).expect("rename");
        assert_eq!(std::fs::read(&at).expect("read held"), b"x");
        let err = HeldFiles::default()
            .pin(8, &path, Some((md.dev(), md.ino())))
            .expect_err("another file under the name");
        assert!(matches!(err, AttachError::Replaced { pid: 8, .. }), "{err}");
        held.release(7);
        assert!(held.files.is_empty());
    }
}
