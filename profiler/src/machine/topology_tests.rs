use std::path::Path;

use super::*;

/// Writes a CPU's topology files under `root`.
fn cpu(root: &Path, n: u32, package: u32, siblings: &str, l3: Option<&str>) {
    let dir = root.join(format!("cpu{n}"));
    std::fs::create_dir_all(dir.join("topology")).expect("topology dir");
    std::fs::write(
        dir.join("topology/physical_package_id"),
        format!("{package}\n"),
    )
    .expect("package");
    std::fs::write(
        dir.join("topology/thread_siblings_list"),
        format!("{siblings}\n"),
    )
    .expect("siblings");
    // An L1d and an L2 first, as the kernel lists them.
    for (i, level) in [(0, 1), (2, 2)] {
        let index = dir.join(format!("cache/index{i}"));
        std::fs::create_dir_all(&index).expect("cache dir");
        std::fs::write(index.join("level"), format!("{level}\n")).expect("level");
        std::fs::write(index.join("shared_cpu_list"), format!("{siblings}\n")).expect("list");
    }
    if let Some(l3) = l3 {
        let index = dir.join("cache/index3");
        std::fs::create_dir_all(&index).expect("cache dir");
        std::fs::write(index.join("level"), "3\n").expect("level");
        std::fs::write(index.join("shared_cpu_list"), format!("{l3}\n")).expect("list");
    }
}

#[test]
fn two_sockets_of_two_smt_cores_have_every_class_but_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    // Socket 0: cores {0,4} and {1,5}, one L3; socket 1: cores {2,6} and {3,7}.
    for (n, package, siblings, l3) in [
        (0, 0, "0,4", "0-1,4-5"),
        (1, 0, "1,5", "0-1,4-5"),
        (2, 1, "2,6", "2-3,6-7"),
        (3, 1, "3,7", "2-3,6-7"),
        (4, 0, "0,4", "0-1,4-5"),
        (5, 0, "1,5", "0-1,4-5"),
        (6, 1, "2,6", "2-3,6-7"),
        (7, 1, "3,7", "2-3,6-7"),
    ] {
        cpu(root, n, package, siblings, Some(l3));
    }
    let topo = read(root, &(0..8).collect::<Vec<_>>());
    assert_eq!(topo.len(), 8);
    assert_eq!(topo[0].l3, Some(vec![0, 1, 4, 5]));
    assert_eq!(classify(&topo[0], &topo[4]), PairClass::SmtSiblings);
    assert_eq!(classify(&topo[0], &topo[1]), PairClass::SameL3);
    assert_eq!(classify(&topo[0], &topo[2]), PairClass::OtherSocket);
    // 28 pairs: 4 of siblings, 8 within an L3 across cores, 16 across sockets.
    assert_eq!(
        classes(&topo),
        vec![
            (PairClass::SmtSiblings, (0, 4), 4),
            (PairClass::SameL3, (0, 1), 8),
            (PairClass::OtherSocket, (0, 2), 16),
        ]
    );
}

#[test]
fn split_l3s_in_one_package_are_told_apart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    cpu(root, 0, 0, "0", Some("0-1"));
    cpu(root, 1, 0, "1", Some("0-1"));
    cpu(root, 2, 0, "2", Some("2-3"));
    let topo = read(root, &[0, 1, 2]);
    assert_eq!(classify(&topo[0], &topo[2]), PairClass::SamePackage);
    assert_eq!(classify(&topo[0], &topo[1]), PairClass::SameL3);
}

#[test]
fn a_vm_without_cache_files_counts_as_one_l3() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    cpu(root, 0, 0, "0", None);
    cpu(root, 1, 0, "1", None);
    let topo = read(root, &[0, 1]);
    assert_eq!(classes(&topo), vec![(PairClass::SameL3, (0, 1), 1)]);
}

#[test]
fn missing_topology_defaults_to_a_lone_cpu() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("cpu0")).expect("dir");
    let topo = read(dir.path(), &[0]);
    assert_eq!(
        topo,
        vec![CpuTopo {
            cpu: 0,
            package: 0,
            siblings: vec![0],
            l3: None,
        }]
    );
}
