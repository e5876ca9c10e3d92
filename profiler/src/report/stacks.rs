//! Stack symbolization for one report: stack ids to source frames (the probed function told
//! apart from its callers by address), sampled instructions to functions, type descriptors to
//! Go type names, and watched writes to the code that made them; with caches.

use std::collections::HashMap;

use profiler_common::operand::{AddrReg, SampleIp, NO_REG};

use crate::{
    folded::XolArea,
    inspect::{
        dwarf_vars::{dwarf_reg, fields_of, VarAccess},
        operand::access_for,
        provenance::loaded_from_global,
        GoBinary,
    },
    report::{
        hex,
        watch::{DescribeSite, Site},
        StackLocation,
    },
    symbolize::{lookup_addr, Frame},
    target::Target,
};

/// Caller frames kept per watched write's sampled stack.
const WATCH_CALLERS: usize = 3;

/// Stack symbolization for one report: stack ids → caller frames, with caches.
pub struct Stacks<'r, 't> {
    /// The user stacks read back, by id, innermost frame first.
    raw: &'r HashMap<u32, Vec<u64>>,
    /// The targets' XOL areas.
    xol_areas: &'r HashMap<u32, XolArea>,
    targets: &'t mut [Target],
    /// Type names by (pid, descriptor address): a name read from a descriptor opens the binary.
    types: HashMap<(u32, u64), Option<String>>,
    /// Where the perf samples' IPs stand relative to their access.
    sample_ip: SampleIp,
}

impl<'r, 't> Stacks<'r, 't> {
    pub fn new(
        raw: &'r HashMap<u32, Vec<u64>>,
        xol_areas: &'r HashMap<u32, XolArea>,
        targets: &'t mut [Target],
    ) -> Self {
        Stacks {
            raw,
            xol_areas,
            targets,
            types: HashMap::new(),
            sample_ip: SampleIp::Skidded,
        }
    }

    /// The same, for perf samples whose IPs stand `how` to their access.
    pub fn with_sample_ip(mut self, how: SampleIp) -> Self {
        self.sample_ip = how;
        self
    }

    /// An address inside the access (or on its source line) a perf sample at `ip` stands for:
    /// the byte before a timer sample's IP, one instruction past the access (or at it); an exact
    /// sample's IP itself.
    pub fn in_access(&self, ip: u64) -> u64 {
        match self.sample_ip {
            SampleIp::Skidded => ip.saturating_sub(1),
            SampleIp::Exact => ip,
        }
    }

    /// `pid`'s XOL area holds `ip`: a thread single-stepping a probed instruction.
    pub fn in_xol_area(&self, pid: u32, ip: u64) -> bool {
        self.xol_areas.get(&pid).is_some_and(|a| a.contains(ip))
    }

    pub fn type_name(&mut self, pid: u32, type_addr: u64) -> Option<String> {
        let targets = &*self.targets;
        self.types
            .entry((pid, type_addr))
            .or_insert_with(|| {
                let t = targets.iter().find(|t| t.pid == pid)?;
                let binary = t.binary.as_ref()?;
                binary.type_name(type_addr.checked_sub(t.bias.unwrap_or(0))?)
            })
            .clone()
    }

    /// The names of the global variables holding the runtime addresses `addrs` of `pid`
    /// (`main.hot.b`, see [`crate::inspect::globals`]); addresses in no global are absent.
    pub fn global_names(&self, pid: u32, addrs: &[u64]) -> HashMap<u64, String> {
        let Some(t) = self.targets.iter().find(|t| t.pid == pid) else {
            return HashMap::new();
        };
        let bias = t.bias.unwrap_or(0);
        let file: Vec<u64> = addrs.iter().filter_map(|a| a.checked_sub(bias)).collect();
        match crate::inspect::globals::name_addresses(&t.attach_path, &file) {
            Ok(names) => names.into_iter().map(|(a, n)| (a + bias, n)).collect(),
            Err(e) => {
                tracing::debug!(pid, "naming globals: {e}");
                HashMap::new()
            }
        }
    }

    /// The struct field each sampled instruction of `ips` (of `pid`) accessed, named from the
    /// variable its base register held there by the DWARF (`main.stats.misses`, see
    /// [`crate::inspect::dwarf_vars`]), by IP; IPs it does not name are absent. The DWARF is
    /// read only for accesses the target has not had named before.
    pub fn heap_fields(&mut self, pid: u32, ips: &[u64]) -> HashMap<u64, String> {
        let how = self.sample_ip;
        let Some(t) = self.targets.iter_mut().find(|t| t.pid == pid) else {
            return HashMap::new();
        };
        let by_ip = var_accesses(t, ips, how);
        let new: Vec<VarAccess> = by_ip
            .iter()
            .map(|(_, a)| *a)
            .filter(|a| !t.field_names.contains_key(a))
            .collect();
        if !new.is_empty() {
            match fields_of(&t.attach_path, &new) {
                Ok(mut names) => {
                    for a in new {
                        t.field_names.insert(a, names.remove(&a));
                    }
                }
                Err(e) => tracing::debug!(pid, "naming fields from DWARF variables: {e}"),
            }
        }
        by_ip
            .into_iter()
            .filter_map(|(ip, a)| Some((ip, t.field_names.get(&a)?.clone()?)))
            .collect()
    }

    /// The runtime address the access a sample at `ip` of `pid` stands for reaches relative to
    /// the instruction pointer (a global variable); None for any other access.
    pub fn global_reached(&self, pid: u32, ip: u64) -> Option<u64> {
        let t = self.targets.iter().find(|t| t.pid == pid)?;
        let bias = t.bias.unwrap_or(0);
        let file_ip = ip.wrapping_sub(bias);
        let (entry, code) = t.symbolizer.as_ref()?.code_at(file_ip)?;
        let op = access_for(code, entry, file_ip, self.sample_ip)
            .ok()?
            .operand;
        // An IP-relative displacement counts from the sampled IP.
        (op.base == AddrReg::Ip as u8).then(|| ip.wrapping_add(op.disp as u64))
    }

    /// The innermost source frame at the sampled instruction `ip` of `pid`.
    pub fn frame_at(&mut self, pid: u32, ip: u64) -> Frame {
        let unknown = || Frame {
            function: format!("{ip:#x}"),
            file: None,
            line: None,
        };
        let Some(t) = self.targets.iter_mut().find(|t| t.pid == pid) else {
            return unknown();
        };
        let bias = t.bias.unwrap_or(0);
        match t.symbolizer.as_mut() {
            Some(sym) => sym
                .frames(lookup_addr(ip, bias, 0))
                .first()
                .cloned()
                .unwrap_or_else(unknown),
            None => unknown(),
        }
    }

    /// The source frames at the sampled instruction `ip` of `pid`, its inline chain innermost
    /// first; empty where it cannot be symbolized.
    pub fn frames_at(&mut self, pid: u32, ip: u64) -> Vec<Frame> {
        let Some(t) = self.targets.iter_mut().find(|t| t.pid == pid) else {
            return Vec::new();
        };
        let bias = t.bias.unwrap_or(0);
        let addr = lookup_addr(ip, bias, 0);
        match t.symbolizer.as_mut() {
            Some(sym) => sym.frames(addr).to_vec(),
            None => Vec::new(),
        }
    }

    /// The function holding the instruction at `ip` of `pid` (its outermost frame: the function
    /// the code was inlined into, if any), when it can be symbolized.
    pub fn function_at(&mut self, pid: u32, ip: u64) -> Option<String> {
        let t = self.targets.iter_mut().find(|t| t.pid == pid)?;
        let bias = t.bias.unwrap_or(0);
        let addr = lookup_addr(ip, bias, 0);
        let frame = t.symbolizer.as_mut()?.frames(addr).last()?;
        (frame.function != hex(addr)).then(|| frame.function.clone())
    }

    /// The stack's addresses (the probed function; the return address read at its entry,
    /// which frame-pointer unwinding at a first instruction skips; the rest), innermost first,
    /// symbolized and told apart: probed or calling code. Empty when the process cannot be
    /// symbolized.
    fn located(
        &mut self,
        pid: u32,
        stack_id: i64,
        return_addr: u64,
    ) -> Vec<(FrameKind, StackLocation)> {
        let stacks = self.raw;
        let raw: &[u64] = u32::try_from(stack_id)
            .ok()
            .and_then(|id| stacks.get(&id))
            .map_or(&[], Vec::as_slice);
        let Some(t) = self.targets.iter_mut().find(|t| t.pid == pid) else {
            return Vec::new();
        };
        let bias = t.bias.unwrap_or(0);
        let Some(sym) = t.symbolizer.as_mut() else {
            return Vec::new();
        };
        let mut addrs: Vec<(u64, usize)> = Vec::new();
        if let Some(&ip) = raw.first() {
            addrs.push((ip, 0));
        }
        if return_addr != 0 {
            addrs.push((return_addr, 1));
        }
        addrs.extend(raw.iter().skip(1).map(|&ip| (ip, 2)));
        let binary = t.binary.as_deref();
        addrs
            .into_iter()
            .map(|(ip, depth)| {
                let addr = lookup_addr(ip, bias, depth);
                let kind = FrameKind::of(depth, addr, binary);
                let lines = sym.frames(addr).to_vec();
                (
                    kind,
                    StackLocation {
                        addr: hex(addr),
                        lines,
                    },
                )
            })
            .collect()
    }

    /// Up to `max` locations of the stack, innermost first, starting at the probed function.
    pub fn locations(
        &mut self,
        pid: u32,
        stack_id: i64,
        return_addr: u64,
        max: usize,
    ) -> Vec<StackLocation> {
        let mut out: Vec<StackLocation> = self
            .located(pid, stack_id, return_addr)
            .into_iter()
            .map(|(_, loc)| loc)
            .collect();
        out.truncate(max);
        out
    }

    /// Up to `max` locations of a stack a perf sample took, innermost first: the access (see
    /// [`Self::in_access`]), then the calls (the byte before each return address). Empty when
    /// the stack was not stored or the process cannot be symbolized.
    pub fn access_locations(&mut self, pid: u32, stack_id: u32, max: usize) -> Vec<StackLocation> {
        let stacks = self.raw;
        let Some(raw) = stacks.get(&stack_id) else {
            return Vec::new();
        };
        let Some(t) = self.targets.iter_mut().find(|t| t.pid == pid) else {
            return Vec::new();
        };
        let bias = t.bias.unwrap_or(0);
        let Some(sym) = t.symbolizer.as_mut() else {
            return Vec::new();
        };
        let exact = self.sample_ip == SampleIp::Exact;
        raw.iter()
            .take(max)
            .enumerate()
            .map(|(depth, &ip)| {
                let addr = lookup_addr(ip, bias, usize::from(!(exact && depth == 0)));
                StackLocation {
                    addr: hex(addr),
                    lines: sym.frames(addr).to_vec(),
                }
            })
            .collect()
    }

    /// Up to `max` frames of the code that called the probed function, innermost first,
    /// skipping the probed functions themselves.
    pub fn callers(&mut self, pid: u32, stack_id: i64, return_addr: u64, max: usize) -> Vec<Frame> {
        let located = self.located(pid, stack_id, return_addr);
        let mut out = Vec::new();
        let calling = located
            .into_iter()
            .skip_while(|(kind, _)| *kind == FrameKind::Probed);
        for (_, loc) in calling {
            for f in loc.lines {
                out.push(f);
                if out.len() >= max {
                    return out;
                }
            }
        }
        out
    }
}

/// What the code at a stack address is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FrameKind {
    /// A probed function: where the uprobe fired (the stack's first address), or code of one
    /// of the binary's map-assign functions.
    Probed,
    /// Code that called the probed function, directly or further out.
    Caller,
}

impl FrameKind {
    /// The kind of the file address `addr`, at `depth` in a stack taken at a probe (0: the
    /// probe's own address) of a process running `binary`.
    fn of(depth: usize, addr: u64, binary: Option<&GoBinary>) -> FrameKind {
        let in_assign = binary.is_some_and(|b| b.assign_func_at(addr).is_some());
        if depth == 0 || in_assign {
            FrameKind::Probed
        } else {
            FrameKind::Caller
        }
    }
}

impl DescribeSite for Stacks<'_, '_> {
    fn site(&mut self, pid: u32, ip_after: u64, stack_id: i64) -> Site {
        let ip = ip_after.saturating_sub(1);
        let mut frames = Vec::new();
        let mut probed = false;
        if let Some(t) = self.targets.iter_mut().find(|t| t.pid == pid) {
            let addr = lookup_addr(ip, t.bias.unwrap_or(0), 0);
            probed = t
                .binary
                .as_ref()
                .is_some_and(|b| b.assign_func_at(addr).is_some());
            if let Some(sym) = t.symbolizer.as_mut() {
                frames = sym.frames(addr).to_vec();
            }
        }
        if frames.is_empty() {
            frames.push(Frame {
                function: hex(ip),
                file: None,
                line: None,
            });
        }
        let own = frames.len();
        if stack_id >= 0 {
            // The stack's first address is the trap's (the instruction after the write): the
            // callers start at its second.
            let callers = self.located(pid, stack_id, 0);
            frames.extend(
                callers
                    .into_iter()
                    .skip(1)
                    .flat_map(|(_, loc)| loc.lines)
                    .take(WATCH_CALLERS),
            );
        }
        Site {
            frames,
            own,
            probed,
        }
    }
}

/// The variable accesses behind the sampled `ips` of `t` (standing `how` to their access), by
/// IP: those whose address is a register plus a displacement, the register one DWARF numbers.
fn var_accesses(t: &Target, ips: &[u64], how: SampleIp) -> Vec<(u64, VarAccess)> {
    let (bias, Some(sym)) = (t.bias.unwrap_or(0), t.symbolizer.as_ref()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for &ip in ips {
        let file_ip = ip.wrapping_sub(bias);
        let Some((entry, code)) = sym.code_at(file_ip) else {
            continue;
        };
        let Ok(access) = access_for(code, entry, file_ip, how) else {
            continue;
        };
        let op = access.operand;
        let base = AddrReg::from_perf(op.base);
        let Some(reg) = base.and_then(dwarf_reg) else {
            continue;
        };
        if op.index == NO_REG {
            let pc = access.insn_vaddr;
            let from_global = base.and_then(|b| loaded_from_global(code, entry, pc, b));
            let access = VarAccess {
                pc,
                reg,
                disp: op.disp,
                from_global,
            };
            out.push((ip, access));
        }
    }
    out
}

#[cfg(test)]
#[path = "stacks_tests.rs"]
mod tests;
