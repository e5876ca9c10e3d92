use super::*;
use crate::test_support::{go_program, GoBuild};

#[test]
fn resolve_pid_on_running_go_process() {
    let bin = go_program(GoBuild::NewDwarf);
    let mut child = crate::test_support::SleepingChild::spawn(&bin);
    let pid = child.pid();
    let target = resolve_pid(pid).expect("resolve_pid on a live Go process");
    assert_eq!(target.process.pid, pid);
    assert_eq!(target.process.exe, std::fs::canonicalize(&bin).unwrap());
    assert_eq!(
        target.process.attach_path,
        PathBuf::from(format!("/proc/{pid}/exe"))
    );
    assert_eq!(target.binary.path, target.process.attach_path);
    assert_eq!(target.binary.layout.flavor, LayoutFlavor::Swiss);
    assert_eq!(target.binary.assign_funcs.len(), 5);
    assert!(is_alive(pid));
    assert!(
        thread_count(pid).unwrap_or(0) >= 2,
        "Go runs several threads"
    );
    // Another thread of the process is not a target.
    let tid = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .find(|&t| t != pid)
        .expect("a second thread");
    match resolve_pid(tid) {
        Err(TargetError::NotAProcess { pid: p, tgid }) => assert_eq!((p, tgid), (tid, pid)),
        other => panic!("expected NotAProcess, got {other:?}"),
    }
    // Non-PIE: addresses in the file are the runtime addresses.
    assert!(!target.binary.is_pie);
    assert_eq!(load_bias(pid, &target.binary).unwrap(), 0);
    child.kill();
    assert!(!is_alive(pid));
}

#[test]
fn resolve_pid_of_deleted_executable() {
    // Copy the binary, start it, delete the file: /proc/PID/exe still opens it.
    let bin = go_program(GoBuild::OldDwarf);
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("victim");
    std::fs::copy(&bin, &copy).unwrap();
    let mut child = crate::test_support::SleepingChild::spawn(&copy);
    std::fs::remove_file(&copy).unwrap();
    let target = resolve_pid(child.pid()).expect("resolve a deleted executable");
    assert_eq!(
        target.process.exe,
        std::fs::canonicalize(dir.path()).unwrap().join("victim")
    );
    assert_eq!(target.binary.layout.flavor, LayoutFlavor::Classic);
    assert!(target
        .binary
        .go_version
        .as_deref()
        .unwrap()
        .starts_with("go1.19"));
    child.kill();
}

#[test]
fn resolve_pid_on_dead_pid() {
    let mut child = std::process::Command::new("true")
        .spawn()
        .expect("spawn true");
    let pid = child.id();
    child.wait().unwrap();
    match resolve_pid(pid) {
        Err(TargetError::NoSuchPid { pid: p }) => assert_eq!(p, pid),
        other => panic!("expected NoSuchPid, got {other:?}"),
    }
    let msg = TargetError::NoSuchPid { pid: 42 }.to_string();
    assert_eq!(msg, "pid 42 not found (is the process running?)");
    assert!(matches!(
        resolve_pid(0),
        Err(TargetError::NoSuchPid { pid: 0 })
    ));
}

#[test]
fn resolve_pid_on_non_go_process() {
    // Ourselves: a Rust test binary has no Go map functions.
    let err = resolve_pid(std::process::id()).unwrap_err();
    assert!(matches!(err, TargetError::NoMapFunctions { .. }), "{err}");
    let exe = std::env::current_exe().expect("current_exe");
    assert!(
        err.to_string().contains(&exe.display().to_string()),
        "names the executable, not the /proc link: {err}"
    );
}

#[test]
fn error_messages_are_single_lines() {
    let errs = [
        TargetError::PermissionDenied {
            path: "/proc/42/exe".into(),
        },
        TargetError::NoMapFunctions {
            path: "/usr/bin/x".into(),
        },
        TargetError::UnknownLayout {
            path: "/x".into(),
            go_version: None,
        },
        TargetError::NotMapped {
            pid: 1,
            path: "/x".into(),
        },
        TargetError::SymbolNotFound {
            symbol: "counter_add".into(),
            path: "./server".into(),
        },
        TargetError::io(
            Path::new("/x"),
            std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        ),
    ];
    for e in &errs {
        let s = e.to_string();
        assert!(!s.contains('\n'), "{s}");
        assert!(s.contains('('), "message should carry a hint: {s}");
    }
    assert_eq!(
        errs[0].to_string(),
        "cannot read /proc/42/exe: permission denied (run clprof as root)"
    );
    assert_eq!(
        errs[1].to_string(),
        "no Go map functions in /usr/bin/x (neither its symbol table nor Go's function table has runtime.mapassign; is it a Go program?)"
    );
    assert_eq!(
        errs[4].to_string(),
        "symbol counter_add not found in ./server (is it exported or is the binary stripped?)"
    );
    assert!(matches!(errs[5], TargetError::PermissionDenied { .. }));
}
