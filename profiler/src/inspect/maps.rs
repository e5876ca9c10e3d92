//! The load bias of a PIE executable, from `/proc/PID/maps`.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use object::{Object, ObjectKind};

use super::elf::{self, read_load_segments, LoadSegment};
use super::procfs::{read_exe_link, DELETED_SUFFIX};
use super::{GoBinary, TargetError};

/// Offset to add to a file virtual address of `binary` to get its address in process `pid`:
/// runtime address = file vaddr + bias. Always 0 for non-PIE executables (`ET_EXEC` is loaded at
/// its link addresses), without reading `/proc`.
pub fn load_bias(pid: u32, binary: &GoBinary) -> Result<u64, TargetError> {
    if !binary.is_pie {
        return Ok(0);
    }
    let exe_link = PathBuf::from(format!("/proc/{pid}/exe"));
    let segments = match read_load_segments(&binary.path) {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!(error = %e, "program headers from /proc/PID/exe instead");
            read_load_segments(&exe_link)?
        }
    };
    let exe_path = read_exe_link(pid).ok();
    let files = [binary.path.as_path(), exe_link.as_path()];
    bias_in_maps(pid, &files, exe_path, &segments, &binary.path)
}

/// [`load_bias`] for any ELF file mapped by `pid` (a C program, a Go program without map
/// functions, or a shared library): the bias of the mapping of `path`, 0 when `path` is not
/// position independent.
pub fn load_bias_of(pid: u32, path: &Path) -> Result<u64, TargetError> {
    let data = elf::open(path)?;
    let obj = elf::parse(path, &data)?;
    if obj.kind() != ObjectKind::Dynamic {
        return Ok(0);
    }
    let segments = elf::load_segments(&obj);
    // The path /proc/PID/maps shows: the link's target for /proc/PID/exe, else the real path.
    let shown = if path == Path::new(&format!("/proc/{pid}/exe")) {
        read_exe_link(pid).ok()
    } else {
        std::fs::canonicalize(path).ok()
    };
    bias_in_maps(pid, &[path], shown, &segments, path)
}

/// The load bias of the file known as `files` (same inode) or shown as `shown` in
/// `/proc/PID/maps`, with program headers `segments`; `display` names it in errors.
fn bias_in_maps(
    pid: u32,
    files: &[&Path],
    shown: Option<PathBuf>,
    segments: &[LoadSegment],
    display: &Path,
) -> Result<u64, TargetError> {
    // Identify the file's mappings by inode: the file we read and what the process maps are
    // normally the same inode; the path is a last resort (overlayfs can report other inodes).
    let mut idents = Vec::new();
    for p in files {
        if let Ok(md) = std::fs::metadata(p) {
            let ident = FileIdent {
                dev: Some(split_dev(md.dev())),
                ino: md.ino(),
            };
            if !idents.contains(&ident) {
                idents.push(ident);
            }
        }
    }
    let maps_path = PathBuf::from(format!("/proc/{pid}/maps"));
    let maps = std::fs::read_to_string(&maps_path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => TargetError::NoSuchPid { pid },
        _ => TargetError::io(&maps_path, e),
    })?;
    compute_load_bias(&maps, &idents, shown.as_deref(), segments).ok_or_else(|| {
        TargetError::NotMapped {
            pid,
            path: shown.unwrap_or_else(|| display.to_path_buf()),
        }
    })
}

/// Device and inode of a file, as `/proc/PID/maps` shows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileIdent {
    /// (major, minor); `None` matches any device.
    pub dev: Option<(u32, u32)>,
    pub ino: u64,
}

/// Splits a Linux `dev_t` the way glibc's `major()`/`minor()` do.
fn split_dev(dev: u64) -> (u32, u32) {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    (major as u32, minor as u32)
}

/// One line of `/proc/PID/maps`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MapsEntry {
    pub start: u64,
    pub end: u64,
    pub perms: String,
    pub offset: u64,
    pub dev: (u32, u32),
    pub inode: u64,
    /// Path with " (deleted)" removed; empty for anonymous mappings.
    pub path: String,
    pub deleted: bool,
}

/// Parses `/proc/PID/maps` text; lines that do not parse are skipped.
/// Format (fs/proc/task_mmu.c show_map_vma): `start-end perms offset major:minor inode   path`.
pub(crate) fn parse_maps(text: &str) -> Vec<MapsEntry> {
    text.lines().filter_map(parse_maps_line).collect()
}

fn parse_maps_line(line: &str) -> Option<MapsEntry> {
    let mut rest = line.trim_start();
    let mut field = || -> Option<&str> {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let (f, r) = rest.split_at(end);
        rest = r.trim_start();
        (!f.is_empty()).then_some(f)
    };
    let range = field()?;
    let perms = field()?.to_string();
    let offset = u64::from_str_radix(field()?, 16).ok()?;
    let dev = field()?;
    let inode = field()?.parse().ok()?;
    // The path is everything after the inode and may contain spaces.
    let path = rest.trim_end();
    let (start, end) = range.split_once('-')?;
    let (major, minor) = dev.split_once(':')?;
    let (path, deleted) = match path.strip_suffix(DELETED_SUFFIX) {
        Some(p) => (p.to_string(), true),
        None => (path.to_string(), false),
    };
    Some(MapsEntry {
        start: u64::from_str_radix(start, 16).ok()?,
        end: u64::from_str_radix(end, 16).ok()?,
        perms,
        offset,
        dev: (
            u32::from_str_radix(major, 16).ok()?,
            u32::from_str_radix(minor, 16).ok()?,
        ),
        inode,
        path,
        deleted,
    })
}

/// The load bias from maps text: among the executable's mappings (matched by device and inode,
/// then by inode alone, then by path) take the one with the lowest file offset, find the
/// `PT_LOAD` segment holding that offset, and return
/// `start - (p_vaddr - p_offset + map_offset)`.
pub(crate) fn compute_load_bias(
    maps: &str,
    idents: &[FileIdent],
    exe_path: Option<&Path>,
    segments: &[LoadSegment],
) -> Option<u64> {
    let entries = parse_maps(maps);
    let by_dev_ino: Vec<&MapsEntry> = entries
        .iter()
        .filter(|e| e.inode != 0)
        .filter(|e| {
            idents
                .iter()
                .any(|i| i.ino == e.inode && i.dev.is_none_or(|d| d == e.dev))
        })
        .collect();
    let by_ino: Vec<&MapsEntry> = entries
        .iter()
        .filter(|e| e.inode != 0 && idents.iter().any(|i| i.ino == e.inode))
        .collect();
    let by_path: Vec<&MapsEntry> = match exe_path.and_then(Path::to_str) {
        Some(p) => entries.iter().filter(|e| e.path == p).collect(),
        None => Vec::new(),
    };
    let candidates = [by_dev_ino, by_ino, by_path]
        .into_iter()
        .find(|c| !c.is_empty())?;
    let first = candidates.into_iter().min_by_key(|e| e.offset)?;
    let seg = segments
        .iter()
        .find(|s| {
            first.offset >= s.offset && first.offset < s.offset.saturating_add(s.filesz.max(1))
        })
        .or_else(|| {
            // The kernel maps from the page-aligned offset below p_offset.
            segments.iter().find(|s| first.offset == s.offset & !0xfff)
        })?;
    let file_base = seg
        .vaddr
        .wrapping_sub(seg.offset)
        .wrapping_add(first.offset);
    Some(first.start.wrapping_sub(file_base))
}

#[cfg(test)]
#[path = "maps_tests.rs"]
mod tests;
