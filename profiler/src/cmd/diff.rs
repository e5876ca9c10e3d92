//! `clprof diff BEFORE AFTER`: compare two saved profiles of one program, before and after a
//! change; with `--fail-if-worse PCT`, a gate for CI.

use std::process::ExitCode;

use anyhow::Context as _;

use crate::{
    cli::DiffArgs,
    cmd::report::load,
    diff::{self, Format},
};

/// Prints the diff; exit status 1 when `--fail-if-worse` finds something worse (named on
/// stderr).
pub fn run(args: &DiffArgs) -> anyhow::Result<ExitCode> {
    let before = load(&args.before).context("reading the BEFORE profile")?;
    let after = load(&args.after).context("reading the AFTER profile")?;
    let diff = diff::diff(
        &before,
        &args.before.display().to_string(),
        &after,
        &args.after.display().to_string(),
    );
    let text = match args.format {
        Format::Text => diff::text(&diff, args.top),
        Format::Json => diff::json(&diff),
    };
    print!("{text}");
    let Some(pct) = args.fail_if_worse else {
        return Ok(ExitCode::SUCCESS);
    };
    let worse = diff::regressions(&diff, pct);
    if worse.is_empty() {
        tracing::debug!("nothing worse by more than {pct}%");
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "clprof: {} worse by more than {pct}% (--fail-if-worse {pct}):",
        if worse.len() == 1 {
            "1 cost got".to_owned()
        } else {
            format!("{} costs got", worse.len())
        }
    );
    for w in &worse {
        eprintln!("  {}", w.describe(diff.compared_by));
    }
    Ok(ExitCode::FAILURE)
}
