use super::*;

#[test]
fn resolve_non_go_process() {
    use crate::test_support::{c_program, SleepingChild};
    let dir = tempfile::tempdir().unwrap();
    let bin = c_program(dir.path(), "cprog", &[]);
    let mut child = SleepingChild::spawn(&bin);
    let pid = child.pid();
    let p = resolve_process(pid).expect("resolve a C program");
    assert_eq!(p.pid, pid);
    assert_eq!(p.attach_path, PathBuf::from(format!("/proc/{pid}/exe")));
    assert_eq!(p.exe, std::fs::canonicalize(&bin).unwrap());
    assert_eq!(p.ns_pid, Some(pid), "same pid namespace as the test");
    // resolve_pid needs Go map functions; resolve_process does not.
    assert!(matches!(
        super::super::resolve_pid(pid),
        Err(TargetError::NoMapFunctions { .. })
    ));
    child.kill();
    assert!(matches!(
        resolve_process(pid),
        Err(TargetError::NoSuchPid { .. })
    ));
    assert!(matches!(
        resolve_process(0),
        Err(TargetError::NoSuchPid { pid: 0 })
    ));
}

#[test]
fn kernel_thread_has_no_executable() {
    // kthreadd is pid 2 on Linux; in a pid namespace it may not be visible.
    let Ok(comm) = std::fs::read_to_string("/proc/2/comm") else {
        return;
    };
    if comm.trim() != "kthreadd" {
        return;
    }
    assert!(matches!(
        resolve_process(2),
        Err(TargetError::NoExecutable { pid: 2 }) | Err(TargetError::PermissionDenied { .. })
    ));
}
