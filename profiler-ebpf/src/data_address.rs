//! Data addresses of perf samples, folded per line into `SAMPLED_LINES`, per line and IP into
//! `LINE_IPS`, and for some samples per line and user stack into `LINE_STACKS` (see
//! `profiler_common::sampled`): the hardware's (PEBS/IBS), or one computed from
//! the interrupted user registers and the operand userspace decoded at the sample's IP
//! (`IP_OPERANDS`).

use aya_ebpf::{
    helpers::{bpf_get_smp_processor_id, bpf_ktime_get_ns},
    programs::PerfEventContext,
};
use profiler_common::{
    line_of,
    operand::AddrReg,
    sampled::{record_sample, wants_stack, who, DataSample, IpOperand, LineIpKey, LineStackKey},
    Counter, IpKey, LineKey,
};

use crate::{
    fold::{atomic_add, count_one, entry},
    maps::{bump, IP_OPERANDS, LINE_IPS, LINE_STACKS, SAMPLED_LINES, ZERO_SAMPLED},
    sample::user_stack,
};

/// Registers an address can be computed from, in perf's order with its gap (9 to 15) closed.
const ADDR_REGS: usize = 17;

/// Folds the sample the current thread of `pid_tgid` took at user `ip` into its data address's
/// line; `hw_addr` is the hardware's data address, 0 when the event gives none; `go` when the
/// target runs Go (the access is then charged to the goroutine `g`). Returns the address, 0 when
/// there is none (an IP not decoded yet, no data access there).
#[inline(always)]
pub fn fold_sample(
    ctx: &PerfEventContext,
    (pid_tgid, go, g): (u64, bool, u64),
    ip: u64,
    hw_addr: u64,
) -> u64 {
    let pid = (pid_tgid >> 32) as u32;
    let key = IpKey { pid, _pad: 0, ip };
    // SAFETY: read-only lookup, copied out at once.
    let operand = unsafe { IP_OPERANDS.get(key) }.copied();
    let (addr, decoded) = if hw_addr != 0 {
        (hw_addr, operand.unwrap_or(IpOperand::NONE))
    } else {
        match operand {
            None => {
                bump(Counter::UndecodedSamples);
                return 0;
            }
            Some(o) if !o.has_access() => return 0,
            Some(o) => {
                let regs = user_regs(ctx);
                bump(Counter::OperandSamples);
                (o.operand.address(|r| reg(&regs, r)), o)
            }
        }
    };
    if addr == 0 {
        return 0;
    }
    let line = LineKey {
        pid,
        _pad: 0,
        line: line_of(addr),
    };
    let sample = DataSample {
        tid: who(go, g, pid_tgid as u32),
        // SAFETY: helper without side effects.
        cpu: unsafe { bpf_get_smp_processor_id() },
        // SAFETY: helper without side effects.
        now_ns: unsafe { bpf_ktime_get_ns() },
        addr,
        width: decoded.operand.width,
        kind: decoded.operand.kind,
    };
    let at = LineIpKey {
        pid,
        _pad: 0,
        line: line.line,
        ip,
    };
    count_one(&LINE_IPS, &at);
    let Some(zero) = ZERO_SAMPLED.get_ptr(0) else {
        return addr;
    };
    // SAFETY: a per-CPU template that is never written.
    let Some((stats, _)) = entry(&SAMPLED_LINES, &line, unsafe { &*zero }, None) else {
        return addr;
    };
    // SAFETY: a live map value.
    record_sample(unsafe { &mut *stats }, &sample, atomic_add);
    // SAFETY: as above; a plain read of an aligned u64 (another CPU's sample may show in it).
    let samples = unsafe { core::ptr::read_volatile(&(*stats).samples) };
    if wants_stack(samples) {
        if let Ok(stack_id) = u32::try_from(user_stack(ctx)) {
            let key = LineStackKey {
                pid,
                stack_id,
                line: line.line,
            };
            count_one(&LINE_STACKS, &key);
        }
    }
    addr
}

/// The interrupted user registers an address can use, read at the context's constant offsets
/// (a register picked by a computed offset would be refused by the verifier).
#[inline(always)]
fn user_regs(ctx: &PerfEventContext) -> [u64; ADDR_REGS] {
    // SAFETY: the context is the kernel's bpf_perf_event_data, readable at constant offsets.
    let r = unsafe { &(*ctx.ctx).regs };
    [
        r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.rsp, r.rip, r.r8, r.r9, r.r10, r.r11,
        r.r12, r.r13, r.r14, r.r15,
    ]
}

/// The value of `r` in `regs` (as [`user_regs`] orders them).
#[inline(always)]
fn reg(regs: &[u64; ADDR_REGS], r: AddrReg) -> u64 {
    let n = r as usize;
    let slot = if n < 9 { n } else { n - 7 };
    regs.get(slot).copied().unwrap_or(0)
}
