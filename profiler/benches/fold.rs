//! Userspace fold rate: folds a recorded event stream (`clprof record --save-samples FILE`) on
//! one core, again and again, and prints events per second (median of the runs).
//!
//! `CLPROF_BENCH_EVENTS=FILE cargo bench -p profiler --bench fold` (`cargo xtask bench` records
//! the stream first).

use std::time::Instant;

use clprof::collect::Samples;
use profiler_common::SampleEvent;

const RUNS: usize = 7;
/// Events folded per run, at least (the stream is folded as many times as it takes).
const MIN_EVENTS: usize = 2_000_000;

fn main() {
    let Some(path) = std::env::var_os("CLPROF_BENCH_EVENTS") else {
        eprintln!(
            "fold: set CLPROF_BENCH_EVENTS to a --save-samples file (cargo xtask bench does)"
        );
        return;
    };
    let stream = std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path:?}: {e}"));
    let events = stream.len() / size_of::<SampleEvent>();
    assert!(events > 0, "{path:?} holds no events");
    let passes = MIN_EVENTS.div_ceil(events);
    let mut rates = Vec::with_capacity(RUNS);
    let mut keys = 0;
    for _ in 0..RUNS {
        let start = Instant::now();
        let mut samples = Samples::default();
        for _ in 0..passes {
            samples.fold_stream(&stream);
        }
        let took = start.elapsed().as_secs_f64();
        assert_eq!(samples.total as usize, events * passes);
        keys = samples.folded.len();
        rates.push((events * passes) as f64 / took);
    }
    rates.sort_by(f64::total_cmp);
    println!("fold_stream_events={events}");
    println!("fold_distinct_keys={keys}");
    println!("fold_events_per_sec={:.0}", rates[RUNS / 2]);
}
