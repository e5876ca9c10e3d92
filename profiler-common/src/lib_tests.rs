use super::*;

#[test]
fn line_of_aligns_down_to_64_bytes() {
    assert_eq!(line_of(0xc000014150), 0xc000014140);
    assert_eq!(line_of(0xc000014140), 0xc000014140);
    assert_eq!(line_of(0xc00001417f), 0xc000014140);
    assert_eq!(line_of(0xc000014180), 0xc000014180);
}

#[test]
fn cookie_round_trips_every_field() {
    for kind in [0, 4, CUSTOM_KIND] {
        for probe_id in [0, 1, NO_PROBE_ID] {
            for (register, offset) in [(0, 0), (5, 16), (15, -8), (3, i32::MAX), (1, i32::MIN)] {
                let c = Cookie {
                    kind,
                    probe_id,
                    register,
                    offset,
                };
                assert_eq!(Cookie::unpack(c.pack()), c);
            }
        }
    }
}
