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
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_parse_like_the_kernel_prints_them() {
        assert_eq!(parse_cpu_list("0").unwrap(), vec![0]);
        assert_eq!(parse_cpu_list("0-3\n").unwrap(), vec![0, 1, 2, 3]);
        assert_eq!(
            parse_cpu_list("0-3,6,8-9").unwrap(),
            vec![0, 1, 2, 3, 6, 8, 9]
        );
        assert_eq!(parse_cpu_list("6,0-1,1").unwrap(), vec![0, 1, 6]);
        assert_eq!(parse_cpu_list("\n").unwrap(), Vec::<u32>::new());
    }

    #[test]
    fn garbage_cpu_lists_are_errors_that_name_the_text() {
        for bad in [
            "x",
            "0-",
            "-3",
            "3-1",
            "0,,1",
            "0-3;6",
            "1.5",
            "0-4294967295",
            "0 - 3x",
        ] {
            let err = parse_cpu_list(bad).expect_err(bad);
            let msg = err.to_string();
            assert!(msg.contains("cannot parse CPU list"), "{msg}");
            assert!(!msg.contains('\n'), "one line: {msg}");
        }
    }

    #[test]
    fn formats_parse_single_bits_ranges_and_split_fields() {
        let event = parse_format("config:0-7\n").unwrap();
        assert_eq!(event.field, ConfigField::Config);
        assert_eq!(event.ranges, vec![(0, 7)]);
        assert_eq!(parse_format("config:21").unwrap().ranges, vec![(21, 21)]);
        let amd = parse_format("config:0-7,32-35").unwrap();
        assert_eq!(amd.ranges, vec![(0, 7), (32, 35)]);
        assert_eq!(
            parse_format("config1:0-15").unwrap().field,
            ConfigField::Config1
        );
        for bad in [
            "",
            "config",
            "cfg:0-7",
            "config:7-0",
            "config:0-64",
            "config:a",
        ] {
            assert_eq!(parse_format(bad), None, "{bad}");
        }
    }

    #[test]
    fn encoding_scatters_bits_over_the_ranges() {
        let umask = parse_format("config:8-15").unwrap();
        assert_eq!(umask.encode(0x08), Some(0x0800));
        assert_eq!(umask.encode(0x100), None, "9 bits do not fit 8");
        // AMD's event select: low 8 bits at 0-7, high 4 bits at 32-35 (EventSelect[11:8]).
        let amd = parse_format("config:0-7,32-35").unwrap();
        assert_eq!(amd.encode(0x1c0), Some(0x1_0000_00c0));
        let full = parse_format("config1:0-63").unwrap();
        assert_eq!(full.encode(u64::MAX), Some(u64::MAX));
    }

    #[test]
    fn event_aliases_parse_key_value_terms() {
        assert_eq!(
            parse_event_terms("event=0xd1,umask=0x08\n").unwrap(),
            vec![("event".to_string(), 0xd1), ("umask".to_string(), 8)]
        );
        assert_eq!(
            parse_event_terms("event=0xcd,umask=0x1,ldlat=3").unwrap()[2],
            ("ldlat".to_string(), 3)
        );
        assert_eq!(
            parse_event_terms("event=0x3c,any").unwrap()[1],
            ("any".to_string(), 1)
        );
        assert_eq!(parse_event_terms("event=0x2c,umask=?"), None);
        assert_eq!(parse_event_terms(""), None);
    }
}
