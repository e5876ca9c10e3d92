//! The map header structs and the map types out of a Go binary's DWARF, in one pass over
//! `.debug_info` (the reader is [`super::dwarf`]).

use gimli::EndianSlice;

use super::dwarf::{self, DwarfStruct, R};
use super::layout::{CLASSIC_TYPE, SWISS_TYPE};
use super::map_types::{self, MapTypeRef};

/// What the one pass over `.debug_info` finds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct DwarfTypes {
    /// `runtime.hmap` and/or `internal/runtime/maps.Map`, as far as described.
    pub structs: Vec<DwarfStruct>,
    /// Every map type with a runtime type descriptor, in DIE order.
    pub map_types: Vec<MapTypeRef>,
}

/// Reads the map header structs ([`CLASSIC_TYPE`], [`SWISS_TYPE`]) and the map types out of the
/// DWARF of `obj`, in one pass over `.debug_info`. Empty when the binary has no DWARF
/// (`-ldflags=-w`); an error when the DWARF is malformed.
pub(crate) fn scan<'a, Rd: object::ReadRef<'a>>(
    obj: &object::File<'a, Rd>,
) -> Result<DwarfTypes, String> {
    let Some(sections) = dwarf::load(obj)? else {
        return Ok(DwarfTypes::default());
    };
    let dwarf = sections.borrow(|s| EndianSlice::new(s, dwarf::endian_of(obj)));
    scan_units(&dwarf, &[CLASSIC_TYPE, SWISS_TYPE]).map_err(|e| format!("DWARF: {e}"))
}

fn scan_units(dwarf: &gimli::Dwarf<R<'_>>, wanted: &[&str]) -> gimli::Result<DwarfTypes> {
    let units = dwarf::units(dwarf)?;
    let mut found = DwarfTypes::default();
    for (idx, unit) in units.iter().enumerate() {
        let mut entries = unit.header.entries(&unit.abbrevs);
        while let Some((_, entry)) = entries.next_dfs()? {
            match entry.tag() {
                gimli::DW_TAG_structure_type => {}
                // Go writes map types as typedefs (cmd/internal/dwarf DW_ABRV_MAPTYPE).
                gimli::DW_TAG_typedef => {
                    found
                        .map_types
                        .extend(map_types::map_type_ref(dwarf, entry)?);
                    continue;
                }
                _ => continue,
            }
            let Some(name) = entry
                .attr_value(gimli::DW_AT_name)?
                .and_then(|v| dwarf::attr_str(dwarf, v))
            else {
                continue;
            };
            if !wanted.contains(&name.as_str()) || found.structs.iter().any(|s| s.name == name) {
                continue;
            }
            let Some(byte_size) = entry
                .attr_value(gimli::DW_AT_byte_size)?
                .and_then(|v| v.udata_value())
            else {
                continue;
            };
            let fields = dwarf::members(dwarf, &units, idx, entry.offset(), byte_size)?;
            tracing::trace!(%name, byte_size, fields = fields.len(), "found map header in DWARF");
            found.structs.push(DwarfStruct {
                name,
                byte_size,
                fields,
            });
        }
    }
    Ok(found)
}

#[cfg(test)]
#[path = "layout_dwarf_tests.rs"]
mod tests;
