use super::*;

#[test]
fn apportion_is_exact_and_proportional() {
    assert_eq!(apportion(10, &[1, 1]), vec![5, 5]);
    assert_eq!(apportion(10, &[1, 2]), vec![3, 7]);
    assert_eq!(apportion(7, &[1, 1, 1]).iter().sum::<u64>(), 7);
    assert_eq!(apportion(0, &[3, 4]), vec![0, 0]);
    assert_eq!(apportion(5, &[0, 0]), vec![0, 0]);
}

#[test]
fn data_samples_fold_over_the_stacks_they_took_or_their_accesses() {
    let mut report = crate::report::test_report::with_sampled_line();
    let folded = folded_lines(&report, Weight::DataSamples, None);
    // The probed line has no data samples; the sampled one's 120 go to its one stack.
    assert_eq!(
        folded,
        ["main.main.func1;main.worker;[sampled main.hot.a,main.hot.b];[line 0x59c500] 120"]
    );
    // Without stacks, the accessing instructions carry the samples.
    let data = report.lines[1].data_samples.as_mut().unwrap();
    data.stacks.clear();
    data.names.clear();
    let folded = folded_lines(&report, Weight::DataSamples, None);
    assert_eq!(folded, ["main.worker;[sampled];[line 0x59c500] 120"]);
    // Weighted by transfers, a line only the data samples saw draws nothing.
    let by_transfers = folded_lines(&report, Weight::Transfers, None);
    assert!(
        by_transfers.iter().all(|l| !l.contains("0x59c500")),
        "{by_transfers:?}"
    );
}

#[test]
fn data_samples_are_shared_over_stacks_exactly() {
    let mut report = crate::report::test_report::with_sampled_line();
    let data = report.lines[1].data_samples.as_mut().unwrap();
    let mut second = data.stacks[0].clone();
    second.frames[1].lines[0].function = "main.other".to_owned();
    second.samples = 18;
    data.stacks.push(second);
    let folded = folded_lines(&report, Weight::DataSamples, None);
    let counts: Vec<u64> = folded
        .iter()
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    // 120 over 9 and 18 stacks' samples: 40 and 80.
    assert_eq!(counts, [80, 40], "{folded:?}");
}

#[test]
fn rows_of_one_stack_are_summed() {
    let rows = vec![
        "main.main;main.f;[line 0x40] 3".to_owned(),
        "main.main;main.g;[line 0x40] 2".to_owned(),
        "main.main;main.f;[line 0x40] 4".to_owned(),
    ];
    assert_eq!(
        merged(rows),
        [
            "main.main;main.f;[line 0x40] 7",
            "main.main;main.g;[line 0x40] 2"
        ]
    );
}

#[test]
fn a_heap_line_is_named_by_its_accesses_fields() {
    let mut report = crate::report::test_report::with_sampled_line();
    let data = report.lines[1].data_samples.as_mut().unwrap();
    data.names.clear();
    data.accesses[0].object = Some("main.stats.misses".to_owned());
    let folded = folded_lines(&report, Weight::DataSamples, None);
    assert_eq!(
        folded,
        ["main.main.func1;main.worker;[sampled main.stats.misses];[line 0x59c500] 120"]
    );
}

#[test]
fn cost_folds_as_cpu_time_on_the_stacks_it_rests_on() {
    let mut report = crate::report::test_report::with_sampled_line();
    assert!(
        folded_lines(&report, Weight::Cost, None).is_empty(),
        "no cost judged, nothing drawn"
    );
    report.sources.line_transfer_ns = Some(40.0);
    report.targets[0].overhead.recorded_s = Some(5.0);
    report.targets[0].overhead.cpu_s = Some(10.0);
    report.maps[0].concurrent_writers = 0;
    crate::report::judge::judge(&mut report);
    let folded = folded_lines(&report, Weight::Cost, None);
    let total = |line: &str| -> u64 {
        folded
            .iter()
            .filter(|r| r.contains(&format!("[line {line}]")))
            .filter_map(|r| r.rsplit_once(' ')?.1.parse::<u64>().ok())
            .sum()
    };
    // The sampled line: 40% of 2 CPUs for 5 s, on its data samples' stack.
    assert_eq!(total("0x59c500"), 4_000_000_000, "{folded:?}");
    assert!(
        folded
            .iter()
            .any(|r| r.ends_with("[sampled main.hot.a,main.hot.b];[line 0x59c500] 4000000000")),
        "{folded:?}"
    );
    // The probes' line: its moves at 40 ns each over 5 s, on the probes' stacks.
    let probed = report
        .lines
        .iter()
        .find(|l| l.line == "0xc000014140")
        .expect("the probes' line");
    let want = (probed.cost.expect("cost").cpu_ns_per_s * 5.0).round() as u64;
    assert!(want > 0);
    assert_eq!(total("0xc000014140"), want, "{folded:?}");
}
