//! How many entries a live map holds, read from its header in the target's memory (classic
//! `hmap.count`, swiss `Map.used`), and checked against the header's own size fields: the header
//! of a map the program has dropped may since hold anything.

use super::{LayoutFlavor, MapLayout};

/// Classic maps grow past 6.5 entries a bucket; with overflow buckets a map holds at most 8 a
/// bucket.
const CLASSIC_SLOTS_PER_BUCKET: u64 = 8;
/// A swiss table holds at most 1,024 slots; a map without a directory (a small map) one group
/// of 8.
const SWISS_TABLE_SLOTS: u64 = 1024;
const SWISS_SMALL_SLOTS: u64 = 8;
/// Classic `B` beyond which a header is not one (2^48 buckets).
const MAX_CLASSIC_B: u64 = 48;
/// Swiss directory lengths beyond which a header is not one.
const MAX_SWISS_DIR_LEN: u64 = 1 << 32;

/// The entry count of the map whose header is read by `read` (the 8 bytes at a header offset);
/// None when the header's fields do not add up to a map of that many entries.
pub fn entries(layout: &MapLayout, read: impl Fn(u64) -> Option<u64>) -> Option<u64> {
    let field = |name: &str| -> Option<u64> {
        let f = layout.field(name)?;
        let value = read(f.offset)?;
        Some(match f.size {
            8.. => value,
            size => value & ((1u64 << (8 * size)) - 1),
        })
    };
    let count = field(layout.flavor.written_names()[1])?;
    let capacity = match layout.flavor {
        LayoutFlavor::Classic => {
            let b = field("B")?;
            (b <= MAX_CLASSIC_B).then(|| CLASSIC_SLOTS_PER_BUCKET << b)?
        }
        LayoutFlavor::Swiss => match field("dirLen")? {
            0 => SWISS_SMALL_SLOTS,
            n if n <= MAX_SWISS_DIR_LEN => n * SWISS_TABLE_SLOTS,
            _ => return None,
        },
    };
    (count <= capacity).then_some(count)
}

#[cfg(test)]
#[path = "entries_tests.rs"]
mod tests;
