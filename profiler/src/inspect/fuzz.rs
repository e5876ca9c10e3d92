//! Byte-level entry points into the ELF readers and the instruction decoder, for the fuzz
//! targets in `fuzz/`: they run each on untrusted bytes and throw the results away. A panic here
//! is a bug.

use std::path::Path;

use object::{Object, ObjectSymbol};

use super::{buildinfo, dwarf, elf, layout_dwarf, map_types, operand};

const SHOWN: &str = "<fuzz input>";

/// The ELF header, symbol, segment, buildinfo and map type-descriptor readers on `data`.
pub fn elf_bytes(data: &[u8]) {
    // The buildinfo parsers also take raw section bytes.
    let _ = buildinfo::parse_buildinfo_version(data);
    let _ = buildinfo::parse_go_buildid_note(data, true);
    let _ = buildinfo::read_uvarint(data);
    let Ok(obj) = elf::parse(Path::new(SHOWN), data) else {
        return;
    };
    let _ = elf::load_segments(&obj);
    let _ = buildinfo::go_version(&obj);
    let _ = buildinfo::build_id(&obj);
    for sym in obj.symbols().take(64) {
        let _ = elf::site_of(&obj, &sym);
    }
    let _ = elf::function_site(&obj, "runtime.mapassign");
    let is_pie = obj.kind() == object::ObjectKind::Dynamic;
    let base = map_types::types_base(&obj, is_pie, || None);
    if let Some(base) = base {
        // Descriptors at the base itself and at a few symbol addresses.
        let _ = map_types::type_name_in(data, &obj, base, base);
        for sym in obj.symbols().take(16) {
            let _ = map_types::type_name_in(data, &obj, base, sym.address());
        }
    }
}

/// The DWARF layout reader (map header structs, map types, global variables) on `data`.
pub fn dwarf_bytes(data: &[u8]) {
    let Ok(obj) = elf::parse(Path::new(SHOWN), data) else {
        return;
    };
    let _ = layout_dwarf::scan(&obj);
    let _ = dwarf::variable(&obj, "main.counter");
}

/// The decoder of sampled data accesses on `data` as one function's code: every IP in it and just
/// past it, the first 8 bytes (little-endian) giving where the function starts.
pub fn operand_bytes(data: &[u8]) {
    let Some((start, code)) = data.split_first_chunk::<8>() else {
        return;
    };
    let func = u64::from_le_bytes(*start);
    for offset in 0..=code.len() as u64 {
        if let Ok(found) = operand::access_at(code, func, func.wrapping_add(offset)) {
            let _ = found.operand.address(|r| r as u64);
        }
    }
}
