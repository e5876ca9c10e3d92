//! Symbolization from Go's own line table (`.gopclntab`, Go 1.18+ layout), the table the Go
//! runtime itself uses for tracebacks: function, file and line per PC, and the inline tree.
//! It is stored uncompressed and indexed by function, so opening a binary and answering an
//! address cost far less than inflating and walking its DWARF; the answers are the same, since
//! Go writes both from the same data.
//!
//! Layout (runtime/symtab.go, runtime2.go): a `pcHeader`; a function table of (entry offset,
//! `_func` offset) pairs; per function, PC-value tables (varint deltas) for the file and line
//! and for `PCDATA_InlTreeIndex`; the inline tree is a `FUNCDATA_InlTree` blob addressed from
//! the `go:func.*` symbol.

use std::path::Path;

mod locate;

use object::{Object as _, ObjectSection as _, ObjectSymbol as _};

pub use locate::FoundBy;

use crate::symbolize::Frame;

/// `pcHeader.magic` of Go 1.18–1.19 and of Go 1.20+.
const MAGIC_118: u32 = 0xffff_fff0;
const MAGIC_120: u32 = 0xffff_fff1;
/// `PCDATA_InlTreeIndex` and `FUNCDATA_InlTree`.
const PCDATA_INL_TREE_INDEX: u32 = 2;
const FUNCDATA_INL_TREE: u32 = 3;
/// Words of `moduledata.gofunc` (runtime/symtab.go): 38 in Go 1.19; 40 in Go 1.20 (after the
/// coverage counters); 43 once `typedesclen` and the itab bounds came before it.
const MODULEDATA_GOFUNC_WORDS: [u64; 3] = [38, 40, 43];
/// Inline levels followed at most (a corrupt tree must not loop).
const MAX_INLINE_DEPTH: usize = 64;

/// A Go binary's line table, ready for lookups.
pub struct GoLineTable {
    data: Vec<u8>,
    /// Offset of `.gopclntab` in `data`.
    tab: usize,
    tab_len: usize,
    go120: bool,
    quantum: u32,
    nfunc: usize,
    text_start: u64,
    funcname: usize,
    cu: usize,
    filetab: usize,
    pctab: usize,
    pcln: usize,
    /// File offset and virtual address of the `go:func.*` data (inline trees).
    gofunc: Option<(usize, u64)>,
    found_by: FoundBy,
    /// Virtual address of the table.
    vaddr: u64,
}

/// One function of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GoFunc<'a> {
    /// Its name, e.g. "runtime.mapassign_fast64".
    pub name: &'a str,
    /// Its first instruction's address and the address after its last byte (file vaddrs).
    pub entry: u64,
    pub end: u64,
}

/// Whether `bytes` start with a table header whose fields fit in them: 64-bit, a function
/// count, and every table offset inside `bytes`.
fn plausible_header(bytes: &[u8]) -> bool {
    let word = |i: usize| {
        bytes
            .get(8 + 8 * i..16 + 8 * i)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    };
    let Some(words) = (0..8).map(word).collect::<Option<Vec<u64>>>() else {
        return false;
    };
    let len = bytes.len() as u64;
    let nfunc = words[0];
    locate::HEADERS.iter().any(|h| bytes.starts_with(h))
        && nfunc > 0
        && words[3..8].iter().all(|&off| off > 0 && off < len)
        && words[7].saturating_add(8 * (nfunc + 1)) <= len
}

/// Where a binary's line table and what it needs lie.
struct Placed {
    /// The table itself.
    location: locate::Location,
    /// Candidate bases of its inline trees: (file offset, address).
    gofunc: Vec<(usize, u64)>,
    /// The start of the text its PCs count from; None where not found.
    text: Option<u64>,
}

impl GoLineTable {
    /// Reads `path`; None when it has no line table of a layout this reader knows.
    pub fn open(path: &Path) -> Option<Self> {
        Self::from_data(std::fs::read(path).ok()?)
    }

    /// The line table of the binary in `data`; None when it has none this reader knows.
    pub fn from_data(data: Vec<u8>) -> Option<Self> {
        let Placed {
            location,
            gofunc,
            text,
        } = Self::place(&data)?;
        let mut t = GoLineTable {
            data,
            tab: location.offset,
            tab_len: location.len,
            go120: false,
            quantum: 1,
            nfunc: 0,
            text_start: 0,
            funcname: 0,
            cu: 0,
            filetab: 0,
            pctab: 0,
            pcln: 0,
            gofunc: None,
            found_by: location.found_by,
            vaddr: location.vaddr,
        };
        t.go120 = match t.u32_at(0)? {
            MAGIC_118 => false,
            MAGIC_120 => true,
            _ => return None,
        };
        if t.byte(7)? != 8 {
            return None; // 64-bit only
        }
        t.quantum = u32::from(t.byte(6)?);
        let words: Vec<u64> = (0..8).map(|i| t.u64_at(8 + 8 * i)).collect::<Option<_>>()?;
        t.nfunc = words[0] as usize;
        t.text_start = text?;
        t.funcname = words[3] as usize;
        t.cu = words[4] as usize;
        t.filetab = words[5] as usize;
        t.pctab = words[6] as usize;
        t.pcln = words[7] as usize;
        t.gofunc = match gofunc.as_slice() {
            [only] => Some(*only),
            candidates => candidates
                .iter()
                .copied()
                .find(|&base| t.inline_trees_read_with(base)),
        };
        Some(t)
    }

    /// Where the line table of the binary in `data` lies, with the bases of its inline trees
    /// and the start of its text.
    fn place(data: &[u8]) -> Option<Placed> {
        let file = object::File::parse(data).ok()?;
        let plausible = |offset: usize, len: usize| {
            let end = offset.checked_add(len);
            end.and_then(|end| data.get(offset..end))
                .is_some_and(plausible_header)
        };
        let location =
            locate::table(&file, data, plausible).filter(|l| plausible(l.offset, l.len))?;
        let file_offset = |addr: u64| {
            file.sections().find_map(|sec| {
                let (off, len) = sec.file_range()?;
                let start = sec.address();
                let into = addr.checked_sub(start).filter(|&into| into < len)?;
                Some((usize::try_from(off.checked_add(into)?).ok()?, addr))
            })
        };
        let pointers = locate::Pointers::new(&file, data);
        // The inline trees' base: the `go:func.*` symbol, else candidates from moduledata
        // (checked against the trees once the table is read).
        let gofunc: Vec<(usize, u64)> = match file
            .symbols()
            .find(|s| matches!(s.name(), Ok("go:func.*") | Ok("go.func.*")))
        {
            Some(sym) => file_offset(sym.address()).into_iter().collect(),
            None => MODULEDATA_GOFUNC_WORDS
                .iter()
                .filter_map(|&w| locate::moduledata_word(&pointers, location.vaddr, w))
                .filter_map(file_offset)
                .collect(),
        };
        let stored = data
            .get(location.offset + 24..location.offset + 32)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))?;
        let text = locate::text_start(&file, &pointers, &location, stored);
        Some(Placed {
            location,
            gofunc,
            text,
        })
    }

    /// Whether the inline trees of the first functions that have one read as trees from `base`:
    /// every first entry names a function of the table and returns to a PC inside its caller.
    fn inline_trees_read_with(&self, base: (usize, u64)) -> bool {
        let mut checked = 0;
        for i in 0..self.nfunc {
            if checked == 16 {
                break;
            }
            let Some(func) = self
                .u32_at(self.pcln + 8 * i + 4)
                .map(|o| self.pcln + o as usize)
            else {
                return false;
            };
            let Some(tree) = self.inline_tree_offset(func) else {
                continue;
            };
            let size = self
                .u32_at(self.pcln + 8 * (i + 1))
                .zip(self.u32_at(self.pcln + 8 * i))
                .map_or(0, |(end, entry)| end.saturating_sub(entry));
            match self.inlined_call(base.0 + tree as usize, 0) {
                Some((name, parent_pc))
                    if self.func_name(name).is_some_and(|n| n.contains('.'))
                        && u32::try_from(parent_pc).is_ok_and(|pc| pc < size) => {}
                _ => return false,
            }
            checked += 1;
        }
        checked > 0
    }

    /// How the table was found.
    pub fn found_by(&self) -> FoundBy {
        self.found_by
    }

    /// Word `index` of the runtime's `moduledata` for this table (runtime/symtab.go), as the
    /// loader sets it: e.g. `types` (word 35 in Go 1.19, 37 from Go 1.20, which added the
    /// coverage counters before it). None when the struct is not found.
    pub fn moduledata_word(&self, index: u64) -> Option<u64> {
        let file = object::File::parse(&*self.data).ok()?;
        let pointers = locate::Pointers::new(&file, &self.data);
        locate::moduledata_word(&pointers, self.vaddr, index)
    }

    /// The function containing `pc` (a file virtual address), if Go's table has one.
    pub fn function_at(&self, pc: u64) -> Option<GoFunc<'_>> {
        let i = self.func_index(pc)?;
        let (entry, func) = self.func_entry(i)?;
        let end = self.u32_at(self.pcln + 8 * (i + 1))?;
        Some(GoFunc {
            name: self.func_name(self.func_u32(func, 4)? as i32)?,
            entry,
            end: (self.text_start + u64::from(end)).max(entry),
        })
    }

    /// The whole file the table was read from.
    pub fn file_data(&self) -> &[u8] {
        &self.data
    }

    /// Every function in the table, in address order.
    pub fn functions(&self) -> impl Iterator<Item = GoFunc<'_>> + '_ {
        (0..self.nfunc).map_while(move |i| {
            let entry = self.u32_at(self.pcln + 8 * i)?;
            let end = self.u32_at(self.pcln + 8 * (i + 1))?;
            let func = self.pcln + self.u32_at(self.pcln + 8 * i + 4)? as usize;
            let name = self.func_name(self.func_u32(func, 4)? as i32)?;
            Some(GoFunc {
                name,
                entry: self.text_start + u64::from(entry),
                end: self.text_start + u64::from(end.max(entry)),
            })
        })
    }

    fn bytes(&self, off: usize, len: usize) -> Option<&[u8]> {
        if off.checked_add(len)? > self.tab_len {
            return None;
        }
        self.data.get(self.tab + off..self.tab + off + len)
    }

    fn byte(&self, off: usize) -> Option<u8> {
        self.bytes(off, 1).map(|b| b[0])
    }

    fn u32_at(&self, off: usize) -> Option<u32> {
        Some(u32::from_le_bytes(self.bytes(off, 4)?.try_into().ok()?))
    }

    fn u64_at(&self, off: usize) -> Option<u64> {
        Some(u64::from_le_bytes(self.bytes(off, 8)?.try_into().ok()?))
    }

    fn cstr(&self, off: usize) -> Option<&str> {
        let rest = self.data.get(self.tab + off..self.tab + self.tab_len)?;
        let end = rest.iter().position(|&b| b == 0)?;
        std::str::from_utf8(&rest[..end]).ok()
    }

    /// The function containing `pc`: (entry pc, offset of its `_func` in the table).
    fn find_func(&self, pc: u64) -> Option<(u64, usize)> {
        self.func_entry(self.func_index(pc)?)
    }

    /// The index in the function table of the function containing `pc`.
    fn func_index(&self, pc: u64) -> Option<usize> {
        let rel = pc.checked_sub(self.text_start)?;
        let rel = u32::try_from(rel).ok()?;
        let entry = |i: usize| self.u32_at(self.pcln + 8 * i);
        // The table has nfunc entries plus an end marker.
        let end = entry(self.nfunc)?;
        if rel >= end {
            return None;
        }
        let (mut lo, mut hi) = (0usize, self.nfunc);
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            if entry(mid)? <= rel {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Some(lo)
    }

    /// The entry pc of function `i` of the table and the offset of its `_func`.
    fn func_entry(&self, i: usize) -> Option<(u64, usize)> {
        let funcoff = self.u32_at(self.pcln + 8 * i + 4)? as usize;
        let func = self.pcln + funcoff;
        let entry_off = self.u32_at(func)?;
        Some((self.text_start + u64::from(entry_off), func))
    }

    /// Field of `_func` at byte offset `at`.
    fn func_u32(&self, func: usize, at: usize) -> Option<u32> {
        self.u32_at(func + at)
    }

    /// Size of the fixed part of `_func` (Go 1.20 added `startLine`).
    fn func_fixed(&self) -> usize {
        if self.go120 {
            44
        } else {
            40
        }
    }

    fn func_name(&self, name_off: i32) -> Option<&str> {
        self.cstr(self.funcname + usize::try_from(name_off).ok()?)
    }

    /// The value of the PC-value table at `table` (offset into pctab) for `pc`.
    fn pc_value(&self, table: u32, entry: u64, pc: u64) -> Option<i64> {
        if table == 0 {
            return None;
        }
        let mut off = self.pctab + table as usize;
        let (mut value, mut at) = (-1i64, entry);
        let mut first = true;
        loop {
            let (uvdelta, n) = self.varint(off)?;
            off += n;
            if uvdelta == 0 && !first {
                return None;
            }
            first = false;
            let delta = if uvdelta & 1 != 0 {
                !((uvdelta >> 1) as i64)
            } else {
                (uvdelta >> 1) as i64
            };
            value += delta;
            let (pcdelta, n) = self.varint(off)?;
            off += n;
            at += pcdelta * u64::from(self.quantum);
            if pc < at {
                return Some(value);
            }
        }
    }

    fn varint(&self, off: usize) -> Option<(u64, usize)> {
        let mut v = 0u64;
        for i in 0..10 {
            let b = self.byte(off + i)?;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Some((v, i + 1));
            }
        }
        None
    }

    fn file_line(&self, func: usize, entry: u64, pc: u64) -> (Option<String>, Option<u32>) {
        let file = (|| {
            let fileno = self.pc_value(self.func_u32(func, 20)?, entry, pc)?;
            let cu_off = self.func_u32(func, 32)?;
            let idx = self.cu + 4 * (cu_off as usize + usize::try_from(fileno).ok()?);
            let name_off = self.u32_at(idx)?;
            if name_off == u32::MAX {
                return None;
            }
            let name = self.cstr(self.filetab + name_off as usize)?;
            // As DWARF readers answer: a relative name (`<autogenerated>`, -trimpath paths)
            // joined to Go's compilation directory, ".".
            Some(if name.starts_with('/') {
                name.to_owned()
            } else {
                format!("./{name}")
            })
        })();
        let line = self
            .func_u32(func, 24)
            .and_then(|t| self.pc_value(t, entry, pc))
            .and_then(|l| u32::try_from(l).ok())
            .filter(|&l| l > 0);
        (file, line)
    }

    /// The inline tree entry `index` of the tree at `tree` (file offset): (name offset,
    /// parent PC offset from the function entry).
    fn inlined_call(&self, tree: usize, index: i64) -> Option<(i32, i32)> {
        let index = usize::try_from(index).ok()?;
        let (size, name_at, parent_at) = if self.go120 { (16, 4, 8) } else { (20, 12, 16) };
        let at = tree + index * size;
        let raw = self.data.get(at..at + size)?;
        let i32_at = |o: usize| i32::from_le_bytes(raw[o..o + 4].try_into().expect("4 bytes"));
        Some((i32_at(name_at), i32_at(parent_at)))
    }

    /// Offset of the inline tree of the `_func` at `func` from the `go:func.*` data, if it has
    /// one.
    fn inline_tree_offset(&self, func: usize) -> Option<u32> {
        let npcdata = self.func_u32(func, 28)?;
        let nfuncdata = u32::from(self.byte(func + self.func_fixed() - 1)?);
        (FUNCDATA_INL_TREE < nfuncdata)
            .then(|| {
                let at = self.func_fixed() + 4 * npcdata as usize + 4 * FUNCDATA_INL_TREE as usize;
                self.func_u32(func, at)
            })
            .flatten()
            .filter(|&off| off != u32::MAX)
    }

    /// Frames for `pc` (a file virtual address), innermost first; None outside Go's functions.
    pub fn frames(&self, pc: u64) -> Option<Vec<Frame>> {
        let (entry, func) = self.find_func(pc)?;
        let name_off = self.func_u32(func, 4)? as i32;
        let npcdata = self.func_u32(func, 28)?;
        let pcdata = |i: u32| {
            (i < npcdata)
                .then(|| self.func_u32(func, self.func_fixed() + 4 * i as usize))
                .flatten()
        };
        let tree = self
            .inline_tree_offset(func)
            .and_then(|off| self.gofunc.map(|(base, _)| base + off as usize));
        let mut frames = Vec::new();
        let mut at = pc;
        if let (Some(tree), Some(index_table)) = (tree, pcdata(PCDATA_INL_TREE_INDEX)) {
            while frames.len() < MAX_INLINE_DEPTH {
                let Some(ix) = self.pc_value(index_table, entry, at).filter(|&ix| ix >= 0) else {
                    break;
                };
                let (inl_name, parent_pc) = self.inlined_call(tree, ix)?;
                let (file, line) = self.file_line(func, entry, at);
                frames.push(Frame {
                    function: self.func_name(inl_name)?.to_owned(),
                    file,
                    line,
                });
                at = entry + u64::try_from(parent_pc).ok()?;
            }
        }
        let (file, line) = self.file_line(func, entry, at);
        frames.push(Frame {
            function: self.func_name(name_off)?.to_owned(),
            file,
            line,
        });
        Some(frames)
    }
}

#[cfg(test)]
mod tests;
