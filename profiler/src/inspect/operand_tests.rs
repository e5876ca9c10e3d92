use profiler_common::operand::{AddrReg, DataAccessKind, DataOperand, SampleIp, Skid, NO_REG};

use object::{Object as _, ObjectSection as _};

use super::*;
use crate::{
    symbolize::{gopclntab::GoLineTable, Symbolizer},
    test_support::{go_program, GoBuild},
};

/// Where the test functions start.
const FUNC: u64 = 0x40_1000;
/// `add %rcx,%rbx`: touches no memory.
const ADD_REGS: &[u8] = &[0x48, 0x01, 0xcb];
/// `ret`.
const RET: &[u8] = &[0xc3];

/// What an operand is expected to be: base, index, scale, displacement, kind, width.
type Expected = (u8, u8, u8, i64, DataAccessKind, u8);

/// `insn` followed by an instruction without memory, sampled right after `insn`.
fn sampled_after(insn: &[u8]) -> Result<SampledAccess, NoAccess> {
    let code = [insn, ADD_REGS, RET].concat();
    access_at(&code, FUNC, FUNC + insn.len() as u64)
}

fn operand((base, index, scale, disp, kind, width): Expected, skid: Skid) -> DataOperand {
    DataOperand {
        base,
        index,
        scale,
        kind: kind as u8,
        width,
        skid: skid as u8,
        _pad: [0; 2],
        disp,
    }
}

const RAX: u8 = AddrReg::Rax as u8;
const RBX: u8 = AddrReg::Rbx as u8;
const RCX: u8 = AddrReg::Rcx as u8;
const RDX: u8 = AddrReg::Rdx as u8;
const RSI: u8 = AddrReg::Rsi as u8;
const RDI: u8 = AddrReg::Rdi as u8;
const R8: u8 = AddrReg::R8 as u8;
const R9: u8 = AddrReg::R9 as u8;
const R14: u8 = AddrReg::R14 as u8;
const IP: u8 = AddrReg::Ip as u8;

#[test]
fn the_access_before_the_sampled_ip_is_decoded_with_its_operand() {
    use DataAccessKind::*;
    let corpus: &[(&str, &[u8], Expected)] = &[
        (
            "lock xadd %rdx,(%rax)",
            &[0xf0, 0x48, 0x0f, 0xc1, 0x10],
            (RAX, NO_REG, 1, 0, Locked, 8),
        ),
        (
            "mov -0x10(%rbx,%rsi,8),%rcx",
            &[0x48, 0x8b, 0x4c, 0xf3, 0xf0],
            (RBX, RSI, 8, -16, Load, 8),
        ),
        (
            "movl $1,0x30(%r14)",
            &[0x41, 0xc7, 0x46, 0x30, 1, 0, 0, 0],
            (R14, NO_REG, 1, 0x30, Store, 4),
        ),
        (
            "addq $1,(%rcx)",
            &[0x48, 0x83, 0x01, 0x01],
            (RCX, NO_REG, 1, 0, Update, 8),
        ),
        (
            "xchg %rax,(%rdi)",
            &[0x48, 0x87, 0x07],
            (RDI, NO_REG, 1, 0, Locked, 8),
        ),
        (
            "lock cmpxchg %rcx,0x10(%rbx)",
            &[0xf0, 0x48, 0x0f, 0xb1, 0x4b, 0x10],
            (RBX, NO_REG, 1, 16, Locked, 8),
        ),
        (
            "cmpxchg %rcx,0x10(%rbx)",
            &[0x48, 0x0f, 0xb1, 0x4b, 0x10],
            (RBX, NO_REG, 1, 16, Update, 8),
        ),
        (
            "mov 0x1234(%rip),%rax",
            &[0x48, 0x8b, 0x05, 0x34, 0x12, 0, 0],
            (IP, NO_REG, 1, 0x1234, Load, 8),
        ),
        (
            "movzbl 0x3(%r8,%r9,2),%ecx",
            &[0x43, 0x0f, 0xb6, 0x4c, 0x48, 0x03],
            (R8, R9, 2, 3, Load, 1),
        ),
        (
            "vmovdqu (%rdx),%ymm0",
            &[0xc5, 0xfe, 0x6f, 0x02],
            (RDX, NO_REG, 1, 0, Load, 32),
        ),
    ];
    for (text, bytes, expected) in corpus {
        let found = sampled_after(bytes).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(found.operand, operand(*expected, Skid::Before), "{text}");
        assert_eq!(found.insn_vaddr, FUNC, "{text}");
    }
}

#[test]
fn accesses_whose_address_cannot_be_told_are_refused_with_the_reason() {
    let corpus: &[(&str, &[u8], NoAccess)] = &[
        (
            "mov 0x8(%rax),%rax",
            &[0x48, 0x8b, 0x40, 0x08],
            NoAccess::Overwritten,
        ),
        ("mov (%rax),%eax", &[0x8b, 0x00], NoAccess::Overwritten),
        (
            "add (%rax),%rax",
            &[0x48, 0x03, 0x00],
            NoAccess::Overwritten,
        ),
        (
            "lea 0x8(%rbx),%rax",
            &[0x48, 0x8d, 0x43, 0x08],
            NoAccess::NoMemory,
        ),
        (
            "nopl (%rax,%rax,1)",
            &[0x0f, 0x1f, 0x04, 0x00],
            NoAccess::NoMemory,
        ),
        ("prefetcht0 (%rax)", &[0x0f, 0x18, 0x08], NoAccess::NoMemory),
        ("add %rcx,%rbx", ADD_REGS, NoAccess::NoMemory),
        (
            "mov 0x8(%rsp),%rax",
            &[0x48, 0x8b, 0x44, 0x24, 0x08],
            NoAccess::Stack,
        ),
        ("push %rax", &[0x50], NoAccess::Stack),
        (
            "mov %fs:0xfffffffffffffff8,%rax",
            &[0x64, 0x48, 0x8b, 0x04, 0x25, 0xf8, 0xff, 0xff, 0xff],
            NoAccess::ThreadLocal,
        ),
        ("movsb", &[0xa4], NoAccess::Uncomputable),
    ];
    for (text, bytes, expected) in corpus {
        assert_eq!(sampled_after(bytes), Err(*expected), "{text}");
    }
}

#[test]
fn without_an_access_before_it_the_instruction_at_the_ip_is_taken() {
    // `mov 0x8(%rax),%rax` has not run yet: its address registers are intact.
    let code = [ADD_REGS, &[0x48, 0x8b, 0x40, 0x08], RET].concat();
    let at = FUNC + ADD_REGS.len() as u64;
    let found = access_at(&code, FUNC, at).expect("the access at the IP");
    let expected = (RAX, NO_REG, 1, 8, DataAccessKind::Load, 8);
    assert_eq!(found.operand, operand(expected, Skid::At));
    assert_eq!(found.insn_vaddr, at);
}

#[test]
fn an_ip_relative_access_at_the_ip_counts_from_the_ip() {
    // `mov 0x1234(%rip),%rax` at FUNC + 3 reads FUNC + 3 + 7 + 0x1234.
    let code = [ADD_REGS, &[0x48, 0x8b, 0x05, 0x34, 0x12, 0, 0], RET].concat();
    let at = FUNC + 3;
    let found = access_at(&code, FUNC, at).expect("the access at the IP");
    assert_eq!(found.operand.base, IP);
    assert_eq!(found.operand.disp, 7 + 0x1234);
    // Loaded anywhere, the sampled IP moves with the data.
    let loaded = 0x5555_0000_0000u64;
    let address = found.operand.address(|r| match r {
        AddrReg::Ip => at + loaded,
        _ => 0,
    });
    assert_eq!(address, FUNC + 3 + 7 + 0x1234 + loaded);
}

#[test]
fn the_access_before_wins_over_the_one_at_the_ip() {
    let code = [
        &[0xf0, 0x48, 0x0f, 0xc1, 0x10][..],
        &[0x48, 0x8b, 0x4c, 0xf3, 0xf0],
        RET,
    ]
    .concat();
    let found = access_at(&code, FUNC, FUNC + 5).expect("an access");
    assert_eq!(found.operand.skid, Skid::Before as u8);
    assert_eq!(found.operand.base, RAX);
}

#[test]
fn an_exact_sample_takes_the_instruction_at_its_ip_not_the_one_before() {
    // `lock xadd %rdx,(%rax)` then `mov -0x10(%rbx,%rsi,8),%rcx`, sampled at the second: a
    // timer sample stands for the locked add, a PEBS/IBS/page-fault sample for the load.
    let code = [
        &[0xf0, 0x48, 0x0f, 0xc1, 0x10][..],
        &[0x48, 0x8b, 0x4c, 0xf3, 0xf0],
        RET,
    ]
    .concat();
    let timer = access_for(&code, FUNC, FUNC + 5, SampleIp::Skidded).expect("an access");
    assert_eq!(timer, access_at(&code, FUNC, FUNC + 5).unwrap());
    assert_eq!(timer.insn_vaddr, FUNC);
    let exact = access_for(&code, FUNC, FUNC + 5, SampleIp::Exact).expect("the load");
    assert_eq!(exact.insn_vaddr, FUNC + 5);
    assert_eq!(
        exact.operand,
        operand((RBX, RSI, 8, -0x10, DataAccessKind::Load, 8), Skid::At)
    );
}

#[test]
fn an_exact_sample_keeps_an_access_that_overwrites_its_own_address_register() {
    // `mov (%rax),%rax`: its address is gone after it runs, so a timer sample past it has
    // none; an exact sample's address came with the sample, and the load is still the access.
    let code = [&[0x48, 0x8b, 0x00][..], ADD_REGS, RET].concat();
    assert_eq!(access_at(&code, FUNC, FUNC + 3), Err(NoAccess::Overwritten));
    let exact = access_for(&code, FUNC, FUNC, SampleIp::Exact).expect("the load");
    assert_eq!(exact.operand.kind, DataAccessKind::Load as u8);
    assert_eq!(exact.insn_vaddr, FUNC);
    // At an instruction without memory, or inside one, there is none.
    assert_eq!(
        access_for(&code, FUNC, FUNC + 3, SampleIp::Exact),
        Err(NoAccess::NoMemory)
    );
    assert_eq!(
        access_for(&code, FUNC, FUNC + 1, SampleIp::Exact),
        Err(NoAccess::NotABoundary)
    );
    // The function's end starts no instruction.
    assert_eq!(
        access_for(&code[..3], FUNC, FUNC + 3, SampleIp::Exact),
        Err(NoAccess::NotABoundary)
    );
}

#[test]
fn the_reason_given_is_the_instruction_befores_when_neither_can_be_used() {
    // Before: a stack load; at the IP: a LEA.
    let code = [
        &[0x48, 0x8b, 0x44, 0x24, 0x08][..],
        &[0x48, 0x8d, 0x43, 0x08],
        RET,
    ]
    .concat();
    assert_eq!(access_at(&code, FUNC, FUNC + 5), Err(NoAccess::Stack));
}

#[test]
fn an_ip_inside_an_instruction_or_outside_the_function_is_no_boundary() {
    let code = [&[0x48, 0x8b, 0x4c, 0xf3, 0xf0][..], RET].concat();
    for ip in [FUNC + 2, FUNC - 1, FUNC + 7, 0, u64::MAX] {
        assert_eq!(
            access_at(&code, FUNC, ip),
            Err(NoAccess::NotABoundary),
            "ip {ip:#x}"
        );
    }
}

#[test]
fn the_function_start_has_only_the_instruction_at_it() {
    let code = [&[0x48, 0x8b, 0x4c, 0xf3, 0xf0][..], RET].concat();
    let found = access_at(&code, FUNC, FUNC).expect("the first instruction");
    assert_eq!(found.operand.skid, Skid::At as u8);
    // At the end: only the instruction before it.
    let end = access_at(&code[..5], FUNC, FUNC + 5).expect("the last instruction");
    assert_eq!(end.operand.skid, Skid::Before as u8);
}

#[test]
fn bytes_that_are_no_instruction_are_invalid() {
    // 0x06 (push %es) does not exist in 64-bit mode.
    assert_eq!(
        access_at(&[0x06, 0xc3], FUNC, FUNC + 1),
        Err(NoAccess::Invalid)
    );
}

#[test]
fn the_sampled_registers_give_the_address_of_a_neighbouring_counter() {
    // Two threads adding to neighbouring fields: `lock xadd %rdx,(%rax)` with RAX = &hot.b.
    let found = sampled_after(&[0xf0, 0x48, 0x0f, 0xc1, 0x10]).expect("the xadd");
    let hot_b = 0x5a_8d08u64;
    let address = found.operand.address(|r| match r {
        AddrReg::Rax => hot_b,
        AddrReg::Rdx => 1,
        _ => 0xdead,
    });
    assert_eq!(address, hot_b);
    assert_eq!(found.operand.access(), Some(DataAccessKind::Locked));
}

/// The locked read-modify-writes in the runtime's functions of a Go build, each with its
/// function's code as the symbolizer reads it: (function entry, code, address after the
/// instruction, its memory base register).
fn runtime_locked_rmws(build: GoBuild) -> Vec<(u64, Vec<u8>, u64, iced_x86::Register)> {
    let path = go_program(build);
    let symbolizer = Symbolizer::open(&path).expect("symbolizer");
    let table = GoLineTable::open(&path).expect("Go's line table");
    let data = std::fs::read(&path).expect("the binary");
    let elf = object::File::parse(&*data).expect("ELF");
    let mut found = Vec::new();
    for func in table.functions().filter(|f| f.name.starts_with("runtime.")) {
        let (entry, code) = symbolizer
            .code_at(func.entry + 1)
            .expect("the function's code");
        assert_eq!(entry, func.entry, "{build:?} {}", func.name);
        assert_eq!(
            code.len() as u64,
            func.end - func.entry,
            "{build:?} {}",
            func.name
        );
        let from_elf = elf
            .sections()
            .find_map(|s| s.data_range(entry, code.len() as u64).ok().flatten());
        assert_eq!(from_elf, Some(code), "{build:?} {}: other bytes", func.name);
        let mut decoder = iced_x86::Decoder::with_ip(64, code, entry, 0);
        for insn in &mut decoder {
            if insn.has_lock_prefix() && insn.memory_base() != iced_x86::Register::RSP {
                found.push((entry, code.to_vec(), insn.next_ip(), insn.memory_base()));
            }
        }
        if found.len() >= 20 {
            break;
        }
    }
    found
}

#[test]
fn the_runtimes_locked_adds_are_decoded_from_their_binaries() {
    for build in [GoBuild::OldDwarf, GoBuild::NewPieStripped] {
        let rmws = runtime_locked_rmws(build);
        assert!(
            rmws.len() >= 5,
            "{build:?}: only {} locked instructions",
            rmws.len()
        );
        for (entry, code, after, base) in rmws {
            let found = access_at(&code, entry, after)
                .unwrap_or_else(|e| panic!("{build:?}: at {after:#x}: {e}"));
            assert_eq!(
                found.operand.access(),
                Some(DataAccessKind::Locked),
                "{after:#x}"
            );
            assert_eq!(found.operand.skid, Skid::Before as u8, "{after:#x}");
            let expected = if base == iced_x86::Register::RIP {
                IP
            } else {
                addr_reg(base).expect("a general-purpose base")
            };
            assert_eq!(found.operand.base, expected, "{build:?} at {after:#x}");
        }
    }
}
