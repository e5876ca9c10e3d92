use super::*;

fn w(addr: u64, len: u64) -> Word {
    Word { addr, len }
}

#[test]
fn an_aligned_range_is_eight_byte_words() {
    assert_eq!(words(0x1000, 16), vec![w(0x1000, 8), w(0x1008, 8)]);
}

#[test]
fn an_unaligned_range_takes_the_longest_aligned_word_at_each_step() {
    assert_eq!(
        words(0x1003, 14),
        vec![w(0x1003, 1), w(0x1004, 4), w(0x1008, 8), w(0x1010, 1)]
    );
    assert_eq!(words(0x1002, 2), vec![w(0x1002, 2)]);
    assert!(words(0x1000, 0).is_empty());
}

#[test]
fn every_word_is_watchable_and_they_tile_the_range() {
    for addr in 0x1000..0x1010 {
        for len in 1..40 {
            let ws = words(addr, len);
            assert!(ws.iter().all(Word::is_watchable), "{addr:#x}+{len}: {ws:?}");
            let mut at = addr;
            for word in &ws {
                assert_eq!(word.addr, at, "{addr:#x}+{len}: {ws:?}");
                at += word.len;
            }
            assert_eq!(at, addr + len);
        }
    }
}

#[test]
fn a_variable_of_this_test_binary_resolves_with_its_size() {
    let exe = std::env::current_exe().unwrap();
    let spec: WatchSpec = "WATCHED_BY_THE_TEST+8".parse().unwrap();
    let range = resolve(&spec, &exe, 0).unwrap().expect("a range");
    let want = std::ptr::addr_of!(WATCHED_BY_THE_TEST) as u64;
    let bias = want - (range.addr - 8);
    assert_eq!(
        bias % 4096,
        0,
        "the file address and the runtime one differ by the load bias"
    );
    assert_eq!(range.len, 24 - 8, "the rest of the 24-byte variable");
    let names: Vec<String> = range
        .words()
        .iter()
        .map(|w| range.name_of(w.addr))
        .collect();
    assert_eq!(names, ["WATCHED_BY_THE_TEST+8", "WATCHED_BY_THE_TEST+16"]);
    let past: WatchSpec = "WATCHED_BY_THE_TEST+24".parse().unwrap();
    let err = resolve(&past, &exe, 0).unwrap_err().to_string();
    assert!(err.contains("has 24 bytes"), "{err}");
    let missing: WatchSpec = "no_such_variable".parse().unwrap();
    let err = resolve(&missing, &exe, 0).unwrap_err().to_string();
    assert!(err.contains("not found"), "{err}");
}

#[no_mangle]
#[used]
static WATCHED_BY_THE_TEST: [u64; 3] = [1, 2, 3];

#[test]
fn a_rust_static_resolves_by_its_path() {
    let exe = std::env::current_exe().unwrap();
    // The path as rustc mangles it: `clprof::watch::words::tests::RUST_STATIC_BY_PATH`.
    let path = format!("{}::RUST_STATIC_BY_PATH", module_path!());
    let spec: WatchSpec = format!("{path}:16").parse().unwrap();
    let range = resolve(&spec, &exe, 0).unwrap().expect("a range");
    let at = std::ptr::addr_of!(RUST_STATIC_BY_PATH) as u64;
    assert_eq!(
        (at - range.addr) % 4096,
        0,
        "the mangled symbol's file address is the static's, less the load bias"
    );
    assert_eq!(range.len, 16);
    assert_eq!(range.name_of(range.addr + 8), format!("{path}+8"));
    let whole = resolve(&path.parse().unwrap(), &exe, 0)
        .unwrap()
        .expect("a range");
    assert_eq!(whole.len, 32, "the whole 32-byte static");
}

#[used]
static RUST_STATIC_BY_PATH: [std::sync::atomic::AtomicU64; 4] =
    [const { std::sync::atomic::AtomicU64::new(0) }; 4];
