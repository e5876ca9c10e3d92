//! Which container (and Kubernetes pod) a process runs in, from the cgroup paths in
//! `/proc/PID/cgroup` (cgroup v2's `0::PATH` line first, then the v1 hierarchies).
//!
//! The names the runtimes and the kubelet give their cgroups:
//! - systemd driver: `…/kubepods-besteffort-pod<uid>.slice/cri-containerd-<id>.scope`,
//!   `crio-<id>.scope`, `docker-<id>.scope` (the pod UID's dashes written as underscores);
//! - cgroupfs driver: `/kubepods/besteffort/pod<uid>/<id>`, and plain Docker `/docker/<id>`.

use serde::{Deserialize, Serialize};

/// The runtime that made a container, as its cgroup names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Runtime {
    /// containerd (`cri-containerd-<id>.scope`).
    Containerd,
    /// CRI-O (`crio-<id>.scope`).
    CriO,
    /// Docker (`docker-<id>.scope`, `/docker/<id>`).
    Docker,
    /// A container id under a pod's cgroup that does not name its runtime (cgroupfs driver).
    Unknown,
}

impl Runtime {
    /// The JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::Containerd => "containerd",
            Runtime::CriO => "cri-o",
            Runtime::Docker => "docker",
            Runtime::Unknown => "unknown",
        }
    }
}

/// A process's container.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Container {
    /// The container id (64 hex digits for the runtimes above).
    pub id: String,
    pub runtime: Runtime,
    /// The Kubernetes pod's UID (dashed form), when it runs in a pod.
    pub pod_uid: Option<String>,
}

/// The container of `pid`; None outside containers or once it is gone.
pub fn of(pid: u32) -> Option<Container> {
    parse(&std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?)
}

/// The container named by a `/proc/PID/cgroup` text, the v2 line first.
pub fn parse(cgroup: &str) -> Option<Container> {
    let paths = cgroup
        .lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (hierarchy, _, path) = (parts.next()?, parts.next()?, parts.next()?);
            Some((hierarchy == "0", path))
        })
        .collect::<Vec<_>>();
    let v2 = paths.iter().filter(|(v2, _)| *v2);
    let v1 = paths.iter().filter(|(v2, _)| !*v2);
    v2.chain(v1).find_map(|(_, path)| from_path(path))
}

/// The container named by one cgroup path.
fn from_path(path: &str) -> Option<Container> {
    let mut pod_uid = None;
    let mut found: Option<(String, Runtime)> = None;
    let mut after_pod_or_docker = false;
    for part in path.split('/').filter(|p| !p.is_empty()) {
        if let Some(uid) = pod_of(part) {
            pod_uid = Some(uid);
            after_pod_or_docker = true;
            continue;
        }
        if let Some(c) = runtime_scope(part) {
            found = Some(c);
            continue;
        }
        if part == "docker" {
            after_pod_or_docker = true;
            continue;
        }
        // cgroupfs: the bare id under the pod's (or docker's) directory.
        if after_pod_or_docker && is_container_id(part) && found.is_none() {
            let runtime = if path.contains("/docker/") || path.starts_with("docker/") {
                Runtime::Docker
            } else {
                Runtime::Unknown
            };
            found = Some((part.to_owned(), runtime));
        }
    }
    let (id, runtime) = found?;
    Some(Container {
        id,
        runtime,
        pod_uid,
    })
}

/// `cri-containerd-<id>.scope`, `crio-<id>.scope`, `docker-<id>.scope`.
fn runtime_scope(part: &str) -> Option<(String, Runtime)> {
    let name = part.strip_suffix(".scope")?;
    let (id, runtime) = if let Some(id) = name.strip_prefix("cri-containerd-") {
        (id, Runtime::Containerd)
    } else if let Some(id) = name.strip_prefix("crio-") {
        (id, Runtime::CriO)
    } else if let Some(id) = name.strip_prefix("docker-") {
        (id, Runtime::Docker)
    } else {
        return None;
    };
    is_container_id(id).then(|| (id.to_owned(), runtime))
}

/// `kubepods-<qos>-pod<uid>.slice`, `kubepods-pod<uid>.slice` (systemd; `_` for `-` in the
/// UID) or `pod<uid>` (cgroupfs): the UID, dashed.
fn pod_of(part: &str) -> Option<String> {
    let uid = match part.strip_suffix(".slice") {
        Some(slice) if slice.starts_with("kubepods") => slice.rsplit_once("-pod")?.1,
        Some(_) => return None,
        None => part.strip_prefix("pod")?,
    };
    let uid = uid.replace('_', "-");
    let dashed = uid.len() == 36
        && uid.chars().enumerate().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        });
    dashed.then_some(uid)
}

/// A runtime's container id: 64 hex digits (containerd, CRI-O and Docker all use them).
fn is_container_id(s: &str) -> bool {
    s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit())
}

#[cfg(test)]
#[path = "container_tests.rs"]
mod tests;
