use super::parse_budget;

#[test]
fn budget_is_a_percentage() {
    assert_eq!(parse_budget("2"), Ok(2.0));
    assert_eq!(parse_budget("0.5%"), Ok(0.5));
    assert_eq!(parse_budget("100"), Ok(100.0));
    for bad in ["0", "-1", "101", "two", ""] {
        assert!(parse_budget(bad).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn watch_defaults_to_auto_and_a_named_word_replaces_it() {
    use clap::Parser as _;

    use crate::watch::spec::WatchSpec;
    let watch_of = |args: &[&str]| match super::Cli::try_parse_from(args).unwrap().command {
        super::Command::Record(r) => r.recording.watch,
        super::Command::Daemon(d) => d.recording.watch,
        _ => panic!("not record or daemon"),
    };
    assert_eq!(
        watch_of(&["clprof", "record", "-p", "1"]),
        [WatchSpec::Auto]
    );
    assert_eq!(
        watch_of(&["clprof", "daemon", "-p", "1"]),
        [WatchSpec::Auto]
    );
    assert_eq!(
        watch_of(&["clprof", "record", "-p", "1", "--watch", "off"]),
        [WatchSpec::Off]
    );
    assert_eq!(
        watch_of(&["clprof", "record", "-p", "1", "--watch", "main.x:8"]),
        ["main.x:8".parse::<WatchSpec>().unwrap()]
    );
}

#[test]
fn fail_if_worse_is_a_percentage_of_zero_or_more() {
    use super::parse_fail_if_worse;
    assert_eq!(parse_fail_if_worse("10"), Ok(10.0));
    assert_eq!(parse_fail_if_worse("0"), Ok(0.0));
    assert_eq!(parse_fail_if_worse("2.5%"), Ok(2.5));
    for bad in ["-1", "ten", "", "inf"] {
        assert!(parse_fail_if_worse(bad).is_err(), "{bad:?} accepted");
    }
}
