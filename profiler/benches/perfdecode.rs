//! Cross-check of the lines found from timer samples: the samples of
//! `perf record -e cpu-clock --user-regs=…` of a Go program (read from `perf script -F
//! tid,ip,uregs`), decoded by clprof's decoder (`access_at`, as a recording decodes its IPs) and
//! folded per line here, outside clprof's kernel side. Prints the lines with the most samples, so
//! that the bench can compare the top one with what `clprof record` ranked first.
//!
//! `CLPROF_BENCH_BINARY=GO_BINARY CLPROF_BENCH_PERF_SCRIPT=FILE cargo bench -p profiler --bench
//! perfdecode` (a static, non-PIE binary: its runtime addresses are its own).

use std::{collections::HashMap, path::Path};

use clprof::{inspect::operand::access_at, symbolize::Symbolizer};
use profiler_common::{line_of, operand::AddrReg};

/// perf's names of the registers an address can use, in [`AddrReg::ALL`]'s order.
const NAMES: [&str; 17] = [
    "AX", "BX", "CX", "DX", "SI", "DI", "BP", "SP", "IP", "R8", "R9", "R10", "R11", "R12", "R13",
    "R14", "R15",
];
/// Lowest kernel address on x86-64.
const KERNEL_START: u64 = 0xffff_8000_0000_0000;
/// Lines printed.
const TOP: usize = 3;

/// One sample: its IP and the user registers perf kept.
struct Sample {
    ip: u64,
    regs: HashMap<AddrReg, u64>,
}

fn main() {
    let (Some(binary), Some(script)) = (
        std::env::var_os("CLPROF_BENCH_BINARY"),
        std::env::var_os("CLPROF_BENCH_PERF_SCRIPT"),
    ) else {
        eprintln!(
            "perfdecode: set CLPROF_BENCH_BINARY and CLPROF_BENCH_PERF_SCRIPT (cargo xtask bench \
             does)"
        );
        return;
    };
    let text = std::fs::read_to_string(&script).expect("reading the perf script output");
    let samples: Vec<Sample> = text.lines().filter_map(parse).collect();
    let sym = Symbolizer::open(Path::new(&binary)).expect("opening the binary");
    let mut lines: HashMap<u64, u64> = HashMap::new();
    let mut decoded = 0u64;
    for s in samples.iter().filter(|s| s.ip < KERNEL_START) {
        let Some((entry, code)) = sym.code_at(s.ip) else {
            continue;
        };
        let Ok(access) = access_at(code, entry, s.ip) else {
            continue;
        };
        let addr = access.operand.address(|r| {
            if r == AddrReg::Ip {
                s.ip
            } else {
                s.regs.get(&r).copied().unwrap_or(0)
            }
        });
        if addr != 0 {
            decoded += 1;
            *lines.entry(line_of(addr)).or_default() += 1;
        }
    }
    let mut top: Vec<(u64, u64)> = lines.into_iter().collect();
    top.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    println!("perfdecode_samples={}", samples.len());
    println!("perfdecode_decoded={decoded}");
    for (i, (line, n)) in top.iter().take(TOP).enumerate() {
        let share = *n as f64 / samples.len().max(1) as f64;
        println!("perfdecode_line{i}={line:#x}");
        println!("perfdecode_line{i}_samples={n}");
        println!("perfdecode_line{i}_share={share:.4}");
    }
}

/// A sample line of `perf script -F tid,ip,uregs`: `TID IP ABI:2 AX:0x… BX:0x… …`.
fn parse(line: &str) -> Option<Sample> {
    let mut words = line.split_whitespace();
    let _tid = words.next()?;
    let ip = u64::from_str_radix(words.next()?, 16).ok()?;
    let regs = words
        .filter_map(|w| {
            let (name, value) = w.split_once(':')?;
            let at = NAMES.iter().position(|&n| n == name)?;
            let value = u64::from_str_radix(value.trim_start_matches("0x"), 16).ok()?;
            Some((AddrReg::ALL[at], value))
        })
        .collect();
    Some(Sample { ip, regs })
}
