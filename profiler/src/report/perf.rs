//! What the perf samples gave a report, beside the probes' lines: the functions they fell in
//! (probe overhead named after the probed function) and the lines of their data addresses.

use std::collections::HashMap;

use profiler_common::{xol::UNKNOWN_STEP_KIND, IpKey, StepKey};

use crate::{
    collect::Collected,
    folded,
    readout::Readout,
    report::{sampled, stacks::Stacks, DataAddressSources, FrameReport},
};

/// Functions kept in the perf-sample ranking.
const TOP_FUNCTIONS: usize = 20;

/// What the perf samples gave, beside the probes' lines.
#[derive(Default)]
pub struct PerfParts {
    /// Functions by samples.
    pub functions: Vec<FrameReport>,
    /// Samples of threads single-stepping a probed instruction.
    pub trampoline: Option<u64>,
    /// Lines by the samples' data addresses.
    pub sampled_lines: sampled::SampledLines,
    pub data_addresses: Option<DataAddressSources>,
}

impl PerfParts {
    /// The functions by samples (from the samples per IP and per probe step) and the lines of
    /// the samples' data addresses, from `readout`; none when no perf events ran.
    pub fn of(
        perf: bool,
        stacks: &mut Stacks<'_, '_>,
        readout: &Readout,
        collected: &Collected,
    ) -> PerfParts {
        if !perf {
            return PerfParts::default();
        }
        let (functions, trampoline) =
            top_functions(stacks, &readout.perf_ips, &readout.probe_steps);
        let sampled_lines = sampled::sampled_lines(
            &readout.sampled_lines,
            &readout.line_ips,
            &readout.line_stacks,
            &samples_by_pid(readout),
            stacks,
        );
        let sources = sampled::data_address_sources(collected, &readout.counters);
        PerfParts {
            functions,
            trampoline,
            sampled_lines,
            data_addresses: Some(sources),
        }
    }
}

/// Each target's perf samples: at its own instructions and at its probes' stepped ones.
fn samples_by_pid(readout: &Readout) -> HashMap<u32, u64> {
    let mut out: HashMap<u32, u64> = HashMap::new();
    for (key, n) in &readout.perf_ips {
        *out.entry(key.pid).or_default() += n;
    }
    for (key, n) in &readout.probe_steps {
        *out.entry(key.pid).or_default() += n;
    }
    out
}

/// Functions by perf samples: each sampled instruction address named by its innermost frame,
/// and samples of threads single-stepping a probed instruction in the XOL area as
/// `[clprof probe] FUNCTION` (the probed function). Also returns how many samples those were.
fn top_functions(
    stacks: &mut Stacks<'_, '_>,
    ips: &[(IpKey, u64)],
    steps: &[(StepKey, u64)],
) -> (Vec<FrameReport>, Option<u64>) {
    let mut by_function: HashMap<(String, Option<String>), u64> = HashMap::new();
    let mut trampoline = 0;
    let xol_file = Some(folded::XOL_FILE.to_owned());
    for (key, n) in ips {
        if stacks.in_xol_area(key.pid, key.ip) {
            // Taken before the kernel side knew the area: the probe is not known.
            let unknown = StepKey {
                pid: key.pid,
                kind: UNKNOWN_STEP_KIND,
                site: 0,
            };
            let name = folded::step_name(&unknown, None);
            *by_function.entry((name, xol_file.clone())).or_default() += n;
            trampoline += n;
            continue;
        }
        let frame = stacks.frame_at(key.pid, key.ip);
        *by_function.entry((frame.function, frame.file)).or_default() += n;
    }
    for (key, n) in steps {
        let function = if key.kind == UNKNOWN_STEP_KIND {
            None
        } else {
            stacks.function_at(key.pid, key.site)
        };
        tracing::debug!(
            pid = key.pid,
            kind = key.kind,
            site = key.site,
            ?function,
            n,
            "probe step samples"
        );
        let name = folded::step_name(key, function);
        *by_function.entry((name, xol_file.clone())).or_default() += n;
        trampoline += n;
    }
    let mut out: Vec<FrameReport> = by_function
        .into_iter()
        .map(|((function, file), samples)| FrameReport {
            function,
            file,
            line: None,
            samples,
        })
        .collect();
    out.sort_by(|a, b| {
        b.samples
            .cmp(&a.samples)
            .then_with(|| a.function.cmp(&b.function))
    });
    out.truncate(TOP_FUNCTIONS);
    (out, Some(trampoline))
}
