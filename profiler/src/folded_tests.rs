use super::*;

#[test]
fn steps_are_named_after_the_probed_function() {
    let key = |kind, site| StepKey { pid: 1, kind, site };
    let fast64 = key(AssignKind::Fast64 as u32, 0x40_1000);
    assert_eq!(
        step_name(&fast64, Some("runtime.mapassign_fast64".to_owned())),
        "[clprof probe] runtime.mapassign_fast64"
    );
    // Unsymbolized: the kind still names it.
    assert_eq!(
        step_name(&fast64, None),
        "[clprof probe] runtime.mapassign_fast64"
    );
    assert_eq!(
        step_name(&key(CUSTOM_KIND, 0x1234), None),
        "[clprof probe] custom probe at 0x1234"
    );
    assert_eq!(
        step_name(&key(GROW_KIND, 0x1234), None),
        "[clprof probe] map growth function at 0x1234"
    );
    let unknown = step_name(&key(UNKNOWN_STEP_KIND, 0), None);
    assert!(unknown.starts_with("[uprobes]"), "{unknown}");
    assert!(!unknown.contains('?'));
}
