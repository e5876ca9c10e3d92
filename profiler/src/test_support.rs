//! Test helpers: a small Go program built once per test binary with each Go toolchain, and a
//! child process running it.
//!
//! Toolchains come from `CLPROF_GO_NEW` (default `go` on PATH) and `CLPROF_GO_OLD` (default
//! `/usr/lib/go-1.19/bin/go`). A missing toolchain fails the test with a message saying so.

use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

/// Uses every `runtime.mapassign*` variant: int → fast64, int32 → fast32, string → faststr,
/// pointer → fast64ptr, struct → generic. `m64` and `msi` are package variables so that their
/// map types are in the DWARF: Go 1.27 writes no variable DIE for these locals (they live in
/// registers), and an unreferenced type gets no type DIE (see map_types.rs). `stats.miss` adds
/// to a field through its receiver, which the DWARF places in a register. With `sleep`, prints
/// "ready" and sleeps.
const MAIN_GO: &str = r#"package main

import (
	"fmt"
	"os"
	"sync/atomic"
	"time"
)

type point struct{ x, y int }

type stats struct{ hits, misses int64 }

//go:noinline
func (s *stats) miss() { atomic.AddInt64(&s.misses, 1) }

var sink int

var (
	m64 = map[int]int{}
	msi = map[string]int32{}
)

func main() {
	m32 := map[int32]int{}
	ms := map[string]int{}
	mp := map[*point]int{}
	mg := map[point]int{}
	for i := 0; i < 100; i++ {
		p := &point{i, i}
		m64[i] = i
		m32[int32(i)] = i
		ms[fmt.Sprint(i)] = i
		mp[p] = i
		mg[*p] = i
		msi[fmt.Sprint(i)] = int32(i)
	}
	st := new(stats)
	st.miss()
	sink = len(m64) + len(m32) + len(ms) + len(mp) + len(mg) + len(msi) + int(st.misses)
	if len(os.Args) > 1 && os.Args[1] == "sleep" {
		fmt.Println("ready")
		time.Sleep(time.Hour)
	}
}
"#;

const GO_MOD: &str = "module clproftest\n\ngo 1.19\n";

/// The test program, built with one toolchain and set of flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GoBuild {
    /// `CLPROF_GO_NEW` (Go 1.27: swiss maps), with DWARF.
    NewDwarf,
    /// `CLPROF_GO_NEW`, `-ldflags=-w` (no DWARF).
    NewNoDwarf,
    /// `CLPROF_GO_NEW`, `-buildmode=pie`.
    NewPie,
    /// `CLPROF_GO_OLD` (Go 1.19: classic maps), with DWARF.
    OldDwarf,
    /// `CLPROF_GO_OLD`, `-ldflags=-w`.
    OldNoDwarf,
    /// `CLPROF_GO_NEW`, `-ldflags=-s -w`: no symbol table, no DWARF (how services ship).
    NewStripped,
    /// `CLPROF_GO_OLD`, `-ldflags=-s -w`.
    OldStripped,
    /// `CLPROF_GO_NEW`, `-buildmode=pie -ldflags=-s -w`.
    NewPieStripped,
    /// `CLPROF_GO_OLD`, `-buildmode=pie -ldflags=-s -w` (the table is `.data.rel.ro.gopclntab`).
    OldPieStripped,
}

impl GoBuild {
    pub(crate) const ALL: [GoBuild; 9] = [
        GoBuild::NewDwarf,
        GoBuild::NewNoDwarf,
        GoBuild::NewPie,
        GoBuild::OldDwarf,
        GoBuild::OldNoDwarf,
        GoBuild::NewStripped,
        GoBuild::OldStripped,
        GoBuild::NewPieStripped,
        GoBuild::OldPieStripped,
    ];

    fn toolchain(self) -> (&'static str, PathBuf) {
        match self {
            GoBuild::NewDwarf
            | GoBuild::NewNoDwarf
            | GoBuild::NewPie
            | GoBuild::NewStripped
            | GoBuild::NewPieStripped => ("CLPROF_GO_NEW", PathBuf::from("go")),
            GoBuild::OldDwarf
            | GoBuild::OldNoDwarf
            | GoBuild::OldStripped
            | GoBuild::OldPieStripped => {
                ("CLPROF_GO_OLD", PathBuf::from("/usr/lib/go-1.19/bin/go"))
            }
        }
    }

    fn flags(self) -> &'static [&'static str] {
        match self {
            GoBuild::NewDwarf | GoBuild::OldDwarf => &[],
            GoBuild::NewNoDwarf | GoBuild::OldNoDwarf => &["-ldflags=-w"],
            GoBuild::NewPie => &["-buildmode=pie"],
            GoBuild::NewStripped | GoBuild::OldStripped => &["-ldflags=-s -w"],
            GoBuild::NewPieStripped | GoBuild::OldPieStripped => {
                &["-buildmode=pie", "-ldflags=-s -w"]
            }
        }
    }
}

/// Path of the test program built as `build`; built on first use in this test binary. Outputs
/// are kept under the temp dir, keyed by source, toolchain version and flags, so a rerun with
/// the same toolchain reuses them.
pub(crate) fn go_program(build: GoBuild) -> PathBuf {
    static BUILT: [OnceLock<PathBuf>; GoBuild::ALL.len()] =
        [const { OnceLock::new() }; GoBuild::ALL.len()];
    let i = GoBuild::ALL.iter().position(|b| *b == build).unwrap_or(0);
    BUILT[i].get_or_init(|| build_go(build)).clone()
}

fn go_env<'c>(cmd: &'c mut Command, cache: &Path) -> &'c mut Command {
    cmd.env("GOFLAGS", "-mod=mod")
        .env("GOTOOLCHAIN", "local")
        .env("GO111MODULE", "on")
        .env("GOENV", "off")
        .env("CGO_ENABLED", "0")
        .env("GOCACHE", cache)
        .env("GOPATH", cache.join("gopath"))
        .env("HOME", cache.join("home"))
}

fn build_go(build: GoBuild) -> PathBuf {
    let (var, default) = build.toolchain();
    let go = std::env::var_os(var).map(PathBuf::from).unwrap_or(default);
    let cache = PathBuf::from("/tmp/clprof-gocache");
    let version = match go_env(&mut Command::new(&go), &cache)
        .arg("version")
        .output()
    {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_string(),
        Ok(out) => panic!(
            "Go toolchain {} ({var}) failed to run `go version`: {}",
            go.display(),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!(
            "Go toolchain {} not found ({e}); install it or set {var} to a go binary",
            go.display()
        ),
    };
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (MAIN_GO, GO_MOD, &version, build.flags()).hash(&mut h);
    let dir = std::env::temp_dir()
        .join("clprof-target-tests")
        .join(format!("{build:?}-{:016x}", h.finish()));
    let out = dir.join("prog");
    if out.is_file() {
        return out;
    }
    let src = dir.join(format!("src-{}", std::process::id()));
    std::fs::create_dir_all(&src).expect("create Go source dir");
    std::fs::write(src.join("go.mod"), GO_MOD).expect("write go.mod");
    std::fs::write(src.join("main.go"), MAIN_GO).expect("write main.go");
    let tmp_out = dir.join(format!("prog.tmp-{}", std::process::id()));
    let result = go_env(&mut Command::new(&go), &cache)
        .current_dir(&src)
        .arg("build")
        .args(build.flags())
        .arg("-o")
        .arg(&tmp_out)
        .arg(".")
        .output()
        .unwrap_or_else(|e| panic!("running {} build: {e}", go.display()));
    assert!(
        result.status.success(),
        "{version} build {:?} failed:\n{}",
        build.flags(),
        String::from_utf8_lossy(&result.stderr)
    );
    // Rename is atomic: concurrent test processes each build and the last one wins.
    std::fs::rename(&tmp_out, &out).expect("move built program into place");
    let _ = std::fs::remove_dir_all(&src);
    out
}

/// A running copy of the test program (started with `sleep`), killed on drop.
pub(crate) struct SleepingChild {
    child: Child,
}

impl SleepingChild {
    /// Starts `path sleep` and waits for it to print "ready".
    pub(crate) fn spawn(path: &Path) -> SleepingChild {
        let mut tries = 0;
        let mut child = loop {
            match Command::new(path)
                .arg("sleep")
                .stdout(Stdio::piped())
                .spawn()
            {
                Ok(c) => break c,
                // ETXTBSY: another test thread forked while a freshly written copy was open.
                Err(e) if e.raw_os_error() == Some(26) && tries < 50 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => panic!("cannot start {}: {e}", path.display()),
            }
        };
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read child stdout");
        assert_eq!(line.trim(), "ready", "test program did not start");
        SleepingChild { child }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills and reaps the child.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for SleepingChild {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A C program: `counter_add` is a non-static function; with an argument it prints "ready" and
/// sleeps (so [`SleepingChild`] can run it).
const COUNTER_C: &str = r#"
#include <stdio.h>
#include <unistd.h>

int total;

__attribute__((noinline)) int counter_add(int x) {
    total += x;
    return total;
}

int main(int argc, char **argv) {
    (void)argv;
    if (argc > 1) {
        puts("ready");
        fflush(stdout);
        pause();
    }
    return counter_add(argc) > 100;
}
"#;

/// Builds the C test program with `gcc -O1 -g` plus `extra` flags into `dir/name`.
pub(crate) fn c_program(dir: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, COUNTER_C).expect("write C source");
    let out = dir.join(name);
    let result = Command::new("gcc")
        .args(["-O1", "-g"])
        .args(extra)
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .output()
        .unwrap_or_else(|e| panic!("gcc not found ({e}); install gcc to run this test"));
    assert!(
        result.status.success(),
        "gcc failed:\n{}",
        String::from_utf8_lossy(&result.stderr)
    );
    out
}

/// A header field.
pub(crate) fn field(name: &str, offset: u64, size: u64) -> crate::inspect::FieldInfo {
    crate::inspect::FieldInfo {
        name: name.to_owned(),
        offset,
        size,
    }
}

/// The classic (Go 1.19) map header layout, as the built-in table gives it.
pub(crate) fn classic_layout() -> crate::inspect::MapLayout {
    let fields = vec![
        field("count", 0, 8),
        field("flags", 8, 1),
        field("B", 9, 1),
        field("noverflow", 10, 2),
        field("hash0", 12, 4),
        field("buckets", 16, 8),
        field("oldbuckets", 24, 8),
        field("nevacuate", 32, 8),
        field("extra", 40, 8),
    ];
    crate::inspect::MapLayout {
        flavor: crate::inspect::LayoutFlavor::Classic,
        source: crate::inspect::LayoutSource::BuiltinTable,
        type_name: "runtime.hmap".to_owned(),
        header_size: 48,
        written: [field("flags", 8, 1), field("count", 0, 8)],
        writing: field("flags", 8, 1),
        writing_mask: 4,
        growth: Some(field("oldbuckets", 24, 8)),
        fields,
    }
}
