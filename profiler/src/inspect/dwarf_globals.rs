//! The struct members of global variables, from the DWARF: what names the field a sampled
//! address falls in (`main.hot` at offset 8 is `main.hot.b`).

use std::collections::{HashMap, HashSet};

use gimli::{AttributeValue, EndianSlice, UnitOffset};

use super::{
    dwarf::{
        attr_str, endian_of, load, members, resolve_ref, units, UnitAbbrevs, MAX_TYPE_HOPS, R,
    },
    FieldInfo,
};

/// The members of the struct type of each global variable of `names` in `obj` (typedefs
/// followed), in one pass over the units; variables of other types, or absent, are left out.
pub(crate) fn global_members<'a, Rd: object::ReadRef<'a>>(
    obj: &object::File<'a, Rd>,
    names: &HashSet<&str>,
) -> Result<HashMap<String, Vec<FieldInfo>>, String> {
    let Some(sections) = load(obj)? else {
        return Ok(HashMap::new());
    };
    let dwarf = sections.borrow(|s| EndianSlice::new(s, endian_of(obj)));
    scan(&dwarf, names).map_err(|e| format!("DWARF: {e}"))
}

fn scan(
    dwarf: &gimli::Dwarf<R<'_>>,
    names: &HashSet<&str>,
) -> gimli::Result<HashMap<String, Vec<FieldInfo>>> {
    let units = units(dwarf)?;
    let mut out = HashMap::new();
    for (idx, unit) in units.iter().enumerate() {
        let mut entries = unit.header.entries(&unit.abbrevs);
        while let Some((_, entry)) = entries.next_dfs()? {
            if entry.tag() != gimli::DW_TAG_variable {
                continue;
            }
            let Some(name) = entry
                .attr_value(gimli::DW_AT_name)?
                .and_then(|v| attr_str(dwarf, v))
                .filter(|n| names.contains(n.as_str()) && !out.contains_key(n))
            else {
                continue;
            };
            let Some(t) = entry.attr_value(gimli::DW_AT_type)? else {
                continue;
            };
            if let Some((sidx, off, size)) = struct_of(&units, idx, t, 0) {
                out.insert(name, members(dwarf, &units, sidx, off, size)?);
            }
        }
    }
    Ok(out)
}

/// The struct type `t` refers to (its unit, offset and byte size), following typedef, const
/// and volatile chains; None for any other type.
fn struct_of(
    units: &[UnitAbbrevs<'_>],
    idx: usize,
    t: AttributeValue<R<'_>>,
    hops: u32,
) -> Option<(usize, UnitOffset, u64)> {
    if hops > MAX_TYPE_HOPS {
        return None;
    }
    let (idx, off) = resolve_ref(units, idx, t)?;
    let unit = &units[idx];
    let entry = unit.header.entry(&unit.abbrevs, off).ok()?;
    match entry.tag() {
        gimli::DW_TAG_structure_type => {
            let size = entry
                .attr_value(gimli::DW_AT_byte_size)
                .ok()??
                .udata_value()?;
            Some((idx, off, size))
        }
        gimli::DW_TAG_typedef | gimli::DW_TAG_const_type | gimli::DW_TAG_volatile_type => {
            let next = entry.attr_value(gimli::DW_AT_type).ok()??;
            struct_of(units, idx, next, hops + 1)
        }
        _ => None,
    }
}
