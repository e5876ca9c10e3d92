use super::*;

const OWN: &str = "\
55d0c0000000-55d0c0100000 r-xp 00000000 fd:01 42                         /usr/bin/clprof
7ffd8c000000-7ffd8c021000 rw-p 00000000 00:00 0                          [stack]
7fffffffe000-7ffffffff000 --xp 00000000 00:00 0                          [uprobes]
";
const TARGET: &str = "\
00400000-004a0000 r-xp 00000000 fd:01 77                                 /srv/app
c000000000-c004000000 rw-p 00000000 00:00 0 
7ffc12340000-7ffc12361000 rw-p 00000000 00:00 0                          [stack]
";

#[test]
fn the_targets_own_mapping_wins() {
    let with = format!("{TARGET}7ffff7ff0000-7ffff7ff1000 r-xp 00000000 00:00 0  [uprobes]\n");
    let area = XolArea {
        start: 0x7fff_f7ff_0000,
        end: 0x7fff_f7ff_1000,
    };
    assert_eq!(area_for(&with, OWN), XolSource::Maps(area));
    assert!(area.contains(0x7fff_f7ff_0080));
    assert!(!area.contains(0x7fff_f7ff_1000));
}

#[test]
fn before_the_first_hit_the_kernels_placement_is_expected_when_free() {
    let expected = XolArea {
        start: 0x7fff_ffff_e000,
        end: 0x7fff_ffff_f000,
    };
    assert_eq!(area_for(TARGET, OWN), XolSource::Expected(expected));
    // The page is taken in the target: the kernel will put its area elsewhere.
    let taken = format!("{TARGET}7fffffffd000-7ffffffff000 rw-p 00000000 00:00 0\n");
    assert_eq!(area_for(&taken, OWN), XolSource::Unknown);
    // clprof has no area of its own (its calibration was kept): the top page of a 47-bit
    // address space, where the kernel puts it.
    assert_eq!(area_for(TARGET, TARGET), XolSource::Expected(expected));
    // Mappings above 47 bits (5-level paging): the top is elsewhere, nothing is assumed.
    let high = format!("{TARGET}7fffffffffff0000-7fffffffffff1000 rw-p 00000000 00:00 0\n");
    assert_eq!(area_for(&high, TARGET), XolSource::Unknown);
    // No maps read: nothing is assumed.
    assert_eq!(area_for("", ""), XolSource::Unknown);
}

#[test]
fn config_carries_the_area() {
    let area = XolArea {
        start: 0x1000,
        end: 0x2000,
    };
    let c = with_area(TargetConfig::default(), XolSource::Maps(area));
    assert_eq!((c.xol_start, c.xol_end), (0x1000, 0x2000));
    let c = with_area(c, XolSource::Unknown);
    assert_eq!((c.xol_start, c.xol_end), (0, 0));
}
