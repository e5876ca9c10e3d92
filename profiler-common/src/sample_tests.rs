use super::*;

#[test]
fn each_flag_is_told_by_its_own_test() {
    let all = [
        (
            SampleFlags::CONCURRENT,
            SampleFlags::is_race as fn(SampleFlags) -> bool,
        ),
        (SampleFlags::SLOT, SampleFlags::is_slot),
        (SampleFlags::CUSTOM, SampleFlags::is_custom),
        (SampleFlags::PERF, SampleFlags::is_perf),
        (SampleFlags::READ, SampleFlags::is_read),
        (SampleFlags::MADE, SampleFlags::is_made),
    ];
    for (i, &(flag, test)) in all.iter().enumerate() {
        assert!(test(flag), "{flag:?} fails its own test");
        assert!(!test(SampleFlags::NONE), "{flag:?}'s test passes no bits");
        for (j, &(other, _)) in all.iter().enumerate() {
            assert_eq!(test(other), i == j, "{other:?} passes the test of {flag:?}");
        }
    }
}

#[test]
fn a_racing_read_is_both_and_not_a_probed_write() {
    let f = SampleFlags::CONCURRENT.with(SampleFlags::READ);
    assert!(f.is_race() && f.is_read());
    assert!(!f.is_probed_write());
    assert!(SampleFlags::CONCURRENT.is_probed_write());
    assert!(!SampleFlags::PERF.is_probed_write());
    assert_eq!(f.0, 17, "the bits are the wire format");
}
