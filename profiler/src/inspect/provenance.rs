//! Where an access's base register got its value: a global variable holding a pointer, loaded
//! into the register earlier in the same straight run of code (`mov main.cfg(%rip),%rcx` then
//! `mov 0x18(%rcx),%rdx`). The global's DWARF type then names the struct field the access
//! touched, as perf's data-type profiling follows pointers loaded from globals.
//!
//! The code is swept from the function's first byte (see `disasm`) and each register's value
//! followed forward: a RIP-relative 8-byte load sets it, any other write to it clears it, and a
//! call (Go's ABI keeps no register across one) or a jump target (other paths meet there)
//! clears them all.

use std::collections::HashSet;

use iced_x86::{
    Code, Decoder, DecoderOptions, FlowControl, Instruction, InstructionInfoFactory, OpAccess,
    OpKind, Register,
};
use profiler_common::operand::AddrReg;

/// General-purpose registers followed (`AddrReg` numbering, the instruction pointer excluded).
const REGS: usize = 16;

/// The address of the global whose value the register `base` held at the instruction at
/// `insn_vaddr`, in the function whose bytes are `code` from `func_vaddr` (file addresses);
/// None where the register was not loaded from a global on every path seen there.
pub fn loaded_from_global(
    code: &[u8],
    func_vaddr: u64,
    insn_vaddr: u64,
    base: AddrReg,
) -> Option<u64> {
    let slot = slot_of(base)?;
    let targets = jump_targets(code, func_vaddr);
    let mut held: [Option<u64>; REGS] = [None; REGS];
    let mut info = InstructionInfoFactory::new();
    let mut decoder = Decoder::with_ip(64, code, func_vaddr, DecoderOptions::NONE);
    let mut insn = Instruction::default();
    while decoder.can_decode() {
        decoder.decode_out(&mut insn);
        if insn.is_invalid() {
            return None;
        }
        if targets.contains(&insn.ip()) {
            held = [None; REGS];
        }
        if insn.ip() == insn_vaddr {
            return held[slot];
        }
        if insn.ip() > insn_vaddr {
            return None;
        }
        follow(&mut held, &insn, &mut info);
    }
    None
}

/// What `insn` does to the registers followed in `held`.
fn follow(held: &mut [Option<u64>; REGS], insn: &Instruction, info: &mut InstructionInfoFactory) {
    if matches!(
        insn.flow_control(),
        FlowControl::Call | FlowControl::IndirectCall | FlowControl::Interrupt
    ) {
        *held = [None; REGS];
        return;
    }
    let loaded = (insn.code() == Code::Mov_r64_rm64
        && insn.op1_kind() == OpKind::Memory
        && insn.is_ip_rel_memory_operand())
    .then(|| (insn.op0_register(), insn.ip_rel_memory_address()));
    for used in info.info(insn).used_registers() {
        let written = !matches!(
            used.access(),
            OpAccess::Read | OpAccess::CondRead | OpAccess::None | OpAccess::NoMemAccess
        );
        if written {
            if let Some(slot) = register_slot(used.register()) {
                held[slot] = None;
            }
        }
    }
    if let Some((reg, global)) = loaded {
        if let Some(slot) = register_slot(reg) {
            held[slot] = Some(global);
        }
    }
}

/// The targets of the function's direct jumps inside it.
fn jump_targets(code: &[u8], func_vaddr: u64) -> HashSet<u64> {
    let end = func_vaddr + code.len() as u64;
    let mut decoder = Decoder::with_ip(64, code, func_vaddr, DecoderOptions::NONE);
    let mut out = HashSet::new();
    for insn in &mut decoder {
        let jumps = matches!(
            insn.flow_control(),
            FlowControl::UnconditionalBranch | FlowControl::ConditionalBranch
        );
        if jumps && insn.op0_kind() == OpKind::NearBranch64 {
            let to = insn.near_branch_target();
            if (func_vaddr..end).contains(&to) {
                out.insert(to);
            }
        }
    }
    out
}

/// The slot of a general-purpose register (any width of it).
fn register_slot(r: Register) -> Option<usize> {
    let full = r.full_register();
    let n = match full {
        Register::RAX => 0,
        Register::RBX => 1,
        Register::RCX => 2,
        Register::RDX => 3,
        Register::RSI => 4,
        Register::RDI => 5,
        Register::RBP => 6,
        Register::RSP => 7,
        Register::R8 => 8,
        Register::R9 => 9,
        Register::R10 => 10,
        Register::R11 => 11,
        Register::R12 => 12,
        Register::R13 => 13,
        Register::R14 => 14,
        Register::R15 => 15,
        _ => return None,
    };
    Some(n)
}

/// The slot of an address register; None for the instruction pointer.
fn slot_of(r: AddrReg) -> Option<usize> {
    match r as u8 {
        n @ 0..=7 => Some(usize::from(n)),
        8 => None,
        n => Some(usize::from(n) - 8),
    }
}

#[cfg(test)]
#[path = "provenance_tests.rs"]
mod tests;
