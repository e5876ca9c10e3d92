//! The field an instruction accessed, from the variable the DWARF says its base register held
//! there (as perf's data-type profiling does): at a `lock xadd %rdx,0x8(%rax)` in a method
//! `func (s *stats) miss()`, the DWARF's location list of `s` says it is in RAX at that PC, `s` is
//! a `*main.stats`, and offset 8 of `main.stats` is its member `misses`: `main.stats.misses`.
//!
//! The scopes holding the PC are walked from the compilation unit down (subprograms, inlined
//! subroutines, lexical blocks); the innermost variable or parameter whose location at the PC is
//! the base register, and whose type is a pointer to a struct, names it. A parameter of an
//! inlined call takes its name and type from its abstract origin. Only plain register locations
//! count (`DW_OP_regN`); a variable spread over pieces or computed is not followed.
//!
//! An access no variable names whose base register was loaded from a global holding a pointer
//! (see `provenance`) is named from that global's type: `var cfg = &config{…}` read as
//! `cfg.values` is `main.config.values`.

use std::{collections::HashMap, path::Path};

use gimli::{AttributeValue, EndianSlice, Operation};

use super::{
    dwarf::{attr_str, endian_of, load_with, members, resolve_ref, units, UnitAbbrevs, R},
    elf::{open, parse},
    FieldInfo,
};

/// Struct nesting followed into a member (`sync.RWMutex.w.state`).
const MAX_NESTING: u32 = 3;
/// Typedef hops followed to reach a pointer or a struct.
const MAX_HOPS: u32 = 8;

/// One access to name: the accessing instruction's address (the binary's own), its base
/// register (DWARF numbering: 0 RAX, 1 RDX, 2 RCX, 3 RBX, 4 RSI, 5 RDI, 6 RBP, 7 RSP, 8–15 R8–R15)
/// and displacement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VarAccess {
    pub pc: u64,
    pub reg: u16,
    pub disp: i64,
    /// The global variable (its address) the base register was loaded from, when it was.
    pub from_global: Option<u64>,
}

/// The DWARF register number of a register in perf's numbering (`AddrReg`), for the registers a
/// variable can live in; None for the instruction pointer.
pub fn dwarf_reg(perf: profiler_common::operand::AddrReg) -> Option<u16> {
    use profiler_common::operand::AddrReg::*;
    Some(match perf {
        Rax => 0,
        Rdx => 1,
        Rcx => 2,
        Rbx => 3,
        Rsi => 4,
        Rdi => 5,
        Rbp => 6,
        Rsp => 7,
        R8 => 8,
        R9 => 9,
        R10 => 10,
        R11 => 11,
        R12 => 12,
        R13 => 13,
        R14 => 14,
        R15 => 15,
        Ip => return None,
    })
}

/// Sections the walk reads: the entries and their strings, the scopes' ranges, the variables'
/// location lists, and the line program a unit's header points to.
fn needed(id: gimli::SectionId) -> bool {
    use gimli::SectionId::*;
    matches!(
        id,
        DebugInfo
            | DebugAbbrev
            | DebugStr
            | DebugLineStr
            | DebugLine
            | DebugAddr
            | DebugRanges
            | DebugRngLists
            | DebugLoc
            | DebugLocLists
            | DebugStrOffsets
    )
}

/// The struct and field each of `accesses` touched (`main.stats.misses`), read from the DWARF of
/// the binary at `path`; accesses the DWARF does not name are absent.
pub fn fields_of(
    path: &Path,
    accesses: &[VarAccess],
) -> Result<HashMap<VarAccess, String>, String> {
    let data = open(path).map_err(|e| e.to_string())?;
    let obj = parse(path, &data).map_err(|e| e.to_string())?;
    let Some(sections) = load_with(&obj, needed)? else {
        return Ok(HashMap::new());
    };
    let dwarf = sections.borrow(|s| EndianSlice::new(s, endian_of(&obj)));
    name_accesses(&dwarf, accesses).map_err(|e| format!("DWARF: {e}"))
}

fn name_accesses(
    dwarf: &gimli::Dwarf<R<'_>>,
    accesses: &[VarAccess],
) -> gimli::Result<HashMap<VarAccess, String>> {
    let headers = units(dwarf)?;
    let mut found: HashMap<VarAccess, (u32, String)> = HashMap::new();
    for (idx, header) in headers.iter().enumerate() {
        let unit = dwarf.unit(header.header)?;
        let inside: Vec<VarAccess> = accesses
            .iter()
            .copied()
            .filter(|a| in_ranges(dwarf.unit_ranges(&unit), a.pc))
            .collect();
        if inside.is_empty() {
            continue;
        }
        let walk = Walk {
            dwarf,
            unit: &unit,
            units: &headers,
            idx,
        };
        let mut tree = unit.entries_tree(None)?;
        walk.scope(tree.root()?, &inside, 0, &mut found)?;
    }
    let mut named: HashMap<VarAccess, String> =
        found.into_iter().map(|(a, (_, name))| (a, name)).collect();
    let by_global: Vec<VarAccess> = accesses
        .iter()
        .copied()
        .filter(|a| a.from_global.is_some() && !named.contains_key(a))
        .collect();
    if !by_global.is_empty() {
        named.extend(name_by_globals(dwarf, &headers, &by_global)?);
    }
    Ok(named)
}

/// Names `accesses` from the pointer type of the global variable each one's base register was
/// loaded from: one pass over the compilation units' top-level variables.
fn name_by_globals<'d>(
    dwarf: &gimli::Dwarf<R<'d>>,
    headers: &[UnitAbbrevs<'d>],
    accesses: &[VarAccess],
) -> gimli::Result<HashMap<VarAccess, String>> {
    let mut out = HashMap::new();
    for (idx, header) in headers.iter().enumerate() {
        let unit = dwarf.unit(header.header)?;
        let walk = Walk {
            dwarf,
            unit: &unit,
            units: headers,
            idx,
        };
        let mut tree = unit.entries_tree(None)?;
        let root = tree.root()?;
        let mut children = root.children();
        while let Some(child) = children.next()? {
            let entry = child.entry();
            if entry.tag() != gimli::DW_TAG_variable {
                continue;
            }
            let Some(addr) = static_address(entry, unit.encoding())? else {
                continue;
            };
            for a in accesses.iter().filter(|a| a.from_global == Some(addr)) {
                if let Some(name) = walk.field_named(entry, a.disp) {
                    out.insert(*a, name);
                }
            }
        }
        if out.len() == accesses.len() {
            break;
        }
    }
    Ok(out)
}

/// The address of a variable whose location is one fixed address (`DW_OP_addr`).
fn static_address(
    entry: &gimli::DebuggingInformationEntry<'_, '_, R<'_>>,
    encoding: gimli::Encoding,
) -> gimli::Result<Option<u64>> {
    let Some(AttributeValue::Exprloc(expr)) = entry.attr_value(gimli::DW_AT_location)? else {
        return Ok(None);
    };
    let mut ops = expr.operations(encoding);
    Ok(match (ops.next()?, ops.next()?) {
        (Some(Operation::Address { address }), None) => Some(address),
        _ => None,
    })
}

/// Whether `pc` lies in one of the ranges (an unreadable list counts as not).
fn in_ranges(ranges: gimli::Result<gimli::RangeIter<R<'_>>>, pc: u64) -> bool {
    let Ok(mut ranges) = ranges else {
        return false;
    };
    while let Ok(Some(r)) = ranges.next() {
        if r.begin <= pc && pc < r.end {
            return true;
        }
    }
    false
}

/// One unit's walk.
struct Walk<'a, 'd> {
    dwarf: &'a gimli::Dwarf<R<'d>>,
    unit: &'a gimli::Unit<R<'d>>,
    units: &'a [UnitAbbrevs<'d>],
    idx: usize,
}

impl<'d> Walk<'_, 'd> {
    /// Names the `accesses` inside the scope `node` (at `depth`) from its variables, then from
    /// those of the scopes below it that hold them; deeper names win.
    fn scope(
        &self,
        node: gimli::EntriesTreeNode<'_, '_, '_, R<'d>>,
        accesses: &[VarAccess],
        depth: u32,
        found: &mut HashMap<VarAccess, (u32, String)>,
    ) -> gimli::Result<()> {
        let mut children = node.children();
        while let Some(child) = children.next()? {
            let entry = child.entry();
            match entry.tag() {
                gimli::DW_TAG_subprogram
                | gimli::DW_TAG_inlined_subroutine
                | gimli::DW_TAG_lexical_block => {
                    let inner: Vec<VarAccess> = accesses
                        .iter()
                        .copied()
                        .filter(|a| in_ranges(self.dwarf.die_ranges(self.unit, entry), a.pc))
                        .collect();
                    if !inner.is_empty() {
                        self.scope(child, &inner, depth + 1, found)?;
                    }
                }
                gimli::DW_TAG_variable | gimli::DW_TAG_formal_parameter if depth > 0 => {
                    for a in accesses {
                        if self.register_at(entry, a.pc)? != Some(a.reg) {
                            continue;
                        }
                        let better = found.get(a).is_none_or(|(d, _)| *d <= depth);
                        if better {
                            if let Some(name) = self.field_named(entry, a.disp) {
                                found.insert(*a, (depth, name));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The register the variable `entry` lives in at `pc`, when its location there is a plain
    /// register.
    fn register_at(
        &self,
        entry: &gimli::DebuggingInformationEntry<'_, '_, R<'d>>,
        pc: u64,
    ) -> gimli::Result<Option<u16>> {
        let Some(value) = entry.attr_value(gimli::DW_AT_location)? else {
            return Ok(None);
        };
        let encoding = self.unit.encoding();
        if let AttributeValue::Exprloc(expr) = value {
            return Ok(plain_register(expr, encoding));
        }
        let Some(mut list) = self.dwarf.attr_locations(self.unit, value)? else {
            return Ok(None);
        };
        while let Some(loc) = list.next()? {
            if loc.range.begin <= pc && pc < loc.range.end {
                return Ok(plain_register(loc.data, encoding));
            }
        }
        Ok(None)
    }

    /// `Struct.field` at offset `disp` of the struct the pointer variable `entry` points to.
    fn field_named(
        &self,
        entry: &gimli::DebuggingInformationEntry<'_, '_, R<'d>>,
        disp: i64,
    ) -> Option<String> {
        let disp = u64::try_from(disp).ok()?;
        let typ = match entry.attr_value(gimli::DW_AT_type).ok()? {
            Some(t) => (self.idx, t),
            None => self.origin_type(entry)?,
        };
        let pointee = self.pointee(typ)?;
        let (idx, off, name, size) = self.struct_at(pointee)?;
        let path = self.member_path(idx, off, size, disp, 0)?;
        Some(format!("{name}.{path}"))
    }

    /// The type of a variable's abstract origin (an inlined call's parameter has none of its
    /// own).
    fn origin_type(
        &self,
        entry: &gimli::DebuggingInformationEntry<'_, '_, R<'d>>,
    ) -> Option<(usize, AttributeValue<R<'d>>)> {
        let origin = entry.attr_value(gimli::DW_AT_abstract_origin).ok()??;
        let (idx, off) = resolve_ref(self.units, self.idx, origin)?;
        let unit = &self.units[idx];
        let abstract_entry = unit.header.entry(&unit.abbrevs, off).ok()?;
        Some((idx, abstract_entry.attr_value(gimli::DW_AT_type).ok()??))
    }

    /// What the pointer type `typ` (typedefs followed) points to.
    fn pointee(
        &self,
        (mut idx, mut typ): (usize, AttributeValue<R<'d>>),
    ) -> Option<(usize, AttributeValue<R<'d>>)> {
        for _ in 0..MAX_HOPS {
            let (at, off) = resolve_ref(self.units, idx, typ)?;
            let unit = &self.units[at];
            let e = unit.header.entry(&unit.abbrevs, off).ok()?;
            let next = e.attr_value(gimli::DW_AT_type).ok()??;
            match e.tag() {
                gimli::DW_TAG_pointer_type => return Some((at, next)),
                gimli::DW_TAG_typedef => (idx, typ) = (at, next),
                _ => return None,
            }
        }
        None
    }

    /// The struct type `typ` (typedefs followed): its unit, offset, name and size.
    fn struct_at(
        &self,
        (mut idx, mut typ): (usize, AttributeValue<R<'d>>),
    ) -> Option<(usize, gimli::UnitOffset, String, u64)> {
        for _ in 0..MAX_HOPS {
            let (at, off) = resolve_ref(self.units, idx, typ)?;
            let unit = &self.units[at];
            let e = unit.header.entry(&unit.abbrevs, off).ok()?;
            match e.tag() {
                gimli::DW_TAG_structure_type => {
                    let name = e
                        .attr_value(gimli::DW_AT_name)
                        .ok()?
                        .and_then(|v| attr_str(self.dwarf, v))?;
                    let size = e
                        .attr_value(gimli::DW_AT_byte_size)
                        .ok()?
                        .and_then(|v| v.udata_value())?;
                    return Some((at, off, name, size));
                }
                gimli::DW_TAG_typedef => (idx, typ) = (at, e.attr_value(gimli::DW_AT_type).ok()??),
                _ => return None,
            }
        }
        None
    }

    /// The member path at `offset` of the struct at (`idx`, `off`) of `size` bytes, into nested
    /// structs (`w.state`).
    fn member_path(
        &self,
        idx: usize,
        off: gimli::UnitOffset,
        size: u64,
        offset: u64,
        nesting: u32,
    ) -> Option<String> {
        let fields = members(self.dwarf, self.units, idx, off, size).ok()?;
        let field: &FieldInfo = fields
            .iter()
            .find(|f| f.offset <= offset && offset < f.offset + f.size.max(1))?;
        let inner = (nesting < MAX_NESTING)
            .then(|| self.nested(idx, off, field, offset, nesting))
            .flatten();
        Some(match inner {
            Some(inner) => format!("{}.{inner}", field.name),
            None => field.name.clone(),
        })
    }

    /// The member path inside `field` of the struct at (`idx`, `off`), when it is a struct.
    fn nested(
        &self,
        idx: usize,
        off: gimli::UnitOffset,
        field: &FieldInfo,
        offset: u64,
        nesting: u32,
    ) -> Option<String> {
        let unit = &self.units[idx];
        let mut tree = unit.header.entries_tree(&unit.abbrevs, Some(off)).ok()?;
        let root = tree.root().ok()?;
        let mut children = root.children();
        while let Ok(Some(child)) = children.next() {
            let e = child.entry();
            let named = e
                .attr_value(gimli::DW_AT_name)
                .ok()
                .flatten()
                .and_then(|v| attr_str(self.dwarf, v));
            if e.tag() != gimli::DW_TAG_member || named.as_deref() != Some(field.name.as_str()) {
                continue;
            }
            let typ = e.attr_value(gimli::DW_AT_type).ok()??;
            let (at, inner_off, _, size) = self.struct_at((idx, typ))?;
            return self.member_path(at, inner_off, size, offset - field.offset, nesting + 1);
        }
        None
    }
}

/// The register of a location that is one plain register (`DW_OP_regN`, or `DW_OP_regx`).
fn plain_register(expr: gimli::Expression<R<'_>>, encoding: gimli::Encoding) -> Option<u16> {
    let mut ops = expr.operations(encoding);
    let first = ops.next().ok()??;
    let Operation::Register { register } = first else {
        return None;
    };
    // A piece of a value spread over several places does not hold the whole pointer.
    match ops.next() {
        Ok(None) => Some(register.0),
        Ok(Some(Operation::Piece {
            size_in_bits: 64, ..
        })) => ops.next().ok()?.is_none().then_some(register.0),
        _ => None,
    }
}

#[cfg(test)]
#[path = "dwarf_vars_tests.rs"]
mod tests;
