use super::*;

#[test]
fn return_addresses_are_looked_up_one_byte_back() {
    assert_eq!(lookup_addr(0x401000, 0, 0), 0x401000);
    assert_eq!(lookup_addr(0x401000, 0, 1), 0x400fff);
    assert_eq!(lookup_addr(0x5555_0000_1000, 0x5555_0000_0000, 2), 0xfff);
}

#[test]
fn symbolizes_a_function_of_this_test_binary() {
    let exe = std::env::current_exe().expect("current_exe");
    let mut sym = Symbolizer::open(&exe).expect("open own binary");
    let data = std::fs::read(&exe).expect("read own binary");
    let file = object::File::parse(&*data).expect("parse own binary");
    use object::{Object, ObjectSymbol};
    let sym_addr = file
        .symbols()
        .find(|s| {
            s.name()
                .is_ok_and(|n| n.contains("symbolizes_a_function_of_this_test_binary"))
        })
        .map(|s| s.address())
        .expect("symbol of this test in the symbol table");
    let frames = sym.frames(sym_addr);
    assert!(
        frames[0]
            .function
            .contains("symbolizes_a_function_of_this_test_binary"),
        "got {frames:?}"
    );
    assert!(
        frames[0]
            .file
            .as_deref()
            .is_some_and(|f| f.ends_with("symbolize/tests.rs")),
        "got {frames:?}"
    );
}

#[test]
fn unknown_address_is_named_by_its_value() {
    let exe = std::env::current_exe().expect("current_exe");
    let mut sym = Symbolizer::open(&exe).expect("open own binary");
    let frames = sym.frames(0x10);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].function, "0x10");
}
