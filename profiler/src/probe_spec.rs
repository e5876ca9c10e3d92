//! `--probe` specifications: `go` (the Go map probes: assigns, lookups, iteration, deletes and
//! clears), `go-writes` (the assign probes alone) or `BIN:SYMBOL:REG[+OFF]` (a probe on any
//! function, treating the pointer in REG, plus OFF bytes, as the written object).

use std::{fmt, path::PathBuf, str::FromStr};

use profiler_common::Register;

/// One `--probe` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeSpec {
    /// Every Go map probe: assigns, lookups, iteration, deletes and clears.
    Go,
    /// The Go map-assign probes alone.
    GoWrites,
    /// A probe on `symbol` in `binary`.
    Custom(CustomProbe),
}

/// `BIN:SYMBOL:REG[+OFF]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomProbe {
    pub binary: PathBuf,
    pub symbol: String,
    pub register: Register,
    /// Bytes added to the register's value.
    pub offset: i32,
}

/// A malformed `--probe`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("bad --probe {spec:?}: {reason} (expected `go`, `go-writes` or BIN:SYMBOL:REG[+OFF], e.g. ./server:counter_add:rdi+8)")]
pub struct ProbeSpecError {
    spec: String,
    reason: String,
}

/// Register names: System V (`rdi`...), their argument aliases (`arg0`..`arg5`), Go's assembler
/// names (`AX`, `BX`...), and Go register-ABI argument aliases (`goarg0`..`goarg8`).
pub fn parse_register(name: &str) -> Option<Register> {
    use Register::*;
    let name = name.to_ascii_lowercase();
    let r = match name.as_str() {
        "rax" | "ax" | "goarg0" => Rax,
        "rbx" | "bx" | "goarg1" => Rbx,
        "rcx" | "cx" | "arg3" | "goarg2" => Rcx,
        "rdx" | "dx" | "arg2" => Rdx,
        "rsi" | "si" | "arg1" | "goarg4" => Rsi,
        "rdi" | "di" | "arg0" | "goarg3" => Rdi,
        "rbp" | "bp" => Rbp,
        "rsp" | "sp" => Rsp,
        "r8" | "arg4" | "goarg5" => R8,
        "r9" | "arg5" | "goarg6" => R9,
        "r10" | "goarg7" => R10,
        "r11" | "goarg8" => R11,
        "r12" => R12,
        "r13" => R13,
        "r14" => R14,
        "r15" => R15,
        _ => return None,
    };
    Some(r)
}

fn parse_offset(text: &str) -> Option<i32> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'+' => (false, &text[1..]),
        b'-' => (true, &text[1..]),
        _ => return None,
    };
    let (radix, digits) = match digits.strip_prefix("0x") {
        Some(hex) => (16, hex),
        None => (10, digits),
    };
    // One sign, before the digits (`from_str_radix` would take another).
    if !digits.bytes().next()?.is_ascii_hexdigit() {
        return None;
    }
    let value = i64::from_str_radix(digits, radix).ok()?;
    i32::try_from(if negative {
        value.checked_neg()?
    } else {
        value
    })
    .ok()
}

impl FromStr for ProbeSpec {
    type Err = ProbeSpecError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| ProbeSpecError {
            spec: spec.to_owned(),
            reason: reason.to_owned(),
        };
        match spec {
            "go" => return Ok(ProbeSpec::Go),
            "go-writes" => return Ok(ProbeSpec::GoWrites),
            _ => {}
        }
        let mut parts = spec.rsplitn(3, ':');
        let (Some(reg), Some(symbol), Some(binary)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(err("missing parts"));
        };
        if binary.is_empty() {
            return Err(err("empty binary path"));
        }
        if symbol.is_empty() {
            return Err(err("empty symbol"));
        }
        let (reg_name, offset) = match reg.find(['+', '-']) {
            Some(i) => (
                &reg[..i],
                parse_offset(&reg[i..]).ok_or_else(|| err("bad offset"))?,
            ),
            None => (reg, 0),
        };
        let register = parse_register(reg_name)
            .ok_or_else(|| err(&format!("unknown register {reg_name:?}")))?;
        Ok(ProbeSpec::Custom(CustomProbe {
            binary: PathBuf::from(binary),
            symbol: symbol.to_owned(),
            register,
            offset,
        }))
    }
}

impl fmt::Display for CustomProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{:?}",
            self.binary.display(),
            self.symbol,
            self.register
        )?;
        if self.offset != 0 {
            write!(f, "{:+}", self.offset)?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "probe_spec_tests.rs"]
mod tests;
