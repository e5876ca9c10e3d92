//! Symbolization: 10,000 addresses from a Go binary through clprof's symbolizer and through
//! binutils `addr2line -a -f -i` (one process reading them all), cold each time (loading the
//! binary counts). Checks that both give the same function, file and line for every frame,
//! and prints both times (medians of alternating runs) and their ratio.
//!
//! `CLPROF_BENCH_BINARY=GO_BINARY cargo bench -p profiler --bench symbolize`

use std::{
    io::Write as _,
    path::Path,
    process::{Command, Stdio},
    time::Instant,
};

use clprof::symbolize::Symbolizer;
use object::{Object as _, ObjectSymbol as _, SymbolKind};

const ADDRESSES: usize = 10_000;
const RUNS: usize = 5;

/// (function, file, line) per frame, innermost first.
type Frames = Vec<(String, Option<String>, Option<u32>)>;

fn main() {
    let Some(binary) = std::env::var_os("CLPROF_BENCH_BINARY") else {
        eprintln!("symbolize: set CLPROF_BENCH_BINARY to a Go binary (cargo xtask bench does)");
        return;
    };
    let binary = Path::new(&binary);
    let addrs = pick_addresses(binary);
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let (mut our_frames, mut their_frames) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let (frames, took) = clprof_frames(binary, &addrs);
        our_frames = frames;
        ours.push(took);
        let start = Instant::now();
        their_frames = binutils_frames(binary, &addrs);
        theirs.push(start.elapsed().as_secs_f64());
    }
    let same = our_frames
        .iter()
        .zip(&their_frames)
        .filter(|(a, b)| a == b)
        .count();
    let locations = |f: &Frames| -> Vec<(Option<String>, Option<u32>)> {
        f.iter()
            .map(|(_, file, line)| (file.clone(), *line))
            .collect()
    };
    let same_locations = our_frames
        .iter()
        .zip(&their_frames)
        .filter(|(a, b)| locations(a) == locations(b))
        .count();
    let their_no_line = their_frames
        .iter()
        .filter(|f| f.first().is_none_or(|(_, _, line)| line.is_none()))
        .count();
    if let Some((i, (a, b))) = our_frames
        .iter()
        .zip(&their_frames)
        .enumerate()
        .find(|(_, (a, b))| a != b)
    {
        eprintln!(
            "first difference at {:#x}: clprof {a:?}, addr2line {b:?}",
            addrs[i]
        );
    }
    ours.sort_by(f64::total_cmp);
    theirs.sort_by(f64::total_cmp);
    let (ours, theirs) = (ours[RUNS / 2], theirs[RUNS / 2]);
    println!("symbolize_addresses={}", addrs.len());
    println!("symbolize_identical={same}");
    println!("symbolize_identical_locations={same_locations}");
    println!("symbolize_addr2line_without_line={their_no_line}");
    println!("symbolize_clprof_s={ours:.4}");
    println!("symbolize_addr2line_s={theirs:.4}");
    println!("symbolize_speedup={:.1}", theirs / ours);
}

/// Addresses inside the binary's functions, spread by a fixed pseudo-random sequence.
fn pick_addresses(binary: &Path) -> Vec<u64> {
    let data = std::fs::read(binary).unwrap_or_else(|e| panic!("{}: {e}", binary.display()));
    let file = object::File::parse(&*data).expect("an ELF binary");
    let funcs: Vec<(u64, u64)> = file
        .symbols()
        .filter(|s| s.kind() == SymbolKind::Text && s.size() > 0)
        .map(|s| (s.address(), s.size()))
        .collect();
    assert!(
        !funcs.is_empty(),
        "no function symbols in {}",
        binary.display()
    );
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..ADDRESSES)
        .map(|_| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let (start, size) = funcs[(x >> 33) as usize % funcs.len()];
            start + (x >> 7) % size
        })
        .collect()
}

/// clprof's answers, and the time taken to open the binary and symbolize every address
/// (copying the answers out for comparison is not timed).
fn clprof_frames(binary: &Path, addrs: &[u64]) -> (Vec<Frames>, f64) {
    let start = Instant::now();
    let mut symbolizer = Symbolizer::open(binary).expect("open the binary");
    let mut depth = 0;
    for &a in addrs {
        depth += symbolizer.frames(a).len();
    }
    let took = start.elapsed().as_secs_f64();
    assert!(depth >= addrs.len(), "every address has a frame");
    let frames = addrs
        .iter()
        .map(|&a| {
            symbolizer
                .frames(a)
                .iter()
                .map(|f| (f.function.clone(), f.file.clone(), f.line))
                .collect()
        })
        .collect();
    (frames, took)
}

fn binutils_frames(binary: &Path, addrs: &[u64]) -> Vec<Frames> {
    let mut child = Command::new("addr2line")
        .args(["-a", "-f", "-i", "-e"])
        .arg(binary)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run binutils addr2line");
    let input: String = addrs.iter().map(|a| format!("{a:#x}\n")).collect();
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("addr2line output");
    writer.join().expect("writer").expect("write addresses");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut blocks: Vec<Frames> = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.starts_with("0x") {
            blocks.push(Vec::new());
            continue;
        }
        let function = line.to_owned();
        let location = lines.next().unwrap_or("??:0");
        let location = location.split(" (discriminator").next().unwrap_or(location);
        let (file, line) = location.rsplit_once(':').unwrap_or((location, "0"));
        let file = (file != "??").then(|| file.to_owned());
        let line = line.parse().ok().filter(|&n| n > 0);
        if let Some(block) = blocks.last_mut() {
            block.push((function, file, line));
        }
    }
    assert_eq!(blocks.len(), addrs.len(), "one answer per address");
    blocks
}
