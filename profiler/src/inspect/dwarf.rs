//! Reading a Go binary's DWARF: the sections loaded (only those type lookups need), global
//! variables by name, struct members with their offsets and sizes, type references followed
//! across units.
//!
//! The Go linker (cmd/link/internal/ld/dwarf.go) writes every named Go type as a
//! `DW_TAG_structure_type` (plus a `DW_TAG_typedef` of the same name) with `DW_AT_byte_size`;
//! members carry `DW_AT_data_member_location` as a constant and `DW_AT_type` references that may
//! point into another compilation unit. Debug sections are compressed (`SHF_COMPRESSED` since
//! Go 1.20's linker in practice, `.zdebug_*` before); `object` handles both.

use std::borrow::Cow;

use gimli::{AttributeValue, EndianSlice, Reader, RunTimeEndian, UnitOffset};
use object::{Object, ObjectSection};

use super::FieldInfo;

/// The reader all DWARF parsing in clprof's inspection uses: sections fully in memory.
pub(crate) type R<'d> = EndianSlice<'d, RunTimeEndian>;

/// A struct type found in DWARF.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DwarfStruct {
    pub name: String,
    pub byte_size: u64,
    /// Members in DIE order.
    pub fields: Vec<FieldInfo>,
}

/// Sections the type lookup needs; the others (line tables, locations: most of the bytes) are
/// not decompressed.
fn needed(id: gimli::SectionId) -> bool {
    use gimli::SectionId::*;
    matches!(id, DebugInfo | DebugAbbrev | DebugStr | DebugLineStr)
}

/// The global variable `name` described in the DWARF of `obj`: its address (a
/// `DW_AT_location` of `DW_OP_addr`, before any load bias) and size (of its type; 0 when not
/// given). None when the binary has no DWARF or no such variable.
pub(crate) fn variable<'a, Rd: object::ReadRef<'a>>(
    obj: &object::File<'a, Rd>,
    name: &str,
) -> Result<Option<(u64, u64)>, String> {
    let Some(sections) = load(obj)? else {
        return Ok(None);
    };
    let dwarf = sections.borrow(|s| EndianSlice::new(s, endian_of(obj)));
    find_variable(&dwarf, name).map_err(|e| format!("DWARF: {e}"))
}

pub(crate) fn endian_of<'a, Rd: object::ReadRef<'a>>(obj: &object::File<'a, Rd>) -> RunTimeEndian {
    if obj.is_little_endian() {
        RunTimeEndian::Little
    } else {
        RunTimeEndian::Big
    }
}

/// The sections [`needed`] of `obj`, decompressed; None without `.debug_info`.
pub(crate) fn load<'a, Rd: object::ReadRef<'a>>(
    obj: &object::File<'a, Rd>,
) -> Result<Option<gimli::DwarfSections<Cow<'a, [u8]>>>, String> {
    load_with(obj, needed)
}

/// The sections of `obj` that `wanted` selects, decompressed (the others empty); None without
/// `.debug_info`.
pub(crate) fn load_with<'a, Rd: object::ReadRef<'a>>(
    obj: &object::File<'a, Rd>,
    wanted: impl Fn(gimli::SectionId) -> bool,
) -> Result<Option<gimli::DwarfSections<Cow<'a, [u8]>>>, String> {
    if obj.section_by_name(".debug_info").is_none() {
        return Ok(None);
    }
    let sections = gimli::DwarfSections::load(|id| -> Result<Cow<'a, [u8]>, String> {
        if !wanted(id) {
            return Ok(Cow::Borrowed(&[]));
        }
        // section_by_name also finds ".zdebug_*" for ".debug_*" names.
        match obj.section_by_name(id.name()) {
            Some(s) => s
                .uncompressed_data()
                .map_err(|e| format!("{}: {e}", id.name())),
            None => Ok(Cow::Borrowed(&[])),
        }
    })?;
    Ok(Some(sections))
}

/// The first `DW_TAG_variable` named `name` with a fixed address.
fn find_variable(dwarf: &gimli::Dwarf<R<'_>>, name: &str) -> gimli::Result<Option<(u64, u64)>> {
    let units = units(dwarf)?;
    for (idx, unit) in units.iter().enumerate() {
        let mut entries = unit.header.entries(&unit.abbrevs);
        while let Some((_, entry)) = entries.next_dfs()? {
            if entry.tag() != gimli::DW_TAG_variable {
                continue;
            }
            let named = entry
                .attr_value(gimli::DW_AT_name)?
                .and_then(|v| attr_str(dwarf, v));
            if named.as_deref() != Some(name) {
                continue;
            }
            let Some(addr) = entry.attr_value(gimli::DW_AT_location)?.and_then(|v| {
                let expr = v.exprloc_value()?;
                fixed_address(expr.0.slice(), unit.header.encoding().address_size)
            }) else {
                continue;
            };
            let size = match entry.attr_value(gimli::DW_AT_type)? {
                Some(t) => type_size(&units, idx, t, 0).unwrap_or(0),
                None => 0,
            };
            return Ok(Some((addr, size)));
        }
    }
    Ok(None)
}

/// The address of a location expression that is exactly `DW_OP_addr ADDR`.
fn fixed_address(expr: &[u8], address_size: u8) -> Option<u64> {
    let (&op, rest) = expr.split_first()?;
    if op != gimli::DW_OP_addr.0 || rest.len() != usize::from(address_size) {
        return None;
    }
    let mut bytes = [0u8; 8];
    bytes[..rest.len()].copy_from_slice(rest);
    Some(u64::from_le_bytes(bytes))
}

/// A unit header with its abbreviations. `gimli::Unit` is not used because building one also
/// parses the unit's line program, and `.debug_line` is deliberately not loaded.
pub(crate) struct UnitAbbrevs<'d> {
    pub header: gimli::UnitHeader<R<'d>>,
    pub abbrevs: std::sync::Arc<gimli::Abbreviations>,
}

/// Every unit header of `dwarf` with its abbreviations.
pub(crate) fn units<'d>(dwarf: &gimli::Dwarf<R<'d>>) -> gimli::Result<Vec<UnitAbbrevs<'d>>> {
    let mut units = Vec::new();
    let mut headers = dwarf.units();
    while let Some(header) = headers.next()? {
        let abbrevs = dwarf.abbreviations(&header)?;
        units.push(UnitAbbrevs { header, abbrevs });
    }
    Ok(units)
}

/// A name attribute as a string. Go writes names inline (`DW_FORM_string`); `.debug_str` and
/// `.debug_line_str` references are handled for other producers.
pub(crate) fn attr_str(dwarf: &gimli::Dwarf<R<'_>>, v: AttributeValue<R<'_>>) -> Option<String> {
    let r = match v {
        AttributeValue::String(r) => r,
        AttributeValue::DebugStrRef(o) => dwarf.debug_str.get_str(o).ok()?,
        AttributeValue::DebugLineStrRef(o) => dwarf.debug_line_str.get_str(o).ok()?,
        _ => return None,
    };
    Some(r.to_string_lossy().into_owned())
}

/// The `DW_TAG_member` children of the struct at `offset`, with their sizes.
pub(crate) fn members(
    dwarf: &gimli::Dwarf<R<'_>>,
    units: &[UnitAbbrevs<'_>],
    idx: usize,
    offset: UnitOffset,
    byte_size: u64,
) -> gimli::Result<Vec<FieldInfo>> {
    let unit = &units[idx];
    let mut tree = unit.header.entries_tree(&unit.abbrevs, Some(offset))?;
    let root = tree.root()?;
    let mut children = root.children();
    let mut raw: Vec<(String, u64, Option<u64>)> = Vec::new();
    while let Some(child) = children.next()? {
        let e = child.entry();
        if e.tag() != gimli::DW_TAG_member {
            continue;
        }
        let name = e
            .attr_value(gimli::DW_AT_name)?
            .and_then(|v| attr_str(dwarf, v))
            .unwrap_or_default();
        let Some(off) = e
            .attr_value(gimli::DW_AT_data_member_location)?
            .and_then(member_offset)
        else {
            tracing::debug!(%name, "member without a constant location; skipped");
            continue;
        };
        let size = match e.attr_value(gimli::DW_AT_type)? {
            Some(t) => type_size(units, idx, t, 0),
            None => None,
        };
        raw.push((name, off, size));
    }
    // Members whose type size is unknown extend to the next member (or the struct end).
    let mut offsets: Vec<u64> = raw.iter().map(|r| r.1).collect();
    offsets.sort_unstable();
    Ok(raw
        .into_iter()
        .map(|(name, offset, size)| {
            let size = size.unwrap_or_else(|| {
                let next = offsets
                    .iter()
                    .copied()
                    .find(|&o| o > offset)
                    .unwrap_or(byte_size);
                next.saturating_sub(offset)
            });
            FieldInfo { name, offset, size }
        })
        .collect())
}

/// `DW_AT_data_member_location`: a constant (what Go writes), or a DWARF 2 style
/// `DW_OP_plus_uconst N` expression.
fn member_offset(v: AttributeValue<R<'_>>) -> Option<u64> {
    if let Some(c) = v.udata_value() {
        return Some(c);
    }
    let AttributeValue::Exprloc(expr) = v else {
        return None;
    };
    let mut r = expr.0;
    (r.read_u8().ok()? == gimli::DW_OP_plus_uconst.0).then(|| r.read_uleb128().ok())?
}

/// Most typedef / const hops followed to reach a sized type (Go needs one or two).
pub(crate) const MAX_TYPE_HOPS: u32 = 16;

/// Byte size of the type `t` refers to: its `DW_AT_byte_size`, the address size for pointers,
/// following typedef/const/volatile chains.
fn type_size(
    units: &[UnitAbbrevs<'_>],
    idx: usize,
    t: AttributeValue<R<'_>>,
    hops: u32,
) -> Option<u64> {
    if hops > MAX_TYPE_HOPS {
        return None;
    }
    let (idx, off) = resolve_ref(units, idx, t)?;
    let unit = &units[idx];
    let entry = unit.header.entry(&unit.abbrevs, off).ok()?;
    if let Some(size) = entry
        .attr_value(gimli::DW_AT_byte_size)
        .ok()?
        .and_then(|v| v.udata_value())
    {
        return Some(size);
    }
    match entry.tag() {
        gimli::DW_TAG_pointer_type | gimli::DW_TAG_reference_type => {
            Some(u64::from(unit.header.encoding().address_size))
        }
        gimli::DW_TAG_typedef | gimli::DW_TAG_const_type | gimli::DW_TAG_volatile_type => {
            let next = entry.attr_value(gimli::DW_AT_type).ok()??;
            type_size(units, idx, next, hops + 1)
        }
        _ => None,
    }
}

/// The unit index and unit offset a type reference points at; `DW_FORM_ref_addr` references
/// (section offsets) may land in another unit.
pub(crate) fn resolve_ref(
    units: &[UnitAbbrevs<'_>],
    idx: usize,
    t: AttributeValue<R<'_>>,
) -> Option<(usize, UnitOffset)> {
    match t {
        AttributeValue::UnitRef(off) => Some((idx, off)),
        AttributeValue::DebugInfoRef(off) => units
            .iter()
            .enumerate()
            .find_map(|(i, u)| off.to_unit_offset(&u.header).map(|o| (i, o))),
        _ => None,
    }
}

#[cfg(test)]
#[path = "dwarf_tests.rs"]
mod tests;
