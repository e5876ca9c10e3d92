//! The `--watch` spec parser and the check over a list of specs.
#![no_main]

use clprof::watch::spec::{check, WatchSpec};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let specs: Vec<WatchSpec> = text.split('\n').filter_map(|s| s.parse().ok()).collect();
    let _ = check(&specs);
});
