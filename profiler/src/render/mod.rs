//! Rendering reports into bytes (writing them out is `output`'s).

mod folded;
mod numbers;
mod pprof;
mod table;
mod table_sampled;

use clap::ValueEnum;

use crate::report::Report;

pub use folded::{folded, folded_lines, svg, Weight};
pub use pprof::{merged as pprof_merged, pprof, pprof_of_target, SampleUnit, SAMPLE_TYPES};
pub use table::table;

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// perf-c2c-like table.
    Text,
    /// Schema clprof/1.
    Json,
    /// Folded stacks (inferno, flamegraph.pl, speedscope).
    Folded,
    /// SVG flamegraph.
    Svg,
    /// pprof (gzipped profile.proto), for `go tool pprof` and other pprof clients.
    Pprof,
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

/// Schema clprof/1, pretty-printed, newline-terminated.
pub fn json(report: &Report) -> String {
    let mut s = serde_json::to_string_pretty(report).expect("a Report always serializes");
    s.push('\n');
    s
}
