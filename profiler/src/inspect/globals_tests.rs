use super::*;

fn global(vaddr: u64, size: u64, name: &str) -> Global {
    Global {
        vaddr,
        size,
        name: name.to_owned(),
    }
}

fn field(name: &str, offset: u64, size: u64) -> FieldInfo {
    FieldInfo {
        name: name.to_owned(),
        offset,
        size,
    }
}

#[test]
fn an_address_is_held_by_the_global_that_covers_it() {
    let globals = [
        global(0x1000, 16, "main.hot"),
        global(0x1010, 8, "main.cold"),
        global(0x1020, 0, "main.sizeless"),
    ];
    let name = |a| holding(&globals, a).map(|g| g.name.as_str());
    assert_eq!(name(0x0fff), None);
    assert_eq!(name(0x1000), Some("main.hot"));
    assert_eq!(name(0x100f), Some("main.hot"));
    assert_eq!(name(0x1010), Some("main.cold"));
    assert_eq!(name(0x1018), None, "past main.cold's end");
    assert_eq!(name(0x1020), Some("main.sizeless"));
    assert_eq!(
        name(0x1021),
        None,
        "a global of unknown size covers one byte"
    );
}

#[test]
fn words_are_named_by_member_or_offset() {
    let hot = global(0x1000, 32, "main.hot");
    let members = vec![field("a", 0, 8), field("b", 8, 8), field("pad", 16, 16)];
    assert_eq!(name_in(&hot, 0, Some(&members)), "main.hot.a");
    assert_eq!(name_in(&hot, 8, Some(&members)), "main.hot.b");
    assert_eq!(name_in(&hot, 24, Some(&members)), "main.hot.pad+8");
    assert_eq!(name_in(&hot, 8, None), "main.hot+8");
    assert_eq!(name_in(&hot, 0, None), "main.hot");
}

#[test]
fn a_zero_sized_member_does_not_name_the_word_after_it() {
    // Go 1.24's sync.Mutex: struct { _ noCopy; mu isync.Mutex }.
    let mu = global(0x1000, 8, "main.mu");
    let members = vec![field("_", 0, 0), field("mu", 0, 8)];
    assert_eq!(name_in(&mu, 0, Some(&members)), "main.mu.mu");
    assert_eq!(name_in(&mu, 4, Some(&members)), "main.mu.mu+4");
    // A member whose size the DWARF did not give still names its first byte.
    let members = vec![field("state", 0, 0)];
    assert_eq!(name_in(&mu, 0, Some(&members)), "main.mu.state");
}
