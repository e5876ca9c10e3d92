//! The table found and read in every way Go builds a binary, checked against the symbol table
//! of the same code where one exists.

use std::collections::HashMap;

use object::{Object as _, ObjectSymbol as _};

use super::*;
use crate::test_support::{go_program, GoBuild};

/// Function name → entry addresses from the symbol table of `path` (a name can have several:
/// ABI wrappers).
fn symtab_functions(path: &Path) -> HashMap<String, Vec<u64>> {
    let data = std::fs::read(path).expect("read");
    let file = object::File::parse(&*data).expect("parse");
    let mut out: HashMap<String, Vec<u64>> = HashMap::new();
    for s in file
        .symbols()
        .filter(|s| s.kind() == object::SymbolKind::Text)
    {
        if let Ok(name) = s.name() {
            out.entry(name.to_owned()).or_default().push(s.address());
        }
    }
    out
}

fn table(build: GoBuild) -> GoLineTable {
    let path = go_program(build);
    GoLineTable::open(&path)
        .unwrap_or_else(|| panic!("no line table in {build:?} {}", path.display()))
}

/// Every function of the table at the address the symbol table gives, for builds with one;
/// for stripped builds, the same functions at the same addresses as the unstripped build of
/// the same code and linker mode.
#[test]
fn functions_match_the_symbol_table_in_every_build() {
    let reference = |build| match build {
        GoBuild::NewStripped => GoBuild::NewNoDwarf,
        GoBuild::OldStripped => GoBuild::OldNoDwarf,
        GoBuild::NewPieStripped | GoBuild::OldPieStripped => build,
        other => other,
    };
    for build in GoBuild::ALL {
        let t = table(build);
        let funcs: Vec<GoFunc<'_>> = t.functions().collect();
        assert!(
            funcs.len() > 500,
            "{build:?}: only {} functions",
            funcs.len()
        );
        for name in ["runtime.mapassign_fast64", "main.main", "runtime.goexit"] {
            assert!(
                funcs.iter().any(|f| f.name.starts_with(name)),
                "{build:?}: {name} not in the table"
            );
        }
        assert!(funcs
            .windows(2)
            .all(|w| w[0].entry <= w[1].entry && w[0].end <= w[1].entry));
        let symbols = symtab_functions(&go_program(reference(build)));
        if symbols.is_empty() {
            continue; // a stripped PIE: checked below against its own disassembly
        }
        let mut compared = 0;
        for f in &funcs {
            // The table names ABI0 wrappers like the function they wrap.
            let wrapper = symbols
                .get(&format!("{}.abi0", f.name))
                .into_iter()
                .flatten();
            if let Some(addrs) = symbols
                .get(f.name)
                .map(|a| a.iter().chain(wrapper).copied().collect::<Vec<u64>>())
            {
                assert!(
                    addrs.contains(&f.entry),
                    "{build:?}: {} at {:#x}, symbols {addrs:x?}",
                    f.name,
                    f.entry
                );
                compared += 1;
            }
        }
        assert!(
            compared > 500,
            "{build:?}: only {compared} functions compared"
        );
    }
}

/// Stripped PIE builds have no symbol table to compare with, and their table's text start is
/// left to the loader: every function must lie in `.text`, and `runtime.mapassign_fast64` must
/// start with the stack check every Go function with a frame begins with
/// (`cmp rsp, [r14+0x10]`: `49 3b 66 10`), which a wrong text start would miss.
#[test]
fn stripped_pie_tables_find_the_text_start() {
    for stripped in [GoBuild::NewPieStripped, GoBuild::OldPieStripped] {
        let t = table(stripped);
        let file = object::File::parse(&*t.data).expect("parse");
        let text = file.section_by_name(".text").expect(".text");
        let (start, end) = (text.address(), text.address() + text.size());
        for f in t.functions() {
            assert!(
                f.entry >= start && f.end <= end,
                "{stripped:?}: {} at {:#x} outside .text {start:#x}..{end:#x}",
                f.name,
                f.entry
            );
        }
        let assign = t
            .functions()
            .find(|f| f.name == "runtime.mapassign_fast64")
            .expect("mapassign_fast64");
        let code = text
            .data_range(assign.entry, 4)
            .ok()
            .flatten()
            .expect("code at the entry");
        assert_eq!(
            code,
            [0x49, 0x3b, 0x66, 0x10],
            "{stripped:?}: entry {:#x}",
            assign.entry
        );
    }
}

#[test]
fn a_stripped_build_is_found_by_section_and_frames_name_main() {
    for build in [
        GoBuild::NewStripped,
        GoBuild::OldStripped,
        GoBuild::OldPieStripped,
    ] {
        let t = table(build);
        assert_eq!(t.found_by(), FoundBy::Section, "{build:?}");
        let main = t
            .functions()
            .find(|f| f.name == "main.main")
            .expect("main.main");
        let frames = t.frames(main.entry).expect("frames");
        let last = frames.last().expect("a frame");
        assert_eq!(last.function, "main.main");
        assert!(
            last.file.as_deref().is_some_and(|f| f.ends_with("main.go")),
            "{build:?}: {last:?}"
        );
    }
}

#[test]
fn a_table_found_by_its_magic_reads_the_same() {
    // Rename the section so that only the header magic can find it.
    let path = go_program(GoBuild::NewStripped);
    let mut data = std::fs::read(&path).expect("read");
    let by_section = GoLineTable::from_data(data.clone()).expect("by section");
    let at = data
        .windows(b".gopclntab".len())
        .position(|w| w == b".gopclntab")
        .expect("section name in the string table");
    data[at + 1..at + 10].copy_from_slice(b"xxxxxxxxx");
    let by_magic = GoLineTable::from_data(data).expect("by magic");
    assert_eq!(by_magic.found_by(), FoundBy::Magic);
    let a: Vec<_> = by_section
        .functions()
        .map(|f| (f.name.to_owned(), f.entry))
        .collect();
    let b: Vec<_> = by_magic
        .functions()
        .map(|f| (f.name.to_owned(), f.entry))
        .collect();
    assert_eq!(a, b);
}

#[test]
fn corrupt_tables_are_refused_without_panic() {
    let path = go_program(GoBuild::NewStripped);
    let data = std::fs::read(&path).expect("read");
    let file = object::File::parse(&*data).expect("parse");
    let (off, len) = file
        .section_by_name(".gopclntab")
        .and_then(|s| s.file_range())
        .expect("section");
    let (off, len) = (off as usize, len as usize);
    // Truncated inside the table, a zeroed header, and garbage offsets.
    let truncated = data[..off + len / 2].to_vec();
    if let Some(t) = GoLineTable::from_data(truncated) {
        let _ = t.functions().count();
        let _ = t.frames(0x401000);
    }
    let mut zeroed = data.clone();
    zeroed[off..off + 64].fill(0);
    assert!(
        GoLineTable::from_data(zeroed).is_none(),
        "a zeroed header is no table"
    );
    let mut garbage = data.clone();
    for (i, b) in garbage[off + 8..off + 72].iter_mut().enumerate() {
        *b = (i * 37) as u8 | 0x80;
    }
    if let Some(t) = GoLineTable::from_data(garbage) {
        let _ = t.functions().count();
    }
}

/// Stripped binaries have no `go:func.*` symbol: the inline trees are found through moduledata,
/// and every address symbolizes as in the same build with its symbols, inlined frames included.
#[test]
fn stripped_frames_keep_their_inlined_callers() {
    for (stripped, with_symbols) in [
        (GoBuild::NewStripped, GoBuild::NewNoDwarf),
        (GoBuild::OldStripped, GoBuild::OldNoDwarf),
        (GoBuild::NewPieStripped, GoBuild::NewPie),
    ] {
        let (bare, full) = (table(stripped), table(with_symbols));
        let (mut compared, mut inlined) = (0, 0);
        for f in full.functions().step_by(7) {
            for pc in (f.entry..f.end).step_by(13) {
                // The programs were built in different directories: compare file names.
                let key = |frames: Option<Vec<crate::symbolize::Frame>>| {
                    frames.map(|fs| {
                        fs.into_iter()
                            .map(|f| {
                                let file = f
                                    .file
                                    .map(|p| p.rsplit('/').next().unwrap_or("").to_owned());
                                (f.function, file, f.line)
                            })
                            .collect::<Vec<_>>()
                    })
                };
                let want = key(full.frames(pc));
                assert_eq!(
                    key(bare.frames(pc)),
                    want,
                    "{stripped:?} at {pc:#x} ({})",
                    f.name
                );
                compared += 1;
                inlined += usize::from(want.is_some_and(|w| w.len() > 1));
            }
        }
        assert!(
            compared > 1000 && inlined > 50,
            "{stripped:?}: {compared} addresses, {inlined} with inlined frames"
        );
    }
}
