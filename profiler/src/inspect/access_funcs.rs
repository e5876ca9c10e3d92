//! The Go runtime's map functions besides the assigns, as the access probes use them: lookups,
//! iteration, deletes and `clear`, which kind each is, and where its map header is at entry
//! (Go's register ABI on amd64: arguments in RAX, RBX, RCX, ...).
//!
//! What compiled code calls, per Go version (checked by disassembling programs built with Go
//! 1.19, 1.21, 1.22, 1.23, 1.24, 1.25, 1.26 and 1.27):
//! - lookups: `runtime.mapaccess{1,2}` and their `_fast32`, `_fast64`, `_faststr` and `_fat`
//!   variants, `(t, h, key)`: the header in RBX, in every version;
//! - deletes: `runtime.mapdelete{,_fast32,_fast64,_faststr}` and `clear`: `runtime.mapclear`,
//!   the header in RBX;
//! - iteration, classic maps: `runtime.mapiterinit(t, h, it)` (header in RBX), which calls
//!   `runtime.mapiternext(it)` for the first step; each further step calls `mapiternext`, whose
//!   header is the iterator's field `h` (`hiter`, offset 0x18);
//! - iteration, swiss maps: compiled loops call `runtime.mapIterStart`/`mapIterNext`, and
//!   reflect (fmt, encoding/json) calls the iterator's methods directly, so the probes sit on
//!   those methods, which every path goes through: `internal/runtime/maps.(*Iter).Init(it, typ,
//!   m)` (header in RCX) and `(*Iter).Next(it)`, whose header is the iterator's field `m`
//!   (offset 0x18).
//!
//! Some of these functions only call another one of the same kind: the `_fat` lookups call
//! `mapaccess1` (or `mapaccess2`), and from Go 1.27 each `mapaccess1*` calls its `mapaccess2*`.
//! Probing both would count one lookup twice, so a function whose code calls another one of its
//! kind is left out (found by disassembling it). None of them is ever inlined: the compiler
//! inserts the calls after inlining.
//!
//! Not seen by these probes: `m[k]++` and `m[k] = append(m[k], ...)` (one assign, no lookup),
//! `len(m)` (an inline load) and the `for k := range m { delete(m, k) }` idiom (one `clear`).

use profiler_common::{access::AccessKind, Register};

use super::LayoutFlavor;

/// Where a function's map header is at entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapArg {
    /// In the register.
    Reg(Register),
    /// In the pointer-sized field at this byte offset of the struct the register points to.
    Field(Register, u32),
}

/// One map function the access probes may sit on.
#[derive(Clone, Copy, Debug)]
pub struct AccessFuncSpec {
    pub symbol: &'static str,
    pub kind: AccessKind,
    /// The map implementation it belongs to; None for both.
    pub flavor: Option<LayoutFlavor>,
    pub map: MapArg,
}

const fn spec(
    symbol: &'static str,
    kind: AccessKind,
    flavor: Option<LayoutFlavor>,
    map: MapArg,
) -> AccessFuncSpec {
    AccessFuncSpec {
        symbol,
        kind,
        flavor,
        map,
    }
}

const RBX: MapArg = MapArg::Reg(Register::Rbx);
/// Offset of the map header in Go's map iterators: classic `hiter.h`, swiss `maps.Iter.m`.
const ITER_MAP_OFFSET: u32 = 0x18;

/// Every function the access probes may sit on.
pub const ACCESS_FUNCS: [AccessFuncSpec; 19] = [
    spec("runtime.mapaccess1", AccessKind::Read, None, RBX),
    spec("runtime.mapaccess2", AccessKind::Read, None, RBX),
    spec("runtime.mapaccess1_fast32", AccessKind::Read, None, RBX),
    spec("runtime.mapaccess2_fast32", AccessKind::Read, None, RBX),
    spec("runtime.mapaccess1_fast64", AccessKind::Read, None, RBX),
    spec("runtime.mapaccess2_fast64", AccessKind::Read, None, RBX),
    spec("runtime.mapaccess1_faststr", AccessKind::Read, None, RBX),
    spec("runtime.mapaccess2_faststr", AccessKind::Read, None, RBX),
    spec("runtime.mapaccess1_fat", AccessKind::Read, None, RBX),
    spec("runtime.mapaccess2_fat", AccessKind::Read, None, RBX),
    spec(
        "runtime.mapiterinit",
        AccessKind::IterInit,
        Some(LayoutFlavor::Classic),
        RBX,
    ),
    spec(
        "runtime.mapiternext",
        AccessKind::IterNext,
        Some(LayoutFlavor::Classic),
        MapArg::Field(Register::Rax, ITER_MAP_OFFSET),
    ),
    spec(
        "internal/runtime/maps.(*Iter).Init",
        AccessKind::IterInit,
        Some(LayoutFlavor::Swiss),
        MapArg::Reg(Register::Rcx),
    ),
    spec(
        "internal/runtime/maps.(*Iter).Next",
        AccessKind::IterNext,
        Some(LayoutFlavor::Swiss),
        MapArg::Field(Register::Rax, ITER_MAP_OFFSET),
    ),
    spec("runtime.mapdelete", AccessKind::Delete, None, RBX),
    spec("runtime.mapdelete_fast32", AccessKind::Delete, None, RBX),
    spec("runtime.mapdelete_fast64", AccessKind::Delete, None, RBX),
    spec("runtime.mapdelete_faststr", AccessKind::Delete, None, RBX),
    spec("runtime.mapclear", AccessKind::Clear, None, RBX),
];

/// One access function of a binary, to probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessFunc {
    pub kind: AccessKind,
    /// Its symbol name, e.g. "runtime.mapaccess2_fast64".
    pub symbol: String,
    /// Virtual address in the file (before any load bias).
    pub vaddr: u64,
    /// Offset of the first instruction in the file: what uprobes attach at.
    pub file_offset: u64,
    pub map: MapArg,
}

/// A candidate found in a binary: its entry in [`ACCESS_FUNCS`], and the functions its code
/// calls directly (None when it could not be disassembled).
#[derive(Clone, Debug)]
pub struct Candidate {
    pub spec: usize,
    pub func: AccessFunc,
    pub calls: Option<Vec<u64>>,
}

/// The candidates to probe in a binary whose maps are `flavor`: those of that flavor, less the
/// ones that only call another candidate of their kind (a lookup counted there), in
/// [`ACCESS_FUNCS`] order.
pub fn keep(candidates: Vec<Candidate>, flavor: LayoutFlavor) -> Vec<AccessFunc> {
    let of_flavor: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| ACCESS_FUNCS[c.spec].flavor.is_none_or(|f| f == flavor))
        .collect();
    let mut out: Vec<(usize, AccessFunc)> = of_flavor
        .iter()
        .filter(|c| {
            let calls_its_kind = c.calls.as_ref().is_some_and(|calls| {
                of_flavor.iter().any(|other| {
                    other.func.kind == c.func.kind
                        && other.func.vaddr != c.func.vaddr
                        && calls.contains(&other.func.vaddr)
                })
            });
            !calls_its_kind
        })
        .map(|c| (c.spec, c.func.clone()))
        .collect();
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, f)| f).collect()
}

/// The entry of [`ACCESS_FUNCS`] named `symbol`.
pub fn spec_of(symbol: &str) -> Option<usize> {
    ACCESS_FUNCS.iter().position(|s| s.symbol == symbol)
}

#[cfg(test)]
#[path = "access_funcs_tests.rs"]
mod tests;
