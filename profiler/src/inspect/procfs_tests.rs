use super::*;

#[test]
fn stat_and_status_parsing() {
    assert_eq!(parse_stat_state("123 (a) b) c) S 1 2 3"), Some('S'));
    assert_eq!(parse_stat_state("9 (zz) Z 1"), Some('Z'));
    assert_eq!(parse_stat_state("no paren"), None);
    assert_eq!(
        parse_status_threads("Name:\tx\nThreads:\t17\nX: 1\n"),
        Some(17)
    );
    assert_eq!(parse_status_threads("Name:\tx\n"), None);
    assert_eq!(status_field("Tgid:\t42\nPid:\t43\n", "Tgid:"), Some(42));
    assert_eq!(
        strip_deleted("/a/b (deleted)".into()),
        PathBuf::from("/a/b")
    );
    assert_eq!(strip_deleted("/a/b".into()), PathBuf::from("/a/b"));
}

#[test]
fn ns_pid_is_the_last_nspid_field() {
    // Our own namespace: one field, the pid itself.
    assert_eq!(
        parse_ns_pid("Name:\tx\nPid:\t991\nNSpid:\t991\n"),
        Some(991)
    );
    // A container: host pid first, then each nested namespace down to the process's own.
    assert_eq!(parse_ns_pid("Tgid:\t991\nNSpid:\t991\t1\nX: 2\n"), Some(1));
    assert_eq!(parse_ns_pid("NSpid:\t4242\t310\t7\n"), Some(7));
    // Kernels before 4.1 have no NSpid line; a malformed one is unknown, not a guess.
    assert_eq!(parse_ns_pid("Name:\tx\nPid:\t5\n"), None);
    assert_eq!(parse_ns_pid("NSpid:\t\n"), None);
    assert_eq!(parse_ns_pid("NSpid:\t12\tx\n"), None);
    // Not the NSpgid/NSsid lines that follow it.
    assert_eq!(
        parse_ns_pid("NStgid:\t8\t2\nNSpgid:\t3\nNSpid:\t8\t2\n"),
        Some(2)
    );
    // This test runs in the namespace its /proc belongs to.
    let me = std::process::id();
    assert_eq!(ns_pid_of(me), Some(me));
    assert_eq!(ns_pid_of(0), None);
}

#[test]
fn cpu_ticks_come_from_utime_and_stime() {
    // A real line's shape: the command holds ") " and spaces; utime 250, stime 17.
    let stat = "4242 (go) w) x) R 1 4242 4242 0 -1 4194304 120 0 0 0 250 17 0 0 20 0 6 0";
    assert_eq!(parse_stat_cpu_ticks(stat), Some(267));
    assert_eq!(parse_stat_cpu_ticks("1 (a) S 1 2"), None);
    let own = cpu_time(std::process::id()).expect("own /proc/PID/stat is readable");
    assert!(
        own < std::time::Duration::from_secs(24 * 3600),
        "implausible CPU time {own:?}"
    );
}

#[test]
fn liveness_of_self_and_zombies() {
    assert!(is_alive(std::process::id()));
    assert!(thread_count(std::process::id()).unwrap_or(0) >= 1);
    assert!(!is_alive(0));
    let mut child = std::process::Command::new("true")
        .spawn()
        .expect("spawn true");
    let pid = child.id();
    // Not reaped yet: once it exits it is a zombie, which is not alive.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while is_alive(pid) {
        assert!(
            std::time::Instant::now() < deadline,
            "child {pid} did not exit"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(
        Path::new(&format!("/proc/{pid}")).exists(),
        "zombie still has /proc entry"
    );
    child.wait().unwrap();
    assert!(!is_alive(pid));
    assert_eq!(thread_count(pid), None);
}
