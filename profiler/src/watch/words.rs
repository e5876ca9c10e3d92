//! From a `--watch` value to the words the debug registers watch, in one target.

use crate::{
    inspect::{self, TargetError},
    perf::breakpoint::{Word, MAX_WATCH_LEN},
    watch::spec::WatchSpec,
};

/// Bytes watched at an address given without a length.
const DEFAULT_ADDR_LEN: u64 = 8;

/// Why a `--watch` value does not name memory of a target.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("--watch {spec}: {source}")]
    Symbol {
        spec: String,
        #[source]
        source: TargetError,
    },
    #[error("--watch {spec}: {name} has {size} bytes; OFF must be below that")]
    PastTheEnd {
        spec: String,
        name: String,
        size: u64,
    },
}

/// A range of one target's memory to watch, as `--watch` named it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchRange {
    /// The `--watch` value.
    pub spec: String,
    /// The variable and the offset into it of the first byte, for a SYMBOL.
    pub symbol: Option<(String, u64)>,
    /// Runtime address of the first byte.
    pub addr: u64,
    /// Bytes.
    pub len: u64,
}

impl WatchRange {
    /// The words covering the range: each aligned to its length (8, 4, 2 or 1 bytes), the
    /// longest that fits at each step.
    pub fn words(&self) -> Vec<Word> {
        words(self.addr, self.len)
    }

    /// What to call the word at `addr` of the range: `SYMBOL+OFF` (`SYMBOL` at offset 0) for a
    /// variable, else the address.
    pub fn name_of(&self, addr: u64) -> String {
        match &self.symbol {
            Some((name, offset)) => match offset + (addr - self.addr) {
                0 => name.clone(),
                off => format!("{name}+{off}"),
            },
            None => format!("{addr:#x}"),
        }
    }
}

/// The aligned words covering `[addr, addr + len)`.
pub fn words(addr: u64, len: u64) -> Vec<Word> {
    let end = addr.saturating_add(len);
    let mut out = Vec::new();
    let mut at = addr;
    while at < end {
        let mut size = MAX_WATCH_LEN;
        while size > 1 && (!at.is_multiple_of(size) || at + size > end) {
            size /= 2;
        }
        out.push(Word {
            addr: at,
            len: size,
        });
        at += size;
    }
    out
}

/// The range `spec` names in the process whose executable is `exe` (as the kernel maps it:
/// `/proc/PID/exe` or the root-relative path), loaded at `bias`; None for `off` and `auto`
/// (whose words are known only once lines are ranked).
pub fn resolve(
    spec: &WatchSpec,
    exe: &std::path::Path,
    bias: u64,
) -> Result<Option<WatchRange>, WatchError> {
    let text = spec.to_string();
    match spec {
        WatchSpec::Off | WatchSpec::Auto => Ok(None),
        WatchSpec::Addr { addr, len } => Ok(Some(WatchRange {
            spec: text,
            symbol: None,
            addr: *addr,
            len: len.unwrap_or(DEFAULT_ADDR_LEN),
        })),
        WatchSpec::Symbol { name, offset, len } => {
            let var = inspect::find_variable(exe, name).map_err(|source| WatchError::Symbol {
                spec: text.clone(),
                source,
            })?;
            if var.size > 0 && *offset >= var.size {
                return Err(WatchError::PastTheEnd {
                    spec: text,
                    name: name.clone(),
                    size: var.size,
                });
            }
            let rest = if var.size > 0 {
                var.size - offset
            } else {
                DEFAULT_ADDR_LEN
            };
            Ok(Some(WatchRange {
                spec: text,
                symbol: Some((name.clone(), *offset)),
                addr: var.vaddr + bias + offset,
                len: len.unwrap_or(rest),
            }))
        }
    }
}

#[cfg(test)]
#[path = "words_tests.rs"]
mod tests;
