use super::super::{inspect_binary, layout_dwarf};
use super::*;
use crate::test_support::{go_program, GoBuild};

#[test]
fn flavor_choice() {
    assert_eq!(choose_flavor(Some((1, 19)), false), LayoutFlavor::Classic);
    assert_eq!(choose_flavor(Some((1, 23)), false), LayoutFlavor::Classic);
    // 1.24/1.25 without swiss symbols: GOEXPERIMENT=noswissmap.
    assert_eq!(choose_flavor(Some((1, 24)), false), LayoutFlavor::Classic);
    assert_eq!(choose_flavor(Some((1, 24)), true), LayoutFlavor::Swiss);
    assert_eq!(choose_flavor(Some((1, 27)), false), LayoutFlavor::Swiss);
    assert_eq!(choose_flavor(None, true), LayoutFlavor::Swiss);
    assert_eq!(choose_flavor(None, false), LayoutFlavor::Classic);
}

#[test]
fn builtin_tables() {
    let classic = builtin(LayoutFlavor::Classic, (1, 21)).unwrap();
    assert_eq!(classic.type_name, "runtime.hmap");
    assert_eq!(classic.written[0], f("flags", 8, 1));
    assert_eq!(classic.written[1], f("count", 0, 8));
    assert_eq!(classic.field_at(9).unwrap().name, "B");
    assert_eq!(classic.field_at(15).unwrap().name, "hash0");
    assert_eq!(classic.field_at(47).unwrap().name, "extra");
    assert_eq!(classic.field_at(48), None);
    assert_eq!(classic.writing, f("flags", 8, 1));
    assert_eq!(classic.writing_mask, HASH_WRITING);
    assert_eq!(classic.growth, Some(f("oldbuckets", 24, 8)));
    let swiss = builtin(LayoutFlavor::Swiss, (1, 27)).unwrap();
    assert_eq!(swiss.written[0], f("writing", 34, 1));
    assert_eq!(swiss.written[1], f("used", 0, 8));
    assert_eq!(swiss.field_at(36), None, "padding");
    assert_eq!(swiss.field("clearSeq").unwrap().offset, 40);
    assert_eq!(
        (swiss.writing.clone(), swiss.writing_mask),
        (f("writing", 34, 1), 0xff)
    );
    assert_eq!(swiss.growth, None);
    assert_eq!(
        builtin(LayoutFlavor::Swiss, (1, 24)).unwrap().field_at(35),
        None
    );
    assert!(builtin(LayoutFlavor::Classic, (1, 25)).is_some());
    assert!(builtin(LayoutFlavor::Classic, (1, 26)).is_none());
    assert!(builtin(LayoutFlavor::Swiss, (1, 23)).is_none());
    assert!(builtin(LayoutFlavor::Classic, (1, 18)).is_none());
    assert!(builtin(LayoutFlavor::Swiss, (1, 28)).is_none());
    assert!(builtin(LayoutFlavor::Swiss, (2, 0)).is_none());
    for l in [classic, swiss] {
        assert_eq!(l.header_size, 48);
        assert!(l
            .fields
            .windows(2)
            .all(|w| w[0].offset + w[0].size <= w[1].offset));
    }
}

#[test]
fn from_fields_needs_writing_but_not_growth() {
    let src = LayoutSource::Dwarf;
    // A classic header without oldbuckets still has a layout, without a growth field.
    let l = MapLayout::from_fields(
        LayoutFlavor::Classic,
        src,
        16,
        vec![f("flags", 8, 1), f("count", 0, 8)],
    )
    .unwrap();
    assert_eq!(l.growth, None);
    assert_eq!(l.writing, l.written[0]);
    // Without the writing field there is no layout.
    let none = MapLayout::from_fields(LayoutFlavor::Swiss, src, 8, vec![f("used", 0, 8)]);
    assert_eq!(none, None);
}

/// DWARF layout of the `with` build, built-in layout of the `without` (-ldflags=-w) build.
fn dwarf_and_builtin(with: GoBuild, without: GoBuild) -> (MapLayout, MapLayout) {
    let a = inspect_binary(&go_program(with))
        .expect("inspect DWARF build")
        .layout;
    let b = inspect_binary(&go_program(without))
        .expect("inspect -w build")
        .layout;
    assert_eq!(a.source, LayoutSource::Dwarf);
    assert_eq!(b.source, LayoutSource::BuiltinTable);
    (a, b)
}

fn assert_same_but_source(dwarf: &MapLayout, table: &MapLayout) {
    assert_eq!(dwarf.flavor, table.flavor);
    assert_eq!(dwarf.type_name, table.type_name);
    assert_eq!(dwarf.header_size, table.header_size);
    assert_eq!(dwarf.written, table.written);
    assert_eq!(dwarf.writing, table.writing);
    assert_eq!(dwarf.writing_mask, table.writing_mask);
    assert_eq!(dwarf.growth, table.growth);
    assert_eq!(
        dwarf.fields, table.fields,
        "built-in table differs from DWARF"
    );
}

#[test]
fn go_old_classic_dwarf_matches_table() {
    let (dwarf, table) = dwarf_and_builtin(GoBuild::OldDwarf, GoBuild::OldNoDwarf);
    assert_eq!(dwarf.flavor, LayoutFlavor::Classic);
    assert_eq!(dwarf.type_name, "runtime.hmap");
    assert_eq!(dwarf.header_size, 48);
    assert_eq!(dwarf.written, [f("flags", 8, 1), f("count", 0, 8)]);
    // hashWriting in flags; oldbuckets marks a growth in progress.
    assert_eq!(
        (dwarf.writing.clone(), dwarf.writing_mask),
        (f("flags", 8, 1), 4)
    );
    assert_eq!(dwarf.growth, Some(f("oldbuckets", 24, 8)));
    assert_same_but_source(&dwarf, &table);
}

#[test]
fn go_new_swiss_dwarf_matches_table() {
    let (dwarf, table) = dwarf_and_builtin(GoBuild::NewDwarf, GoBuild::NewNoDwarf);
    assert_eq!(dwarf.flavor, LayoutFlavor::Swiss);
    assert_eq!(dwarf.type_name, "internal/runtime/maps.Map");
    assert_eq!(dwarf.header_size, 48);
    assert_eq!(dwarf.written, [f("writing", 34, 1), f("used", 0, 8)]);
    // Any nonzero writing byte means a writer is inside; no growth field.
    assert_eq!(
        (dwarf.writing.clone(), dwarf.writing_mask),
        (f("writing", 34, 1), 0xff)
    );
    assert_eq!(dwarf.growth, None);
    assert_same_but_source(&dwarf, &table);
}

#[test]
fn no_dwarf_and_no_version_is_unknown_layout() {
    let path = go_program(GoBuild::NewNoDwarf);
    let structs = structs_of(&path);
    assert!(structs.is_empty());
    let err = resolve_layout(Ok(&structs), &path, None, true).unwrap_err();
    assert!(matches!(err, TargetError::UnknownLayout { .. }), "{err}");
    assert!(err.to_string().contains("-ldflags=-w"), "{err}");
    // A version past the table is unknown too.
    let err = resolve_layout(Ok(&structs), &path, Some("go1.99.0"), true).unwrap_err();
    assert!(err.to_string().contains("go1.99.0"), "{err}");
    // Broken DWARF falls back to the table.
    let layout = resolve_layout(Err("bad"), &path, Some("go1.27.3"), true).unwrap();
    assert_eq!(layout.source, LayoutSource::BuiltinTable);
    // With DWARF the version does not matter.
    let path = go_program(GoBuild::NewDwarf);
    let layout = resolve_layout(Ok(&structs_of(&path)), &path, None, true).unwrap();
    assert_eq!(layout.source, LayoutSource::Dwarf);
}

/// The map header structs in the DWARF of the binary at `path`.
fn structs_of(path: &std::path::Path) -> Vec<DwarfStruct> {
    let data = std::fs::read(path).unwrap();
    let obj = object::File::parse(&*data).unwrap();
    layout_dwarf::scan(&obj).expect("DWARF parses").structs
}

#[test]
fn serde_names() {
    assert_eq!(
        serde_json::to_string(&LayoutFlavor::Swiss).unwrap(),
        "\"swiss\""
    );
    assert_eq!(
        serde_json::to_string(&LayoutFlavor::Classic).unwrap(),
        "\"classic\""
    );
}
