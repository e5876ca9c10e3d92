//! The sysfs PMU files (`format/*`, `events/*`, `type`, CPU lists) and `/proc/cpuinfo`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| clprof::perf::fuzz::sysfs_text(text));
