use super::*;

fn custom(spec: &str) -> CustomProbe {
    match spec.parse::<ProbeSpec>() {
        Ok(ProbeSpec::Custom(c)) => c,
        other => panic!("{spec}: {other:?}"),
    }
}

#[test]
fn go_is_the_map_assign_probes() {
    assert_eq!("go".parse::<ProbeSpec>(), Ok(ProbeSpec::Go));
    assert_eq!("go-writes".parse::<ProbeSpec>(), Ok(ProbeSpec::GoWrites));
}

#[test]
fn system_v_and_go_register_names_parse() {
    let c = custom("./server:counter_add:rdi");
    assert_eq!(c.binary, PathBuf::from("./server"));
    assert_eq!(c.symbol, "counter_add");
    assert_eq!((c.register, c.offset), (Register::Rdi, 0));
    assert_eq!(custom("/x:f:arg1").register, Register::Rsi);
    assert_eq!(custom("/x:f:BX").register, Register::Rbx);
    assert_eq!(custom("/x:f:goarg1").register, Register::Rbx);
    assert_eq!(custom("/x:f:R9").register, Register::R9);
}

#[test]
fn offsets_are_signed_decimal_or_hex() {
    assert_eq!(custom("/x:f:rdi+8").offset, 8);
    assert_eq!(custom("/x:f:rdi-16").offset, -16);
    assert_eq!(custom("/x:f:rsi+0x40").offset, 64);
    assert_eq!(custom("/x:f:rsi-0x40").offset, -64);
}

#[test]
fn an_offset_has_one_sign_and_fits_i32() {
    for offset in [
        // i64::MIN: negating it overflowed (found by the probe_spec fuzz target).
        "--9223372036854775808",
        "+-8",
        "-+8",
        "++8",
        "+0x-8",
        "-0x+8",
        "+2147483648",
        "-2147483649",
    ] {
        let spec = format!("/x:f:rdi{offset}");
        assert!(spec.parse::<ProbeSpec>().is_err(), "{spec} parsed");
    }
    assert_eq!(custom("/x:f:rdi-2147483648").offset, i32::MIN);
    assert_eq!(custom("/x:f:rdi+2147483647").offset, i32::MAX);
}

#[test]
fn binary_paths_may_contain_colons() {
    let c = custom("/opt/a:b/bin:sym:rdx");
    assert_eq!(c.binary, PathBuf::from("/opt/a:b/bin"));
    assert_eq!(c.symbol, "sym");
}

#[test]
fn bad_specs_say_what_is_wrong() {
    for (spec, reason) in [
        ("server", "missing parts"),
        ("server:f", "missing parts"),
        (":f:rdi", "empty binary path"),
        ("./s::rdi", "empty symbol"),
        ("./s:f:xmm0", "unknown register \"xmm0\""),
        ("./s:f:rdi+", "bad offset"),
        ("./s:f:rdi+99999999999", "bad offset"),
    ] {
        let err = spec.parse::<ProbeSpec>().expect_err(spec).to_string();
        assert!(err.contains(reason), "{spec}: {err}");
        assert!(err.contains("BIN:SYMBOL:REG"), "{err}");
    }
}
