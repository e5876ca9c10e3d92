use super::*;

#[test]
fn only_loopback_without_allow_remote() {
    let local: SocketAddr = "127.0.0.1:7878".parse().expect("addr");
    let local6: SocketAddr = "[::1]:7878".parse().expect("addr");
    let any: SocketAddr = "0.0.0.0:7878".parse().expect("addr");
    assert!(check_listen(&local, false).is_ok());
    assert!(check_listen(&local6, false).is_ok());
    let err = check_listen(&any, false).expect_err("0.0.0.0 refused");
    assert!(err.to_string().contains("--allow-remote"), "{err}");
    assert!(check_listen(&any, true).is_ok());
}

#[test]
fn keeps_the_last_windows() {
    let mut state = DaemonState {
        keep: 3,
        ..DaemonState::default()
    };
    let report = Arc::new(crate::report::test_report::sample());
    for seq in 1..=5 {
        let at = chrono::Utc::now();
        state.push(Window {
            seq,
            report: report.clone(),
            span: (at, at),
        });
    }
    let seqs: Vec<u64> = state.windows.iter().map(|w| w.seq).collect();
    assert_eq!(seqs, [3, 4, 5]);
    assert_eq!(state.window(None).map(|w| w.seq), Some(5));
    assert_eq!(state.window(Some(4)).map(|w| w.seq), Some(4));
    assert!(state.window(Some(1)).is_none());
}
