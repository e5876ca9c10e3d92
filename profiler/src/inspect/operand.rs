//! The data access behind a timer sample's IP: the memory operand of the instruction that ends at
//! the IP (the one the interrupt waited for), else of the instruction at it, decoded by a linear
//! sweep of the function that holds the IP (see `disasm` for why a sweep is exact on Go code).
//!
//! An access can be told from the sample's registers only when the instruction reads its address
//! from general-purpose registers it does not overwrite itself (`mov (%rax),%rax` does), or from
//! the instruction pointer. Left out: instructions without a memory access (LEA, NOPs with a
//! memory operand, prefetches), the stack (RSP-relative: private to a thread), thread-local
//! storage (an FS or GS segment: its base is not among the sampled registers), gathers and
//! scatters (one address per lane), string instructions (two operands, registers stepped).

use iced_x86::{
    Code, Decoder, DecoderOptions, Instruction, InstructionInfoFactory, Mnemonic, OpAccess,
    Register,
};
use profiler_common::operand::{AddrReg, DataAccessKind, DataOperand, SampleIp, Skid, NO_REG};

/// Why a sampled IP stands for no access clprof can compute an address for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoAccess {
    /// The IP is outside the function, or not where one of its instructions starts or ends.
    #[error("not at an instruction boundary of the function")]
    NotABoundary,
    /// The bytes do not decode as x86-64 instructions.
    #[error("invalid instruction")]
    Invalid,
    /// Neither instruction reads or writes memory.
    #[error("no memory access")]
    NoMemory,
    /// The access is to the thread's stack.
    #[error("a stack access")]
    Stack,
    /// The access goes through the FS or GS segment (thread-local storage).
    #[error("a thread-local access")]
    ThreadLocal,
    /// The instruction overwrote a register its address is computed from.
    #[error("the address registers were overwritten")]
    Overwritten,
    /// More than one address, or one the operand cannot express.
    #[error("not a single computable address")]
    Uncomputable,
}

/// The access a sample at an IP stands for, as the kernel side computes its address, with the
/// address of the instruction that made it (in the binary's own addresses).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SampledAccess {
    pub operand: DataOperand,
    /// Where the accessing instruction starts.
    pub insn_vaddr: u64,
}

/// The access a sample at `ip` stands for, where `how` says the source's IPs stand: a timer
/// sample's as [`access_at`] finds it, an exact one's (PEBS, IBS, page faults) in the
/// instruction that starts at `ip`.
pub fn access_for(
    code: &[u8],
    func_vaddr: u64,
    ip: u64,
    how: SampleIp,
) -> Result<SampledAccess, NoAccess> {
    match how {
        SampleIp::Skidded => access_at(code, func_vaddr, ip),
        SampleIp::Exact => {
            let (_, at) = around(code, func_vaddr, ip)?;
            let insn = at.ok_or(NoAccess::NotABoundary)?;
            operand_of(&mut InstructionInfoFactory::new(), &insn, ip, Skid::At)
        }
    }
}

/// The access a timer sample at `ip` stands for, in the function whose bytes are `code`
/// starting at `func_vaddr` (both in the binary's own addresses).
pub fn access_at(code: &[u8], func_vaddr: u64, ip: u64) -> Result<SampledAccess, NoAccess> {
    let (before, at) = around(code, func_vaddr, ip)?;
    let mut info = InstructionInfoFactory::new();
    // The instruction the interrupt waited for tells why there is none, when there is one.
    let why = match before.map(|insn| operand_of(&mut info, &insn, ip, Skid::Before)) {
        Some(Ok(found)) => return Ok(found),
        Some(Err(why)) => Some(why),
        None => None,
    };
    match (
        at.map(|insn| operand_of(&mut info, &insn, ip, Skid::At)),
        why,
    ) {
        (Some(Ok(found)), _) => Ok(found),
        (_, Some(why)) | (Some(Err(why)), None) => Err(why),
        (None, None) => Err(NoAccess::NotABoundary),
    }
}

/// The instruction that ends at `ip` and the one that starts there, found by a sweep from the
/// function's first byte; an error when `ip` falls inside an instruction or outside the function.
fn around(
    code: &[u8],
    func_vaddr: u64,
    ip: u64,
) -> Result<(Option<Instruction>, Option<Instruction>), NoAccess> {
    let end = func_vaddr.saturating_add(code.len() as u64);
    if ip < func_vaddr || ip > end {
        return Err(NoAccess::NotABoundary);
    }
    let mut decoder = Decoder::with_ip(64, code, func_vaddr, DecoderOptions::NONE);
    let mut insn = Instruction::default();
    let mut before = None;
    while decoder.can_decode() && decoder.ip() <= ip {
        let start = decoder.ip();
        decoder.decode_out(&mut insn);
        if insn.is_invalid() {
            return Err(NoAccess::Invalid);
        }
        if start == ip {
            return Ok((before, Some(insn)));
        }
        before = (insn.next_ip() == ip).then_some(insn);
    }
    match before {
        Some(_) => Ok((before, None)),
        None => Err(NoAccess::NotABoundary),
    }
}

/// The memory operand of `insn`, sampled at `ip` as the instruction `skid` of it.
fn operand_of(
    info: &mut InstructionInfoFactory,
    insn: &Instruction,
    ip: u64,
    skid: Skid,
) -> Result<SampledAccess, NoAccess> {
    if insn.code() == Code::INVALID {
        return Err(NoAccess::Invalid);
    }
    if is_hint(insn) {
        return Err(NoAccess::NoMemory);
    }
    let info = info.info(insn);
    let memory: Vec<_> = info
        .used_memory()
        .iter()
        .filter(|m| m.access() != OpAccess::NoMemAccess && m.access() != OpAccess::None)
        .collect();
    let m = match memory.as_slice() {
        [] => return Err(NoAccess::NoMemory),
        [m] => *m,
        _ => return Err(NoAccess::Uncomputable),
    };
    if matches!(m.segment(), Register::FS | Register::GS) {
        return Err(NoAccess::ThreadLocal);
    }
    if m.vsib_size() != 0 || insn.is_string_instruction() {
        return Err(NoAccess::Uncomputable);
    }
    if m.base().full_register() == Register::RSP {
        return Err(NoAccess::Stack);
    }
    let base = if insn.is_ip_rel_memory_operand() {
        AddrReg::Ip as u8
    } else {
        addr_reg(m.base())?
    };
    let index = addr_reg(m.index())?;
    if skid == Skid::Before {
        let address_regs = [m.base(), m.index()];
        let overwritten = info.used_registers().iter().any(|u| {
            writes(u.access())
                && address_regs.iter().any(|&r| {
                    r != Register::None && r.full_register() == u.register().full_register()
                })
        });
        if overwritten {
            return Err(NoAccess::Overwritten);
        }
    }
    let disp = if insn.is_ip_rel_memory_operand() {
        // The binary's address of the data, counted from the sampled IP: right wherever the
        // binary is loaded.
        insn.ip_rel_memory_address().wrapping_sub(ip) as i64
    } else {
        m.displacement() as i64
    };
    Ok(SampledAccess {
        operand: DataOperand {
            base,
            index,
            scale: m.scale().clamp(1, 8) as u8,
            kind: access_kind(insn, m.access()) as u8,
            width: m.memory_size().size().clamp(1, 64) as u8,
            skid: skid as u8,
            _pad: [0; 2],
            disp,
        },
        insn_vaddr: insn.ip(),
    })
}

/// Instructions whose memory operand is only a hint: nothing is loaded or stored.
fn is_hint(insn: &Instruction) -> bool {
    matches!(
        insn.mnemonic(),
        Mnemonic::Lea
            | Mnemonic::Nop
            | Mnemonic::Prefetch
            | Mnemonic::Prefetchnta
            | Mnemonic::Prefetcht0
            | Mnemonic::Prefetcht1
            | Mnemonic::Prefetcht2
            | Mnemonic::Prefetchw
            | Mnemonic::Prefetchwt1
            | Mnemonic::Clflush
            | Mnemonic::Clflushopt
            | Mnemonic::Clwb
    )
}

/// The register an address uses as clprof names it; [`NO_REG`] for none, an error for one
/// the sampled registers do not hold (a 32-bit address, a segment).
fn addr_reg(r: Register) -> Result<u8, NoAccess> {
    let reg = match r {
        Register::None => return Ok(NO_REG),
        Register::RAX => AddrReg::Rax,
        Register::RBX => AddrReg::Rbx,
        Register::RCX => AddrReg::Rcx,
        Register::RDX => AddrReg::Rdx,
        Register::RSI => AddrReg::Rsi,
        Register::RDI => AddrReg::Rdi,
        Register::RBP => AddrReg::Rbp,
        Register::RSP => AddrReg::Rsp,
        Register::R8 => AddrReg::R8,
        Register::R9 => AddrReg::R9,
        Register::R10 => AddrReg::R10,
        Register::R11 => AddrReg::R11,
        Register::R12 => AddrReg::R12,
        Register::R13 => AddrReg::R13,
        Register::R14 => AddrReg::R14,
        Register::R15 => AddrReg::R15,
        _ => return Err(NoAccess::Uncomputable),
    };
    Ok(reg as u8)
}

/// Whether an access to a register may change it.
fn writes(access: OpAccess) -> bool {
    matches!(
        access,
        OpAccess::Write | OpAccess::CondWrite | OpAccess::ReadWrite | OpAccess::ReadCondWrite
    )
}

/// How `insn` touches its memory operand, accessed as `access`.
fn access_kind(insn: &Instruction, access: OpAccess) -> DataAccessKind {
    let locked = insn.has_lock_prefix() || insn.mnemonic() == Mnemonic::Xchg;
    match access {
        OpAccess::ReadWrite | OpAccess::ReadCondWrite if locked => DataAccessKind::Locked,
        OpAccess::ReadWrite | OpAccess::ReadCondWrite => DataAccessKind::Update,
        OpAccess::Write | OpAccess::CondWrite => DataAccessKind::Store,
        _ => DataAccessKind::Load,
    }
}

#[cfg(test)]
#[path = "operand_tests.rs"]
mod tests;
