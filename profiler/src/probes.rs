//! `clprof probes`: what would be probed in a process, and why not when it cannot be.

use std::fmt::Write as _;

use crate::{cli::ProbesArgs, target};

pub fn run(args: &ProbesArgs) -> anyhow::Result<()> {
    let mut out = String::new();
    for &pid in &args.pids {
        let t = target::resolve_pid(pid)?;
        let b = &t.binary;
        let _ = writeln!(out, "pid {pid}: {}", t.exe.display());
        let _ = writeln!(
            out,
            "  go version: {}",
            b.go_version
                .as_deref()
                .unwrap_or("unknown (no .go.buildinfo)")
        );
        let _ = writeln!(
            out,
            "  map layout: {:?} {} ({} bytes, from {:?}); assign writes {} @{} and {} @{}",
            b.layout.flavor,
            b.layout.type_name,
            b.layout.header_size,
            b.layout.source,
            b.layout.written[0].name,
            b.layout.written[0].offset,
            b.layout.written[1].name,
            b.layout.written[1].offset,
        );
        for f in &b.assign_funcs {
            let _ = writeln!(
                out,
                "  probe {:<32} vaddr {:#x} file offset {:#x} ({} bytes)",
                f.symbol, f.vaddr, f.file_offset, f.size
            );
        }
        for kind in profiler_common::AssignKind::ALL {
            if !b.assign_funcs.iter().any(|f| f.kind == kind) {
                let _ = writeln!(
                    out,
                    "  not probed {}: not in the symbol table (not linked in)",
                    kind.symbol()
                );
            }
        }
    }
    print!("{out}");
    Ok(())
}
