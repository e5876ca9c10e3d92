//! `clprof report FILE`: re-render a saved JSON profile, without root and without the target.

use std::path::Path;

use crate::{
    cli::ReportArgs,
    output, render,
    report::{Report, SCHEMA},
};

/// A file that is not a profile clprof can read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a clprof profile ({reason}); write one with `clprof record --format json -o FILE`")]
    Malformed { path: String, reason: String },
    #[error("{path} has schema {found:?}; this clprof reads {SCHEMA:?}")]
    Schema { path: String, found: String },
}

/// Reads and checks a saved profile.
pub fn load(path: &Path) -> Result<Report, LoadError> {
    let shown = path.display().to_string();
    let text = std::fs::read(path).map_err(|source| LoadError::Io {
        path: shown.clone(),
        source,
    })?;
    load_from_bytes(&text, shown)
}

/// Checks and decodes the bytes of a saved profile; `shown` names it in errors.
pub fn load_from_bytes(text: &[u8], shown: String) -> Result<Report, LoadError> {
    let value: serde_json::Value =
        serde_json::from_slice(text).map_err(|e| LoadError::Malformed {
            path: shown.clone(),
            reason: format!("not JSON: {e}"),
        })?;
    match value.get("schema").and_then(|s| s.as_str()) {
        Some(SCHEMA) => {}
        Some(other) => {
            return Err(LoadError::Schema {
                path: shown,
                found: other.to_owned(),
            })
        }
        None => {
            return Err(LoadError::Malformed {
                path: shown,
                reason: "no \"schema\" field".to_owned(),
            })
        }
    }
    serde_json::from_value(value).map_err(|e| LoadError::Malformed {
        path: shown,
        reason: e.to_string(),
    })
}

pub fn run(args: &ReportArgs) -> anyhow::Result<()> {
    let report = load(&args.file)?;
    let text = render::render(&report, args.format, args.top, args.weight)?;
    let stdout = Path::new("-");
    output::write(
        args.output.as_deref().unwrap_or(stdout),
        &text,
        output::NoReader::Wait,
    )?;
    Ok(())
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
