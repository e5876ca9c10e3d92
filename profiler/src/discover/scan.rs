//! Finding Go processes for `--all-go`: a scan of `/proc` for processes whose executable has Go
//! map-assign functions, and the same check for one process (one found by its exec). Executables found not to be Go are remembered by
//! device and inode (a path names different files in different mount namespaces: containers), so
//! a scan costs a directory listing and one `stat` of `/proc/PID/exe` per process.

use std::{
    collections::{HashMap, HashSet},
    os::unix::fs::MetadataExt as _,
};

use crate::inspect::{self, TargetError};

/// Remembers what earlier scans learned.
#[derive(Default)]
pub struct GoScanner {
    /// Executables without Go map functions.
    not_go: HashSet<FileKey>,
}

/// An executable file: device, inode, and size and modification time (a file rewritten in place
/// keeps its inode).
type FileKey = (u64, u64, u64, i64, i64);

/// The file behind `/proc/PID/exe`.
fn file_key(md: &std::fs::Metadata) -> FileKey {
    (md.dev(), md.ino(), md.size(), md.mtime(), md.mtime_nsec())
}

/// Bound on remembered executables (a host running many distinct binaries keeps the first).
const MAX_REMEMBERED: usize = 4_096;

impl GoScanner {
    /// Go processes not in `known`, clprof itself excluded.
    pub fn scan(&mut self, known: &HashSet<u32>) -> Vec<u32> {
        let me = std::process::id();
        let Some(processes) = inspect::numbered_entries(std::path::Path::new("/proc")) else {
            return Vec::new();
        };
        let mut found = Vec::new();
        let mut seen: HashMap<FileKey, Option<bool>> = HashMap::new();
        for (pid, path) in processes {
            if pid == me || known.contains(&pid) {
                continue;
            }
            // Kernel threads have no executable. The link is followed into the process's own
            // mount namespace, so this is the file it runs, wherever it lives.
            let Ok(md) = std::fs::metadata(path.join("exe")) else {
                continue;
            };
            let exe = file_key(&md);
            if self.not_go.contains(&exe) {
                continue;
            }
            let verdict = *seen.entry(exe).or_insert_with(|| {
                match inspect::resolve_pid(pid) {
                    Ok(_) => Some(true),
                    // A property of the executable: remember it.
                    Err(TargetError::NoMapFunctions { .. }) => Some(false),
                    // Gone, or unreadable right now: ask again next time.
                    Err(_) => None,
                }
            });
            match verdict {
                Some(true) => found.push(pid),
                Some(false) => self.remember_not_go(exe),
                None => {}
            }
        }
        found.sort_unstable();
        found
    }

    /// What `pid` runs, when it is a Go program with map functions (clprof itself excluded).
    pub fn go_target(&mut self, pid: u32) -> Option<inspect::GoProcess> {
        if pid == std::process::id() {
            return None;
        }
        let md = std::fs::metadata(format!("/proc/{pid}/exe")).ok()?;
        let exe = file_key(&md);
        if self.not_go.contains(&exe) {
            return None;
        }
        match inspect::resolve_pid(pid) {
            Ok(target) => Some(target),
            Err(TargetError::NoMapFunctions { .. }) => {
                self.remember_not_go(exe);
                None
            }
            Err(e) => {
                tracing::debug!(pid, "not inspected: {e}");
                None
            }
        }
    }

    fn remember_not_go(&mut self, exe: FileKey) {
        if self.not_go.len() < MAX_REMEMBERED {
            self.not_go.insert(exe);
        }
    }
}
