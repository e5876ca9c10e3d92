use super::*;

#[test]
fn cpu_lists_parse_like_the_kernel_prints_them() {
    assert_eq!(parse_cpu_list("0").unwrap(), vec![0]);
    assert_eq!(parse_cpu_list("0-3\n").unwrap(), vec![0, 1, 2, 3]);
    assert_eq!(
        parse_cpu_list("0-3,6,8-9").unwrap(),
        vec![0, 1, 2, 3, 6, 8, 9]
    );
    assert_eq!(parse_cpu_list("6,0-1,1").unwrap(), vec![0, 1, 6]);
    assert_eq!(parse_cpu_list("\n").unwrap(), Vec::<u32>::new());
}

#[test]
fn garbage_cpu_lists_are_errors_that_name_the_text() {
    for bad in [
        "x",
        "0-",
        "-3",
        "3-1",
        "0,,1",
        "0-3;6",
        "1.5",
        "0-4294967295",
        "0 - 3x",
    ] {
        let err = parse_cpu_list(bad).expect_err(bad);
        let msg = err.to_string();
        assert!(msg.contains("cannot parse CPU list"), "{msg}");
        assert!(!msg.contains('\n'), "one line: {msg}");
    }
}

#[test]
fn formats_parse_single_bits_ranges_and_split_fields() {
    let event = parse_format("config:0-7\n").unwrap();
    assert_eq!(event.field, ConfigField::Config);
    assert_eq!(event.ranges, vec![(0, 7)]);
    assert_eq!(parse_format("config:21").unwrap().ranges, vec![(21, 21)]);
    let amd = parse_format("config:0-7,32-35").unwrap();
    assert_eq!(amd.ranges, vec![(0, 7), (32, 35)]);
    assert_eq!(
        parse_format("config1:0-15").unwrap().field,
        ConfigField::Config1
    );
    for bad in [
        "",
        "config",
        "cfg:0-7",
        "config:7-0",
        "config:0-64",
        "config:a",
    ] {
        assert_eq!(parse_format(bad), None, "{bad}");
    }
}

#[test]
fn encoding_scatters_bits_over_the_ranges() {
    let umask = parse_format("config:8-15").unwrap();
    assert_eq!(umask.encode(0x08), Some(0x0800));
    assert_eq!(umask.encode(0x100), None, "9 bits do not fit 8");
    // AMD's event select: low 8 bits at 0-7, high 4 bits at 32-35 (EventSelect[11:8]).
    let amd = parse_format("config:0-7,32-35").unwrap();
    assert_eq!(amd.encode(0x1c0), Some(0x1_0000_00c0));
    let full = parse_format("config1:0-63").unwrap();
    assert_eq!(full.encode(u64::MAX), Some(u64::MAX));
}

#[test]
fn event_aliases_parse_key_value_terms() {
    assert_eq!(
        parse_event_terms("event=0xd1,umask=0x08\n").unwrap(),
        vec![("event".to_string(), 0xd1), ("umask".to_string(), 8)]
    );
    assert_eq!(
        parse_event_terms("event=0xcd,umask=0x1,ldlat=3").unwrap()[2],
        ("ldlat".to_string(), 3)
    );
    assert_eq!(
        parse_event_terms("event=0x3c,any").unwrap()[1],
        ("any".to_string(), 1)
    );
    assert_eq!(parse_event_terms("event=0x2c,umask=?"), None);
    assert_eq!(parse_event_terms(""), None);
}
