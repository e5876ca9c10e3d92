//! Reading a Go executable: the `runtime.mapassign*` symbols and their RET sites, the map growth
//! functions, and the pieces from [`super::buildinfo`], [`super::layout`] and
//! [`super::map_types`]. Results are cached per file identity.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use object::{Object, ObjectKind, ObjectSection, ObjectSymbol};

use crate::symbolize::gopclntab::GoLineTable;
use profiler_common::AssignKind;

use super::access_funcs::{self, AccessFunc, Candidate};
use super::elf::{self, ProbeSite};
use super::{buildinfo, disasm, layout, layout_dwarf, map_types};
use super::{LayoutFlavor, MapLayout, TargetError};

/// A Go executable, as far as clprof cares.
#[derive(Clone, Debug)]
pub struct GoBinary {
    /// Path it was read from.
    pub path: PathBuf,
    /// (device, inode) of the file read: probes go into this file only, even when the path
    /// (a `/proc/PID/exe` link) later names another one. None where not known.
    pub file_id: Option<(u64, u64)>,
    /// Go version from `.go.buildinfo`, e.g. "go1.27.3"; `None` when absent or in a format
    /// older than Go 1.18.
    pub go_version: Option<String>,
    /// The ELF type is `ET_DYN` (position independent): addresses need a load bias.
    pub is_pie: bool,
    /// Layout of the map header the assign functions write.
    pub layout: MapLayout,
    /// The map-assign functions present, in [`AssignKind::ALL`] order; never empty.
    pub assign_funcs: Vec<AssignFunc>,
    /// Hex of the GNU build id note, else the Go build id string, else `None`.
    pub build_id: Option<String>,
    /// The functions that grow a map during an assign, those of [`GROWTH_FUNCS`] for the
    /// binary's flavor that it links, in that order; may be empty.
    pub growth_funcs: Vec<ProbeSite>,
    /// The functions that make a map (those of [`MAKE_FUNCS`] it links), with their RET sites;
    /// may be empty.
    pub make_funcs: Vec<MakeFunc>,
    /// The other map functions (lookups, iteration, deletes, clear) to probe, see
    /// [`access_funcs`]; may be empty.
    pub access_funcs: Vec<AccessFunc>,
    /// Where the runtime functions were found.
    pub symbols_source: SymbolsSource,
    /// Address of the first runtime type descriptor (`moduledata.types`, file vaddr): type
    /// names the DWARF lacks are read from the descriptors there, see [`GoBinary::type_name`].
    pub types_base: Option<u64>,
    /// Runtime type descriptor address (file vaddr, before any load bias) → Go type name, for
    /// every map type in the DWARF (e.g. "map[string]int"). An assign gets its map type as
    /// the first argument (RAX). Empty without DWARF; types the DWARF does not describe (maps
    /// only in optimized locals) are missing, see [`super::map_types`].
    pub map_types: HashMap<u64, String>,
}

impl GoBinary {
    /// The assign function of `kind`, if the binary has it.
    pub fn assign_func(&self, kind: AssignKind) -> Option<&AssignFunc> {
        self.assign_funcs.iter().find(|f| f.kind == kind)
    }

    /// The assign function whose code holds the file address `vaddr`, if any.
    pub fn assign_func_at(&self, vaddr: u64) -> Option<&AssignFunc> {
        self.assign_funcs.iter().find(|f| f.contains(vaddr))
    }

    /// The Go name of the type whose descriptor is at `vaddr` (file vaddr): from the DWARF,
    /// else read from the descriptor itself in the file.
    pub fn type_name(&self, vaddr: u64) -> Option<String> {
        if let Some(name) = self.map_types.get(&vaddr) {
            return Some(name.clone());
        }
        map_types::read_type_name(&self.path, self.types_base?, vaddr)
    }
}

/// Where a binary's runtime functions were found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SymbolsSource {
    /// The ELF symbol table (`.symtab`).
    Symtab,
    /// Go's own function table (`.gopclntab`), which stripped binaries keep.
    Gopclntab,
}

/// One `runtime.mapassign*` function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssignFunc {
    /// Which of the five functions.
    pub kind: AssignKind,
    /// Its symbol name, e.g. "runtime.mapassign_fast64".
    pub symbol: String,
    /// Virtual address in the file (before any load bias).
    pub vaddr: u64,
    /// Size in bytes from the symbol table (0 if unknown).
    pub size: u64,
    /// Offset of the first instruction in the file: what uprobes attach at.
    pub file_offset: u64,
    /// File offsets of every `ret` / `ret imm16` in `[vaddr, vaddr + size)`, ascending: where
    /// uprobes stand in for uretprobes (see [`super::disasm`]). Empty when the function could
    /// not be disassembled (a warning is logged).
    pub ret_offsets: Vec<u64>,
}

impl AssignFunc {
    /// Whether the file address `vaddr` is in the function's code, `[vaddr, vaddr + size)`.
    pub fn contains(&self, vaddr: u64) -> bool {
        vaddr >= self.vaddr && vaddr - self.vaddr < self.size
    }
}

/// One function that makes a map; its RETs return the new header in RAX.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MakeFunc {
    /// Its symbol name, e.g. "runtime.makemap_small".
    pub symbol: String,
    /// Size in bytes (0 if unknown).
    pub size: u64,
    /// File offsets of its RET instructions (empty when it could not be disassembled).
    pub ret_offsets: Vec<u64>,
}

/// The functions that make a map, in both layouts: `make(map[K]V)` with no or a small hint
/// (`makemap_small`), with a hint (`makemap`, and `makemap64` for an int64 hint on 32-bit
/// targets' behalf, which calls `makemap`).
pub const MAKE_FUNCS: [&str; 3] = [
    "runtime.makemap",
    "runtime.makemap_small",
    "runtime.makemap64",
];

/// The functions that grow a map inside an assign, per flavor.
///
/// Swiss (internal/runtime/maps): growth is done at once by the assign that runs out of room:
/// `(*Map).growToSmall` (first group of a small map) and `(*Map).growToTable` (small map to a
/// full table), map.go; `(*table).rehash`, which replaces a full table with one twice as big
/// (`grow`) or splits it in two (`split`), table.go — `grow` and `split` are only called from
/// `rehash`, so probing `rehash` sees both. Classic (runtime/map.go): `hashGrow` allocates the new buckets and sets
/// `oldbuckets`; evacuation then proceeds incrementally in later writes (`growWork`).
pub const GROWTH_FUNCS: [(LayoutFlavor, &str); 4] = [
    (LayoutFlavor::Swiss, "internal/runtime/maps.(*table).rehash"),
    (
        LayoutFlavor::Swiss,
        "internal/runtime/maps.(*Map).growToTable",
    ),
    (
        LayoutFlavor::Swiss,
        "internal/runtime/maps.(*Map).growToSmall",
    ),
    (LayoutFlavor::Classic, "runtime.hashGrow"),
];

/// Word of `moduledata.types` (runtime/symtab.go): after pcHeader, six slices, findfunctab,
/// minpc, maxpc and the text/noptrdata/data/bss/noptrbss bounds come `covctrs, ecovctrs` (Go
/// 1.20+), then `end, gcdata, gcbss`, then `types`.
const MODULEDATA_TYPES_WORD: u64 = 37;
const MODULEDATA_TYPES_WORD_119: u64 = 35;

/// Symbols of the swiss map implementation. Only Go 1.24+ with swiss maps (the default; the
/// only choice from 1.26) links methods of `internal/runtime/maps.Map`, which the swiss
/// `runtime.mapassign*` call (internal/runtime/maps/runtime_fast64.go, map.go).
const SWISS_SYMBOL_PREFIX: &str = "internal/runtime/maps.(*Map).";

/// Reads `path` and returns what clprof needs to probe it. Results are cached by
/// (device, inode, size, mtime), so asking again for an unchanged file is cheap.
pub fn inspect_binary(path: &Path) -> Result<GoBinary, TargetError> {
    inspect_binary_shared(path).map(|b| (*b).clone())
}

type CacheKey = (u64, u64, u64, i64, i64);

fn cache() -> &'static Mutex<HashMap<CacheKey, Arc<GoBinary>>> {
    static CACHE: std::sync::OnceLock<Mutex<HashMap<CacheKey, Arc<GoBinary>>>> =
        std::sync::OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// Bound on cached binaries; the cache is emptied past it (profiling sessions see few binaries).
const CACHE_LIMIT: usize = 64;

/// [`inspect_binary`], sharing the cached value.
pub(crate) fn inspect_binary_shared(path: &Path) -> Result<Arc<GoBinary>, TargetError> {
    let md = std::fs::metadata(path).map_err(|e| TargetError::io(path, e))?;
    let key = (md.dev(), md.ino(), md.size(), md.mtime(), md.mtime_nsec());
    let hit = cache().lock().ok().and_then(|c| c.get(&key).cloned());
    if let Some(hit) = hit {
        tracing::trace!(path = %path.display(), "binary cache hit");
        if hit.path == path {
            return Ok(hit);
        }
        return Ok(Arc::new(GoBinary {
            path: path.to_path_buf(),
            ..(*hit).clone()
        }));
    }
    let mut binary = inspect_uncached(path)?;
    // A process that execs while its executable is read leaves a link to another file: what
    // was read then belongs to neither for sure.
    let after = std::fs::metadata(path).map_err(|e| TargetError::io(path, e))?;
    if (after.dev(), after.ino()) != (md.dev(), md.ino()) {
        return Err(TargetError::Replaced {
            path: path.to_path_buf(),
        });
    }
    binary.file_id = Some((md.dev(), md.ino()));
    let binary = Arc::new(binary);
    if let Ok(mut c) = cache().lock() {
        if c.len() >= CACHE_LIMIT {
            c.clear();
        }
        c.insert(key, binary.clone());
    }
    Ok(binary)
}

fn inspect_uncached(path: &Path) -> Result<GoBinary, TargetError> {
    let data = elf::open(path)?;
    let obj = elf::parse(path, &data)?;
    let is_pie = obj.kind() == ObjectKind::Dynamic;

    // Go's own function table, read when the symbol table lacks what is needed.
    let mut table: Option<Option<GoLineTable>> = None;
    let (found, symbols_source) = find_functions(path, &obj, &mut table);
    let Functions {
        mut assign_funcs,
        mut growth,
        access,
        make_funcs,
        has_swiss_symbols,
    } = found;
    if assign_funcs.is_empty() {
        return Err(TargetError::NoMapFunctions {
            path: path.to_path_buf(),
        });
    }
    assign_funcs.sort_by_key(|f| f.kind as u32);

    let go_version = buildinfo::go_version(&obj);
    let build_id = buildinfo::build_id(&obj);
    let dwarf = layout_dwarf::scan(&obj);
    let structs = dwarf.as_ref().map(|d| d.structs.as_slice());
    let layout = layout::resolve_layout(
        structs.map_err(String::as_str),
        path,
        go_version.as_deref(),
        has_swiss_symbols,
    )?;
    growth.sort_by_key(|(i, _)| *i);
    let growth_funcs: Vec<ProbeSite> = growth
        .into_iter()
        .filter(|(i, _)| GROWTH_FUNCS[*i].0 == layout.flavor)
        .map(|(_, site)| site)
        .collect();
    let access_funcs =
        access_funcs::keep(access.into_iter().map(|(c, _)| c).collect(), layout.flavor);
    let types_word = types_word(go_version.as_deref());
    let types_base = map_types::types_base(&obj, is_pie, || {
        table
            .get_or_insert_with(|| GoLineTable::open(path))
            .as_ref()?
            .moduledata_word(types_word)
    });
    let map_types = match &dwarf {
        Ok(d) => map_types::descriptor_addresses(types_base, &d.map_types),
        Err(_) => HashMap::new(),
    };
    tracing::debug!(
        path = %path.display(),
        go_version = go_version.as_deref().unwrap_or("unknown"),
        is_pie,
        flavor = ?layout.flavor,
        source = ?layout.source,
        funcs = assign_funcs.len(),
        growth_funcs = growth_funcs.len(),
        access_funcs = access_funcs.len(),
        map_types = map_types.len(),
        "inspected Go binary"
    );
    Ok(GoBinary {
        path: path.to_path_buf(),
        file_id: None,
        go_version,
        is_pie,
        layout,
        assign_funcs,
        build_id,
        growth_funcs,
        make_funcs,
        access_funcs,
        symbols_source,
        types_base,
        map_types,
    })
}

/// The word of Go's moduledata that holds the start of the type data, for Go `version`.
fn types_word(version: Option<&str>) -> u64 {
    match version.and_then(buildinfo::parse_go_version) {
        Some((1, minor)) if minor < 20 => MODULEDATA_TYPES_WORD_119,
        _ => MODULEDATA_TYPES_WORD,
    }
}

/// The runtime functions of `obj` (at `path`) clprof probes, from its symbol table, else from
/// Go's function table (opened into `table`), and which of the two named them.
fn find_functions<'a, R: object::ReadRef<'a>>(
    path: &Path,
    obj: &object::File<'a, R>,
    table: &mut Option<Option<GoLineTable>>,
) -> (Functions, SymbolsSource) {
    let mut found = Functions::default();
    for sym in obj.symbols() {
        let Ok(name) = sym.name() else { continue };
        if !sym.is_definition() && !name.starts_with(SWISS_SYMBOL_PREFIX) {
            continue;
        }
        found.offer(obj, name, sym.address(), sym.size(), sym.is_definition());
    }
    let mut symbols_source = SymbolsSource::Symtab;
    if found.assign_funcs.is_empty() {
        // Stripped: the table has every function with its entry and end.
        if let Some(t) = table.get_or_insert_with(|| GoLineTable::open(path)) {
            symbols_source = SymbolsSource::Gopclntab;
            for f in t.functions() {
                found.offer(obj, f.name, f.entry, f.end - f.entry, true);
            }
        }
    }
    (found, symbols_source)
}

/// The runtime functions clprof probes, as offered from a symbol table or Go's function table.
#[derive(Default)]
struct Functions {
    assign_funcs: Vec<AssignFunc>,
    /// Growth functions with their index in [`GROWTH_FUNCS`].
    growth: Vec<(usize, ProbeSite)>,
    /// Lookup, iteration, delete and clear functions, with their sizes.
    access: Vec<(Candidate, u64)>,
    make_funcs: Vec<MakeFunc>,
    has_swiss_symbols: bool,
}

impl Functions {
    /// Takes the function `name` at `vaddr` (`size` bytes) if it is one clprof probes.
    fn offer<'a, R: object::ReadRef<'a>>(
        &mut self,
        obj: &object::File<'a, R>,
        name: &str,
        vaddr: u64,
        size: u64,
        defined: bool,
    ) {
        if name.starts_with(SWISS_SYMBOL_PREFIX) {
            self.has_swiss_symbols = true;
        }
        if !defined {
            return;
        }
        if let Some(spec) = access_funcs::spec_of(name) {
            return self.offer_access(obj, spec, name, vaddr, size);
        }
        if MAKE_FUNCS.contains(&name) {
            return self.offer_make(obj, name, vaddr, size);
        }
        if let Some(i) = GROWTH_FUNCS.iter().position(|(_, n)| *n == name) {
            if !self.growth.iter().any(|(j, _)| *j == i) {
                self.growth
                    .extend(elf::site_at(obj, name, vaddr, None).map(|site| (i, site)));
            }
            return;
        }
        let Some(kind) = AssignKind::ALL.into_iter().find(|k| k.symbol() == name) else {
            return;
        };
        // Go's function table names an ABI0 wrapper like the function it wraps: keep the
        // larger of two (the wrapper only calls the function).
        if let Some(i) = self.assign_funcs.iter().position(|f| f.kind == kind) {
            if self.assign_funcs[i].size >= size {
                return;
            }
            self.assign_funcs.remove(i);
        }
        let Some(site) = elf::site_at(obj, name, vaddr, None) else {
            return;
        };
        let ret_offsets = ret_offsets(obj, name, vaddr, size, site.file_offset);
        self.assign_funcs.push(AssignFunc {
            kind,
            symbol: site.symbol,
            vaddr,
            size,
            file_offset: site.file_offset,
            ret_offsets,
        });
    }
}

impl Functions {
    /// Takes the make function `name`, the larger of two copies (an ABI0 wrapper is named like
    /// the function it wraps).
    fn offer_make<'a, R: object::ReadRef<'a>>(
        &mut self,
        obj: &object::File<'a, R>,
        name: &str,
        vaddr: u64,
        size: u64,
    ) {
        if let Some(i) = self.make_funcs.iter().position(|f| f.symbol == name) {
            if self.make_funcs[i].size >= size {
                return;
            }
            self.make_funcs.remove(i);
        }
        let Some(site) = elf::site_at(obj, name, vaddr, None) else {
            return;
        };
        self.make_funcs.push(MakeFunc {
            symbol: site.symbol,
            size,
            ret_offsets: ret_offsets(obj, name, vaddr, size, site.file_offset),
        });
    }

    /// Takes the access function of [`access_funcs::ACCESS_FUNCS`] entry `spec`, the larger of
    /// two copies (an ABI0 wrapper is named like the function it wraps).
    fn offer_access<'a, R: object::ReadRef<'a>>(
        &mut self,
        obj: &object::File<'a, R>,
        spec: usize,
        name: &str,
        vaddr: u64,
        size: u64,
    ) {
        if let Some(i) = self.access.iter().position(|(c, _)| c.spec == spec) {
            if self.access[i].1 >= size {
                return;
            }
            self.access.remove(i);
        }
        let Some(site) = elf::site_at(obj, name, vaddr, None) else {
            return;
        };
        let calls = code_of(obj, vaddr, size).and_then(|code| {
            disasm::call_targets(code, vaddr)
                .map_err(|e| tracing::debug!(symbol = name, "calls not found: {e}"))
                .ok()
        });
        let spec_entry = &access_funcs::ACCESS_FUNCS[spec];
        let func = AccessFunc {
            kind: spec_entry.kind,
            symbol: site.symbol,
            vaddr,
            file_offset: site.file_offset,
            map: spec_entry.map,
        };
        self.access.push((Candidate { spec, func, calls }, size));
    }
}

/// The code bytes of the function at `vaddr` (`size` bytes), if a section holds them.
fn code_of<'a, 'd, R: object::ReadRef<'d>>(
    obj: &'a object::File<'d, R>,
    vaddr: u64,
    size: u64,
) -> Option<&'d [u8]> {
    if size == 0 {
        return None;
    }
    obj.sections()
        .find(|s| s.address() <= vaddr && vaddr < s.address() + s.size())
        .and_then(|s| s.data_range(vaddr, size).ok().flatten())
}

/// File offsets of the RETs of the function `name` (`size` bytes at `vaddr`) whose entry is at
/// `file_offset`. The function lies in one section, so an instruction's file offset is
/// `file_offset + (its vaddr - entry)`.
fn ret_offsets<'a, R: object::ReadRef<'a>>(
    obj: &object::File<'a, R>,
    name: &str,
    vaddr: u64,
    size: u64,
    file_offset: u64,
) -> Vec<u64> {
    let result = match code_of(obj, vaddr, size) {
        Some(code) => disasm::ret_addresses(code, vaddr).map_err(|e| e.to_string()),
        _ => Err(format!("no code bytes for {size} bytes at {vaddr:#x}")),
    };
    match result {
        Ok(rets) => rets.iter().map(|r| file_offset + (r - vaddr)).collect(),
        Err(reason) => {
            tracing::warn!(
                symbol = name,
                %reason,
                "cannot find the function's RET instructions; its returns are not probed"
            );
            Vec::new()
        }
    }
}

#[cfg(test)]
#[path = "gobinary_tests.rs"]
mod tests;
