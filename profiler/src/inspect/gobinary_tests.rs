use super::*;
use crate::inspect::LayoutFlavor;
use crate::test_support::{go_program, GoBuild};

/// The bytes at `file_offset` in the file equal the section bytes at `vaddr`.
fn check_offsets(path: &Path, bin: &GoBinary) {
    let bytes = std::fs::read(path).unwrap();
    let obj = object::File::parse(&*bytes).unwrap();
    for f in &bin.assign_funcs {
        let text = obj
            .sections()
            .find(|s| s.address() <= f.vaddr && f.vaddr < s.address() + s.size())
            .expect("section of function");
        let data = text.data().unwrap();
        let at = (f.vaddr - text.address()) as usize;
        let n = (f.size as usize).min(64);
        assert!(n >= 16, "{} has size {}", f.symbol, f.size);
        let off = f.file_offset as usize;
        assert_eq!(&bytes[off..off + n], &data[at..at + n], "{}", f.symbol);
    }
}

/// Every assign function has a RET, and each RET offset is inside the function and holds a
/// `ret` (C3) or `ret imm16` (C2) opcode.
fn check_rets(path: &Path, bin: &GoBinary) {
    let bytes = std::fs::read(path).unwrap();
    for f in &bin.assign_funcs {
        assert!(!f.ret_offsets.is_empty(), "{} has no RET", f.symbol);
        assert!(f.ret_offsets.windows(2).all(|w| w[0] < w[1]), "{f:?}");
        for &r in &f.ret_offsets {
            assert!(r > f.file_offset && r < f.file_offset + f.size, "{f:?}");
            let op = bytes[r as usize];
            assert!(op == 0xc3 || op == 0xc2, "{}: {op:#x} at {r:#x}", f.symbol);
        }
    }
    // The functions that make maps, each with RETs holding a ret opcode.
    let makes: Vec<&str> = bin.make_funcs.iter().map(|m| m.symbol.as_str()).collect();
    assert!(
        makes.contains(&"runtime.makemap") && makes.contains(&"runtime.makemap_small"),
        "{makes:?}"
    );
    for m in &bin.make_funcs {
        assert!(!m.ret_offsets.is_empty(), "{} has no RET", m.symbol);
        for &r in &m.ret_offsets {
            let op = bytes[r as usize];
            assert!(op == 0xc3 || op == 0xc2, "{}: {op:#x} at {r:#x}", m.symbol);
        }
    }
}

/// The growth functions of `flavor` are all there, at offsets holding their code.
fn check_growth(path: &Path, bin: &GoBinary, want: &[&str]) {
    let names: Vec<&str> = bin.growth_funcs.iter().map(|g| g.symbol.as_str()).collect();
    assert_eq!(names, want);
    for g in &bin.growth_funcs {
        let again = crate::inspect::find_symbol(path, &g.symbol).expect("find_symbol agrees");
        assert_eq!(&again, g);
    }
}

fn check_all_funcs(bin: &GoBinary) {
    let kinds: Vec<AssignKind> = bin.assign_funcs.iter().map(|f| f.kind).collect();
    assert_eq!(kinds, AssignKind::ALL.to_vec());
    for f in &bin.assign_funcs {
        assert_eq!(f.symbol, f.kind.symbol());
        assert!(f.size > 0 && f.vaddr > 0);
    }
    assert!(bin.assign_func(AssignKind::Fast64).is_some());
}

#[test]
fn go_new_binary() {
    let path = go_program(GoBuild::NewDwarf);
    let bin = inspect_binary(&path).expect("inspect Go 1.27 binary");
    let v = bin.go_version.as_deref().expect("go version");
    assert!(v.starts_with("go1.27"), "{v}");
    assert!(!bin.is_pie);
    assert_eq!(bin.layout.flavor, LayoutFlavor::Swiss);
    check_all_funcs(&bin);
    check_offsets(&path, &bin);
    check_rets(&path, &bin);
    check_growth(
        &path,
        &bin,
        &[
            "internal/runtime/maps.(*table).rehash",
            "internal/runtime/maps.(*Map).growToTable",
            "internal/runtime/maps.(*Map).growToSmall",
        ],
    );
    let id = bin.build_id.as_deref().expect("build id");
    assert_eq!(id.len(), 40, "GNU build id is 20 bytes of SHA-1: {id}");
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
}

#[test]
fn go_old_binary() {
    let path = go_program(GoBuild::OldDwarf);
    let bin = inspect_binary(&path).expect("inspect Go 1.19 binary");
    let v = bin.go_version.as_deref().expect("go version");
    assert!(v.starts_with("go1.19"), "{v}");
    assert_eq!(bin.layout.flavor, LayoutFlavor::Classic);
    check_all_funcs(&bin);
    check_offsets(&path, &bin);
    check_rets(&path, &bin);
    check_growth(&path, &bin, &["runtime.hashGrow"]);
    // Go 1.19 writes only the Go build id note ("actionID/contentID" parts).
    let id = bin.build_id.as_deref().expect("build id");
    assert!(id.contains('/'), "{id}");
}

#[test]
fn pie_binary_and_its_load_bias() {
    let path = go_program(GoBuild::NewPie);
    let bin = inspect_binary(&path).expect("inspect PIE");
    assert!(bin.is_pie);
    check_all_funcs(&bin);
    check_offsets(&path, &bin);
    check_rets(&path, &bin);
    let mut child = crate::test_support::SleepingChild::spawn(&path);
    let target = super::super::resolve_pid(child.pid()).expect("resolve PIE process");
    let bias = super::super::load_bias(child.pid(), &target.binary).expect("load bias");
    assert_ne!(bias, 0);
    assert_eq!(bias % 4096, 0);
    // The code the process runs at vaddr + bias is the code in the file at file_offset.
    let file = std::fs::read(&path).unwrap();
    let mem = std::fs::File::open(format!("/proc/{}/mem", child.pid())).unwrap();
    for f in &bin.assign_funcs {
        let mut buf = [0u8; 32];
        std::os::unix::fs::FileExt::read_exact_at(&mem, &mut buf, f.vaddr + bias).unwrap();
        let off = f.file_offset as usize;
        assert_eq!(&buf[..], &file[off..off + 32], "{}", f.symbol);
    }
    child.kill();
}

#[test]
fn non_go_elf_has_no_map_functions() {
    let path = Path::new("/bin/true");
    match inspect_binary(path) {
        Err(e @ TargetError::NoMapFunctions { .. }) => {
            assert!(e.to_string().contains("/bin/true"), "{e}");
        }
        other => panic!("expected NoMapFunctions, got {other:?}"),
    }
}

#[test]
fn bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, b"hello, not an ELF file").unwrap();
    let err = inspect_binary(&text).unwrap_err();
    assert!(matches!(err, TargetError::NotElf { .. }), "{err}");
    assert!(err.to_string().contains("notes.txt"));
    // A truncated ELF: header only.
    let trunc = dir.path().join("trunc");
    let head = std::fs::read("/bin/true").unwrap();
    std::fs::write(&trunc, &head[..100]).unwrap();
    assert!(matches!(
        inspect_binary(&trunc),
        Err(TargetError::NotElf { .. })
    ));
    let missing = dir.path().join("missing");
    let err = inspect_binary(&missing).unwrap_err();
    assert!(matches!(err, TargetError::Io { .. }), "{err}");
    assert!(err.to_string().contains("missing"));
}

#[test]
fn cache_returns_same_result_under_another_path() {
    let path = go_program(GoBuild::NewDwarf);
    let a = inspect_binary_shared(&path).unwrap();
    let b = inspect_binary_shared(&path).unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    let c = inspect_binary_shared(&link).unwrap();
    assert_eq!(c.path, link);
    assert_eq!(c.assign_funcs, a.assign_funcs);
    assert_eq!(c.layout, a.layout);
}

#[test]
fn builds_without_dwarf_keep_rets_and_growth() {
    for (build, growth) in [(GoBuild::NewNoDwarf, 3), (GoBuild::OldNoDwarf, 1)] {
        let path = go_program(build);
        let bin = inspect_binary(&path).expect("inspect -w build");
        check_rets(&path, &bin);
        assert_eq!(bin.growth_funcs.len(), growth, "{build:?}");
        assert!(bin.map_types.is_empty(), "no DWARF, no map type names");
    }
}

#[test]
fn an_assign_function_holds_its_own_code_and_no_more() {
    let f = AssignFunc {
        kind: AssignKind::Fast64,
        symbol: "runtime.mapassign_fast64".to_owned(),
        vaddr: 0x1000,
        size: 0x40,
        file_offset: 0x1000,
        ret_offsets: vec![0x103f],
    };
    assert!(!f.contains(0xfff), "before the function");
    assert!(f.contains(0x1000), "its first instruction");
    assert!(f.contains(0x103f), "its last byte");
    assert!(!f.contains(0x1040), "the next function");
    let unsized_func = AssignFunc { size: 0, ..f };
    assert!(!unsized_func.contains(0x1000), "size 0: no code known");
}

#[test]
fn the_assign_function_at_an_address_of_a_real_binary() {
    for build in [GoBuild::OldDwarf, GoBuild::NewDwarf] {
        let path = go_program(build);
        let bin = inspect_binary(&path).expect("inspect the Go binary");
        assign_funcs_by_address(&bin);
    }
}

fn assign_funcs_by_address(bin: &GoBinary) {
    assert!(!bin.assign_funcs.is_empty(), "no assign functions found");
    for f in &bin.assign_funcs {
        let inside = [f.vaddr, f.vaddr + f.size / 2, f.vaddr + f.size - 1];
        for addr in inside {
            let found = bin.assign_func_at(addr).map(|g| &g.symbol);
            assert_eq!(found, Some(&f.symbol), "{addr:#x} in {f:?}");
        }
        let after = bin.assign_func_at(f.vaddr + f.size).map(|g| &g.symbol);
        assert_ne!(after, Some(&f.symbol), "the byte after {}", f.symbol);
    }
    assert!(bin.assign_func_at(0).is_none());
}
