use super::*;

#[test]
fn the_open_files_limit_ends_at_the_hard_limit() {
    let now = raise_open_files_limit();
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: reads one rlimit through a valid pointer.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    assert_eq!(now, lim.rlim_cur);
    assert_eq!(
        lim.rlim_cur, lim.rlim_max,
        "soft limit left below the hard one"
    );
}

#[test]
fn kernel_without_uprobe_pmu_is_refused_with_the_config_option() {
    let sysfs = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(sysfs.path().join("bus/event_source/devices/software")).expect("mkdir");
    let err = require_uprobes(sysfs.path()).expect_err("must refuse");
    assert!(err.to_string().contains("CONFIG_UPROBE_EVENTS"), "{err}");
    let uprobe = sysfs.path().join("bus/event_source/devices/uprobe");
    std::fs::create_dir_all(&uprobe).expect("mkdir");
    std::fs::write(uprobe.join("type"), "8\n").expect("write");
    assert_eq!(require_uprobes(sysfs.path()), Ok(()));
}

#[test]
fn pmu_is_detected_from_the_cpu_event_source() {
    let sysfs = tempfile::tempdir().expect("tempdir");
    assert!(!pmu_available(sysfs.path()));
    let cpu = sysfs.path().join("bus/event_source/devices/cpu");
    std::fs::create_dir_all(&cpu).expect("mkdir");
    std::fs::write(cpu.join("type"), "4\n").expect("write");
    assert!(pmu_available(sysfs.path()));
}

#[test]
fn this_machine_has_uprobes() {
    assert_eq!(require_uprobes(Path::new("/sys")), Ok(()));
}
