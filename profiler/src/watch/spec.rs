//! `--watch` values: `auto` (the top-ranked lines, once ranked), `off`, or what to watch:
//! `SYMBOL[+OFF][:LEN]` (a global variable of each target's executable, from its symbol table
//! or DWARF: `main.stats`, `counters`, a Rust path such as `server::STATS`)
//! or `ADDR[:LEN]` (an address in each target).

use std::{fmt, str::FromStr};

/// The most bytes one `--watch` may cover (4 KiB: 512 words, rotated over the registers).
pub const MAX_WATCH_BYTES: u64 = 4096;

/// One `--watch` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchSpec {
    /// The words of the top-ranked lines, once the probes have ranked them.
    Auto,
    /// No watchpoints.
    Off,
    /// `SYMBOL[+OFF][:LEN]`: `len` bytes (default: the rest of the variable) from `offset`
    /// bytes into the global variable `name`.
    Symbol {
        name: String,
        offset: u64,
        len: Option<u64>,
    },
    /// `ADDR[:LEN]`: `len` bytes (default 8) at the runtime address `addr`.
    Addr { addr: u64, len: Option<u64> },
}

/// A malformed `--watch`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("bad --watch {spec:?}: {reason} (expected auto, off, SYMBOL[+OFF][:LEN] or ADDR[:LEN], e.g. main.stats+8:16 or 0xc000012340:8)")]
pub struct WatchSpecError {
    spec: String,
    reason: String,
}

/// A decimal or `0x` hexadecimal number.
fn number(text: &str) -> Option<u64> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

impl FromStr for WatchSpec {
    type Err = WatchSpecError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let bad = |reason: &str| WatchSpecError {
            spec: spec.to_owned(),
            reason: reason.to_owned(),
        };
        match spec {
            "off" => return Ok(WatchSpec::Off),
            "auto" => return Ok(WatchSpec::Auto),
            _ => {}
        }
        // The LEN follows the last single colon: `::` belongs to a Rust path.
        let (what, len) = match spec
            .rsplit_once(':')
            .filter(|(what, _)| !what.ends_with(':'))
        {
            Some((what, len)) => {
                let len = number(len).ok_or_else(|| bad("LEN is not a number"))?;
                if len == 0 || len > MAX_WATCH_BYTES {
                    return Err(bad(&format!("LEN must be 1 to {MAX_WATCH_BYTES} bytes")));
                }
                (what, Some(len))
            }
            None => (spec, None),
        };
        if what.is_empty() {
            return Err(bad("nothing to watch before the LEN"));
        }
        if what.starts_with("0x") || what.starts_with("0X") {
            let addr = number(what).ok_or_else(|| bad("ADDR is not a hexadecimal address"))?;
            if addr == 0 {
                return Err(bad("ADDR 0 is never a variable"));
            }
            return Ok(WatchSpec::Addr { addr, len });
        }
        let (name, offset) = match what.rsplit_once('+') {
            Some((name, off)) => (name, number(off).ok_or_else(|| bad("OFF is not a number"))?),
            None => (what, 0),
        };
        if name.is_empty() || name.chars().any(char::is_whitespace) {
            return Err(bad("SYMBOL must be a variable's name, e.g. main.stats"));
        }
        Ok(WatchSpec::Symbol {
            name: name.to_owned(),
            offset,
            len,
        })
    }
}

/// Checks a list of `--watch` values: `off` may not be combined with others.
pub fn check(specs: &[WatchSpec]) -> Result<(), WatchSpecError> {
    if specs.len() > 1 && specs.contains(&WatchSpec::Off) {
        return Err(WatchSpecError {
            spec: "off".to_owned(),
            reason: "off watches nothing, so it cannot be combined with other --watch values"
                .to_owned(),
        });
    }
    Ok(())
}

impl fmt::Display for WatchSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WatchSpec::Auto => f.write_str("auto"),
            WatchSpec::Off => f.write_str("off"),
            WatchSpec::Symbol { name, offset, len } => {
                f.write_str(name)?;
                if *offset != 0 {
                    write!(f, "+{offset}")?;
                }
                if let Some(len) = len {
                    write!(f, ":{len}")?;
                }
                Ok(())
            }
            WatchSpec::Addr { addr, len } => {
                write!(f, "{addr:#x}")?;
                if let Some(len) = len {
                    write!(f, ":{len}")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;
