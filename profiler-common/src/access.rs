//! Reads, deletes, iteration and `clear` of Go maps: the probes on the rest of the map API
//! (`go_map_access`). A read or an iteration step is folded as a read of the lines holding the
//! header fields writers dirty (the writer flag and the count, which every read checks); a delete
//! or a `clear` writes those fields and is folded as a write of them.

use crate::xol::GROW_KIND;

/// What a probed map function does to the map.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AccessKind {
    /// `runtime.mapaccess1*`, `mapaccess2*`, `mapaccessK`: a lookup.
    Read = 0,
    /// The start of a `range` loop (`runtime.mapiterinit`, or its successor).
    IterInit = 1,
    /// One step of a `range` loop (`runtime.mapiternext`, or its successor).
    IterNext = 2,
    /// `runtime.mapdelete*`.
    Delete = 3,
    /// `clear(m)` (`runtime.mapclear`).
    Clear = 4,
}

/// Number of [`AccessKind`] values.
pub const ACCESS_KINDS: u32 = 5;

/// The cookie kind of the first access kind: [`AccessKind`] `k` is `ACCESS_KIND_BASE + k`.
pub const ACCESS_KIND_BASE: u32 = GROW_KIND + 1;

/// The cookie kind of the `runtime.makemap*` RET probes (after the access kinds).
pub const MAKE_KIND: u32 = ACCESS_KIND_BASE + ACCESS_KINDS;

/// [`crate::Cookie::register`] flag of an access probe: the register holds a pointer to a
/// struct (Go's map iterator) whose field at [`crate::Cookie::offset`] is the map header.
pub const ACCESS_DEREF: u32 = 0x80;

impl AccessKind {
    /// Every kind, in discriminant order.
    pub const ALL: [AccessKind; ACCESS_KINDS as usize] = [
        AccessKind::Read,
        AccessKind::IterInit,
        AccessKind::IterNext,
        AccessKind::Delete,
        AccessKind::Clear,
    ];

    /// The cookie kind of this access kind.
    pub const fn cookie_kind(self) -> u32 {
        ACCESS_KIND_BASE + self as u32
    }

    /// The access kind of a cookie kind, if it is one.
    pub const fn of_cookie_kind(kind: u32) -> Option<AccessKind> {
        // A match, not an index into ALL: the eBPF side must have no panicking path.
        match kind.wrapping_sub(ACCESS_KIND_BASE) {
            0 => Some(AccessKind::Read),
            1 => Some(AccessKind::IterInit),
            2 => Some(AccessKind::IterNext),
            3 => Some(AccessKind::Delete),
            4 => Some(AccessKind::Clear),
            _ => None,
        }
    }

    /// Whether the function writes the header (its writer flag and count): a delete or a clear.
    pub const fn writes(self) -> bool {
        matches!(self, AccessKind::Delete | AccessKind::Clear)
    }
}
