use super::*;
use crate::test_support::{go_program, GoBuild};

fn structs_of(build: GoBuild) -> Vec<DwarfStruct> {
    let data = std::fs::read(go_program(build)).unwrap();
    let obj = object::File::parse(&*data).unwrap();
    scan(&obj).expect("DWARF parses").structs
}

fn field(s: &DwarfStruct, name: &str) -> (u64, u64) {
    let f = s
        .fields
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no {name}"));
    (f.offset, f.size)
}

#[test]
fn go_old_hmap() {
    let found = structs_of(GoBuild::OldDwarf);
    let hmap = found
        .iter()
        .find(|s| s.name == CLASSIC_TYPE)
        .expect("runtime.hmap in DWARF");
    assert!(found.iter().all(|s| s.name != SWISS_TYPE));
    assert_eq!(hmap.byte_size, 48);
    assert_eq!(field(hmap, "count"), (0, 8));
    assert_eq!(field(hmap, "flags"), (8, 1));
    assert_eq!(field(hmap, "noverflow"), (10, 2));
    assert_eq!(field(hmap, "buckets"), (16, 8));
    assert_eq!(field(hmap, "extra"), (40, 8));
    assert_eq!(hmap.fields.len(), 9);
}

#[test]
fn go_new_swiss_map() {
    let found = structs_of(GoBuild::NewDwarf);
    let m = found
        .iter()
        .find(|s| s.name == SWISS_TYPE)
        .expect("maps.Map in DWARF");
    assert_eq!(m.byte_size, 48);
    assert_eq!(field(m, "used"), (0, 8));
    assert_eq!(field(m, "dirPtr"), (16, 8));
    assert_eq!(field(m, "writing"), (34, 1));
    assert_eq!(field(m, "clearSeq"), (40, 8));
}

#[test]
fn stripped_dwarf_is_empty() {
    assert!(structs_of(GoBuild::NewNoDwarf).is_empty());
    assert!(structs_of(GoBuild::OldNoDwarf).is_empty());
}
