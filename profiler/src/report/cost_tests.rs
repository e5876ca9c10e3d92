use super::*;
use crate::report::{test_report, SampledSharing};

fn line(transfers: u64, est: u64, err: f64) -> LineReport {
    let mut l = test_report::sample().lines.remove(0);
    (l.transfers, l.est.transfers, l.est.transfers_rel_err) = (transfers, Some(est), Some(err));
    (l.remote_reads, l.est.remote_reads) = (Some(0), None);
    l
}

#[test]
fn the_cost_is_the_moves_times_the_transfer_cost_per_second() {
    // 1,000 transfers estimated over 2 s at 50 ns: 25 µs/s; of 0.5 CPU-s/s: 0.005%.
    let l = line(100, 1000, 0.1);
    let c = cost(
        &l,
        50.0,
        Recorded {
            seconds: 2.0,
            cpu_s: 1.0,
        },
    )
    .expect("cost");
    assert_eq!(c.cpu_ns_per_s, 25_000.0);
    assert!((c.target_cpu_pct - 0.005).abs() < 1e-9, "{c:?}");
    // 10% estimate error and 100 seen (10% counting noise): √2 × 10%.
    assert!((c.rel_err - 0.1414).abs() < 1e-3, "{c:?}");
}

#[test]
fn remote_reads_cost_like_transfers() {
    let mut l = line(0, 0, 0.0);
    (
        l.remote_reads,
        l.est.remote_reads,
        l.est.remote_reads_rel_err,
    ) = (Some(400), Some(400), Some(0.0));
    let r = Recorded {
        seconds: 1.0,
        cpu_s: 1.0,
    };
    let c = cost(&l, 100.0, r).expect("cost");
    assert_eq!(c.cpu_ns_per_s, 40_000.0);
    assert!(
        (c.rel_err - 0.05).abs() < 1e-9,
        "counting noise of 400: {c:?}"
    );
}

#[test]
fn nothing_recorded_or_no_transfer_cost_gives_no_cost() {
    let l = line(10, 10, 0.0);
    let none = Recorded {
        seconds: 0.0,
        cpu_s: 0.0,
    };
    assert_eq!(cost(&l, 50.0, none), None);
    let r = Recorded {
        seconds: 1.0,
        cpu_s: 1.0,
    };
    assert_eq!(cost(&l, 0.0, r), None);
    let quiet = line(0, 0, 0.0);
    assert_eq!(cost(&quiet, 50.0, r).map(|c| c.cpu_ns_per_s), Some(0.0));
}

#[test]
fn the_sampled_cost_is_the_line_s_share_of_the_target_s_cpu_time() {
    let mut l = line(0, 0, 0.0);
    l.data_samples = Some(crate::report::DataSamples {
        samples: 100,
        share: 0.25,
        ..test_report::data_samples()
    });
    // A quarter of 1.5 CPU-s over 3 s: 125 ms/s, 25% of the target's CPU time.
    let c = sampled(
        &l,
        Recorded {
            seconds: 3.0,
            cpu_s: 1.5,
        },
    )
    .expect("a sampled cost");
    assert_eq!(c.cpu_ns_per_s, 125_000_000.0);
    assert_eq!(c.target_cpu_pct, 25.0);
    assert_eq!(c.basis, CostBasis::Samples);
    // Binomial, √((1 − 0.25) / 100) = 0.0866, and the drift between runs, in quadrature.
    assert!(
        (c.rel_err - 0.0866f64.hypot(SAMPLED_DRIFT)).abs() < 1e-4,
        "{c:?}"
    );
    // Samples that do not show the line shared: no sampled cost.
    for sharing in [
        SampledSharing::OneThread,
        SampledSharing::ReadShared,
        SampledSharing::Unknown,
    ] {
        if let Some(d) = l.data_samples.as_mut() {
            d.sharing = sharing;
        }
        let r = Recorded {
            seconds: 3.0,
            cpu_s: 1.5,
        };
        assert_eq!(sampled(&l, r), None, "{sharing:?}");
    }
    // No data samples: none either.
    l.data_samples = None;
    let r = Recorded {
        seconds: 3.0,
        cpu_s: 1.5,
    };
    assert_eq!(sampled(&l, r), None);
}
