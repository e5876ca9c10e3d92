//! Reading a Go executable: ELF header, the `runtime.mapassign*` symbols, and the pieces from
//! [`super::buildinfo`] and [`super::layout`]. Results are cached per file identity.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use object::{Object, ObjectKind, ObjectSection, ObjectSegment, ObjectSymbol, ReadCache};
use profiler_common::AssignKind;

use super::{buildinfo, layout, MapLayout, TargetError};

/// A Go executable, as far as clprof cares.
#[derive(Clone, Debug)]
pub struct GoBinary {
    /// Path it was read from.
    pub path: PathBuf,
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
}

impl GoBinary {
    /// The assign function of `kind`, if the binary has it.
    pub fn assign_func(&self, kind: AssignKind) -> Option<&AssignFunc> {
        self.assign_funcs.iter().find(|f| f.kind == kind)
    }
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
}

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
    let binary = Arc::new(inspect_uncached(path)?);
    if let Ok(mut c) = cache().lock() {
        if c.len() >= CACHE_LIMIT {
            c.clear();
        }
        c.insert(key, binary.clone());
    }
    Ok(binary)
}

fn open(path: &Path) -> Result<ReadCache<File>, TargetError> {
    let file = File::open(path).map_err(|e| TargetError::io(path, e))?;
    Ok(ReadCache::new(file))
}

fn parse<'a>(
    path: &Path,
    data: &'a ReadCache<File>,
) -> Result<object::File<'a, &'a ReadCache<File>>, TargetError> {
    let obj = object::File::parse(data).map_err(|e| TargetError::NotElf {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    if obj.format() != object::BinaryFormat::Elf {
        return Err(TargetError::NotElf {
            path: path.to_path_buf(),
            reason: format!("it is a {:?} file", obj.format()),
        });
    }
    if !obj.is_64() {
        return Err(TargetError::Unsupported {
            path: path.to_path_buf(),
            what: "32-bit ELF".into(),
        });
    }
    Ok(obj)
}

fn inspect_uncached(path: &Path) -> Result<GoBinary, TargetError> {
    let data = open(path)?;
    let obj = parse(path, &data)?;
    let is_pie = obj.kind() == ObjectKind::Dynamic;

    let mut assign_funcs = Vec::new();
    let mut has_swiss_symbols = false;
    for sym in obj.symbols() {
        let Ok(name) = sym.name() else { continue };
        if name.starts_with(SWISS_SYMBOL_PREFIX) {
            has_swiss_symbols = true;
            continue;
        }
        let Some(kind) = AssignKind::ALL.into_iter().find(|k| k.symbol() == name) else {
            continue;
        };
        if !sym.is_definition() || assign_funcs.iter().any(|f: &AssignFunc| f.kind == kind) {
            continue;
        }
        let vaddr = sym.address();
        match file_offset_of(&obj, sym.section_index(), vaddr) {
            Some(file_offset) => assign_funcs.push(AssignFunc {
                kind,
                symbol: name.to_string(),
                vaddr,
                size: sym.size(),
                file_offset,
            }),
            None => tracing::warn!(
                symbol = name,
                vaddr,
                "symbol is in no file-backed section; not probed"
            ),
        }
    }
    if assign_funcs.is_empty() {
        return Err(TargetError::NoMapFunctions {
            path: path.to_path_buf(),
        });
    }
    assign_funcs.sort_by_key(|f| f.kind as u32);

    let go_version = buildinfo::go_version(&obj);
    let build_id = buildinfo::build_id(&obj);
    let layout = layout::resolve_layout(&obj, path, go_version.as_deref(), has_swiss_symbols)?;
    tracing::debug!(
        path = %path.display(),
        go_version = go_version.as_deref().unwrap_or("unknown"),
        is_pie,
        flavor = ?layout.flavor,
        source = ?layout.source,
        funcs = assign_funcs.len(),
        "inspected Go binary"
    );
    Ok(GoBinary {
        path: path.to_path_buf(),
        go_version,
        is_pie,
        layout,
        assign_funcs,
        build_id,
    })
}

/// File offset of `vaddr`: `vaddr - section.address + section file offset`, using the symbol's
/// section when it holds `vaddr`, else any section that does.
fn file_offset_of<'a, R: object::ReadRef<'a>>(
    obj: &object::File<'a, R>,
    index: Option<object::SectionIndex>,
    vaddr: u64,
) -> Option<u64> {
    let holds = |s: &object::Section<'a, '_, R>| {
        s.address() <= vaddr
            && vaddr < s.address().saturating_add(s.size())
            && s.file_range().is_some()
    };
    let section = index
        .and_then(|i| obj.section_by_index(i).ok())
        .filter(|s| holds(s))
        .or_else(|| obj.sections().find(|s| holds(s)))?;
    let (offset, _) = section.file_range()?;
    Some(vaddr - section.address() + offset)
}

/// A `PT_LOAD` program header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LoadSegment {
    pub offset: u64,
    pub vaddr: u64,
    pub filesz: u64,
    pub memsz: u64,
}

/// The `PT_LOAD` segments of the ELF file at `path` (reads only the headers).
pub(crate) fn read_load_segments(path: &Path) -> Result<Vec<LoadSegment>, TargetError> {
    let data = open(path)?;
    let obj = parse(path, &data)?;
    Ok(obj
        .segments()
        .map(|s| {
            let (offset, filesz) = s.file_range();
            LoadSegment {
                offset,
                vaddr: s.address(),
                filesz,
                memsz: s.size(),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{go_program, GoBuild};
    use super::*;
    use crate::target::LayoutFlavor;

    /// The bytes at `file_offset` in the file equal the section bytes at `vaddr`.
    fn check_offsets(path: &Path, bin: &GoBinary) {
        let bytes = std::fs::read(path).unwrap();
        let obj = object::File::parse(&*bytes).unwrap();
        for f in &bin.assign_funcs {
            let text = obj
                .sections()
                .find(|s| s.address() <= f.vaddr && f.vaddr < s.address() + s.size())
                .expect("section of function");
            let data = text.data().unwrap();
            let at = (f.vaddr - text.address()) as usize;
            let n = (f.size as usize).min(64);
            assert!(n >= 16, "{} has size {}", f.symbol, f.size);
            let off = f.file_offset as usize;
            assert_eq!(&bytes[off..off + n], &data[at..at + n], "{}", f.symbol);
        }
    }

    fn check_all_funcs(bin: &GoBinary) {
        let kinds: Vec<AssignKind> = bin.assign_funcs.iter().map(|f| f.kind).collect();
        assert_eq!(kinds, AssignKind::ALL.to_vec());
        for f in &bin.assign_funcs {
            assert_eq!(f.symbol, f.kind.symbol());
            assert!(f.size > 0 && f.vaddr > 0);
        }
        assert!(bin.assign_func(AssignKind::Fast64).is_some());
    }

    #[test]
    fn go_new_binary() {
        let path = go_program(GoBuild::NewDwarf);
        let bin = inspect_binary(&path).expect("inspect Go 1.27 binary");
        let v = bin.go_version.as_deref().expect("go version");
        assert!(v.starts_with("go1.27"), "{v}");
        assert!(!bin.is_pie);
        assert_eq!(bin.layout.flavor, LayoutFlavor::Swiss);
        check_all_funcs(&bin);
        check_offsets(&path, &bin);
        let id = bin.build_id.as_deref().expect("build id");
        assert_eq!(id.len(), 40, "GNU build id is 20 bytes of SHA-1: {id}");
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn go_old_binary() {
        let path = go_program(GoBuild::OldDwarf);
        let bin = inspect_binary(&path).expect("inspect Go 1.19 binary");
        let v = bin.go_version.as_deref().expect("go version");
        assert!(v.starts_with("go1.19"), "{v}");
        assert_eq!(bin.layout.flavor, LayoutFlavor::Classic);
        check_all_funcs(&bin);
        check_offsets(&path, &bin);
        // Go 1.19 writes only the Go build id note ("actionID/contentID" parts).
        let id = bin.build_id.as_deref().expect("build id");
        assert!(id.contains('/'), "{id}");
    }

    #[test]
    fn pie_binary_and_its_load_bias() {
        let path = go_program(GoBuild::NewPie);
        let bin = inspect_binary(&path).expect("inspect PIE");
        assert!(bin.is_pie);
        check_all_funcs(&bin);
        check_offsets(&path, &bin);
        let mut child = super::super::test_support::SleepingChild::spawn(&path);
        let target = super::super::resolve_pid(child.pid()).expect("resolve PIE process");
        let bias = super::super::load_bias(child.pid(), &target.binary).expect("load bias");
        assert_ne!(bias, 0);
        assert_eq!(bias % 4096, 0);
        // The code the process runs at vaddr + bias is the code in the file at file_offset.
        let file = std::fs::read(&path).unwrap();
        let mem = std::fs::File::open(format!("/proc/{}/mem", child.pid())).unwrap();
        for f in &bin.assign_funcs {
            let mut buf = [0u8; 32];
            std::os::unix::fs::FileExt::read_exact_at(&mem, &mut buf, f.vaddr + bias).unwrap();
            let off = f.file_offset as usize;
            assert_eq!(&buf[..], &file[off..off + 32], "{}", f.symbol);
        }
        child.kill();
    }

    #[test]
    fn non_go_elf_has_no_map_functions() {
        let path = Path::new("/bin/true");
        match inspect_binary(path) {
            Err(e @ TargetError::NoMapFunctions { .. }) => {
                assert!(e.to_string().contains("/bin/true"), "{e}");
            }
            other => panic!("expected NoMapFunctions, got {other:?}"),
        }
    }

    #[test]
    fn bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, b"hello, not an ELF file").unwrap();
        let err = inspect_binary(&text).unwrap_err();
        assert!(matches!(err, TargetError::NotElf { .. }), "{err}");
        assert!(err.to_string().contains("notes.txt"));
        // A truncated ELF: header only.
        let trunc = dir.path().join("trunc");
        let head = std::fs::read("/bin/true").unwrap();
        std::fs::write(&trunc, &head[..100]).unwrap();
        assert!(matches!(
            inspect_binary(&trunc),
            Err(TargetError::NotElf { .. })
        ));
        let missing = dir.path().join("missing");
        let err = inspect_binary(&missing).unwrap_err();
        assert!(matches!(err, TargetError::Io { .. }), "{err}");
        assert!(err.to_string().contains("missing"));
    }

    #[test]
    fn cache_returns_same_result_under_another_path() {
        let path = go_program(GoBuild::NewDwarf);
        let a = inspect_binary_shared(&path).unwrap();
        let b = inspect_binary_shared(&path).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        let c = inspect_binary_shared(&link).unwrap();
        assert_eq!(c.path, link);
        assert_eq!(c.assign_funcs, a.assign_funcs);
        assert_eq!(c.layout, a.layout);
    }
}
