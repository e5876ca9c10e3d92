//! `clprof probes`: what would be probed in a process, and why not when it cannot be.

use std::fmt::Write as _;

use crate::{
    cli::ProbesArgs,
    inspect::{self, access_funcs::MapArg, GoBinary, TargetError},
    probe_spec::ProbeSpec,
};

pub fn run(args: &ProbesArgs) -> anyhow::Result<()> {
    let mut out = String::new();
    for &pid in &args.pids {
        let process = inspect::resolve_process(pid)?;
        let ns = match process.ns_pid {
            Some(ns) if ns != pid => format!(" (pid {ns} in its namespace)"),
            _ => String::new(),
        };
        let _ = writeln!(out, "pid {pid}{ns}: {}", process.exe.display());
        match inspect::inspect_process(&process) {
            Ok(binary) => go_probes(&mut out, &binary),
            Err(e @ TargetError::NoMapFunctions { .. }) => {
                let _ = writeln!(out, "  go map probes: none ({e})");
            }
            Err(e) => return Err(e.into()),
        }
        for spec in &args.probes {
            if let ProbeSpec::Custom(c) = spec {
                match inspect::find_symbol(&c.binary, &c.symbol) {
                    Ok(site) => {
                        let _ = writeln!(
                            out,
                            "  probe {c}: vaddr {:#x} file offset {:#x}",
                            site.vaddr, site.file_offset
                        );
                    }
                    Err(e) => {
                        let _ = writeln!(out, "  not probed {c}: {e}");
                    }
                }
            }
        }
    }
    print!("{out}");
    Ok(())
}

/// What is known of the Go binary `b` and every map probe it gets.
fn go_probes(out: &mut String, b: &GoBinary) {
    layout_rows(out, b);
    assign_rows(out, b);
    for g in &b.growth_funcs {
        let _ = writeln!(
            out,
            "  growth probe {:<32} file offset {:#x}",
            g.symbol, g.file_offset
        );
    }
    for m in &b.make_funcs {
        let _ = writeln!(
            out,
            "  make probe {:<34} {} RET site(s): where maps are made",
            m.symbol,
            m.ret_offsets.len()
        );
    }
    for a in &b.access_funcs {
        let map = match a.map {
            MapArg::Reg(r) => format!("{r:?}"),
            MapArg::Field(r, off) => format!("[{r:?}+{off:#x}]"),
        };
        let _ = writeln!(
            out,
            "  {:?} probe {:<36} file offset {:#x}, map header in {map}",
            a.kind, a.symbol, a.file_offset
        );
    }
    if !b.map_types.is_empty() {
        let mut names: Vec<&str> = b.map_types.values().map(String::as_str).collect();
        names.sort_unstable();
        let _ = writeln!(out, "  map types in DWARF: {}", names.join(", "));
    }
}

/// The Go binary's version and map layout.
fn layout_rows(out: &mut String, b: &GoBinary) {
    let _ = writeln!(
        out,
        "  go version: {}",
        b.go_version
            .as_deref()
            .unwrap_or("unknown (no .go.buildinfo)")
    );
    let l = &b.layout;
    let _ = writeln!(
        out,
        "  map layout: {:?} {} ({} bytes, from {:?}); assign writes {} @{} and {} @{}",
        l.flavor,
        l.type_name,
        l.header_size,
        l.source,
        l.written[0].name,
        l.written[0].offset,
        l.written[1].name,
        l.written[1].offset,
    );
    let growth = l.growth.as_ref().map_or_else(
        || "grows inside one assign (growth functions below)".to_owned(),
        |g| format!("growing while {} @{} is non-nil", g.name, g.offset),
    );
    let _ = writeln!(
        out,
        "  writer flag: {} @{} mask {:#x}; {growth}",
        l.writing.name, l.writing.offset, l.writing_mask
    );
}

/// The assign functions' probes, and the assign kinds not linked in.
fn assign_rows(out: &mut String, b: &GoBinary) {
    for f in &b.assign_funcs {
        let _ = writeln!(
            out,
            "  probe {:<32} vaddr {:#x} file offset {:#x} ({} bytes), {} RET site(s)",
            f.symbol,
            f.vaddr,
            f.file_offset,
            f.size,
            f.ret_offsets.len()
        );
        if f.ret_offsets.is_empty() {
            let _ = writeln!(
                out,
                "    no RET sites: value slots and latency are not measured for it (disassembly failed)"
            );
        }
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
