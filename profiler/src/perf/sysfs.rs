//! Parsers for the text the kernel's perf sysfs files hold: PMU `format/` terms
//! (Documentation/ABI/testing/sysfs-bus-event_source-devices-format), `events/` aliases
//! (…-devices-events) and CPU lists (Documentation/admin-guide/cputopology.rst).

use std::path::Path;

use super::PerfError;

/// Which `perf_event_attr` word a format term lands in (include/uapi/linux/perf_event.h:
/// `config`, `config1`, `config2`, `config3`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConfigField {
    Config,
    Config1,
    Config2,
    Config3,
}

/// One `format/<term>` file, e.g. "config:0-7", "config:0-7,32-35" (AMD's 12-bit event select)
/// or "config:21" (a single bit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Format {
    pub field: ConfigField,
    /// Inclusive bit ranges, in the order the value's bits fill them (lowest bits first).
    pub ranges: Vec<(u32, u32)>,
}

impl Format {
    /// Scatters `value` over the ranges, lowest bits into the first range, as perf's
    /// `pmu_format_value` does; `None` when `value` has more bits than the ranges hold.
    pub fn encode(&self, value: u64) -> Option<u64> {
        let mut rest = value;
        let mut out = 0u64;
        for &(lo, hi) in &self.ranges {
            let width = hi - lo + 1;
            let mask = if width >= 64 {
                u64::MAX
            } else {
                (1u64 << width) - 1
            };
            out |= (rest & mask) << lo;
            rest = rest.checked_shr(width).unwrap_or(0);
        }
        (rest == 0).then_some(out)
    }
}

/// Parses a `format/<term>` file; `None` for anything but `configN:lo[-hi][,lo[-hi]…]`.
pub(crate) fn parse_format(text: &str) -> Option<Format> {
    let (field, bits) = text.trim().split_once(':')?;
    let field = match field {
        "config" => ConfigField::Config,
        "config1" => ConfigField::Config1,
        "config2" => ConfigField::Config2,
        "config3" => ConfigField::Config3,
        _ => return None,
    };
    let mut ranges = Vec::new();
    for part in bits.split(',') {
        let (lo, hi) = match part.split_once('-') {
            Some((lo, hi)) => (lo.trim().parse().ok()?, hi.trim().parse().ok()?),
            None => {
                let bit = part.trim().parse().ok()?;
                (bit, bit)
            }
        };
        if lo > hi || hi > 63 {
            return None;
        }
        ranges.push((lo, hi));
    }
    Some(Format { field, ranges })
}

/// Parses an `events/<name>` alias such as "event=0xd1,umask=0x08" into its terms; a bare term
/// ("any") means 1. `None` for placeholders the user must fill in ("umask=?") or bad numbers.
pub(crate) fn parse_event_terms(text: &str) -> Option<Vec<(String, u64)>> {
    let mut terms = Vec::new();
    for term in text.trim().split(',') {
        let term = term.trim();
        if term.is_empty() {
            continue;
        }
        match term.split_once('=') {
            Some((key, value)) => terms.push((key.trim().to_string(), parse_num(value.trim())?)),
            None => terms.push((term.to_string(), 1)),
        }
    }
    (!terms.is_empty()).then_some(terms)
}

/// A number as sysfs writes them: "0xd1" (hex) or "3" (decimal).
pub(crate) fn parse_num(text: &str) -> Option<u64> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// Largest CPU range accepted in one list item; keeps a corrupt file from allocating gigabytes
/// (the kernel's NR_CPUS tops out at 8192 on x86).
const MAX_RANGE: u32 = 1 << 16;

/// Parses a kernel CPU list such as `/sys/devices/system/cpu/online` ("0", "0-3", "0-3,6,8-9")
/// into sorted, distinct CPU numbers. An empty list (the kernel prints "\n" for an empty mask)
/// gives an empty vector.
pub fn parse_cpu_list(text: &str) -> Result<Vec<u32>, PerfError> {
    let bad = |why| PerfError::CpuList {
        text: text.trim().to_string(),
        why,
    };
    let mut cpus = Vec::new();
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Ok(cpus);
    }
    for item in trimmed.split(',') {
        let item = item.trim();
        let (lo, hi) = match item.split_once('-') {
            Some((lo, hi)) => (lo.parse::<u32>(), hi.parse::<u32>()),
            None => (item.parse::<u32>(), item.parse::<u32>()),
        };
        let (lo, hi) = match (lo, hi) {
            (Ok(lo), Ok(hi)) => (lo, hi),
            _ => return Err(bad("an item is not a number or a range a-b")),
        };
        if lo > hi {
            return Err(bad("a range runs backwards"));
        }
        if hi - lo >= MAX_RANGE {
            return Err(bad("a range is implausibly large"));
        }
        cpus.extend(lo..=hi);
    }
    cpus.sort_unstable();
    cpus.dedup();
    Ok(cpus)
}

/// A sysfs file's content without the trailing newline; `None` when it cannot be read.
pub(crate) fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

/// A sysfs file holding one decimal number (a PMU's `type`, `caps/max_precise`).
pub(crate) fn read_u32(path: &Path) -> Option<u32> {
    read_trimmed(path)?.parse().ok()
}

#[cfg(test)]
#[path = "sysfs_tests.rs"]
mod tests;
