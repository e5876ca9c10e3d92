use super::*;
use crate::inspect::layout::builtin;

/// A header of 8-byte words, `words[i]` at offset 8i.
fn reader(words: Vec<u64>) -> impl Fn(u64) -> Option<u64> {
    move |offset| {
        let (i, shift) = ((offset / 8) as usize, 8 * (offset % 8));
        let lo = *words.get(i)? >> shift;
        let hi = if shift == 0 {
            0
        } else {
            words.get(i + 1).map_or(0, |w| w << (64 - shift))
        };
        Some(lo | hi)
    }
}

#[test]
fn a_classic_count_fits_its_buckets() {
    let layout = builtin(LayoutFlavor::Classic, (1, 19)).expect("layout");
    // count 5000, B = 10 (1,024 buckets, 8,192 slots) in the byte at offset 9.
    let header = vec![5000, 10 << 8, 0, 0, 0, 0];
    assert_eq!(entries(&layout, reader(header)), Some(5000));
    // The same count with B = 4: no such map.
    let header = vec![5000, 4 << 8, 0, 0, 0, 0];
    assert_eq!(entries(&layout, reader(header)), None);
}

#[test]
fn a_swiss_count_fits_its_tables() {
    let layout = builtin(LayoutFlavor::Swiss, (1, 27)).expect("layout");
    // used 3000, dirLen 4 (up to 4,096 slots).
    assert_eq!(
        entries(&layout, reader(vec![3000, 7, 0xc000, 4, 0, 0])),
        Some(3000)
    );
    // A small map (no directory) holds at most 8.
    assert_eq!(
        entries(&layout, reader(vec![6, 7, 0xc000, 0, 0, 0])),
        Some(6)
    );
    assert_eq!(
        entries(&layout, reader(vec![16_488_751, 7, 0xc000, 0, 0, 0])),
        None
    );
    // A bound, not a proof: a word that is no directory length but a large number admits a
    // count up to 1,024 times it.
    assert_eq!(
        entries(&layout, reader(vec![3000, 7, 0xc000, 16_486_385, 0, 0])),
        Some(3000)
    );
    assert_eq!(
        entries(&layout, reader(vec![3000, 7, 0xc000, u64::MAX, 0, 0])),
        None
    );
    assert_eq!(entries(&layout, |_| None), None, "unreadable");
}
