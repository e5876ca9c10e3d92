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

use super::layout_dwarf::{attr_str, R};

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

/// Descriptor address (file vaddr) → name for `refs`. Empty, with a warning, when the binary has
/// no `runtime.types` (nor a section it could be inferred from).
pub(crate) fn descriptor_addresses<'a, Rd: object::ReadRef<'a>>(
    obj: &object::File<'a, Rd>,
    refs: &[MapTypeRef],
) -> HashMap<u64, String> {
    if refs.is_empty() {
        return HashMap::new();
    }
    let Some(base) = types_base(obj) else {
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
/// section Go puts descriptors in (`.go.type` in recent linkers such as Go 1.27's; `.rodata`
/// in older ones such as Go 1.19's, where `runtime.types` is also the section start).
fn types_base<'a, Rd: object::ReadRef<'a>>(obj: &object::File<'a, Rd>) -> Option<u64> {
    obj.symbols()
        .find(|s| s.name() == Ok(TYPES_SYMBOL))
        .map(|s| s.address())
        .or_else(|| obj.section_by_name(".go.type").map(|s| s.address()))
        .or_else(|| obj.section_by_name(".rodata").map(|s| s.address()))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{go_program, GoBuild};
    use super::super::{inspect_binary, GoBinary};
    use super::*;

    /// `abi.Kind` of a map (internal/abi/type.go; runtime/typekind.go `kindMap` before 1.21).
    const KIND_MAP: u8 = 21;
    /// Offset of the kind byte in the descriptor: Size_, PtrBytes (8 each), Hash (4), TFlag,
    /// Align_, FieldAlign_ (1 each) — unchanged from Go 1.19's `_type` to 1.27's `abi.Type`.
    const KIND_OFFSET: u64 = 23;
    /// Low bits of the kind byte hold the kind; Go ≤ 1.20 kept flags above them.
    const KIND_MASK: u8 = 0x1f;

    /// The byte of the file at virtual address `vaddr`.
    fn byte_at(data: &[u8], vaddr: u64) -> u8 {
        let obj = object::File::parse(data).unwrap();
        let s = obj
            .sections()
            .find(|s| s.address() <= vaddr && vaddr < s.address() + s.size())
            .unwrap_or_else(|| panic!("no section holds {vaddr:#x}"));
        s.data().unwrap()[(vaddr - s.address()) as usize]
    }

    fn check(build: GoBuild) -> GoBinary {
        let path = go_program(build);
        let bin = inspect_binary(&path).expect("inspect");
        let data = std::fs::read(&path).unwrap();
        let names: Vec<&str> = bin.map_types.values().map(String::as_str).collect();
        for want in ["map[int]int", "map[string]int32"] {
            assert!(names.contains(&want), "{build:?}: {want} not in {names:?}");
        }
        for (&addr, name) in &bin.map_types {
            assert!(name.starts_with("map["), "{name}");
            assert_ne!(addr, 0);
            // The address is a map type descriptor.
            let kind = byte_at(&data, addr + KIND_OFFSET) & KIND_MASK;
            assert_eq!(kind, KIND_MAP, "{build:?}: {name} at {addr:#x}");
        }
        bin
    }

    #[test]
    fn go_new_map_types() {
        let bin = check(GoBuild::NewDwarf);
        assert!(bin.map_types.len() >= 5, "{:?}", bin.map_types);
        // PIE: same file vaddrs scheme, descriptors still resolve.
        check(GoBuild::NewPie);
    }

    #[test]
    fn go_old_map_types() {
        check(GoBuild::OldDwarf);
    }

    #[test]
    fn no_dwarf_no_map_types() {
        for b in [GoBuild::NewNoDwarf, GoBuild::OldNoDwarf] {
            assert!(inspect_binary(&go_program(b)).unwrap().map_types.is_empty());
        }
    }

    #[test]
    fn offsets_resolve_against_runtime_types() {
        let data = std::fs::read(go_program(GoBuild::NewDwarf)).unwrap();
        let obj = object::File::parse(&*data).unwrap();
        let base = types_base(&obj).expect("runtime.types");
        let refs = [
            MapTypeRef {
                name: "map[a]b".into(),
                type_offset: 0x40,
            },
            MapTypeRef {
                name: "map[dup]b".into(),
                type_offset: 0x40,
            },
        ];
        let m = descriptor_addresses(&obj, &refs);
        assert_eq!(m.len(), 1);
        assert_eq!(m[&(base + 0x40)], "map[a]b");
        assert!(descriptor_addresses(&obj, &[]).is_empty());
    }
}
