use super::*;
use crate::test_support::c_program as build_c;

/// The file bytes at `site.file_offset` are the section bytes at `site.vaddr`.
fn check_site(path: &Path, site: &ProbeSite) {
    let bytes = std::fs::read(path).unwrap();
    let obj = object::File::parse(&*bytes).unwrap();
    let text = obj
        .sections()
        .find(|s| s.address() <= site.vaddr && site.vaddr < s.address() + s.size())
        .expect("section of the function");
    let at = (site.vaddr - text.address()) as usize;
    let off = site.file_offset as usize;
    assert_eq!(&bytes[off..off + 8], &text.data().unwrap()[at..at + 8]);
}

#[test]
fn find_symbol_in_c_program() {
    let dir = tempfile::tempdir().unwrap();
    let bin = build_c(dir.path(), "server", &[]);
    let site = find_symbol(&bin, "counter_add").expect("counter_add in symtab");
    assert_eq!(site.symbol, "counter_add");
    assert!(site.vaddr > 0 && site.file_offset > 0);
    check_site(&bin, &site);
    // A data symbol is not a function.
    assert!(matches!(
        find_symbol(&bin, "total"),
        Err(TargetError::SymbolNotFound { .. })
    ));
    let err = find_symbol(&bin, "counter_sub").unwrap_err();
    assert!(matches!(err, TargetError::SymbolNotFound { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "symbol counter_sub not found in {} (is it exported or is the binary stripped?)",
            bin.display()
        )
    );
}

#[test]
fn find_symbol_in_dynsym_of_stripped_program() {
    let dir = tempfile::tempdir().unwrap();
    // -rdynamic exports counter_add in .dynsym; -s drops .symtab.
    let bin = build_c(dir.path(), "stripped", &["-rdynamic", "-s"]);
    let obj_bytes = std::fs::read(&bin).unwrap();
    let obj = object::File::parse(&*obj_bytes).unwrap();
    assert!(
        obj.section_by_name(".symtab").is_none(),
        "binary is stripped"
    );
    let site = find_symbol(&bin, "counter_add").expect("counter_add in dynsym");
    check_site(&bin, &site);
    // Undefined dynamic symbols (libc imports) are not definitions.
    assert!(find_symbol(&bin, "__libc_start_main").is_err());
}

#[test]
fn find_symbol_on_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not ELF").unwrap();
    assert!(matches!(
        find_symbol(&text, "main"),
        Err(TargetError::NotElf { .. })
    ));
    assert!(matches!(
        find_symbol(&dir.path().join("missing"), "main"),
        Err(TargetError::Io { .. })
    ));
}

#[test]
fn dwarf_describes_go_globals_as_the_symbol_table_does() {
    use crate::test_support::{go_program, GoBuild};
    for build in [GoBuild::OldDwarf, GoBuild::NewDwarf] {
        let path = go_program(build);
        for name in ["runtime.firstmoduledata", "runtime.buildVersion"] {
            let symtab = find_variable(&path, name).expect("in .symtab");
            let dwarf = dwarf_variable(&path, name).unwrap_or_else(|| panic!("{name} in DWARF"));
            assert_eq!(dwarf.vaddr, symtab.vaddr, "{name} in {}", path.display());
            assert_eq!(dwarf.size, symtab.size, "{name} in {}", path.display());
            assert!(dwarf.size > 0, "{name}");
        }
        assert!(dwarf_variable(&path, "no.such_variable").is_none());
    }
}

#[test]
fn a_variable_only_dwarf_describes_is_found_there() {
    // A C program with debug information, its symbol table stripped: the variable is found
    // in the DWARF alone.
    let dir = tempfile::tempdir().unwrap();
    let path = build_c(dir.path(), "dwarfonly", &[]);
    let before = find_variable(&path, "total").expect("in .symtab");
    let status = std::process::Command::new("objcopy")
        .args(["--strip-symbol=total"])
        .arg(&path)
        .status()
        .expect("objcopy");
    assert!(status.success());
    let v = find_variable(&path, "total").expect("found in the DWARF");
    assert_eq!(v, before, "the DWARF says what the symbol table said");
    assert_eq!(v.size, 4, "an int");
}

/// Found by the `elf` fuzz target: a section whose file offset plus the distance into it
/// overflowed u64 in `file_offset_of`.
#[test]
fn section_file_offset_overflow_is_none_not_a_panic() {
    let data = include_bytes!("../../tests/data/fuzz/elf-section-offset-overflow.bin");
    super::super::fuzz::elf_bytes(data);
}
