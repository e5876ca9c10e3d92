//! ELF helpers for any executable (Go or not): opening and checking the file, function symbols
//! and the file offsets uprobes attach at, and the `PT_LOAD` segments.

use std::fs::File;
use std::path::Path;

use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol, ReadCache, SymbolKind};

use super::TargetError;

/// A function entry a uprobe can attach at.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProbeSite {
    /// Symbol name, e.g. "runtime.hashGrow" or "counter_add".
    pub symbol: String,
    /// Virtual address in the file (before any load bias).
    pub vaddr: u64,
    /// Offset of the first instruction in the file: what uprobes attach at.
    pub file_offset: u64,
}

/// Finds the function `symbol` in the ELF file at `path`: first in the symbol table (`.symtab`),
/// then in the dynamic symbol table (`.dynsym`, which survives `strip` for exported functions).
/// Only defined function symbols count.
pub fn find_symbol(path: &Path, symbol: &str) -> Result<ProbeSite, TargetError> {
    let data = open(path)?;
    let obj = parse(path, &data)?;
    function_site(&obj, symbol).ok_or_else(|| TargetError::SymbolNotFound {
        symbol: symbol.to_string(),
        path: path.to_path_buf(),
    })
}

/// A global variable: where it is and how big.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variable {
    /// Virtual address in the file (before any load bias).
    pub vaddr: u64,
    /// Size in bytes from the symbol table (0 when the table does not say).
    pub size: u64,
}

/// Finds the global variable `symbol` in the ELF file at `path`: a defined data symbol of
/// `.symtab`, then of `.dynsym` (Go globals such as `main.stats`, C globals such as
/// `counters`), then a variable with a fixed address in the DWARF (binaries whose symbol table
/// was stripped but not their debug information).
pub fn find_variable(path: &Path, symbol: &str) -> Result<Variable, TargetError> {
    let data = open(path)?;
    let obj = parse(path, &data)?;
    let data_symbols = || {
        obj.symbols()
            .chain(obj.dynamic_symbols())
            .filter(|s| s.kind() == SymbolKind::Data && s.is_definition())
    };
    let from_symbols = data_symbols()
        .find(|s| s.name() == Ok(symbol))
        .or_else(|| {
            // A Rust path (`crate::module::STATS`) names a mangled symbol.
            symbol.contains("::").then(|| {
                data_symbols().find(|s| {
                    s.name()
                        .is_ok_and(|n| rust_path(n).as_deref() == Some(symbol))
                })
            })?
        })
        .map(|s| Variable {
            vaddr: s.address(),
            size: s.size(),
        });
    if let Some(v) = from_symbols {
        return Ok(v);
    }
    match super::dwarf::variable(&obj, symbol) {
        Ok(Some((vaddr, size))) => Ok(Variable { vaddr, size }),
        Ok(None) => Err(TargetError::SymbolNotFound {
            symbol: symbol.to_string(),
            path: path.to_path_buf(),
        }),
        Err(e) => {
            tracing::debug!(symbol, "DWARF unreadable: {e}");
            Err(TargetError::SymbolNotFound {
                symbol: symbol.to_string(),
                path: path.to_path_buf(),
            })
        }
    }
}

/// The path a mangled Rust symbol demangles to, without its hash (`crate::module::STATS`); None
/// for a symbol that is not a mangled Rust one.
fn rust_path(symbol: &str) -> Option<String> {
    rustc_demangle::try_demangle(symbol)
        .ok()
        .map(|d| format!("{d:#}"))
}

/// The global variable `symbol` as the DWARF of the ELF file at `path` describes it.
#[cfg(test)]
pub(crate) fn dwarf_variable(path: &Path, symbol: &str) -> Option<Variable> {
    let data = open(path).ok()?;
    let obj = parse(path, &data).ok()?;
    let (vaddr, size) = super::dwarf::variable(&obj, symbol).ok()??;
    Some(Variable { vaddr, size })
}

/// The defined function `symbol` of `obj` (symtab first, then dynsym), where it is file-backed.
pub(crate) fn function_site<'a, R: object::ReadRef<'a>>(
    obj: &object::File<'a, R>,
    symbol: &str,
) -> Option<ProbeSite> {
    obj.symbols()
        .chain(obj.dynamic_symbols())
        .filter(|s| s.kind() == SymbolKind::Text && s.is_definition())
        .filter(|s| s.name() == Ok(symbol))
        .find_map(|s| site_of(obj, &s))
}

/// The probe site of a symbol; `None` (with a warning) when no file-backed section holds it.
pub(crate) fn site_of<'a, R: object::ReadRef<'a>>(
    obj: &object::File<'a, R>,
    sym: &object::Symbol<'a, '_, R>,
) -> Option<ProbeSite> {
    site_at(obj, sym.name().ok()?, sym.address(), sym.section_index())
}

/// The probe site of the function `name` at `vaddr` (from any function table; `section` when
/// known); `None` (with a warning) when no file-backed section holds it.
pub(crate) fn site_at<'a, R: object::ReadRef<'a>>(
    obj: &object::File<'a, R>,
    name: &str,
    vaddr: u64,
    section: Option<object::SectionIndex>,
) -> Option<ProbeSite> {
    let Some(file_offset) = file_offset_of(obj, section, vaddr) else {
        tracing::warn!(
            symbol = name,
            vaddr,
            "function is in no file-backed section; not probed"
        );
        return None;
    };
    Some(ProbeSite {
        symbol: name.to_string(),
        vaddr,
        file_offset,
    })
}

/// Opens `path` for lazy, cached reads (executables can be large; only headers, symbols and a
/// few sections are read).
pub(crate) fn open(path: &Path) -> Result<ReadCache<File>, TargetError> {
    let file = File::open(path).map_err(|e| TargetError::io(path, e))?;
    Ok(ReadCache::new(file))
}

/// Parses `data` as a 64-bit x86-64 ELF file (`path` names it in errors).
pub(crate) fn parse<'a, R: object::ReadRef<'a>>(
    path: &Path,
    data: R,
) -> Result<object::File<'a, R>, TargetError> {
    let obj = object::File::parse(data).map_err(|e| TargetError::NotElf {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    if obj.format() != object::BinaryFormat::Elf {
        return Err(TargetError::NotElf {
            path: path.to_path_buf(),
            reason: format!("it is a {:?} file", obj.format()),
        });
    }
    if !obj.is_64() {
        return Err(TargetError::Unsupported {
            path: path.to_path_buf(),
            what: "32-bit ELF; clprof probes 64-bit x86-64 programs".into(),
        });
    }
    if obj.architecture() != object::Architecture::X86_64 {
        return Err(TargetError::Unsupported {
            path: path.to_path_buf(),
            what: format!(
                "{:?} code; clprof probes 64-bit x86-64 programs",
                obj.architecture()
            ),
        });
    }
    Ok(obj)
}

/// File offset of `vaddr`: `vaddr - section.address + section file offset`, using the symbol's
/// section when it holds `vaddr`, else any section that does.
pub(crate) fn file_offset_of<'a, R: object::ReadRef<'a>>(
    obj: &object::File<'a, R>,
    index: Option<object::SectionIndex>,
    vaddr: u64,
) -> Option<u64> {
    let holds = |s: &object::Section<'a, '_, R>| {
        s.address() <= vaddr
            && vaddr < s.address().saturating_add(s.size())
            && s.file_range().is_some()
    };
    let section = index
        .and_then(|i| obj.section_by_index(i).ok())
        .filter(|s| holds(s))
        .or_else(|| obj.sections().find(|s| holds(s)))?;
    let (offset, _) = section.file_range()?;
    // A corrupt section can put its file offset near u64::MAX.
    (vaddr - section.address()).checked_add(offset)
}

/// A `PT_LOAD` program header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LoadSegment {
    pub offset: u64,
    pub vaddr: u64,
    pub filesz: u64,
    pub memsz: u64,
}

/// The `PT_LOAD` segments of the ELF file at `path` (reads only the headers).
pub(crate) fn read_load_segments(path: &Path) -> Result<Vec<LoadSegment>, TargetError> {
    let data = open(path)?;
    let obj = parse(path, &data)?;
    Ok(load_segments(&obj))
}

/// The `PT_LOAD` segments of `obj`.
pub(crate) fn load_segments<'a, R: object::ReadRef<'a>>(
    obj: &object::File<'a, R>,
) -> Vec<LoadSegment> {
    obj.segments()
        .map(|s| {
            let (offset, filesz) = s.file_range();
            LoadSegment {
                offset,
                vaddr: s.address(),
                filesz,
                memsz: s.size(),
            }
        })
        .collect()
}

#[cfg(test)]
#[path = "elf_tests.rs"]
mod tests;
