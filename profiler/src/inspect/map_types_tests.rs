use super::super::{inspect_binary, GoBinary};
use super::*;
use crate::test_support::{go_program, GoBuild};

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
        let kind = byte_at(&data, addr + KIND_AT as u64) & KIND_MASK;
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

/// `name` with each package import path cut to its last element.
fn short_package_names(name: &str) -> String {
    let mut out = String::new();
    let mut word = String::new();
    for c in name.chars().chain(std::iter::once(' ')) {
        if c.is_alphanumeric() || "_./".contains(c) {
            word.push(c);
            continue;
        }
        out.push_str(word.rsplit('/').next().unwrap_or(""));
        word.clear();
        out.push(c);
    }
    out.pop();
    out
}

/// Names read from the descriptors agree with the DWARF's, in the same build and in the
/// stripped build of the same code (whose descriptors sit at the same offsets from the
/// types base; earlier sections differ a little in size).
#[test]
fn descriptors_name_the_types_the_dwarf_names() {
    for (with_dwarf, stripped) in [
        (GoBuild::NewDwarf, GoBuild::NewStripped),
        (GoBuild::OldDwarf, GoBuild::OldStripped),
        (GoBuild::NewPie, GoBuild::NewPieStripped),
    ] {
        let named = inspect_binary(&go_program(with_dwarf)).expect("inspect");
        let bare = inspect_binary(&go_program(stripped)).expect("inspect stripped");
        assert!(bare.map_types.is_empty(), "{stripped:?} has no DWARF");
        assert!(
            named.map_types.len() >= 5,
            "{with_dwarf:?}: {:?}",
            named.map_types
        );
        for (&addr, name) in &named.map_types {
            // Descriptors name packages as reflect does (`abi.Type`); DWARF gives the
            // import path (`internal/abi.Type`).
            let name = &short_package_names(name);
            let path = &named.path;
            let read = read_type_name(path, named.types_base.expect("base"), addr);
            assert_eq!(
                read.as_deref(),
                Some(name.as_str()),
                "{with_dwarf:?} at {addr:#x}"
            );
            let moved = addr - named.types_base.expect("base") + bare.types_base.expect("base");
            assert_eq!(
                bare.type_name(moved).as_deref(),
                Some(name.as_str()),
                "{stripped:?} at {addr:#x}"
            );
        }
        // Not a descriptor: no name.
        assert_eq!(bare.type_name(bare.assign_funcs[0].vaddr), None);
    }
}

#[test]
fn offsets_resolve_against_runtime_types() {
    let data = std::fs::read(go_program(GoBuild::NewDwarf)).unwrap();
    let obj = object::File::parse(&*data).unwrap();
    let base = types_base(&obj, false, || None).expect("runtime.types");
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
    let m = descriptor_addresses(Some(base), &refs);
    assert_eq!(m.len(), 1);
    assert_eq!(m[&(base + 0x40)], "map[a]b");
    assert!(descriptor_addresses(Some(base), &[]).is_empty());
}
