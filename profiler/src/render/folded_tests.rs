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
