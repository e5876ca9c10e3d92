use super::*;

#[test]
fn an_unavailable_watcher_watches_nothing_and_says_why() {
    let mut watcher = Watcher::unavailable("watchpoints: none could be used here".to_owned());
    watcher.gate(&|_| true);
    let outcome = watcher.finish();
    assert_eq!(outcome.registers, 0);
    assert!(outcome.words.is_empty());
    assert_eq!(outcome.notices, ["watchpoints: none could be used here"]);
}
