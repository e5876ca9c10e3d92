//! Rendering reports, and writing them out atomically.

mod table;

use std::{io::Write as _, path::Path};

use crate::{cli::Format, report::Report};

pub use table::table;

/// Errors writing a report file.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot write {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// The report in `format`; `top` limits the table's lines.
pub fn render(report: &Report, format: Format, top: usize) -> String {
    match format {
        Format::Text => table(report, top),
        Format::Json => json(report),
    }
}

/// Schema clprof/1, pretty-printed, newline-terminated.
pub fn json(report: &Report) -> String {
    let mut s = serde_json::to_string_pretty(report).expect("a Report always serializes");
    s.push('\n');
    s
}

/// Writes `data` to `path` through a temporary file in the same directory and a rename, so
/// readers never see a partial report.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<(), WriteError> {
    let io = |source| WriteError::Io {
        path: path.display().to_string(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    tmp.write_all(data).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_the_file_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("report.json");
        std::fs::write(&path, "old").expect("write");
        write_atomic(&path, b"new contents").expect("atomic write");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "new contents"
        );
        let leftovers = std::fs::read_dir(dir.path()).expect("readdir").count();
        assert_eq!(leftovers, 1, "no temporary file left behind");
    }

    #[test]
    fn write_into_missing_directory_fails_with_the_path() {
        let err = write_atomic(Path::new("/nonexistent-dir/x.json"), b"x").expect_err("must fail");
        assert!(err.to_string().contains("/nonexistent-dir/x.json"), "{err}");
    }
}
