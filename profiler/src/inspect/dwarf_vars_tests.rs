use object::{Object as _, ObjectSymbol as _};
use profiler_common::operand::{AddrReg, DataAccessKind, NO_REG};

use super::*;
use crate::{
    inspect::operand::access_at,
    symbolize::Symbolizer,
    test_support::{go_program, GoBuild},
};

/// The locked add of `main.(*stats).miss` to `s.misses` (offset 8) in the test program at
/// `path`, as the report would look it up.
fn the_add(path: &Path) -> VarAccess {
    let data = std::fs::read(path).expect("read the test program");
    let obj = object::File::parse(&*data).expect("parse the test program");
    let func = obj
        .symbols()
        .find(|s| s.name() == Ok("main.(*stats).miss"))
        .expect("main.(*stats).miss in the symbol table");
    let sym = Symbolizer::open(path).expect("open the test program");
    let (entry, code) = sym.code_at(func.address()).expect("its code");
    let end = entry + code.len() as u64;
    let access = (entry + 1..=end)
        .filter_map(|ip| access_at(code, entry, ip).ok())
        .find(|a| {
            a.operand.kind == DataAccessKind::Locked as u8
                && a.operand.disp == 8
                && a.operand.index == NO_REG
        })
        .expect("a locked add at offset 8 in main.(*stats).miss");
    let base = AddrReg::from_perf(access.operand.base).expect("a base register");
    VarAccess {
        pc: access.insn_vaddr,
        reg: dwarf_reg(base).expect("a general-purpose base register"),
        disp: 8,
        from_global: None,
    }
}

#[test]
fn the_receiver_s_register_names_the_field_it_points_into() {
    for build in [GoBuild::NewDwarf, GoBuild::OldDwarf] {
        let path = go_program(build);
        let add = the_add(&path);
        let names = fields_of(&path, &[add]).expect("read the DWARF");
        assert_eq!(
            names.get(&add).map(String::as_str),
            Some("main.stats.misses"),
            "{build:?}: {add:?}"
        );
        // Offset 0 is the other field; a register no variable is in names nothing.
        let hits = VarAccess { disp: 0, ..add };
        let elsewhere = VarAccess {
            reg: (add.reg + 1) % 16,
            ..add
        };
        let names = fields_of(&path, &[hits, elsewhere]).expect("read the DWARF");
        assert_eq!(
            names.get(&hits).map(String::as_str),
            Some("main.stats.hits"),
            "{build:?}"
        );
        assert_eq!(names.get(&elsewhere), None, "{build:?}");
    }
}

#[test]
fn without_dwarf_nothing_is_named() {
    let named_build = go_program(GoBuild::NewDwarf);
    let add = the_add(&named_build);
    let bare = go_program(GoBuild::NewNoDwarf);
    // Same source and toolchain: the add sits at the same address without the DWARF.
    let names = fields_of(&bare, &[add]).expect("a binary without DWARF is no error");
    assert!(names.is_empty(), "{names:?}");
}

#[test]
fn registers_map_from_perf_s_numbering_to_dwarf_s() {
    assert_eq!(dwarf_reg(AddrReg::Rax), Some(0));
    assert_eq!(dwarf_reg(AddrReg::Rdx), Some(1));
    assert_eq!(dwarf_reg(AddrReg::Rbx), Some(3));
    assert_eq!(dwarf_reg(AddrReg::R14), Some(14));
    assert_eq!(dwarf_reg(AddrReg::Ip), None);
}
