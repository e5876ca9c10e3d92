use super::*;

#[test]
fn perf_frequency_follows_the_budget() {
    let b = Budget::from_pct(2.0);
    // 0.5% of CPU at 5 µs a sample: 1 kHz.
    assert_eq!(b.perf_hz(Duration::from_micros(5), 100_000), 1_000);
    // Cheap samples are capped at perf record's default; the kernel's cap wins when lower.
    assert_eq!(b.perf_hz(Duration::from_nanos(100), 100_000), MAX_PERF_HZ);
    assert_eq!(b.perf_hz(Duration::from_nanos(100), 2_500), 2_500);
    // Very costly samples still sample.
    assert_eq!(b.perf_hz(Duration::from_secs(1), 100_000), 1);
    // Where a quarter of the budget buys fewer than RANK_HZ, perf takes more of it: at 52 µs a
    // sample the quarter buys 96 Hz; 130 Hz costs 0.68% of the CPU, a third of the 2%.
    assert_eq!(b.perf_hz(Duration::from_micros(52), 100_000), RANK_HZ);
    // Up to three quarters of the budget: at 200 µs a sample, 1.5% buys 75 Hz.
    assert_eq!(b.perf_hz(Duration::from_micros(200), 100_000), 75);
    // A small budget is shared the same way: 0.1% at 5 µs buys 50 Hz with a quarter, 150 with
    // three quarters, so RANK_HZ.
    let small = Budget::from_pct(0.1);
    assert_eq!(small.perf_hz(Duration::from_micros(5), 100_000), RANK_HZ);
    assert!((b.probe_fraction(0.005) - 0.015).abs() < 1e-12);
    assert_eq!(Budget::from_pct(0.1).probe_fraction(0.01), 0.0);
    assert!(Budget::from_pct(100.0).unlimited());
    assert!(!Budget::from_pct(99.0).unlimited());
}
