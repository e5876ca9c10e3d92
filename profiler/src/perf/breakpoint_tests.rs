use super::*;

#[test]
fn only_aligned_words_of_one_to_eight_bytes_are_watchable() {
    let w = |addr, len| Word { addr, len };
    assert!(w(0x1000, 8).is_watchable());
    assert!(w(0x1004, 4).is_watchable());
    assert!(w(0x1001, 1).is_watchable());
    assert!(!w(0x1004, 8).is_watchable(), "8 bytes at a 4-byte boundary");
    assert!(!w(0x1000, 3).is_watchable(), "no 3-byte register length");
    assert!(!w(0x1000, 16).is_watchable(), "wider than a register");
    assert!(!w(0x1000, 0).is_watchable());
}

#[test]
fn the_attr_watches_user_writes_of_the_word_and_samples_each() {
    let a = attr(
        Word {
            addr: 0xc000_0100,
            len: 8,
        },
        true,
    );
    assert_eq!(a.type_, b::PERF_TYPE_BREAKPOINT);
    assert_eq!(a.bp_type, b::HW_BREAKPOINT_W);
    assert_eq!(a.bp_addr, 0xc000_0100);
    assert_eq!(a.bp_len, 8);
    assert_eq!(a.sample_period, 1);
    assert_eq!(a.disabled(), 1);
    assert_eq!(a.exclude_kernel(), 1);
    let moved = attr(
        Word {
            addr: 0xc000_0108,
            len: 4,
        },
        true,
    );
    assert_eq!(
        (moved.sample_type, moved.exclude_kernel(), moved.size),
        (a.sample_type, a.exclude_kernel(), a.size),
        "a moved breakpoint differs only in address and length (MODIFY_ATTRIBUTES refuses more)"
    );
}
