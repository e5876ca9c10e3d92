//! Layout of the Go map header that `runtime.mapassign*` writes, from DWARF or a built-in table.

use std::path::Path;

use super::buildinfo::parse_go_version;
use super::dwarf::DwarfStruct;
use super::TargetError;

/// Which Go map implementation a binary uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LayoutFlavor {
    /// Bucket maps, `runtime.hmap` (Go ≤ 1.23, and 1.24/1.25 with `GOEXPERIMENT=noswissmap`).
    Classic,
    /// Swiss-table maps, `internal/runtime/maps.Map` (Go 1.24+).
    Swiss,
}

impl LayoutFlavor {
    /// Its name in reports: `classic` or `swiss`.
    pub fn as_str(self) -> &'static str {
        match self {
            LayoutFlavor::Classic => "classic",
            LayoutFlavor::Swiss => "swiss",
        }
    }

    /// Name of the header struct in DWARF.
    pub fn type_name(self) -> &'static str {
        match self {
            LayoutFlavor::Classic => CLASSIC_TYPE,
            LayoutFlavor::Swiss => SWISS_TYPE,
        }
    }

    /// The header fields every assign writes, in [`MapLayout::written`] order.
    ///
    /// Classic (runtime/map.go, map_noswiss.go `mapassign`): `h.flags ^= hashWriting` on entry and
    /// exit, `h.count++` on insert. Swiss (internal/runtime/maps/runtime_fast64.go etc.):
    /// `m.writing ^= 1` on entry and exit, `m.used++` on insert.
    pub fn written_names(self) -> [&'static str; 2] {
        match self {
            LayoutFlavor::Classic => ["flags", "count"],
            LayoutFlavor::Swiss => ["writing", "used"],
        }
    }

    /// The field that says a writer is inside an assign, and the bits of it that do.
    ///
    /// Classic: bit `hashWriting` (4) of `hmap.flags` (runtime/map.go; map_noswiss.go in
    /// 1.24/1.25); the other bits are iterator and same-size-grow state. Swiss: `Map.writing`,
    /// toggled with `^= 1` by each writer (internal/runtime/maps/map.go), so with racing writers
    /// any nonzero value means one is inside: mask 0xff.
    pub fn writing_field(self) -> (&'static str, u8) {
        match self {
            LayoutFlavor::Classic => ("flags", HASH_WRITING),
            LayoutFlavor::Swiss => ("writing", 0xff),
        }
    }

    /// The field that is set while the map grows, if the flavor has one.
    ///
    /// Classic: `hmap.oldbuckets`, non-nil from `hashGrow` until evacuation finishes
    /// (runtime/map.go `(*hmap).growing`). Swiss maps grow all at once inside the assign that
    /// overflows (internal/runtime/maps/table.go `rehash`), so no field marks a growth.
    pub fn growth_name(self) -> Option<&'static str> {
        match self {
            LayoutFlavor::Classic => Some("oldbuckets"),
            LayoutFlavor::Swiss => None,
        }
    }
}

/// `hashWriting` in runtime/map.go: "a goroutine is writing to the map".
pub const HASH_WRITING: u8 = 4;

/// Where a [`MapLayout`] came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LayoutSource {
    /// The binary's own DWARF.
    Dwarf,
    /// clprof's table for the binary's Go version (binary built without DWARF).
    BuiltinTable,
}

impl LayoutSource {
    /// Its name in reports: `dwarf` or `builtin-table`.
    pub fn as_str(self) -> &'static str {
        match self {
            LayoutSource::Dwarf => "dwarf",
            LayoutSource::BuiltinTable => "builtin-table",
        }
    }
}

/// One field of the map header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldInfo {
    /// Go field name, e.g. "count".
    pub name: String,
    /// Byte offset from the start of the header.
    pub offset: u64,
    /// Size in bytes.
    pub size: u64,
}

/// The map header struct and the two fields an assign writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapLayout {
    /// Classic or swiss.
    pub flavor: LayoutFlavor,
    /// DWARF or built-in table.
    pub source: LayoutSource,
    /// "runtime.hmap" or "internal/runtime/maps.Map".
    pub type_name: String,
    /// Size of the header struct in bytes (48 for both flavors on 64-bit so far).
    pub header_size: u64,
    /// All fields of the header struct, in offset order.
    pub fields: Vec<FieldInfo>,
    /// Classic: [flags, count]; swiss: [writing, used] — the fields an assign writes.
    pub written: [FieldInfo; 2],
    /// The field a writer marks while inside an assign: classic `flags`, swiss `writing`.
    pub writing: FieldInfo,
    /// The bits of [`Self::writing`] that mean "a writer is inside": classic `hashWriting` (4),
    /// swiss 0xff (any nonzero value). See [`LayoutFlavor::writing_field`].
    pub writing_mask: u8,
    /// The field that is nonzero while the map grows: classic `oldbuckets`; `None` for swiss
    /// maps (or when the DWARF lacks it). See [`LayoutFlavor::growth_name`].
    pub growth: Option<FieldInfo>,
}

impl MapLayout {
    /// The field whose bytes contain `offset`, if any (padding belongs to none).
    pub fn field_at(&self, offset: u64) -> Option<&FieldInfo> {
        self.fields
            .iter()
            .find(|f| offset >= f.offset && offset < f.offset.saturating_add(f.size.max(1)))
    }

    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&FieldInfo> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Builds a layout from the header's fields; `None` when a written field (or the writing
    /// field) is missing.
    pub fn from_fields(
        flavor: LayoutFlavor,
        source: LayoutSource,
        header_size: u64,
        mut fields: Vec<FieldInfo>,
    ) -> Option<MapLayout> {
        fields.sort_by_key(|f| f.offset);
        let [a, b] = flavor.written_names();
        let find = |n: &str| fields.iter().find(|f| f.name == n).cloned();
        let written = [find(a)?, find(b)?];
        let (writing_name, writing_mask) = flavor.writing_field();
        let writing = find(writing_name)?;
        let growth = flavor.growth_name().and_then(find);
        Some(MapLayout {
            flavor,
            source,
            type_name: flavor.type_name().to_string(),
            header_size,
            fields,
            written,
            writing,
            writing_mask,
            growth,
        })
    }
}

/// DWARF name of the classic header (runtime/map.go; runtime/map_noswiss.go in 1.24/1.25).
pub(crate) const CLASSIC_TYPE: &str = "runtime.hmap";
/// DWARF name of the swiss header (internal/runtime/maps/map.go).
pub(crate) const SWISS_TYPE: &str = "internal/runtime/maps.Map";

/// Go minor versions the built-in tables cover (verified against DWARF of go1.19 and go1.27).
const BUILTIN_MIN_MINOR: u32 = 19;
const BUILTIN_MAX_MINOR: u32 = 27;
/// First minor with swiss maps (default on; `GOEXPERIMENT=noswissmap` turns them off).
const SWISS_FIRST_MINOR: u32 = 24;
/// First minor without `GOEXPERIMENT=noswissmap` (the classic implementation was deleted).
const SWISS_ONLY_MINOR: u32 = 26;

/// Chooses the flavor: swiss when the binary links swiss map methods; otherwise by version:
/// 1.26+ can only be swiss, anything older without swiss symbols is classic (pre-1.24, or
/// 1.24/1.25 built with `GOEXPERIMENT=noswissmap`).
pub(crate) fn choose_flavor(version: Option<(u32, u32)>, has_swiss_symbols: bool) -> LayoutFlavor {
    match version {
        _ if has_swiss_symbols => LayoutFlavor::Swiss,
        Some((1, minor)) if minor >= SWISS_ONLY_MINOR => LayoutFlavor::Swiss,
        Some((major, _)) if major > 1 => LayoutFlavor::Swiss,
        _ => LayoutFlavor::Classic,
    }
}

fn f(name: &str, offset: u64, size: u64) -> FieldInfo {
    FieldInfo {
        name: name.to_string(),
        offset,
        size,
    }
}

/// The built-in layout for `flavor` in Go `1.minor` (64-bit), `None` outside the covered range.
pub(crate) fn builtin(flavor: LayoutFlavor, version: (u32, u32)) -> Option<MapLayout> {
    let (major, minor) = version;
    if major != 1 || !(BUILTIN_MIN_MINOR..=BUILTIN_MAX_MINOR).contains(&minor) {
        return None;
    }
    let fields = match flavor {
        // runtime.hmap, unchanged from go1.19 through map_noswiss.go in go1.25.
        LayoutFlavor::Classic if minor < SWISS_ONLY_MINOR => vec![
            f("count", 0, 8),
            f("flags", 8, 1),
            f("B", 9, 1),
            f("noverflow", 10, 2),
            f("hash0", 12, 4),
            f("buckets", 16, 8),
            f("oldbuckets", 24, 8),
            f("nevacuate", 32, 8),
            f("extra", 40, 8),
        ],
        LayoutFlavor::Classic => return None,
        LayoutFlavor::Swiss if minor < SWISS_FIRST_MINOR => return None,
        // internal/runtime/maps.Map. tombstonePossible (1.25+) sits in what was padding in
        // 1.24, so every other offset is the same.
        LayoutFlavor::Swiss => {
            let mut v = vec![
                f("used", 0, 8),
                f("seed", 8, 8),
                f("dirPtr", 16, 8),
                f("dirLen", 24, 8),
                f("globalDepth", 32, 1),
                f("globalShift", 33, 1),
                f("writing", 34, 1),
            ];
            if minor >= 25 {
                v.push(f("tombstonePossible", 35, 1));
            }
            v.push(f("clearSeq", 40, 8));
            v
        }
    };
    MapLayout::from_fields(flavor, LayoutSource::BuiltinTable, 48, fields)
}

/// The layout of the binary's map header: from DWARF when it has the type, else the built-in
/// table for its Go version, else [`TargetError::UnknownLayout`].
///
/// `dwarf` is the map header structs [`super::layout_dwarf::scan`] found, or why it failed.
pub(crate) fn resolve_layout(
    dwarf: Result<&[DwarfStruct], &str>,
    path: &Path,
    go_version: Option<&str>,
    has_swiss_symbols: bool,
) -> Result<MapLayout, TargetError> {
    let version = go_version.and_then(parse_go_version);
    let flavor = choose_flavor(version, has_swiss_symbols);
    match dwarf {
        Ok(found) => {
            let other = match flavor {
                LayoutFlavor::Classic => LayoutFlavor::Swiss,
                LayoutFlavor::Swiss => LayoutFlavor::Classic,
            };
            // The expected type first; the other one only if it is the only one described.
            for candidate in [flavor, other] {
                let Some(st) = found.iter().find(|s| s.name == candidate.type_name()) else {
                    continue;
                };
                if candidate != flavor {
                    tracing::warn!(
                        path = %path.display(),
                        expected = flavor.type_name(),
                        using = candidate.type_name(),
                        "map header type not in DWARF; using the other one it has"
                    );
                }
                match MapLayout::from_fields(
                    candidate,
                    LayoutSource::Dwarf,
                    st.byte_size,
                    st.fields.clone(),
                ) {
                    Some(layout) => return Ok(layout),
                    None => tracing::warn!(
                        path = %path.display(),
                        type_name = candidate.type_name(),
                        "DWARF map header lacks the written fields; trying the built-in table"
                    ),
                }
            }
        }
        Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot read DWARF"),
    }
    let layout = version.and_then(|v| builtin(flavor, v));
    match &layout {
        Some(_) => {
            tracing::debug!(path = %path.display(), ?flavor, "no DWARF map type; using the built-in layout")
        }
        None => {
            tracing::debug!(path = %path.display(), ?version, "no DWARF and no built-in layout")
        }
    }
    layout.ok_or_else(|| TargetError::UnknownLayout {
        path: path.to_path_buf(),
        go_version: go_version.map(str::to_string),
    })
}

#[cfg(test)]
#[path = "layout_tests.rs"]
mod tests;
