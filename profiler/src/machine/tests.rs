use super::*;

fn class(class: PairClass, pairs: u64, ns: f64) -> ClassCost {
    ClassCost {
        class,
        cpus: [0, 1],
        pairs,
        ns,
        spread: 0.1,
    }
}

#[test]
fn the_machine_figure_weighs_each_class_by_its_pairs() {
    // 4 sibling pairs at 20 ns, 8 in an L3 at 60 ns, 16 across sockets at 150 ns.
    let classes = vec![
        class(PairClass::SmtSiblings, 4, 20.0),
        class(PairClass::SameL3, 8, 60.0),
        class(PairClass::OtherSocket, 16, 150.0),
    ];
    let want = (4.0 * 20.0 + 8.0 * 60.0 + 16.0 * 150.0) / 28.0;
    assert!((mean_over_pairs(&classes) - want).abs() < 1e-9);
}

#[test]
fn a_cached_measurement_serves_only_the_host_it_was_made_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = Cache::at(dir.path().join("cache/line-transfer.json"));
    let key = HostKey {
        host: "a".to_owned(),
        kernel: "6.18.0".to_owned(),
        cpu_model: "AMD EPYC".to_owned(),
        cpus: vec![0, 1],
    };
    let costs = TransferCosts {
        line_transfer_ns: 60.0,
        classes: vec![class(PairClass::SameL3, 1, 60.0)],
    };
    let load = |key: &HostKey| cache.load::<TransferCosts>(key, None).map(|(c, _)| c);
    assert_eq!(load(&key), None, "nothing cached yet");
    cache.store(key.clone(), &costs);
    assert_eq!(load(&key), Some(costs));
    let other_cpus = HostKey {
        cpus: vec![0, 1, 2, 3],
        ..key.clone()
    };
    assert_eq!(load(&other_cpus), None, "CPUs changed");
    let other_kernel = HostKey {
        kernel: "6.19.0".to_owned(),
        ..key.clone()
    };
    assert_eq!(load(&other_kernel), None, "another kernel");
    let other_host = HostKey {
        host: "b".to_owned(),
        ..key.clone()
    };
    assert_eq!(load(&other_host), None, "another host");
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert_eq!(
        cache.load::<TransferCosts>(&key, Some(std::time::Duration::from_millis(10))),
        None,
        "older than asked for"
    );
    assert!(
        cache
            .load::<TransferCosts>(&key, Some(std::time::Duration::from_secs(60)))
            .is_some(),
        "young enough"
    );
    std::fs::write(dir.path().join("cache/line-transfer.json"), "{ not json").expect("write");
    assert_eq!(load(&key), None, "a corrupt cache is ignored");
}

#[test]
fn one_cpu_cannot_measure_a_transfer() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert!(matches!(
        measure(dir.path(), &[0]),
        Err(MachineError::OneCpu(_))
    ));
}

#[test]
fn runs_in_another_vcpu_placement_barely_move_the_spread() {
    // Three of nine runs made while the host had the vCPUs apart (5 times slower).
    let runs = vec![40.0, 41.0, 200.0, 39.0, 40.0, 210.0, 42.0, 40.0, 190.0];
    let cost = transfer::PairCost { ns: 41.0, runs };
    assert!(cost.spread() < 0.1, "spread {}", cost.spread());
    // Runs scattered everywhere are reported as such.
    let runs = vec![20.0, 40.0, 80.0, 160.0, 320.0];
    let cost = transfer::PairCost { ns: 80.0, runs };
    assert!(cost.spread() >= 0.5, "spread {}", cost.spread());
}
