use super::*;

const ID: &str = "4f1c6a3b2d5e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7a8";
const UID: &str = "1b4e28ba-2fa1-11d2-883f-0016d3cca427";

#[test]
fn containerd_under_a_systemd_pod_slice_v2() {
    let text = format!(
        "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{}.slice/cri-containerd-{ID}.scope\n",
        UID.replace('-', "_")
    );
    assert_eq!(
        parse(&text),
        Some(Container {
            id: ID.to_owned(),
            runtime: Runtime::Containerd,
            pod_uid: Some(UID.to_owned()),
        })
    );
}

#[test]
fn crio_and_guaranteed_pods_name_their_slice_without_a_class() {
    let text = format!(
        "0::/kubepods.slice/kubepods-pod{}.slice/crio-{ID}.scope\n",
        UID.replace('-', "_")
    );
    let c = parse(&text).expect("container");
    assert_eq!(
        (c.runtime, c.pod_uid.as_deref()),
        (Runtime::CriO, Some(UID))
    );
}

#[test]
fn cgroup_v1_lines_and_the_cgroupfs_driver() {
    let text = format!(
        "12:memory:/kubepods/burstable/pod{UID}/{ID}\n11:cpu,cpuacct:/kubepods/burstable/pod{UID}/{ID}\n0::/\n"
    );
    let c = parse(&text).expect("container");
    assert_eq!(c.id, ID);
    assert_eq!(c.runtime, Runtime::Unknown);
    assert_eq!(c.pod_uid.as_deref(), Some(UID));
}

#[test]
fn plain_docker_in_both_drivers() {
    for text in [
        format!("0::/system.slice/docker-{ID}.scope\n"),
        format!("9:pids:/docker/{ID}\n"),
    ] {
        let c = parse(&text).unwrap_or_else(|| panic!("no container in {text}"));
        assert_eq!(
            (c.id.as_str(), c.runtime, c.pod_uid),
            (ID, Runtime::Docker, None)
        );
    }
}

#[test]
fn hosts_and_other_cgroups_are_no_container() {
    for text in [
        "0::/\n",
        "0::/user.slice/user-0.slice/session-3.scope\n",
        "4:memory:/process_api/8f02e673426c029924fb37d23892c3c3\n0::/\n",
        "0::/system.slice/docker-notanid.scope\n",
        "",
    ] {
        assert_eq!(parse(text), None, "{text:?}");
    }
}
