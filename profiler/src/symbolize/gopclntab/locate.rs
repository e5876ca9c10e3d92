//! Finding a Go binary's line table, and the addresses it is relative to, in binaries built
//! any way: with or without a symbol table, position-dependent or PIE, internally or externally
//! linked.
//!
//! - The table: the `.gopclntab` section (Go's internal linker; Go 1.19 PIE calls it
//!   `.data.rel.ro.gopclntab`), else the first 8-aligned `pcHeader` magic in the file that parses
//!   as a table (external linkers may merge it into `.data.rel.ro`).
//! - The text base that function entries count from: `pcHeader.textStart`, which newer linkers
//!   leave 0 and PIE files hold as a relocation; else the `runtime.text` symbol; else
//!   `moduledata.text` (the runtime's own record: `firstmoduledata.pcHeader` points at the table,
//!   `text` is word 22 of the struct in Go 1.19–1.27, runtime/symtab.go); else `.text`.
//!
//! A pointer in the file is either written as is (position-dependent) or left 0 with an
//! `R_X86_64_RELATIVE` relocation whose addend is the value (PIE): [`Pointers`] reads both.

use std::collections::HashMap;

use object::{
    Object as _, ObjectSection as _, ObjectSymbol as _, RelocationFlags, RelocationTarget,
};

/// `pcHeader.magic` of Go 1.18–1.19 and of Go 1.20+, followed by two zero pad bytes, the
/// instruction size quantum (1 on x86) and the pointer size (8).
pub(super) const HEADERS: [[u8; 8]; 2] = [
    [0xf0, 0xff, 0xff, 0xff, 0, 0, 1, 8],
    [0xf1, 0xff, 0xff, 0xff, 0, 0, 1, 8],
];

/// Offset of `pcHeader.textStart` (magic, pads, quantum, ptrsize, nfunc, nfiles).
const TEXT_START_AT: u64 = 24;
/// Word index of `moduledata.text` (after pcHeader, six slices, findfunctab, minpc, maxpc).
const MODULEDATA_TEXT_WORD: u64 = 22;

/// Where the line table lies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Location {
    /// File offset and length of the table.
    pub offset: usize,
    pub len: usize,
    /// Its virtual address (before any load bias).
    pub vaddr: u64,
    /// Where it was found.
    pub found_by: FoundBy,
}

/// How the table was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FoundBy {
    /// A section named for it.
    Section,
    /// Its header magic, in a section of another name.
    Magic,
}

/// The line table of `file`: a section named for it, else a header found by its magic that
/// `parses` accepts (given the candidate's file offset and the bytes from there to the end of
/// its section).
pub(super) fn table(
    file: &object::File<'_>,
    data: &[u8],
    parses: impl Fn(usize, usize) -> bool,
) -> Option<Location> {
    for name in [".gopclntab", ".data.rel.ro.gopclntab"] {
        if let Some(section) = file.section_by_name(name) {
            let (offset, len) = section.file_range()?;
            return Some(Location {
                offset: offset as usize,
                len: len as usize,
                vaddr: section.address(),
                found_by: FoundBy::Section,
            });
        }
    }
    for section in file.sections() {
        let Some((start, len)) = section.file_range() else {
            continue;
        };
        let (start, len) = (start as usize, len as usize);
        let bytes = data.get(start..start.checked_add(len)?)?;
        // Sections are aligned at least as much as the header (8); so are candidates.
        let skip = (8 - section.address() % 8) as usize % 8;
        for at in (skip..bytes.len().saturating_sub(8)).step_by(8) {
            if HEADERS.iter().any(|h| bytes[at..at + 8] == *h) && parses(start + at, len - at) {
                return Some(Location {
                    offset: start + at,
                    len: len - at,
                    vaddr: section.address() + at as u64,
                    found_by: FoundBy::Magic,
                });
            }
        }
    }
    None
}

/// Pointer-sized values stored in the file, as the loader would see them.
pub(super) struct Pointers<'d, 'f> {
    file: &'f object::File<'d>,
    data: &'d [u8],
    /// `R_X86_64_RELATIVE` targets → addends (PIE); empty for position-dependent files.
    relative: HashMap<u64, u64>,
}

impl<'d, 'f> Pointers<'d, 'f> {
    pub fn new(file: &'f object::File<'d>, data: &'d [u8]) -> Self {
        let relative = file
            .dynamic_relocations()
            .into_iter()
            .flatten()
            .filter(|(_, r)| {
                matches!(r.target(), RelocationTarget::Absolute)
                    && r.flags()
                        == (RelocationFlags::Elf {
                            r_type: object::elf::R_X86_64_RELATIVE,
                        })
                    && r.addend() > 0
            })
            .map(|(at, r)| (at, r.addend() as u64))
            .collect();
        Pointers {
            file,
            data,
            relative,
        }
    }

    /// The pointer at `vaddr`: its relocation's addend, else the 8 bytes in the file.
    pub fn at(&self, vaddr: u64) -> Option<u64> {
        if let Some(&v) = self.relative.get(&vaddr) {
            return Some(v);
        }
        let offset = self.file_offset(vaddr)?;
        let bytes = self.data.get(offset..offset.checked_add(8)?)?;
        Some(u64::from_le_bytes(bytes.try_into().ok()?)).filter(|&v| v != 0)
    }

    fn file_offset(&self, vaddr: u64) -> Option<usize> {
        self.file.sections().find_map(|s| {
            let (offset, len) = s.file_range()?;
            let into = vaddr.checked_sub(s.address())?;
            if into.checked_add(8)? > len {
                return None;
            }
            usize::try_from(offset.checked_add(into)?).ok()
        })
    }

    /// Addresses of 8-aligned words in the file's data that point at `target`.
    fn pointing_at(&self, target: u64) -> Vec<u64> {
        let mut found: Vec<u64> = self
            .relative
            .iter()
            .filter(|(_, &v)| v == target)
            .map(|(&at, _)| at)
            .collect();
        if found.is_empty() {
            let needle = target.to_le_bytes();
            // moduledata is in `.noptrdata` (Go 1.19) or `.go.module` (recent linkers).
            for s in self.file.sections() {
                if matches!(s.kind(), object::SectionKind::Text) {
                    continue;
                }
                let Some((offset, len)) = s.file_range() else {
                    continue;
                };
                let end = offset.saturating_add(len);
                let Some(bytes) = self.data.get(offset as usize..end as usize) else {
                    continue;
                };
                let skip = (8 - s.address() % 8) as usize % 8;
                found.extend(
                    (skip..bytes.len().saturating_sub(7))
                        .step_by(8)
                        .filter(|&i| bytes[i..i + 8] == needle)
                        .map(|i| s.address() + i as u64),
                );
            }
        }
        found.sort_unstable();
        found
    }
}

/// The address function entries count from (see the module docs). `header_text_start` is the
/// table's own field as stored in the file (0 when left to the loader).
pub(super) fn text_start(
    file: &object::File<'_>,
    pointers: &Pointers<'_, '_>,
    table: &Location,
    header_text_start: u64,
) -> Option<u64> {
    if header_text_start != 0 {
        return Some(header_text_start);
    }
    if let Some(v) = pointers.at(table.vaddr + TEXT_START_AT) {
        return Some(v);
    }
    if let Some(sym) = file.symbols().find(|s| s.name() == Ok("runtime.text")) {
        return Some(sym.address());
    }
    moduledata_word(pointers, table.vaddr, MODULEDATA_TEXT_WORD)
        .or_else(|| file.section_by_name(".text").map(|s| s.address()))
}

/// Word `index` of the runtime's `moduledata` for the table at `table_vaddr`: the struct whose
/// first word points at the table.
pub(super) fn moduledata_word(
    pointers: &Pointers<'_, '_>,
    table_vaddr: u64,
    index: u64,
) -> Option<u64> {
    pointers
        .pointing_at(table_vaddr)
        .into_iter()
        .find_map(|md| pointers.at(md + 8 * index))
}
