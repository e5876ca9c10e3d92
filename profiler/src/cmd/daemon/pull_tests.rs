use super::*;

fn at(base: DateTime<Utc>, secs: f64) -> DateTime<Utc> {
    base + chrono::TimeDelta::milliseconds((secs * 1000.0).round() as i64)
}

/// Windows ending at `ends` seconds after `base`, each lasting `len` seconds.
fn windows(base: DateTime<Utc>, len: f64, ends: &[f64]) -> Vec<Span> {
    ends.iter()
        .enumerate()
        .map(|(i, &end)| Span {
            seq: i as u64 + 1,
            start: at(base, end - len),
            end: at(base, end),
        })
        .collect()
}

#[test]
fn seconds_are_positive_and_bounded() {
    assert_eq!(parse_seconds("2", 600.0), Ok(Duration::from_secs(2)));
    assert_eq!(parse_seconds("0.5", 600.0), Ok(Duration::from_millis(500)));
    for bad in ["0", "-1", "abc", "NaN", "inf", ""] {
        assert!(
            matches!(parse_seconds(bad, 600.0), Err(SecondsError::NotPositive(_))),
            "{bad}"
        );
    }
    assert_eq!(
        parse_seconds("4000", 1e6),
        Err(SecondsError::TooLong(4000.0))
    );
    let err = parse_seconds("14", 10.0).expect_err("more than kept");
    assert!(err.to_string().contains("--keep"), "{err}");
}

#[test]
fn waits_for_the_windows_that_end_in_the_asked_seconds() {
    let t = Utc::now();
    let two = Duration::from_secs(2);
    // One-second windows: one ended just before the request, two end within its 2 s.
    let all = windows(t, 1.0, &[-0.1, 0.9, 1.95, 3.0]);
    let after: Vec<Span> = all.iter().copied().filter(|w| w.end > t).collect();
    assert_eq!(pick(&after[..1], t, two, at(t, 1.0)), None, "not yet");
    assert_eq!(pick(&after[..2], t, two, at(t, 1.99)), None, "2 s not over");
    assert_eq!(pick(&after[..2], t, two, at(t, 2.01)), Some(vec![2, 3]));
    // A window ending after the 2 s is not part of the answer.
    assert_eq!(pick(&after, t, two, at(t, 3.1)), Some(vec![2, 3]));
}

#[test]
fn windows_longer_than_the_seconds_give_the_next_one_to_end() {
    let t = Utc::now();
    let two = Duration::from_secs(2);
    let next = windows(t, 5.0, &[3.5]);
    assert_eq!(pick(&[], t, two, at(t, 2.5)), None, "none ended yet");
    assert_eq!(pick(&next, t, two, at(t, 3.6)), Some(vec![1]));
}

#[test]
fn scrapes_every_n_seconds_get_every_window_once() {
    let t = Utc::now();
    let two = Duration::from_secs(2);
    let all = windows(t, 0.7, &[0.5, 1.2, 1.9, 2.0, 2.6, 3.3, 4.0, 4.7, 5.4, 6.0]);
    let mut answered = Vec::new();
    for k in 0..3 {
        let asked = at(t, 2.0 * k as f64);
        let after: Vec<Span> = all.iter().copied().filter(|w| w.end > asked).collect();
        let seqs = pick(&after, asked, two, at(t, 100.0)).expect("complete");
        answered.extend(seqs);
    }
    assert_eq!(answered, (1..=10).collect::<Vec<u64>>());
}
