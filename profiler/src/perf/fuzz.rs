//! Text-level entry points into the sysfs and `/proc/cpuinfo` parsers, for the fuzz targets
//! in `fuzz/`. A panic here is a bug.

use super::{pmu, sysfs};

/// Every sysfs/PMU text parser on `text`: `format/*` bit ranges (and encoding a value with
/// them), `events/*` terms, numbers, CPU lists and `/proc/cpuinfo`.
pub fn sysfs_text(text: &str) {
    if let Some(format) = sysfs::parse_format(text) {
        let _ = format.encode(u64::MAX);
        let _ = format.encode(1);
    }
    let _ = sysfs::parse_event_terms(text);
    let _ = sysfs::parse_num(text);
    let _ = sysfs::parse_cpu_list(text);
    let _ = pmu::parse_cpuinfo(text);
}
