//! Uprobe-multi links (`BPF_TRACE_UPROBE_MULTI`, Linux >= 6.6): one link carries every offset a
//! program is attached at in one binary for one process, with a cookie per offset.
//!
//! Why clprof needs them: a perf-event uprobe is removed under the kernel's `event_mutex` and
//! each removal waits out an RCU-tasks-trace grace period, so taking 18 probes off a process
//! takes ~1.5 s here, and the breakpoints not yet removed keep trapping (without the program,
//! so unseen). Closing a uprobe-multi link removes all its breakpoints at once and waits one
//! grace period, with no global lock: the overhead budget can switch probes on and off in
//! milliseconds.
//!
//! Aya 0.14 loads uprobe programs without an expected attach type, which uprobe-multi links
//! require, so the programs are loaded a second time here from the same object: parsed and
//! relocated by `aya-obj` against the maps Aya already created (same fds, same data).

use std::{
    collections::{HashMap, HashSet},
    ffi::CString,
    io,
    os::fd::{AsFd as _, AsRawFd as _, BorrowedFd, FromRawFd as _, OwnedFd},
    os::unix::ffi::OsStrExt as _,
    path::Path,
    sync::{Mutex, OnceLock},
};

use aya::maps::Map;
use aya_obj::generated::{bpf_attach_type, bpf_attr, bpf_cmd, bpf_insn, bpf_prog_type};

/// Why uprobe-multi programs could not be loaded (the caller falls back to perf-event uprobes).
#[derive(Debug, thiserror::Error)]
pub enum MultiError {
    #[error("parsing the eBPF object: {0}")]
    Parse(String),
    #[error("relocating {0}")]
    Relocate(String),
    #[error("program {0} is not in the eBPF object")]
    Missing(String),
    #[error("BPF_PROG_LOAD of {name} for uprobe-multi: {source}")]
    Load {
        name: String,
        #[source]
        source: io::Error,
    },
}

/// The uprobe programs loaded for uprobe-multi links, by name.
pub struct MultiPrograms {
    programs: HashMap<String, OwnedFd>,
    /// Programs still being verified, on threads of their own, by name.
    deferred: HashMap<String, Deferred>,
}

/// A program verified on a thread of its own, taken on first use.
struct Deferred {
    thread: Mutex<Option<std::thread::JoinHandle<io::Result<OwnedFd>>>>,
    /// The program's fd, or why it could not be loaded.
    loaded: OnceLock<Result<OwnedFd, String>>,
}

impl Deferred {
    fn fd(&self) -> io::Result<BorrowedFd<'_>> {
        let loaded = self.loaded.get_or_init(|| {
            let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
            match thread.map(|t| t.join()) {
                Some(Ok(Ok(fd))) => Ok(fd),
                Some(Ok(Err(e))) => Err(e.to_string()),
                Some(Err(_)) => Err("the loading thread panicked".to_owned()),
                None => Err("not loaded".to_owned()),
            }
        });
        match loaded {
            Ok(fd) => Ok(fd.as_fd()),
            Err(e) => Err(io::Error::other(format!(
                "BPF_PROG_LOAD for uprobe-multi: {e}"
            ))),
        }
    }
}

/// The fd of an Aya map (the variants clprof's object defines).
fn map_fd(map: &Map) -> Option<BorrowedFd<'_>> {
    let data = match map {
        Map::Array(d)
        | Map::HashMap(d)
        | Map::LruHashMap(d)
        | Map::PerCpuArray(d)
        | Map::PerCpuHashMap(d)
        | Map::RingBuf(d)
        | Map::StackTraceMap(d)
        | Map::Unsupported(d) => d,
        _ => return None,
    };
    Some(data.fd().as_fd())
}

impl MultiPrograms {
    /// Loads `names` from `object` with `BPF_TRACE_UPROBE_MULTI` as expected attach type, their
    /// map references pointing at `ebpf`'s maps; `later` the same on threads of their own, taken
    /// when first attached (programs not needed at once need not hold up the start).
    pub fn load(
        object: &[u8],
        ebpf: &aya::Ebpf,
        names: &[&str],
        later: &[&str],
    ) -> Result<Self, MultiError> {
        let mut obj =
            aya_obj::Object::parse(object).map_err(|e| MultiError::Parse(e.to_string()))?;
        let fds: HashMap<&str, i32> = ebpf
            .maps()
            .filter_map(|(name, map)| Some((name, map_fd(map)?.as_raw_fd())))
            .collect();
        let map_objs: Vec<(String, aya_obj::Map)> = obj
            .maps
            .iter()
            .map(|(n, m)| (n.clone(), m.clone()))
            .collect();
        let mut missing = None;
        let maps = map_objs
            .iter()
            .filter_map(|(name, map)| match fds.get(name.as_str()) {
                Some(&fd) => Some((name.as_str(), fd, map)),
                None => {
                    missing = Some(name.clone());
                    None
                }
            });
        let text: HashSet<usize> = obj.functions.keys().map(|(section, _)| *section).collect();
        obj.relocate_maps(maps, &text)
            .map_err(|e| MultiError::Relocate(format!("maps: {e}")))?;
        if let Some(name) = missing {
            return Err(MultiError::Relocate(format!("map {name}: not created")));
        }
        obj.relocate_calls(&text)
            .map_err(|e| MultiError::Relocate(format!("calls: {e}")))?;
        let mut functions = Vec::with_capacity(names.len() + later.len());
        for &name in names.iter().chain(later) {
            let program = obj
                .programs
                .get(name)
                .ok_or_else(|| MultiError::Missing(name.to_owned()))?;
            let function = obj
                .functions
                .get(&program.function_key())
                .ok_or_else(|| MultiError::Missing(name.to_owned()))?;
            functions.push((name, &function.instructions));
        }
        let (now, after) = functions.split_at(names.len());
        let programs = load_side_by_side(now, &obj.license)?;
        // The programs taken later are verified once those needed now are: on a machine with
        // few CPUs they would otherwise share the CPUs with them and delay the start.
        let deferred = after
            .iter()
            .map(|&(name, insns)| {
                let (owned, insns, license) = (name.to_owned(), insns.clone(), obj.license.clone());
                let thread = std::thread::spawn(move || prog_load(&owned, &insns, &license));
                let program = Deferred {
                    thread: Mutex::new(Some(thread)),
                    loaded: OnceLock::new(),
                };
                (name.to_owned(), program)
            })
            .collect();
        Ok(MultiPrograms { programs, deferred })
    }

    /// Attaches `program` at `offsets` of `path` (file offsets), scoped to `pid` (0: every
    /// process), each offset with its cookie. Closing the returned fd detaches all of them.
    pub fn attach(
        &self,
        program: &str,
        path: &Path,
        offsets: &[u64],
        cookies: &[u64],
        pid: u32,
    ) -> io::Result<OwnedFd> {
        let prog = match (self.programs.get(program), self.deferred.get(program)) {
            (Some(fd), _) => fd.as_fd(),
            (None, Some(deferred)) => deferred.fd()?,
            (None, None) => {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    "program not loaded",
                ))
            }
        };
        assert_eq!(offsets.len(), cookies.len(), "one cookie per offset");
        let path = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))?;
        // SAFETY: an all-zero bpf_attr is the documented starting point of every command.
        let mut attr: bpf_attr = unsafe { std::mem::zeroed() };
        // SAFETY: writing plain integer fields of the link_create member of the union.
        unsafe {
            let link = &mut attr.link_create;
            link.__bindgen_anon_1.prog_fd = prog.as_raw_fd() as u32;
            link.attach_type = bpf_attach_type::BPF_TRACE_UPROBE_MULTI as u32;
            let multi = &mut link.__bindgen_anon_3.uprobe_multi;
            multi.path = path.as_ptr() as u64;
            multi.offsets = offsets.as_ptr() as u64;
            multi.cookies = cookies.as_ptr() as u64;
            multi.cnt = offsets.len() as u32;
            multi.pid = pid;
        }
        // SAFETY: `attr` points at `path`, `offsets` and `cookies`, alive across the call.
        let fd = unsafe { sys_bpf(bpf_cmd::BPF_LINK_CREATE, &mut attr) }?;
        // SAFETY: the kernel returned a new link fd that nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

/// Verifies `functions` side by side, one thread each: the verifier takes most of clprof's start
/// (a hundred milliseconds or more for the assign program).
fn load_side_by_side(
    functions: &[(&str, &Vec<bpf_insn>)],
    license: &CString,
) -> Result<HashMap<String, OwnedFd>, MultiError> {
    let loaded: Vec<(&str, io::Result<OwnedFd>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = functions
            .iter()
            .map(|&(name, insns)| (name, scope.spawn(move || prog_load(name, insns, license))))
            .collect();
        handles
            .into_iter()
            .map(|(name, h)| {
                let result = h
                    .join()
                    .unwrap_or_else(|_| Err(io::Error::other("the loading thread panicked")));
                (name, result)
            })
            .collect()
    });
    let mut programs = HashMap::new();
    for (name, result) in loaded {
        let fd = result.map_err(|source| MultiError::Load {
            name: name.to_owned(),
            source,
        })?;
        programs.insert(name.to_owned(), fd);
    }
    Ok(programs)
}

fn prog_load(name: &str, insns: &[bpf_insn], license: &CString) -> io::Result<OwnedFd> {
    // SAFETY: an all-zero bpf_attr is the documented starting point of every command.
    let mut attr: bpf_attr = unsafe { std::mem::zeroed() };
    let began = std::time::Instant::now();
    // SAFETY: writing plain integer fields of the prog-load member of the union.
    unsafe {
        let load = &mut attr.__bindgen_anon_3;
        load.prog_type = bpf_prog_type::BPF_PROG_TYPE_KPROBE as u32;
        load.expected_attach_type = bpf_attach_type::BPF_TRACE_UPROBE_MULTI as u32;
        load.insns = insns.as_ptr() as u64;
        load.insn_cnt = insns.len() as u32;
        load.license = license.as_ptr() as u64;
        for (dst, &src) in load
            .prog_name
            .iter_mut()
            .zip(name.as_bytes().iter().take(15))
        {
            *dst = src as _;
        }
    }
    // SAFETY: `attr` points at `insns` and `license`, alive across the call.
    let fd = unsafe { sys_bpf(bpf_cmd::BPF_PROG_LOAD, &mut attr) };
    let took = began.elapsed();
    match &fd {
        Ok(_) => tracing::debug!(program = name, ?took, "verified"),
        Err(e) => tracing::debug!(program = name, ?took, "refused by the verifier: {e}"),
    }
    let fd = fd?;
    // SAFETY: the kernel returned a new program fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The bpf(2) system call; returns the new fd.
///
/// # Safety
/// Every pointer in `attr` must be valid for the command.
unsafe fn sys_bpf(cmd: bpf_cmd, attr: &mut bpf_attr) -> io::Result<i32> {
    // SAFETY: as documented for this function.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd as libc::c_int,
            attr as *mut bpf_attr,
            std::mem::size_of::<bpf_attr>() as libc::c_uint,
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as i32)
    }
}
