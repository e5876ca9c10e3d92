use super::*;

fn candidate(symbol: &str, vaddr: u64, calls: &[u64]) -> Candidate {
    let spec = spec_of(symbol).unwrap_or_else(|| panic!("{symbol} is not listed"));
    Candidate {
        spec,
        func: AccessFunc {
            kind: ACCESS_FUNCS[spec].kind,
            symbol: symbol.to_owned(),
            vaddr,
            file_offset: vaddr - 0x40_0000,
            map: ACCESS_FUNCS[spec].map,
        },
        calls: Some(calls.to_vec()),
    }
}

fn symbols(funcs: &[AccessFunc]) -> Vec<&str> {
    funcs.iter().map(|f| f.symbol.as_str()).collect()
}

#[test]
fn a_lookup_that_calls_another_lookup_is_left_out() {
    // Go 1.27: mapaccess1_fast64 calls mapaccess2_fast64; mapaccess1_fat calls mapaccess2.
    let found = vec![
        candidate(
            "runtime.mapaccess1_fast64",
            0x40_1000,
            &[0x40_2000, 0x40_9000],
        ),
        candidate("runtime.mapaccess2_fast64", 0x40_2000, &[0x40_9000]),
        candidate("runtime.mapaccess2", 0x40_3000, &[]),
        candidate("runtime.mapaccess1_fat", 0x40_4000, &[0x40_3000]),
        // A delete calling a lookup is still a delete.
        candidate("runtime.mapdelete_fast64", 0x40_5000, &[0x40_2000]),
    ];
    assert_eq!(
        symbols(&keep(found, LayoutFlavor::Swiss)),
        [
            "runtime.mapaccess2",
            "runtime.mapaccess2_fast64",
            "runtime.mapdelete_fast64"
        ]
    );
}

#[test]
fn iteration_is_probed_where_each_flavor_iterates() {
    let found = vec![
        candidate("runtime.mapiterinit", 0x40_1000, &[0x40_2000]),
        candidate("runtime.mapiternext", 0x40_2000, &[]),
        candidate("internal/runtime/maps.(*Iter).Init", 0x40_3000, &[]),
        candidate("internal/runtime/maps.(*Iter).Next", 0x40_4000, &[]),
    ];
    let classic = keep(found.clone(), LayoutFlavor::Classic);
    assert_eq!(
        symbols(&classic),
        ["runtime.mapiterinit", "runtime.mapiternext"],
        "mapiterinit calls mapiternext, a step of another kind: both stay"
    );
    assert_eq!(classic[1].map, MapArg::Field(Register::Rax, 0x18));
    let swiss = keep(found, LayoutFlavor::Swiss);
    assert_eq!(
        symbols(&swiss),
        [
            "internal/runtime/maps.(*Iter).Init",
            "internal/runtime/maps.(*Iter).Next"
        ],
        "the linkname shims of swiss binaries are left out"
    );
    assert_eq!(swiss[0].map, MapArg::Reg(Register::Rcx));
}

#[test]
fn every_listed_function_is_named_once() {
    for (i, s) in ACCESS_FUNCS.iter().enumerate() {
        assert_eq!(spec_of(s.symbol), Some(i), "{} listed twice", s.symbol);
    }
}
