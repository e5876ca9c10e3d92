//! Turns sampled user-stack addresses into function, file and line, inlined frames included:
//! from Go's own line table (`.gopclntab`, see `gopclntab`) for Go binaries, otherwise (and for
//! addresses it does not cover) with `addr2line` over the binary's DWARF, loaded on first need.
//! One symbolizer per binary, one cached answer per address.
//!
//! The DWARF is mapped when the target is resolved, from `/proc/PID/exe`, so stacks can still be
//! symbolized after the target exits or when its file was replaced or deleted.

pub mod gopclntab;

use std::{
    cell::OnceCell,
    collections::HashMap,
    path::{Path, PathBuf},
};

use crate::symbolize::gopclntab::GoLineTable;

use serde::{Deserialize, Serialize};

/// One source-level frame; several per address when calls were inlined (innermost first).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Frame {
    /// Function name as the binary spells it (Go: `main.worker`, `runtime.mapassign_fast64`).
    pub function: String,
    /// Source file, when DWARF knows it.
    pub file: Option<String>,
    /// Source line, when DWARF knows it.
    pub line: Option<u32>,
}

impl Frame {
    fn unknown(addr: u64) -> Self {
        Frame {
            function: format!("{addr:#x}"),
            file: None,
            line: None,
        }
    }
}

/// Errors opening a binary for symbolization.
#[derive(Debug, thiserror::Error)]
pub enum SymbolizeError {
    /// The binary or its DWARF could not be read.
    #[error("cannot read debug info of {path}: {reason}")]
    Load { path: String, reason: String },
}

/// Symbolizer for one binary.
pub struct Symbolizer {
    path: PathBuf,
    /// Go's line table, for Go binaries.
    go: Option<GoLineTable>,
    /// DWARF, loaded the first time an address needs it (None: unreadable).
    dwarf: OnceCell<Option<addr2line::Loader>>,
    /// Executable sections (start, end, file offset); addresses outside them are unknown by
    /// definition (the symbol table would otherwise answer with the nearest symbol below
    /// anything).
    text: Vec<(u64, u64, u64)>,
    /// Functions of the symbol table (start, end), by start: the code of a Go binary that Go's
    /// table does not cover (cgo's C).
    symbol_funcs: Vec<(u64, u64)>,
    cache: HashMap<u64, Vec<Frame>>,
}

/// The sized function symbols of `data` (start, end), by start.
fn symbol_functions(data: &[u8]) -> Vec<(u64, u64)> {
    use object::{Object as _, ObjectSymbol as _, SymbolKind};
    let Ok(file) = object::File::parse(data) else {
        return Vec::new();
    };
    let mut funcs: Vec<(u64, u64)> = file
        .symbols()
        .filter(|s| s.kind() == SymbolKind::Text && s.is_definition() && s.size() > 0)
        .map(|s| (s.address(), s.address() + s.size()))
        .collect();
    funcs.sort_unstable();
    funcs.dedup_by_key(|f| f.0);
    funcs
}

fn text_ranges(data: &[u8]) -> Vec<(u64, u64, u64)> {
    use object::{Object as _, ObjectSection as _, SectionKind};
    let Ok(file) = object::File::parse(data) else {
        return Vec::new();
    };
    file.sections()
        .filter(|s| s.kind() == SectionKind::Text)
        .map(|s| {
            let offset = s.file_range().map_or(0, |(offset, _)| offset);
            (s.address(), s.address() + s.size(), offset)
        })
        .collect()
}

impl Symbolizer {
    /// Opens `path`: its Go line table at once, its DWARF when first needed.
    pub fn open(path: &Path) -> Result<Self, SymbolizeError> {
        let load_error = |reason: String| SymbolizeError::Load {
            path: path.display().to_string(),
            reason,
        };
        let data = std::fs::read(path).map_err(|e| load_error(e.to_string()))?;
        let text = text_ranges(&data);
        let symbol_funcs = symbol_functions(&data);
        let go = GoLineTable::from_data(data);
        let symbolizer = Symbolizer {
            path: path.to_owned(),
            go,
            dwarf: OnceCell::new(),
            text,
            symbol_funcs,
            cache: HashMap::new(),
        };
        if symbolizer.go.is_none() {
            // Not a Go binary: DWARF is all there is, so its errors are this call's.
            let loader = addr2line::Loader::new(path).map_err(|e| load_error(e.to_string()))?;
            let _ = symbolizer.dwarf.set(Some(loader));
        }
        Ok(symbolizer)
    }

    /// Frames for the file-relative address `addr` (runtime address minus load bias), innermost
    /// first. Unknown addresses give one frame named by the address.
    pub fn frames(&mut self, addr: u64) -> &[Frame] {
        let Symbolizer {
            path,
            go,
            dwarf,
            text,
            cache,
            ..
        } = self;
        cache.entry(addr).or_insert_with(|| {
            if !text
                .iter()
                .any(|&(start, end, _)| (start..end).contains(&addr))
            {
                // Outside code, DWARF can still "match": linkers leave discarded functions at
                // address 0.
                return vec![Frame::unknown(addr)];
            }
            if let Some(frames) = go.as_ref().and_then(|g| g.frames(addr)) {
                return frames;
            }
            match dwarf.get_or_init(|| addr2line::Loader::new(&*path).ok()) {
                Some(loader) => lookup(loader, addr),
                None => vec![Frame::unknown(addr)],
            }
        })
    }
}

impl Symbolizer {
    /// The code of the function of a Go binary holding the file-relative address `addr`: its
    /// first instruction's address and its bytes. Go's functions come from Go's table; code it
    /// does not cover (cgo's C) from the symbol table's sized functions. None elsewhere, and in
    /// binaries that are not Go's.
    pub fn code_at(&self, addr: u64) -> Option<(u64, &[u8])> {
        let go = self.go.as_ref()?;
        let (entry, func_end) = match go.function_at(addr) {
            Some(func) => (func.entry, func.end),
            None => self.symbol_function(addr)?,
        };
        let &(start, end, offset) = self
            .text
            .iter()
            .find(|&&(start, end, _)| (start..end).contains(&entry))?;
        let from = usize::try_from(offset + (entry - start)).ok()?;
        let len = usize::try_from(func_end.min(end) - entry).ok()?;
        let code = go.file_data().get(from..from.checked_add(len)?)?;
        Some((entry, code))
    }

    /// The symbol table's function holding `addr` (start, end), if any. The IP of a sample
    /// taken after a function's last instruction is its end, so the end counts as inside.
    fn symbol_function(&self, addr: u64) -> Option<(u64, u64)> {
        let i = self
            .symbol_funcs
            .partition_point(|&(start, _)| start <= addr);
        let &(start, end) = self.symbol_funcs.get(i.checked_sub(1)?)?;
        (addr <= end).then_some((start, end))
    }
}

fn lookup(loader: &addr2line::Loader, addr: u64) -> Vec<Frame> {
    let mut out = Vec::new();
    if let Ok(mut frames) = loader.find_frames(addr) {
        while let Ok(Some(frame)) = frames.next() {
            let function = frame
                .function
                .as_ref()
                .and_then(|f| f.raw_name().ok().map(|n| n.into_owned()));
            let Some(function) = function else { continue };
            let (file, line) = match frame.location {
                Some(loc) => (loc.file.map(str::to_owned), loc.line),
                None => (None, None),
            };
            out.push(Frame {
                function,
                file,
                line,
            });
        }
    }
    if out.is_empty() {
        match loader.find_symbol(addr) {
            Some(name) => out.push(Frame {
                function: name.to_owned(),
                file: None,
                line: None,
            }),
            None => out.push(Frame::unknown(addr)),
        }
    }
    out
}

/// The address to look up for stack entry `depth`: return addresses (every frame but the first)
/// point after the call, so look up the call instruction's last byte instead.
pub fn lookup_addr(runtime_addr: u64, bias: u64, depth: usize) -> u64 {
    let addr = runtime_addr.wrapping_sub(bias);
    if depth == 0 {
        addr
    } else {
        addr.wrapping_sub(1)
    }
}

#[cfg(test)]
mod tests;
