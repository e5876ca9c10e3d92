//! Turns sampled user-stack addresses into function, file and line, inlined frames included,
//! with `addr2line` over the target's DWARF. One symbolizer per binary, one cached answer per
//! address.
//!
//! The DWARF is mapped when the target is resolved, from `/proc/PID/exe`, so stacks can still be
//! symbolized after the target exits or when its file was replaced or deleted.

use std::{collections::HashMap, path::Path};

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
    loader: addr2line::Loader,
    /// Executable sections (start, end); addresses outside them are unknown by definition (the
    /// symbol table would otherwise answer with the nearest symbol below anything).
    text: Vec<(u64, u64)>,
    cache: HashMap<u64, Vec<Frame>>,
}

fn text_ranges(path: &Path) -> Vec<(u64, u64)> {
    use object::{Object as _, ObjectSection as _, SectionKind};
    let Ok(data) = std::fs::read(path) else {
        return Vec::new();
    };
    let Ok(file) = object::File::parse(&*data) else {
        return Vec::new();
    };
    file.sections()
        .filter(|s| s.kind() == SectionKind::Text)
        .map(|s| (s.address(), s.address() + s.size()))
        .collect()
}

impl Symbolizer {
    /// Maps `path` and prepares its DWARF (parsed lazily, per compilation unit).
    pub fn open(path: &Path) -> Result<Self, SymbolizeError> {
        let loader = addr2line::Loader::new(path).map_err(|e| SymbolizeError::Load {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(Symbolizer {
            loader,
            text: text_ranges(path),
            cache: HashMap::new(),
        })
    }

    /// Frames for the file-relative address `addr` (runtime address minus load bias), innermost
    /// first. Unknown addresses give one frame named by the address.
    pub fn frames(&mut self, addr: u64) -> &[Frame] {
        let (loader, text) = (&self.loader, &self.text);
        self.cache
            .entry(addr)
            .or_insert_with(|| lookup(loader, text, addr))
    }
}

fn lookup(loader: &addr2line::Loader, text: &[(u64, u64)], addr: u64) -> Vec<Frame> {
    // Outside code, DWARF can still "match": linkers leave discarded functions at address 0.
    if !text
        .iter()
        .any(|&(start, end)| (start..end).contains(&addr))
    {
        return vec![Frame::unknown(addr)];
    }
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
    let in_text = text
        .iter()
        .any(|&(start, end)| (start..end).contains(&addr));
    if out.is_empty() && in_text {
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
mod tests {
    use super::*;

    #[test]
    fn return_addresses_are_looked_up_one_byte_back() {
        assert_eq!(lookup_addr(0x401000, 0, 0), 0x401000);
        assert_eq!(lookup_addr(0x401000, 0, 1), 0x400fff);
        assert_eq!(lookup_addr(0x5555_0000_1000, 0x5555_0000_0000, 2), 0xfff);
    }

    #[test]
    fn symbolizes_a_function_of_this_test_binary() {
        let exe = std::env::current_exe().expect("current_exe");
        let mut sym = Symbolizer::open(&exe).expect("open own binary");
        let data = std::fs::read(&exe).expect("read own binary");
        let file = object::File::parse(&*data).expect("parse own binary");
        use object::{Object, ObjectSymbol};
        let sym_addr = file
            .symbols()
            .find(|s| {
                s.name()
                    .is_ok_and(|n| n.contains("symbolizes_a_function_of_this_test_binary"))
            })
            .map(|s| s.address())
            .expect("symbol of this test in the symbol table");
        let frames = sym.frames(sym_addr);
        assert!(
            frames[0]
                .function
                .contains("symbolizes_a_function_of_this_test_binary"),
            "got {frames:?}"
        );
        assert!(
            frames[0]
                .file
                .as_deref()
                .is_some_and(|f| f.ends_with("symbolize.rs")),
            "got {frames:?}"
        );
    }

    #[test]
    fn unknown_address_is_named_by_its_value() {
        let exe = std::env::current_exe().expect("current_exe");
        let mut sym = Symbolizer::open(&exe).expect("open own binary");
        let frames = sym.frames(0x10);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].function, "0x10");
    }
}
