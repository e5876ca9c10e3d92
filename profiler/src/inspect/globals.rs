//! Global variables by address, for naming the words of a sampled line: the data symbol that
//! holds an address (`.symtab`, then `.dynsym`), with the struct member from the variable's
//! DWARF type: `main.hot.b`, else `main.hot+8`.

use std::{
    collections::{HashMap, HashSet},
    path::Path,
};

use object::{Object as _, ObjectSymbol as _, SymbolKind};

use super::{
    dwarf_globals::global_members,
    elf::{open, parse},
    FieldInfo, TargetError,
};

/// One defined data symbol.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Global {
    vaddr: u64,
    size: u64,
    name: String,
}

/// The names of the global variables holding `addrs` (file addresses, before any load bias) in
/// the ELF file at `path`; addresses in no global are absent.
pub fn name_addresses(path: &Path, addrs: &[u64]) -> Result<HashMap<u64, String>, TargetError> {
    let data = open(path)?;
    let obj = parse(path, &data)?;
    let mut globals: Vec<Global> = obj
        .symbols()
        .chain(obj.dynamic_symbols())
        .filter(|s| s.kind() == SymbolKind::Data && s.is_definition())
        .filter_map(|s| {
            Some(Global {
                vaddr: s.address(),
                size: s.size(),
                name: s.name().ok()?.to_owned(),
            })
        })
        .collect();
    globals.sort_unstable_by(|a, b| a.vaddr.cmp(&b.vaddr).then(b.size.cmp(&a.size)));
    globals.dedup_by_key(|g| g.vaddr);
    let found: Vec<(u64, &Global)> = addrs
        .iter()
        .filter_map(|&a| Some((a, holding(&globals, a)?)))
        .collect();
    let wanted: HashSet<&str> = found.iter().map(|(_, g)| g.name.as_str()).collect();
    let members = global_members(&obj, &wanted).unwrap_or_else(|e| {
        tracing::debug!(path = %path.display(), "no struct members for globals: {e}");
        HashMap::new()
    });
    Ok(found
        .into_iter()
        .map(|(a, g)| (a, name_in(g, a - g.vaddr, members.get(&g.name))))
        .collect())
}

/// The global holding `addr`: the last one starting at or below it whose size covers it (one
/// of unknown size covers its first byte only).
fn holding(globals: &[Global], addr: u64) -> Option<&Global> {
    let at = globals.partition_point(|g| g.vaddr <= addr);
    let g = globals.get(at.checked_sub(1)?)?;
    (addr < g.vaddr + g.size.max(1)).then_some(g)
}

/// `global.member` for the member holding byte `offset` (with `+N` when inside it), else
/// `global+offset` (or the bare name at offset 0).
fn name_in(g: &Global, offset: u64, members: Option<&Vec<FieldInfo>>) -> String {
    // A zero-sized member (Go's `_ noCopy` at the start of a sync.Mutex) holds no byte: the
    // member after it at the same offset does. One of unknown size (0) counts as one byte.
    let member = members.and_then(|m| {
        let holds = |f: &&FieldInfo, size: u64| offset >= f.offset && offset < f.offset + size;
        let sized = m.iter().find(|f| f.size > 0 && holds(f, f.size));
        sized.or_else(|| m.iter().find(|f| holds(f, 1)))
    });
    match (member, offset) {
        (Some(f), _) if offset == f.offset => format!("{}.{}", g.name, f.name),
        (Some(f), _) => format!("{}.{}+{}", g.name, f.name, offset - f.offset),
        (None, 0) => g.name.clone(),
        (None, _) => format!("{}+{offset}", g.name),
    }
}

#[cfg(test)]
#[path = "globals_tests.rs"]
mod tests;
