//! The Kubernetes DaemonSet (`deploy/kubernetes/daemonset.yaml`): it parses, and has what clprof
//! needs on a node: the host's pids, the capabilities, the tracefs and debugfs mounts, limits and
//! a health probe on the daemon's `/healthz`.

use serde_json::Value;

fn daemonset() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/kubernetes/daemonset.yaml"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{path} is not valid YAML: {e}"))
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap_or_else(|| panic!("not a string: {s}")))
        .collect()
}

#[test]
fn the_daemonset_runs_the_daemon_with_the_host_pids_and_the_capabilities_it_needs() {
    let ds = daemonset();
    assert_eq!(ds["apiVersion"], "apps/v1");
    assert_eq!(ds["kind"], "DaemonSet");
    let pod = &ds["spec"]["template"]["spec"];
    assert_eq!(pod["hostPID"], true, "the node's processes: {pod}");
    let labels = &ds["spec"]["template"]["metadata"]["labels"];
    assert_eq!(
        &ds["spec"]["selector"]["matchLabels"], labels,
        "the selector matches the pods"
    );
    let containers = pod["containers"].as_array().expect("containers");
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    let args = strings(&c["args"]);
    assert_eq!(args[0], "daemon");
    assert!(args.contains(&"--all-go"), "{args:?}");
    // The probes reach the pod's address: the daemon must listen beyond loopback, allowed.
    assert!(
        args.windows(2).any(|w| w == ["--listen", "0.0.0.0:7878"])
            && args.contains(&"--allow-remote"),
        "{args:?}"
    );

    let security = &c["securityContext"];
    assert_eq!(
        security["privileged"], false,
        "capabilities, not privileged"
    );
    assert_eq!(strings(&security["capabilities"]["drop"]), ["ALL"]);
    let added = strings(&security["capabilities"]["add"]);
    for needed in ["BPF", "PERFMON", "SYS_PTRACE"] {
        assert!(added.contains(&needed), "{needed} missing from {added:?}");
    }

    let mounts: Vec<&str> = c["volumeMounts"]
        .as_array()
        .expect("volumeMounts")
        .iter()
        .map(|m| m["mountPath"].as_str().expect("mountPath"))
        .collect();
    for path in ["/sys/kernel/tracing", "/sys/kernel/debug"] {
        assert!(mounts.contains(&path), "{path} not mounted: {mounts:?}");
    }
    for m in c["volumeMounts"].as_array().expect("volumeMounts") {
        let volume = pod["volumes"]
            .as_array()
            .expect("volumes")
            .iter()
            .find(|v| v["name"] == m["name"])
            .unwrap_or_else(|| panic!("no volume for {m}"));
        assert!(volume["hostPath"]["path"].is_string(), "{volume}");
    }

    let limits = &c["resources"]["limits"];
    assert!(
        limits["cpu"].is_string() && limits["memory"].is_string(),
        "{limits}"
    );
    for probe in ["livenessProbe", "readinessProbe"] {
        let get = &c[probe]["httpGet"];
        assert_eq!(get["path"], "/healthz", "{probe}: {get}");
        let port = &get["port"];
        let named = c["ports"]
            .as_array()
            .expect("ports")
            .iter()
            .any(|p| &p["name"] == port && p["containerPort"] == 7878);
        assert!(named || port == 7878, "{probe} port {port} is the daemon's");
    }
}
