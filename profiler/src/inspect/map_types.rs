//! Go map types by the address of their runtime type descriptor.
//!
//! Every `runtime.mapassign*` gets the map's type (`*abi.MapType`, whose first field is the
//! `abi.Type` descriptor) as its first argument, in RAX under Go's register ABI
//! (cmd/compile/abi-internal.md). The Go linker tags each type DIE with
//! `DW_AT_go_runtime_type` (0x2904, `DW_FORM_addr`) when the descriptor is reachable
//! (cmd/link/internal/ld/dwarf.go `newtype`). Despite the form, the value is not an address: it
//! is written with `AddSectionOffset`, an `R_ADDROFF` relocation, i.e. the descriptor's offset
//! from the start of the section holding the type descriptors (cmd/link/internal/ld/data.go
//! `relocsym`). That section starts at `runtime.types` (`moduledata.types`), and the runtime
//! resolves its own type offsets the same way: `md.types + off` (runtime/type.go
//! `resolveTypeOff`). So descriptor address = `runtime.types` + attribute value.
//!
//! Coverage: the linker writes a type DIE only for types the DWARF refers to (variables, fields,
//! parameters, other types). A map held only in an optimized local that gets no variable DIE
//! (common with Go 1.27) has no DIE, so its type is not named here.

use std::collections::HashMap;

use gimli::{AttributeValue, DebuggingInformationEntry};
use object::{Object, ObjectSection, ObjectSymbol};

use super::dwarf::{attr_str, R};

/// `DW_AT_go_runtime_type` (cmd/internal/dwarf/dwarf.go).
const DW_AT_GO_RUNTIME_TYPE: gimli::DwAt = gimli::DwAt(0x2904);

/// Prefix of Go map type names in DWARF, as `reflect.Type.String` writes them.
const MAP_PREFIX: &[u8] = b"map[";

/// Symbol at the start of the type descriptors (cmd/link/internal/ld/symtab.go).
const TYPES_SYMBOL: &str = "runtime.types";

/// A map type found in DWARF, before its descriptor address is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MapTypeRef {
    /// Go type name, e.g. "map[string]int".
    pub name: String,
    /// `DW_AT_go_runtime_type`: offset of the descriptor from `runtime.types`.
    pub type_offset: u64,
}

/// The map type described by the typedef `entry`, if it is one with a runtime type descriptor.
/// Called for every typedef, so the name is compared before anything is allocated.
pub(crate) fn map_type_ref(
    dwarf: &gimli::Dwarf<R<'_>>,
    entry: &DebuggingInformationEntry<'_, '_, R<'_>>,
) -> gimli::Result<Option<MapTypeRef>> {
    let Some(name) = entry.attr_value(gimli::DW_AT_name)? else {
        return Ok(None);
    };
    // Go writes names inline (DW_FORM_string): check the bytes without allocating.
    if let AttributeValue::String(s) = name {
        if !s.slice().starts_with(MAP_PREFIX) {
            return Ok(None);
        }
    }
    let Some(name) = attr_str(dwarf, name).filter(|n| n.as_bytes().starts_with(MAP_PREFIX)) else {
        return Ok(None);
    };
    let type_offset = match entry.attr_value(DW_AT_GO_RUNTIME_TYPE)? {
        Some(AttributeValue::Addr(a)) => a,
        Some(v) => v.udata_value().unwrap_or(0),
        None => 0,
    };
    // 0 means no descriptor: the linker omits the attribute for unreachable types and writes 0
    // where the relocation was dropped; the runtime treats type offset 0 as nil too
    // (runtime/type.go resolveTypeOff).
    Ok((type_offset != 0).then_some(MapTypeRef { name, type_offset }))
}

/// Descriptor address (file vaddr) → name for `refs`, given where the descriptors start.
/// Empty, with a warning, without that base.
pub(crate) fn descriptor_addresses(base: Option<u64>, refs: &[MapTypeRef]) -> HashMap<u64, String> {
    if refs.is_empty() {
        return HashMap::new();
    }
    let Some(base) = base else {
        tracing::warn!("no runtime.types symbol; map types are not named");
        return HashMap::new();
    };
    let mut out = HashMap::with_capacity(refs.len());
    for r in refs {
        // The first DIE wins; the linker writes one DIE per type.
        out.entry(base.wrapping_add(r.type_offset))
            .or_insert_with(|| r.name.clone());
    }
    out
}

/// Address of the first type descriptor: the `runtime.types` symbol, else the start of the
/// section Go puts descriptors in: `.go.type` (`.data.rel.ro.go.type` in PIE) in recent linkers
/// such as Go 1.27's; in older ones such as Go 1.19's, `runtime.types` is the start of
/// `.rodata`, or of `.data.rel.ro` in PIE, where descriptors hold relocated pointers.
///
/// Without the symbol, `moduledata` (the runtime's own record, asked for only then) comes
/// before the sections: external linkers (cgo) put C data at the start of `.rodata`.
pub(crate) fn types_base<'a, Rd: object::ReadRef<'a>>(
    obj: &object::File<'a, Rd>,
    is_pie: bool,
    moduledata_types: impl FnOnce() -> Option<u64>,
) -> Option<u64> {
    let section = |name| obj.section_by_name(name).map(|s| s.address());
    obj.symbols()
        .find(|s| s.name() == Ok(TYPES_SYMBOL))
        .map(|s| s.address())
        .or_else(moduledata_types)
        .or_else(|| section(".go.type"))
        .or_else(|| section(".data.rel.ro.go.type"))
        .or_else(|| section(if is_pie { ".data.rel.ro" } else { ".rodata" }))
}

/// `abi.Type` (Go 1.21+; `runtime._type` before, same layout from Go 1.19): offsets of
/// `TFlag`, `Kind_` and `Str` (a `NameOff` from the start of the descriptors).
const TFLAG_AT: usize = 20;
const KIND_AT: usize = 23;
const STR_AT: usize = 40;
/// `abi.TFlagExtraStar`: the name has a leading '*' to drop.
const TFLAG_EXTRA_STAR: u8 = 1 << 1;
/// `abi.Map` (`kindMap`), in the low 5 bits of `Kind_`.
const KIND_MAP: u8 = 21;
const KIND_MASK: u8 = 0x1f;
/// Longest type name read.
const MAX_NAME: usize = 4096;

/// The name of the map type whose descriptor is at `vaddr` in the file at `path`, read from the
/// descriptor (runtime/type.go `resolveNameOff`, internal/abi/type.go `Name`): `Str` is an offset
/// from `types_base` to an `abi.Name`: a flags byte, a varint length, the bytes. None when
/// `vaddr` is not a map type's descriptor.
pub(crate) fn read_type_name(
    path: &std::path::Path,
    types_base: u64,
    vaddr: u64,
) -> Option<String> {
    let data = super::elf::open(path).ok()?;
    let obj = super::elf::parse(path, &data).ok()?;
    type_name_in(&data, &obj, types_base, vaddr)
}

/// [`read_type_name`] in the already parsed `obj`, whose bytes are `data`.
pub(crate) fn type_name_in<'a, Rd: object::ReadRef<'a>>(
    data: Rd,
    obj: &object::File<'a, Rd>,
    types_base: u64,
    vaddr: u64,
) -> Option<String> {
    let read = |at: u64, len: usize| -> Option<Vec<u8>> {
        let offset = super::elf::file_offset_of(obj, None, at)?;
        object::ReadRef::read_bytes_at(data, offset, len as u64)
            .ok()
            .map(<[u8]>::to_vec)
    };
    let desc = read(vaddr, STR_AT + 4)?;
    if desc[KIND_AT] & KIND_MASK != KIND_MAP {
        return None;
    }
    let str_off = i32::from_le_bytes(desc[STR_AT..STR_AT + 4].try_into().ok()?);
    let name_at = types_base.checked_add_signed(i64::from(str_off))?;
    let head = read(name_at, 11)?;
    let (len, n) = super::buildinfo::read_uvarint(&head[1..])?;
    let len = usize::try_from(len)
        .ok()
        .filter(|&l| l > 0 && l <= MAX_NAME)?;
    let bytes = read(name_at + 1 + n as u64, len)?;
    let name = String::from_utf8(bytes).ok()?;
    let name = match desc[TFLAG_AT] & TFLAG_EXTRA_STAR {
        0 => name,
        _ => name.strip_prefix('*').map(str::to_owned).unwrap_or(name),
    };
    name.starts_with("map[").then_some(name)
}

#[cfg(test)]
#[path = "map_types_tests.rs"]
mod tests;
