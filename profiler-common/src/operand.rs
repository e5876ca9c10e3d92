//! The memory operand of an instruction a timer sample stopped at, as the kernel side computes
//! its data address from the sample's registers.
//!
//! A timer interrupt is taken once the oldest unretired instruction completes, so a cpu-clock
//! sample's IP is usually one instruction past an access that stalled, with that access's
//! address registers still holding what it used. Userspace decodes the instruction (see
//! `profiler::inspect::operand`) and hands the kernel side one [`DataOperand`] per sampled IP;
//! every later sample at that IP computes `base + index × scale + disp` from its registers.

use core::mem::size_of;

/// A general-purpose register an address is computed from, numbered as perf numbers the x86-64
/// user registers (`enum perf_event_x86_regs`, the bits of `sample_regs_user`).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AddrReg {
    Rax = 0,
    Rbx = 1,
    Rcx = 2,
    Rdx = 3,
    Rsi = 4,
    Rdi = 5,
    Rbp = 6,
    Rsp = 7,
    /// The sampled IP: an operand relative to the instruction pointer has its displacement
    /// counted from the sampled IP, so that it holds wherever the binary is loaded.
    Ip = 8,
    R8 = 16,
    R9 = 17,
    R10 = 18,
    R11 = 19,
    R12 = 20,
    R13 = 21,
    R14 = 22,
    R15 = 23,
}

impl AddrReg {
    /// Every register, in perf's order.
    pub const ALL: [AddrReg; 17] = [
        AddrReg::Rax,
        AddrReg::Rbx,
        AddrReg::Rcx,
        AddrReg::Rdx,
        AddrReg::Rsi,
        AddrReg::Rdi,
        AddrReg::Rbp,
        AddrReg::Rsp,
        AddrReg::Ip,
        AddrReg::R8,
        AddrReg::R9,
        AddrReg::R10,
        AddrReg::R11,
        AddrReg::R12,
        AddrReg::R13,
        AddrReg::R14,
        AddrReg::R15,
    ];

    /// The register numbered `n` by perf, if it is one an address can use.
    pub const fn from_perf(n: u8) -> Option<AddrReg> {
        Some(match n {
            0 => AddrReg::Rax,
            1 => AddrReg::Rbx,
            2 => AddrReg::Rcx,
            3 => AddrReg::Rdx,
            4 => AddrReg::Rsi,
            5 => AddrReg::Rdi,
            6 => AddrReg::Rbp,
            7 => AddrReg::Rsp,
            8 => AddrReg::Ip,
            16 => AddrReg::R8,
            17 => AddrReg::R9,
            18 => AddrReg::R10,
            19 => AddrReg::R11,
            20 => AddrReg::R12,
            21 => AddrReg::R13,
            22 => AddrReg::R14,
            23 => AddrReg::R15,
            _ => return None,
        })
    }
}

/// [`DataOperand::base`] or [`DataOperand::index`] when the address has none.
pub const NO_REG: u8 = 0xff;

/// How an instruction touches memory.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DataAccessKind {
    /// Reads it.
    Load = 1,
    /// Writes it.
    Store = 2,
    /// Reads and writes it (an add to memory, a compare-and-exchange without a lock prefix).
    Update = 3,
    /// A locked read-modify-write: `lock`-prefixed, or `xchg` with memory (always locked).
    Locked = 4,
}

impl DataAccessKind {
    /// The kind coded as `n` in [`DataOperand::kind`].
    pub const fn from_u8(n: u8) -> Option<DataAccessKind> {
        match n {
            1 => Some(DataAccessKind::Load),
            2 => Some(DataAccessKind::Store),
            3 => Some(DataAccessKind::Update),
            4 => Some(DataAccessKind::Locked),
            _ => None,
        }
    }

    /// Whether the access writes the line (and so takes it from every other CPU).
    pub const fn writes(self) -> bool {
        !matches!(self, DataAccessKind::Load)
    }
}

/// Where a perf source's sample IPs stand relative to the access they stand for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SampleIp {
    /// A timer sample: usually one instruction past the access (the one the interrupt waited
    /// for), else at the access not yet executed ([`Skid`]).
    Skidded,
    /// The sampled instruction is the access itself: PEBS with `precise_ip` 2, IBS op samples,
    /// page faults. The address comes with the sample.
    Exact,
}

/// Which instruction, relative to the sampled IP, made the access.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Skid {
    /// The instruction that ends at the sampled IP: the one the interrupt waited for.
    Before = 1,
    /// The instruction at the sampled IP, not yet executed (its registers are the ones it will
    /// use): taken when the one before touches no memory it can be told from.
    At = 2,
}

/// The memory operand of the access a sample at one IP stands for: the address is
/// `base + index × scale + disp` (wrapping), from the sample's registers.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DataOperand {
    /// Base register ([`AddrReg`] as u8), or [`NO_REG`].
    pub base: u8,
    /// Index register ([`AddrReg`] as u8), or [`NO_REG`].
    pub index: u8,
    /// Multiplier of the index: 1, 2, 4 or 8.
    pub scale: u8,
    /// [`DataAccessKind`] as u8.
    pub kind: u8,
    /// Bytes accessed (1 to 64).
    pub width: u8,
    /// [`Skid`] as u8.
    pub skid: u8,
    /// Explicit padding.
    pub _pad: [u8; 2],
    /// Displacement (bytes); for an [`AddrReg::Ip`] base, counted from the sampled IP.
    pub disp: i64,
}
const _: () = assert!(size_of::<DataOperand>() == 16);

impl DataOperand {
    /// The address accessed, given the value of each register the operand names.
    #[inline(always)]
    pub fn address(&self, reg: impl Fn(AddrReg) -> u64) -> u64 {
        let value = |n: u8| AddrReg::from_perf(n).map_or(0, &reg);
        let index = value(self.index).wrapping_mul(u64::from(self.scale));
        value(self.base)
            .wrapping_add(index)
            .wrapping_add(self.disp as u64)
    }

    /// How the instruction touches memory.
    pub fn access(&self) -> Option<DataAccessKind> {
        DataAccessKind::from_u8(self.kind)
    }
}

#[cfg(test)]
#[path = "operand_tests.rs"]
mod tests;
