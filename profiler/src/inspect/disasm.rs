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

use iced_x86::{Decoder, DecoderError, DecoderOptions, Instruction, Mnemonic};

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
    let mut decoder = Decoder::with_ip(64, code, vaddr, DecoderOptions::NONE);
    let mut insn = Instruction::default();
    let mut rets = Vec::new();
    while decoder.can_decode() {
        let vaddr = decoder.ip();
        decoder.decode_out(&mut insn);
        if insn.is_invalid() {
            return Err(match decoder.last_error() {
                DecoderError::NoMoreBytes => SweepError::Truncated { vaddr },
                _ => SweepError::Invalid { vaddr },
            });
        }
        if insn.mnemonic() == Mnemonic::Ret {
            rets.push(vaddr);
        }
    }
    Ok(rets)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `push rbp; mov rbp,rsp; mov eax,0xc3c3c3c3; cmp rax,0xc3; jne +1; ret; add rsp,0xc3;
    /// pop rbp; ret 8; int3; int3` — RET bytes hide in immediates, only two real RETs.
    const CODE: &[u8] = &[
        0x55, // push rbp                       @0
        0x48, 0x89, 0xe5, // mov rbp, rsp       @1
        0xb8, 0xc3, 0xc3, 0xc3, 0xc3, // mov eax, 0xc3c3c3c3  @4
        0x48, 0x3d, 0xc3, 0x00, 0x00, 0x00, // cmp rax, 0xc3  @9
        0x75, 0x01, // jne +1                   @15
        0xc3, // ret                            @17
        0x48, 0x81, 0xc4, 0xc3, 0x00, 0x00, 0x00, // add rsp, 0xc3 @18
        0x5d, // pop rbp                        @25
        0xc2, 0x08, 0x00, // ret 8              @26
        0xcc, 0xcc, // int3 padding             @29
    ];

    #[test]
    fn finds_only_real_rets() {
        let base = 0x40_1000;
        let rets = ret_addresses(CODE, base).unwrap();
        assert_eq!(rets, vec![base + 17, base + 26]);
        // The 0xC3 bytes inside immediates are there, and not reported.
        let c3 = CODE.iter().filter(|&&b| b == 0xc3).count();
        assert_eq!(c3, 7);
    }

    #[test]
    fn far_return_and_empty_code() {
        // retf (CB) is not a near return.
        assert_eq!(ret_addresses(&[0xcb, 0xc3], 0).unwrap(), vec![1]);
        assert_eq!(ret_addresses(&[], 0x10).unwrap(), Vec::<u64>::new());
        // `rep ret` (F3 C3, old GCC idiom): the instruction starts at the prefix.
        assert_eq!(ret_addresses(&[0x90, 0xf3, 0xc3], 0).unwrap(), vec![1]);
    }

    #[test]
    fn bad_code_is_an_error() {
        // mov eax, imm32 cut after two immediate bytes.
        assert_eq!(
            ret_addresses(&[0xc3, 0xb8, 0x01, 0x02], 0x100),
            Err(SweepError::Truncated { vaddr: 0x101 })
        );
        // 0x06 (push es) is invalid in 64-bit mode.
        assert_eq!(
            ret_addresses(&[0x90, 0x06, 0xc3], 0x200),
            Err(SweepError::Invalid { vaddr: 0x201 })
        );
        let msg = SweepError::Invalid { vaddr: 0x201 }.to_string();
        assert!(!msg.contains('\n') && msg.contains('('), "{msg}");
    }
}
