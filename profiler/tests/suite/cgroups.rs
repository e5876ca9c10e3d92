//! Container identity: a Go program moved into a cgroup named as the kubelet (systemd driver) and
//! containerd name theirs is reported with that container id and pod UID.

use std::path::{Path, PathBuf};

use super::{
    go::{program, Go},
    support::*,
};

const POD_UID: &str = "9d2c3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f";
const CONTAINER_ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// The cgroup v2 mount (the unified hierarchy), else a named v1 hierarchy.
fn cgroup_root() -> PathBuf {
    let mounts = std::fs::read_to_string("/proc/self/mounts").expect("read /proc/self/mounts");
    let field = |line: &str, i: usize| line.split_whitespace().nth(i).map(str::to_owned);
    let v2 = mounts
        .lines()
        .find(|l| field(l, 2).as_deref() == Some("cgroup2"));
    let v1 = mounts
        .lines()
        .find(|l| field(l, 2).as_deref() == Some("cgroup") && l.contains("name=systemd"));
    v2.or(v1)
        .and_then(|l| field(l, 1))
        .map(PathBuf::from)
        .expect("no cgroup2 mount and no named cgroup v1 hierarchy in /proc/self/mounts")
}

/// A cgroup path made for the test, removed (leaf first) when dropped.
struct CgroupPath {
    dirs: Vec<PathBuf>,
}

impl CgroupPath {
    fn make(root: &Path, parts: &[String]) -> CgroupPath {
        let mut dirs = Vec::new();
        let mut dir = root.to_path_buf();
        for part in parts {
            dir = dir.join(part);
            std::fs::create_dir(&dir)
                .unwrap_or_else(|e| panic!("cannot make cgroup {}: {e}", dir.display()));
            dirs.push(dir.clone());
        }
        CgroupPath { dirs }
    }

    fn leaf(&self) -> &Path {
        self.dirs.last().expect("a cgroup path")
    }
}

impl Drop for CgroupPath {
    fn drop(&mut self) {
        for dir in self.dirs.iter().rev() {
            // The killed program leaves its cgroup once reaped; give it a moment.
            for _ in 0..50 {
                if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
    }
}

#[test]
fn a_process_in_a_pod_container_cgroup_is_labelled_with_it() {
    let root = cgroup_root();
    let pod = POD_UID.replace('-', "_");
    let parts = [
        "kubepods.slice".to_owned(),
        "kubepods-besteffort.slice".to_owned(),
        format!("kubepods-besteffort-pod{pod}.slice"),
        format!("cri-containerd-{CONTAINER_ID}.scope"),
    ];
    let cgroup = CgroupPath::make(&root, &parts);
    let prog = Program::start(&program("sharedmap", Go::New), &["60s"]);
    std::fs::write(cgroup.leaf().join("cgroup.procs"), prog.pid().to_string()).unwrap_or_else(
        |e| {
            panic!(
                "cannot move the program into {}: {e}",
                cgroup.leaf().display()
            )
        },
    );

    let report = record_json_with(prog.pid(), 1, &["--watch", "off"]);
    let container = &report["targets"][0]["container"];
    assert_eq!(container["id"], CONTAINER_ID, "{container}");
    assert_eq!(container["runtime"], "containerd", "{container}");
    assert_eq!(container["pod_uid"], POD_UID, "{container}");

    let out = run_ok(
        clprof()
            .args(["record", "--quiet", "--pid", &prog.pid().to_string()])
            .args(["--duration", "1s", "--watch", "off"]),
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains(&format!(
            "[container {} (containerd), pod {POD_UID}]",
            &CONTAINER_ID[..12]
        )),
        "{table}"
    );
}
