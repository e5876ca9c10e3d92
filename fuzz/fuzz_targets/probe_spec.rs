//! The `--probe` spec parser.
#![no_main]

use clprof::probe_spec::ProbeSpec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = text.parse::<ProbeSpec>();
    let _ = clprof::probe_spec::parse_register(text);
});
