//! Rendering reports, and writing them out atomically.

mod folded;
mod pprof;
mod table;

use std::{io::Write as _, path::Path};

use crate::{cli::Format, report::Report};

pub use folded::{folded, folded_lines, svg, Weight};
pub use pprof::pprof;
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

/// Table rows when `--top` is not given.
pub const DEFAULT_TOP: usize = 10;

/// The report in `format`. `top` limits the table's rows (default [`DEFAULT_TOP`]) and, when
/// given, the lines drawn in flamegraphs; `weight` is what flamegraph counts measure.
pub fn render(
    report: &Report,
    format: Format,
    top: Option<usize>,
    weight: Weight,
) -> std::io::Result<Vec<u8>> {
    Ok(match format {
        Format::Text => table(report, top.unwrap_or(DEFAULT_TOP)).into_bytes(),
        Format::Json => json(report).into_bytes(),
        Format::Folded => folded(report, weight, top).into_bytes(),
        Format::Svg => svg(report, weight, top)?.into_bytes(),
        Format::Pprof => pprof(report)?,
    })
}

/// Writes rendered output to `path` (atomically) or stdout.
pub fn emit(output: Option<&Path>, data: &[u8]) -> Result<(), WriteError> {
    match output {
        Some(path) => write_atomic(path, data),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(data)
                .and_then(|()| out.flush())
                .map_err(|source| WriteError::Io {
                    path: "stdout".to_owned(),
                    source,
                })
        }
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
    // A report is for reading: not the temporary file's 0600.
    use std::os::unix::fs::PermissionsExt as _;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))
        .map_err(io)?;
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
