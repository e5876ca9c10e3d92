//! The RET instructions of a function, found by linear-sweep disassembly.
//!
//! uretprobes cannot be used on Go programs: they overwrite the return address on the stack with
//! a trampoline address, and Go moves goroutine stacks (runtime/stack.go `copystack`) and walks
//! them itself (tracebacks, GC), so a hijacked return address crashes the program. clprof instead
//! puts plain uprobes on every RET of the function.
//!
//! A linear sweep (decode from the first byte, each instruction right after the previous one) is
//! exact for Go's amd64 code: the Go assembler and linker never put data in `.text` (switch jump
//! tables go to rodata, cmd/compile/internal/ssagen `JumpTable`; function padding is INT3), so
//! every byte between a function's start and its end belongs to an instruction that starts where
//! the previous one ended.

use iced_x86::{Decoder, DecoderError, DecoderOptions, Instruction, Mnemonic, OpKind};

/// Why a function's bytes could not be swept.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SweepError {
    /// The bytes at `vaddr` are not a valid instruction.
    #[error("invalid instruction at {vaddr:#x} (the symbol size may be wrong or the code is not x86-64)")]
    Invalid {
        /// Address of the undecodable bytes.
        vaddr: u64,
    },
    /// The last instruction runs past the end of the function.
    #[error("instruction at {vaddr:#x} runs past the function end (the symbol size may be wrong)")]
    Truncated {
        /// Address of the cut instruction.
        vaddr: u64,
    },
}

/// Addresses of every near `ret` / `ret imm16` in `code`, the bytes of one function starting at
/// address `vaddr`, in address order. Far returns (`retf`) are not reported: Go never emits them
/// and they do not return from a near call.
///
/// Bytes that look like a RET inside another instruction (an immediate or displacement containing
/// 0xC3) are not instructions and are not reported: the sweep only looks at instruction starts.
pub(crate) fn ret_addresses(code: &[u8], vaddr: u64) -> Result<Vec<u64>, SweepError> {
    let mut rets = Vec::new();
    sweep(code, vaddr, |insn, at| {
        if insn.mnemonic() == Mnemonic::Ret {
            rets.push(at);
        }
    })?;
    Ok(rets)
}

/// Targets of every direct near `call` in `code` (one function at `vaddr`), in address order:
/// which functions it calls (to tell a wrapper from the function it wraps).
pub(crate) fn call_targets(code: &[u8], vaddr: u64) -> Result<Vec<u64>, SweepError> {
    let mut targets = Vec::new();
    sweep(code, vaddr, |insn, _| {
        if insn.mnemonic() == Mnemonic::Call && insn.op0_kind() == OpKind::NearBranch64 {
            targets.push(insn.near_branch_target());
        }
    })?;
    Ok(targets)
}

/// Decodes `code` (one function at `vaddr`) from its first byte to its last, handing each
/// instruction and its address to `each`.
fn sweep(
    code: &[u8],
    vaddr: u64,
    mut each: impl FnMut(&Instruction, u64),
) -> Result<(), SweepError> {
    let mut decoder = Decoder::with_ip(64, code, vaddr, DecoderOptions::NONE);
    let mut insn = Instruction::default();
    while decoder.can_decode() {
        let vaddr = decoder.ip();
        decoder.decode_out(&mut insn);
        if insn.is_invalid() {
            return Err(match decoder.last_error() {
                DecoderError::NoMoreBytes => SweepError::Truncated { vaddr },
                _ => SweepError::Invalid { vaddr },
            });
        }
        each(&insn, vaddr);
    }
    Ok(())
}

#[cfg(test)]
#[path = "disasm_tests.rs"]
mod tests;
