//! Two threads, each incrementing its own counter of one static array: the counters share a cache
//! line (false sharing). `--watch rust_counters::STATS` names the static by its Rust path.
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

static STATS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
static STOP: AtomicBool = AtomicBool::new(false);

#[inline(never)]
fn worker(counter: &AtomicU64) {
    while !STOP.load(Ordering::Relaxed) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

fn main() {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    println!("counters {:p} {:p}", &STATS[0], &STATS[1]);
    let workers: Vec<_> = (0..2)
        .map(|i| std::thread::spawn(move || worker(&STATS[i])))
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    STOP.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().expect("worker");
    }
}
