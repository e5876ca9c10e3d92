//! Running clprof and the Go programs.

use std::{
    io::{BufRead as _, BufReader},
    path::Path,
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

/// The clprof binary under test.
pub fn clprof() -> Command {
    Command::new(env!("CARGO_BIN_EXE_clprof"))
}

/// A `clprof record` command line, probes always on (`--budget 100`) unless said otherwise.
pub struct Record {
    budget: String,
    options: Vec<std::ffi::OsString>,
    launch: Vec<std::ffi::OsString>,
}

impl Record {
    pub fn new() -> Self {
        Record {
            budget: "100".to_owned(),
            options: Vec::new(),
            launch: Vec::new(),
        }
    }

    /// `--quiet --duration D`: the common case.
    pub fn quiet_for(duration: &str) -> Self {
        Self::new().args(["--quiet", "--duration", duration])
    }

    /// `--budget PCT` instead of 100.
    pub fn budget(mut self, pct: &str) -> Self {
        self.budget = pct.to_owned();
        self
    }

    /// `--format json`.
    pub fn json(self) -> Self {
        self.args(["--format", "json"])
    }

    /// `--pid PID`.
    pub fn pid(self, pid: u32) -> Self {
        self.args(["--pid", &pid.to_string()])
    }

    /// `-o PATH`.
    pub fn output(self, path: &Path) -> Self {
        self.arg("-o").arg(path)
    }

    /// Any other option.
    pub fn arg(mut self, a: impl AsRef<std::ffi::OsStr>) -> Self {
        self.options.push(a.as_ref().to_owned());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(self, args: I) -> Self {
        args.into_iter().fold(self, |r, a| r.arg(a))
    }

    /// `-- PROGRAM ARGS...`: launch it under clprof.
    pub fn launch(mut self, program: &Path, args: &[&str]) -> Self {
        self.launch.push(program.as_os_str().to_owned());
        self.launch
            .extend(args.iter().map(std::ffi::OsString::from));
        self
    }

    /// The command, ready to run.
    pub fn command(&self) -> Command {
        let mut cmd = clprof();
        cmd.args(["record", "--budget", &self.budget])
            .args(&self.options);
        if !self.launch.is_empty() {
            cmd.arg("--").args(&self.launch);
        }
        cmd
    }
}

/// A running Go test program, killed on drop.
pub struct Program {
    pub child: Child,
    /// The first line it printed (addresses of its maps).
    pub banner: String,
}

impl Program {
    /// Starts `path` with `args` and waits for its first output line.
    pub fn start(path: &Path, args: &[&str]) -> Program {
        let mut child = Command::new(path)
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut banner = String::new();
        BufReader::new(stdout)
            .read_line(&mut banner)
            .expect("reading the program's first line");
        assert!(!banner.is_empty(), "{} printed nothing", path.display());
        Program { child, banner }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Hex addresses printed in the banner (`map 0x…` / `maps 0x… 0x…`).
    pub fn addresses(&self) -> Vec<u64> {
        self.banner
            .split_whitespace()
            .filter_map(|w| w.strip_prefix("0x"))
            .map(|h| u64::from_str_radix(h, 16).expect("hex address in banner"))
            .collect()
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs clprof to completion and returns its output, panicking with its stderr if it failed.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("running clprof");
    assert!(
        out.status.success(),
        "clprof failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Records `pid` for `secs` seconds, probes always on, and returns the JSON report.
pub fn record_json(pid: u32, secs: u32) -> serde_json::Value {
    record_json_with(pid, secs, &["--budget", "100", "--sample-every", "16"])
}

/// Records `pid` for `secs` seconds with `extra` options and returns the JSON report.
pub fn record_json_with(pid: u32, secs: u32, extra: &[&str]) -> serde_json::Value {
    let out = run_ok(
        clprof()
            .args(["record", "--quiet", "--pid", &pid.to_string()])
            .args(["--duration", &format!("{secs}s"), "--format", "json"])
            .args(extra),
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "clprof printed invalid JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Launches `program` with `args` under `clprof record` for `duration` (probes in place before
/// its first instruction) and returns the JSON report. The program may fail (a racing one is
/// stopped by Go's own check, and clprof then exits with its code); clprof may not.
pub fn record_launched_json(duration: &str, program: &Path, args: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("report.json");
    let out = Record::quiet_for(duration)
        .json()
        .output(&json)
        .launch(program, args)
        .command()
        .output()
        .expect("run clprof");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("clprof: error:") && json.exists(),
        "clprof failed ({}): {stderr}",
        out.status
    );
    serde_json::from_slice(&std::fs::read(&json).expect("report")).expect("JSON")
}

/// Whether a BPF program named `go_map_assign` (clprof's) is loaded anywhere on the system.
pub fn clprof_program_loaded() -> bool {
    aya::programs::loaded_programs()
        .filter_map(Result::ok)
        .any(|p| p.name_as_str() == Some(profiler_common::PROGRAM_MAP_ASSIGN))
}

/// Waits up to `limit` for `cond`.
pub fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cond()
}

/// The line entry whose objects include `addr`.
pub fn line_with_object(report: &serde_json::Value, addr: u64) -> Option<&serde_json::Value> {
    let want = format!("{addr:#x}");
    report["lines"].as_array()?.iter().find(|l| {
        l["objects"]
            .as_array()
            .is_some_and(|objs| objs.iter().any(|o| o["addr"] == want.as_str()))
    })
}

/// The highest ranked line the map probes saw written: lines found only by their sampled data
/// addresses (the lock that guards a map, say) rank among them by their CPU time.
pub fn first_probed(report: &serde_json::Value) -> &serde_json::Value {
    array(report, "lines")
        .iter()
        .find(|l| u64_of(l, "writes") > 0)
        .unwrap_or_else(|| panic!("no line written by a probed assign: {report}"))
}

/// `v[field]` as a number, or a panic naming it.
pub fn u64_of(v: &serde_json::Value, field: &str) -> u64 {
    v[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} is not a number in {v}"))
}

/// `v[field]` as an array, or a panic naming it.
pub fn array<'a>(v: &'a serde_json::Value, field: &str) -> &'a Vec<serde_json::Value> {
    v[field]
        .as_array()
        .unwrap_or_else(|| panic!("{field} is not an array in {v}"))
}

/// Waits until the `clprof record` in `child` (stderr piped) says it records; what it said so
/// far, and a thread collecting the rest of its stderr.
pub fn wait_until_recording(
    child: &mut std::process::Child,
) -> (String, std::thread::JoinHandle<String>) {
    let mut stderr = BufReader::new(child.stderr.take().expect("piped stderr"));
    let mut said = String::new();
    while !said.contains("clprof: recording") {
        let mut line = String::new();
        let n = stderr
            .read_line(&mut line)
            .expect("reading clprof's stderr");
        assert!(n > 0, "clprof record ended before recording: {said}");
        said.push_str(&line);
    }
    let rest = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    (said, rest)
}

/// The source line holding `marker` in the Go test program `name`.
pub fn marked_line(name: &str, marker: &str) -> u64 {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/go")
        .join(name)
        .join("main.go");
    let text = std::fs::read_to_string(&src).expect("read the Go source");
    let at = text
        .lines()
        .position(|l| l.contains(marker))
        .unwrap_or_else(|| panic!("no {marker:?} in {}", src.display()));
    at as u64 + 1
}
