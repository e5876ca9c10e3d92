use super::*;

fn parse(s: &str) -> Result<WatchSpec, WatchSpecError> {
    s.parse()
}

#[test]
fn symbols_take_an_offset_and_a_length() {
    assert_eq!(
        parse("main.x:16"),
        Ok(WatchSpec::Symbol {
            name: "main.x".into(),
            offset: 0,
            len: Some(16)
        })
    );
    assert_eq!(
        parse("counters+16:8"),
        Ok(WatchSpec::Symbol {
            name: "counters".into(),
            offset: 16,
            len: Some(8)
        })
    );
    assert_eq!(
        parse("github.com/x/y.stats+0x10"),
        Ok(WatchSpec::Symbol {
            name: "github.com/x/y.stats".into(),
            offset: 16,
            len: None
        })
    );
}

#[test]
fn addresses_are_hexadecimal_with_an_optional_length() {
    assert_eq!(
        parse("0xc000012340:4"),
        Ok(WatchSpec::Addr {
            addr: 0xc000012340,
            len: Some(4)
        })
    );
    assert_eq!(
        parse("0x7f00"),
        Ok(WatchSpec::Addr {
            addr: 0x7f00,
            len: None
        })
    );
    assert_eq!(parse("off"), Ok(WatchSpec::Off));
    assert_eq!(parse("auto"), Ok(WatchSpec::Auto));
}

#[test]
fn malformed_values_say_what_is_wrong_and_show_the_grammar() {
    for (bad, why) in [
        ("main.x:0", "LEN must be 1 to"),
        ("main.x:99999", "LEN must be 1 to"),
        ("main.x:abc", "LEN is not a number"),
        ("main.x+z", "OFF is not a number"),
        ("0xzz", "ADDR is not a hexadecimal"),
        ("0x0:8", "ADDR 0"),
        (":8", "nothing to watch"),
        ("+8", "SYMBOL must be"),
    ] {
        let err = parse(bad).expect_err(bad).to_string();
        assert!(err.contains(why), "{bad}: {err}");
        assert!(err.contains("SYMBOL[+OFF][:LEN]"), "{bad}: {err}");
    }
}

#[test]
fn values_print_as_they_parse() {
    for s in [
        "auto",
        "off",
        "main.x",
        "main.x+8:16",
        "0xc000012340:4",
        "0x7f00",
    ] {
        assert_eq!(parse(s).unwrap().to_string(), s);
    }
}

#[test]
fn a_rust_path_keeps_its_double_colons() {
    assert_eq!(
        parse("server::stats::COUNTERS+8:16"),
        Ok(WatchSpec::Symbol {
            name: "server::stats::COUNTERS".into(),
            offset: 8,
            len: Some(16)
        })
    );
    assert_eq!(
        parse("server::STATS"),
        Ok(WatchSpec::Symbol {
            name: "server::STATS".into(),
            offset: 0,
            len: None
        })
    );
}

#[test]
fn off_stands_alone() {
    let x: WatchSpec = "main.x".parse().unwrap();
    assert!(check(&[WatchSpec::Off]).is_ok());
    assert!(check(&[WatchSpec::Auto, x.clone()]).is_ok());
    let err = check(&[WatchSpec::Off, x]).unwrap_err().to_string();
    assert!(err.contains("cannot be combined"), "{err}");
}
