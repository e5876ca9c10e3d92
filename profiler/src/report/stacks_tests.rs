use object::{Object as _, ObjectSymbol as _};
use profiler_common::operand::DataAccessKind;

use super::*;
use crate::{
    symbolize::Symbolizer,
    test_support::{go_program, GoBuild},
};

/// Where `function` of the test program at `path` adds to its receiver's field at `disp`.
fn the_add(path: &std::path::Path, function: &str, disp: i64) -> u64 {
    let data = std::fs::read(path).expect("read the test program");
    let obj = object::File::parse(&*data).expect("parse the test program");
    let func = obj
        .symbols()
        .find(|s| s.name() == Ok(function))
        .expect("the function in the symbol table");
    let sym = Symbolizer::open(path).expect("open the test program");
    let (entry, code) = sym.code_at(func.address()).expect("its code");
    (entry..entry + code.len() as u64)
        .find(|&ip| {
            access_for(code, entry, ip, SampleIp::Exact).is_ok_and(|a| {
                a.operand.kind == DataAccessKind::Locked as u8 && a.operand.disp == disp
            })
        })
        .expect("a locked add to the field")
}

/// A target running the program at `path`, loaded at its own addresses.
fn target(path: &std::path::Path) -> Target {
    let mut target = Target::launched(1, path, None);
    target.symbolizer = Some(Symbolizer::open(path).expect("open the test program"));
    target.bias = Some(0);
    target
}

#[test]
fn a_targets_field_names_are_read_from_its_dwarf_once() {
    let built = go_program(GoBuild::NewDwarf);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("prog");
    std::fs::copy(&built, &path).expect("copy the test program");
    let add = the_add(&path, "main.(*stats).miss", 8);
    let (mut named, mut fresh) = (vec![target(&path)], vec![target(&path)]);
    let (raw, xol) = (HashMap::new(), HashMap::new());
    let mut stacks = Stacks::new(&raw, &xol, &mut named).with_sample_ip(SampleIp::Exact);
    let first = stacks.heap_fields(1, &[add]);
    assert_eq!(
        first.get(&add).map(String::as_str),
        Some("main.stats.misses")
    );
    // With the file gone its DWARF cannot be read again: the names come from the target…
    std::fs::remove_file(&path).expect("remove the copy");
    assert_eq!(stacks.heap_fields(1, &[add]), first);
    // …as a target that has not had them named finds none.
    let mut stacks = Stacks::new(&raw, &xol, &mut fresh).with_sample_ip(SampleIp::Exact);
    assert!(stacks.heap_fields(1, &[add]).is_empty());
    drop(stacks);
    assert!(
        fresh[0].field_names.is_empty(),
        "a failed lookup is not kept"
    );
}
