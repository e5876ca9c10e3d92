//! Containers: a Go program in its own mount and pid namespaces, run from a tmpfs mounted only
//! inside its mount namespace, profiled from the host by its host pid.

use std::{
    io::{BufRead as _, BufReader},
    os::unix::fs::MetadataExt as _,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use super::{
    daemon::{daemon, free_port, get},
    go::{program, program_with, Go},
    support::*,
};

/// A Go program started by `unshare --mount --pid --fork` from a copy of its binary on a tmpfs
/// mounted over `dir` inside the new mount namespace. The namespace's pid 1 is the program
/// itself (the shell execs it); everything is killed when dropped.
struct Contained {
    /// The `unshare` process.
    unshare: Child,
    /// Host pid of the Go program.
    pid: u32,
    /// Its first output line (its maps' addresses).
    banner: String,
    /// Where the binary lives inside the namespace: `dir/NAME`.
    inner_path: PathBuf,
    /// The host's decoy process, running the host file at `inner_path`.
    decoy: Option<KillOnDrop>,
    /// Kept for its lifetime: the directory the tmpfs is mounted over.
    _dir: tempfile::TempDir,
}

impl Contained {
    /// Starts `binary` with `args` in new mount and pid namespaces. When `decoy` is given, the
    /// host gets that file at the program's path, so the host path names a different file, and
    /// runs it first (`decoy 60`), so that a scan of `/proc` meets it before the program.
    fn start(binary: &Path, args: &[&str], decoy: Option<&Path>) -> Contained {
        let dir = tempfile::tempdir().expect("tempdir");
        let name = binary.file_name().expect("binary name");
        let inner_path = dir.path().join(name);
        let decoy = decoy.map(|decoy| {
            std::fs::copy(decoy, &inner_path).expect("copy the decoy");
            KillOnDrop(
                Command::new(&inner_path)
                    .arg("60")
                    .spawn()
                    .expect("start the decoy"),
            )
        });
        // sh -c SCRIPT NAME DIR BINARY ARGS…: $0 is the name, "$@" the program's arguments.
        let script = r#"mount -t tmpfs clprof-test "$1" && cp "$2" "$1/$0" && d="$1" && shift 2 && exec "$d/$0" "$@""#;
        let mut unshare = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "--pid", "--fork"])
            .args(["--mount-proc", "sh", "-c", script])
            .arg(name)
            .arg(dir.path())
            .arg(binary)
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run unshare (util-linux) to make a container: {e}"));
        let stdout = unshare.stdout.take().expect("piped stdout");
        let mut banner = String::new();
        let read = BufReader::new(stdout).read_line(&mut banner);
        let contained = Contained {
            pid: children_of(unshare.id()).first().copied().unwrap_or(0),
            unshare,
            banner,
            inner_path,
            decoy,
            _dir: dir,
        };
        read.expect("reading the contained program's first line");
        assert!(
            !contained.banner.is_empty(),
            "the contained program printed nothing (did the tmpfs mount or the copy fail?)"
        );
        assert_ne!(
            contained.pid,
            0,
            "no child of unshare {}",
            contained.unshare.id()
        );
        contained.check_isolation();
        contained
    }

    /// The program runs the tmpfs copy, in its own pid namespace, and the host cannot reach that
    /// copy by its path.
    fn check_isolation(&self) {
        let decoy = self.decoy.is_some();
        let exe = std::fs::read_link(format!("/proc/{}/exe", self.pid)).expect("exe link");
        assert_eq!(
            exe, self.inner_path,
            "the contained program runs another file"
        );
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).expect("status");
        let nspid = status
            .lines()
            .find(|l| l.starts_with("NSpid:"))
            .unwrap_or("");
        assert_eq!(
            nspid.split_whitespace().skip(1).collect::<Vec<_>>(),
            [self.pid.to_string(), "1".to_owned()],
            "not pid 1 of a child pid namespace: {nspid}"
        );
        match std::fs::metadata(&self.inner_path) {
            Err(_) => assert!(!decoy, "the decoy vanished"),
            Ok(host) => {
                let inner = std::fs::metadata(format!("/proc/{}/exe", self.pid)).expect("stat exe");
                assert!(
                    decoy,
                    "the host can open {}, which should exist only in the namespace's tmpfs",
                    self.inner_path.display()
                );
                assert_ne!(
                    (host.dev(), host.ino()),
                    (inner.dev(), inner.ino()),
                    "the host path is the contained binary itself"
                );
            }
        }
    }

    fn addresses(&self) -> Vec<u64> {
        self.banner
            .split_whitespace()
            .filter_map(|w| w.strip_prefix("0x"))
            .map(|h| u64::from_str_radix(h, 16).expect("hex address in banner"))
            .collect()
    }
}

impl Drop for Contained {
    fn drop(&mut self) {
        if self.pid != 0 {
            // SAFETY: kill(2) on a pid this test started; no memory is involved.
            unsafe { libc::kill(self.pid as libc::pid_t, libc::SIGKILL) };
        }
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
    }
}

/// Pids whose parent is `ppid`.
fn children_of(ppid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let parent = stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().nth(1)?.parse::<u32>().ok());
        if parent == Some(ppid) {
            found.push(pid);
        }
    }
    found
}

/// A child process killed when dropped.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The first of `pid`'s probed lines in `report` (lines of other processes are ranked in between).
fn first_line_of(report: &serde_json::Value, pid: u32) -> Option<&serde_json::Value> {
    // The highest ranked line of `pid` the map probes wrote: the mutex its writers take may
    // rank above it, by its sampled CPU time.
    let probed = |l: &&serde_json::Value| l["writes"].as_u64().unwrap_or(0) > 0;
    report["lines"]
        .as_array()?
        .iter()
        .filter(probed)
        .find(|l| l["pid"] == pid)
}

/// Whether `line` holds map header `map`.
fn holds(line: &serde_json::Value, map: u64) -> bool {
    line["objects"].as_array().is_some_and(|objs| {
        objs.iter()
            .any(|o| o["addr"] == format!("{map:#x}").as_str())
    })
}

/// Whether `main.worker` is among `line`'s writers' frames (stacks symbolized).
fn written_by_worker(line: &serde_json::Value) -> bool {
    line["top_frames"]
        .as_array()
        .is_some_and(|fs| fs.iter().any(|f| f["function"] == "main.worker"))
}

/// `first` holds `map`, bounced between CPUs and written from `main.worker`.
fn check_shared_line(first: &serde_json::Value, map: u64) {
    assert!(
        holds(first, map),
        "shared map {map:#x} not in the first line: {first}"
    );
    assert!(u64_of(first, "transfers") > 0, "{first}");
    assert!(
        written_by_worker(first),
        "main.worker not among the writers' frames (stacks not symbolized?): {first}"
    );
}

#[test]
fn record_profiles_a_program_whose_binary_is_only_in_its_mount_namespace() {
    let prog = Contained::start(&program("sharedmap", Go::New), &["60s"], None);
    let map = prog.addresses()[0];
    let pid = prog.pid;

    let probes = run_ok(clprof().args(["probes", "--pid", &pid.to_string()]));
    let probes = String::from_utf8_lossy(&probes.stdout);
    let header = format!(
        "pid {pid} (pid 1 in its namespace): {}",
        prog.inner_path.display()
    );
    assert!(probes.starts_with(&header), "{probes}");
    assert!(
        probes.contains("probe runtime.mapassign_fast64"),
        "{probes}"
    );

    let report = record_json_with(pid, 2, &["--budget", "100"]);
    let target = &report["targets"][0];
    assert_eq!(target["pid"], pid, "{target}");
    assert_eq!(target["ns_pid"], 1, "pid inside the namespace: {target}");
    assert_eq!(
        target["exe"],
        prog.inner_path.to_str().expect("UTF-8 path"),
        "the path as the process sees it: {target}"
    );
    assert_eq!(target["map_layout"], "swiss", "{target}");
    assert_eq!(target["exited"], false, "{target}");
    // The mutex the writers take may rank above the map, by its sampled CPU time.
    check_shared_line(first_probed(&report), map);

    // The text table names both pids.
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("report.json");
    std::fs::write(&json, report.to_string()).expect("write the report");
    let text = run_ok(clprof().arg("report").arg(&json));
    let text = String::from_utf8_lossy(&text.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("target:"))
        .unwrap_or("");
    assert!(
        line.starts_with(&format!("target: pid {pid} (pid 1 in its namespace) ")),
        "{text}"
    );
}

#[test]
fn all_go_daemon_follows_a_contained_pie_program_behind_a_host_decoy() {
    // The host has a non-Go program at the very path the contained Go program runs from, and
    // runs it: only the file each process really maps tells them apart.
    let binary = program_with("sharedmap", Go::New, &["-buildmode=pie"]);
    let prog = Contained::start(&binary, &["60s"], Some(Path::new("/bin/sleep")));
    let decoy = prog.decoy.as_ref().expect("a decoy").0.id();
    let map = prog.addresses()[0];
    let pid = prog.pid;

    let port = free_port();
    let _daemon = daemon(port, &["--all-go"]);
    let targets = || {
        get(port, "/targets")
            .and_then(|(_, b)| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .unwrap_or_default()
    };
    let entry_of = |targets: &serde_json::Value, pid: u32| {
        targets["targets"]
            .as_array()
            .and_then(|ts| ts.iter().find(|t| t["pid"] == pid).cloned())
    };
    let listed = eventually(Duration::from_secs(20), || {
        entry_of(&targets(), pid).is_some()
    });
    let now = targets();
    assert!(listed, "contained pid {pid} never followed: {now}");
    let entry = entry_of(&now, pid).expect("listed");
    assert_eq!(entry["ns_pid"], 1, "{entry}");
    assert_eq!(entry["state"], "recording", "{entry}");
    assert!(
        entry_of(&now, decoy).is_none(),
        "the non-Go decoy was followed: {now}"
    );

    // A window with the contained program's shared line first among its lines, symbolized
    // through the PIE load bias.
    let mut last = serde_json::Value::Null;
    let ranked = eventually(Duration::from_secs(20), || {
        let Some((200, body)) = get(port, "/report.json") else {
            return false;
        };
        let Ok(report) = serde_json::from_slice::<serde_json::Value>(&body) else {
            return false;
        };
        let ok = first_line_of(&report, pid)
            .is_some_and(|first| holds(first, map) && written_by_worker(first));
        last = report;
        ok
    });
    assert!(ranked, "no window ranked the shared map first: {last}");
    check_shared_line(first_line_of(&last, pid).expect("checked"), map);
    let target = array(&last, "targets")
        .iter()
        .find(|t| t["pid"] == pid)
        .expect("the contained program in the window's targets");
    assert_eq!(target["ns_pid"], 1, "{target}");
    assert_eq!(
        target["exe"],
        prog.inner_path.to_str().expect("UTF-8 path"),
        "{target}"
    );
}
