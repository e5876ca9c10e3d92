use super::*;

#[test]
fn the_union_of_two_writer_sets_counts_each_thread_once() {
    let a = replay(&[(10, 0), (11, 1)]).writers;
    let b = replay(&[(11, 1), (12, 0)]).writers;
    let both = a.union(&b);
    assert_eq!(both.estimated_threads(), 3);
    assert!(both.tids_exact());
    assert_eq!(both.cpu_count(), 2);
    assert_eq!(both.union(&Writers::default()), both);
    let eight: [(u32, u32); 8] = core::array::from_fn(|i| (20 + i as u32, 0));
    let many = replay(&eight).writers;
    let over = many.union(&a);
    assert!(!over.tids_exact(), "ten threads do not fit in eight slots");
    assert!(over.estimated_threads() >= 9);
}

fn plain_add(v: &mut u64, n: u64) {
    *v += n;
}

fn write(tid: u32, cpu: u32) -> Write {
    Write {
        pid: 1,
        tid,
        cpu,
        now_ns: 0,
        growth: 0,
        concurrent: 0,
        sharing: 1,
        sampling: 0,
    }
}

fn replay(writes: &[(u32, u32)]) -> LineStats {
    let mut stats = LineStats::default();
    for &(tid, cpu) in writes {
        record_line_write(&mut stats, &write(tid, cpu), plain_add);
    }
    stats
}

/// Replays reads (`true`) and writes (`false`) as (tid, cpu).
fn replay_mixed(events: &[(bool, u32, u32)]) -> LineStats {
    let mut stats = LineStats::default();
    for &(read, tid, cpu) in events {
        if read {
            record_line_read(&mut stats, &write(tid, cpu), plain_add);
        } else {
            record_line_write(&mut stats, &write(tid, cpu), plain_add);
        }
    }
    stats
}

#[test]
fn readers_on_other_cpus_read_remotely_once_per_write() {
    // Writer on CPU 0; readers on 1, 2 and 3 each read twice after each write.
    let events: [(bool, u32, u32); 21] = core::array::from_fn(|i| match i % 7 {
        0 => (false, 10, 0),
        r => (true, 20 + (r as u32).div_ceil(2), (r as u32).div_ceil(2)),
    });
    let stats = replay_mixed(&events);
    assert_eq!(stats.writes, 3);
    assert_eq!(stats.reads, 18);
    assert_eq!(
        stats.remote_reads, 9,
        "the first read on each reader CPU after each write"
    );
    assert_eq!(
        stats.invalidations, 6,
        "the 2nd and 3rd writes each destroy three copies"
    );
    assert_eq!(stats.transfers, 0, "one writer CPU");
    assert_eq!(stats.readers.thread_count(), 3);
    assert_eq!(stats.readers.cpu_count(), 3);
    assert_eq!(stats.holders, [0b1110 | 1, 0, 0, 0]);
}

#[test]
fn reads_and_writes_on_one_cpu_share_nothing() {
    let stats = replay_mixed(&[(false, 10, 2), (true, 10, 2), (true, 10, 2), (false, 10, 2)]);
    assert_eq!(
        (stats.reads, stats.remote_reads, stats.invalidations),
        (2, 0, 0)
    );
    assert_eq!(stats.holders, [0b100, 0, 0, 0]);
}

#[test]
fn the_first_read_of_an_unseen_line_is_not_remote() {
    let stats = replay_mixed(&[(true, 10, 1), (true, 11, 2), (false, 12, 3)]);
    assert_eq!(
        stats.remote_reads, 1,
        "the first read finds no holder; the second finds CPU 1's copy"
    );
    assert_eq!(
        stats.invalidations, 2,
        "the write destroys both readers' copies"
    );
}

#[test]
fn writes_invalidate_nothing_while_reads_are_not_watched() {
    let mut stats = replay_mixed(&[(true, 11, 1), (true, 12, 2)]);
    let unwatched = Write {
        sharing: 0,
        ..write(10, 0)
    };
    record_line_write(&mut stats, &unwatched, plain_add);
    assert_eq!(stats.invalidations, 0, "no reader was watched: {stats:?}");
    assert_eq!(
        stats.holders,
        [1, 0, 0, 0],
        "the writer still holds the only copy"
    );
    assert_eq!(stats.writes, 1);
}

#[test]
fn only_counts_inside_sampled_windows_are_sampled() {
    let sampled = |w: Write, bits: u8| Write {
        sampling: bits as u32,
        ..w
    };
    let mut stats = LineStats::default();
    let mut obj = ObjectStats::default();
    // Outside any sampled window: a write, a remote read, an invalidating write.
    record_line_write(&mut stats, &write(10, 0), plain_add);
    record_line_read(&mut stats, &write(11, 1), plain_add);
    record_line_write(&mut stats, &write(10, 0), plain_add);
    // Writes sampled: a write by another CPU (a transfer), its object write.
    let w = sampled(write(12, 2), crate::TARGET_SAMPLING_WRITES);
    record_line_write(&mut stats, &w, plain_add);
    record_object_write(&mut obj, &w, 0, plain_add);
    // Reads sampled too: a remote read, a lookup, then a write that invalidates it.
    let both = crate::TARGET_SAMPLING_WRITES | crate::TARGET_SAMPLING_READS;
    let r = sampled(write(13, 3), both);
    record_line_read(&mut stats, &r, plain_add);
    record_object_read(&mut obj, &r, plain_add);
    record_line_write(&mut stats, &sampled(write(12, 2), both), plain_add);
    assert_eq!(
        (stats.writes, stats.transfers, stats.reads),
        (4, 1, 2),
        "{stats:?}"
    );
    assert_eq!(
        stats.sampled,
        crate::Sampled {
            writes: 2,
            transfers: 1,
            reads: 1,
            remote_reads: 1,
            invalidations: 1,
            growth_writes: 0,
        }
    );
    assert_eq!((obj.writes, obj.reads), (1, 1));
    assert_eq!((obj.sampled.writes, obj.sampled.reads), (1, 1));
}

#[test]
fn ping_pong_writes_transfer_without_invalidating() {
    let stats = replay_mixed(&[(false, 10, 0), (false, 11, 1), (false, 10, 0)]);
    assert_eq!(stats.transfers, 2);
    assert_eq!(
        stats.invalidations, 0,
        "the previous writer's copy moves with the transfer"
    );
    assert_eq!(stats.holders, [1, 0, 0, 0]);
}

#[test]
fn cpus_past_the_bitmap_share_its_last_bit() {
    let stats = replay_mixed(&[(false, 10, 0), (true, 11, 300), (true, 12, 301)]);
    assert_eq!(
        stats.remote_reads, 1,
        "CPU 301 finds the shared last bit set"
    );
    assert_eq!(stats.holders[3], 1 << 63);
}

#[test]
fn writes_from_one_cpu_never_transfer() {
    let stats = replay(&[(10, 3), (10, 3), (11, 3), (10, 3)]);
    assert_eq!(stats.writes, 4);
    assert_eq!(stats.transfers, 0);
    assert_eq!(stats.thread_switches, 2);
    assert_eq!(stats.writers.thread_count(), 2);
    assert_eq!(stats.writers.cpu_count(), 1);
}

#[test]
fn each_change_of_cpu_is_one_transfer() {
    // cpu 0 -> 1 -> 1 -> 0 -> 2: three moves of the line.
    let stats = replay(&[(10, 0), (11, 1), (11, 1), (10, 0), (12, 2)]);
    assert_eq!(stats.writes, 5);
    assert_eq!(stats.transfers, 3);
    assert_eq!(stats.writers.thread_count(), 3);
    assert_eq!(stats.writers.cpu_count(), 3);
    assert_eq!(stats.last_tid, 12);
    assert_eq!(stats.last_cpu_plus1, 3);
}

#[test]
fn cpu_zero_first_write_is_not_a_transfer() {
    let stats = replay(&[(10, 0)]);
    assert_eq!(stats.transfers, 0);
    assert_eq!(stats.last_cpu_plus1, 1);
}

#[test]
fn threads_are_exact_up_to_the_bound_then_flagged() {
    let writes: [(u32, u32); TRACKED_TIDS] = core::array::from_fn(|i| (100 + i as u32, 0));
    let stats = replay(&writes);
    assert_eq!(stats.writers.thread_count(), TRACKED_TIDS as u32);
    assert!(stats.writers.tids_exact());
    let mut stats = stats;
    record_line_write(&mut stats, &write(999, 0), plain_add);
    assert!(!stats.writers.tids_exact());
    assert_eq!(stats.writers.thread_count(), TRACKED_TIDS as u32);
}

#[test]
fn high_cpus_share_the_last_bit() {
    let stats = replay(&[(1, 255), (1, 300), (1, 4000)]);
    assert_eq!(stats.writers.cpu_count(), 1);
    assert_eq!(stats.writers.cpus[3], 1 << 63);
}

#[test]
fn growth_and_concurrent_writes_are_counted_with_the_write() {
    let mut stats = LineStats::default();
    let mut obj = ObjectStats::default();
    let racing = Write {
        concurrent: 1,
        ..write(7, 0)
    };
    let growing = Write {
        growth: 1,
        ..write(8, 1)
    };
    for w in [&racing, &growing, &write(7, 0)] {
        record_line_write(&mut stats, w, plain_add);
        record_object_write(&mut obj, w, 0, plain_add);
    }
    assert_eq!(
        (stats.writes, stats.growth_writes, stats.concurrent_writers),
        (3, 1, 1)
    );
    assert_eq!(
        (obj.writes, obj.growth_writes, obj.concurrent_writers),
        (3, 1, 1)
    );
    // Outside a sampled window none of them is a sampled one.
    assert_eq!(
        (stats.sampled.growth_writes, obj.sampled.growth_writes),
        (0, 0)
    );
    let sampled = Write {
        sampling: crate::TARGET_SAMPLING_WRITES as u32,
        ..growing
    };
    record_line_write(&mut stats, &sampled, plain_add);
    record_object_write(&mut obj, &sampled, 0, plain_add);
    assert_eq!((stats.sampled.writes, stats.sampled.growth_writes), (1, 1));
    assert_eq!((obj.sampled.writes, obj.sampled.growth_writes), (1, 1));
}

/// Writes from `n` distinct threads with consecutive ids from `first` (as a process's threads
/// get them), each twice, spread over 4 CPUs.
fn writers_of(first: u32, n: u32) -> Writers {
    let mut w = Writers::default();
    for round in 0..2 {
        for i in 0..n {
            note_writer(&mut w, first + i, (i + round) % 4);
        }
    }
    w
}

fn relative_error(estimate: u32, truth: u32) -> f64 {
    (estimate as f64 - truth as f64).abs() / truth as f64
}

#[test]
fn eight_threads_are_counted_exactly() {
    let w = writers_of(4_000, TRACKED_TIDS as u32);
    assert!(w.tids_exact());
    assert_eq!(w.estimated_threads(), TRACKED_TIDS as u32);
    assert_eq!(writers_of(4_000, 3).estimated_threads(), 3);
    assert_eq!(Writers::default().estimated_threads(), 0);
}

#[test]
fn nine_threads_are_more_than_the_eight_recorded() {
    let w = writers_of(4_000, TRACKED_TIDS as u32 + 1);
    assert!(!w.tids_exact());
    assert_eq!(w.thread_count(), TRACKED_TIDS as u32);
    let estimate = w.estimated_threads();
    assert!((9..=11).contains(&estimate), "estimate {estimate}");
}

#[test]
fn estimate_of_256_threads_is_within_15_percent() {
    for first in [1, 4_000, 123_457] {
        let w = writers_of(first, 256);
        assert!(!w.tids_exact());
        let estimate = w.estimated_threads();
        assert!(
            relative_error(estimate, 256) <= 0.15,
            "threads {first}..+256: estimate {estimate}"
        );
    }
}

#[test]
fn estimate_of_1000_threads_is_within_25_percent() {
    for first in [1, 4_000, 123_457] {
        let estimate = writers_of(first, 1_000).estimated_threads();
        assert!(
            relative_error(estimate, 1_000) <= 0.25,
            "threads {first}..+1000: estimate {estimate}"
        );
    }
}

#[test]
fn repeated_writes_by_one_thread_do_not_move_the_estimate() {
    let mut w = writers_of(4_000, 100);
    let before = (w.estimated_threads(), w.tid_sketch);
    for cpu in 0..50 {
        note_writer(&mut w, 4_050, cpu);
        note_writer(&mut w, 4_099, cpu);
    }
    assert_eq!((w.estimated_threads(), w.tid_sketch), before);
    // A new thread is a new bit (or a collision), never fewer.
    note_writer(&mut w, 9_999, 0);
    assert!(w.estimated_threads() >= before.0);
}

#[test]
fn a_full_sketch_reads_as_m_ln_m() {
    let w = Writers {
        tids: core::array::from_fn(|i| i as u32 + 1),
        tid_overflow: 1,
        tid_sketch: [u64::MAX; 4],
        ..Writers::default()
    };
    // 256 * ln 256 = 1419.57.
    assert_eq!(w.estimated_threads(), 1_420);
    let one_clear = Writers {
        tid_sketch: [u64::MAX, u64::MAX, u64::MAX, u64::MAX >> 1],
        ..w
    };
    assert_eq!(one_clear.estimated_threads(), 1_420);
}

#[test]
fn estimate_is_linear_counting_of_the_clear_bits() {
    // 128 of 256 bits set: 256 * ln 2 = 177.4.
    let half = Writers {
        tids: core::array::from_fn(|i| i as u32 + 1),
        tid_overflow: 1,
        tid_sketch: [u64::MAX, u64::MAX, 0, 0],
        ..Writers::default()
    };
    assert_eq!(half.estimated_threads(), 177);
    // A sketch that says fewer than the recorded tids (a lost bit) still counts them all, and
    // one more for the overflow.
    let sparse = Writers {
        tid_sketch: [1, 0, 0, 0],
        ..half
    };
    assert_eq!(sparse.estimated_threads(), TRACKED_TIDS as u32 + 1);
}

#[test]
fn ln_matches_std() {
    extern crate std;
    for n in [1u32, 2, 3, 7, 100, 255, 256, 1_000_000, u32::MAX] {
        let want = std::primitive::f64::ln(n as f64);
        assert!(
            (ln_int(n) - want).abs() < 1e-12,
            "ln {n}: {} vs {want}",
            ln_int(n)
        );
    }
}

#[test]
fn sketch_bits_spread_consecutive_tids() {
    // 64 consecutive ids land in many distinct bits (a plain `tid % 256` would be perfect here
    // and then wrap; the mix must look random: about 64 * e^(-1/4) = 56 expected).
    let mut seen = [false; TID_SKETCH_BITS as usize];
    for tid in 5_000..5_064 {
        let bit = tid_sketch_bit(tid);
        assert!(bit < TID_SKETCH_BITS);
        seen[bit as usize] = true;
    }
    let distinct = seen.iter().filter(|&&b| b).count();
    assert!((48..64).contains(&distinct), "{distinct} distinct bits");
}

#[test]
fn estimate_error_over_many_thread_ranges_is_linear_countings() {
    // Linear counting with 256 bits: standard error 5.3% at 256 distinct items and 10.7% at
    // 1,000, no bias below saturation. 100 ranges of consecutive ids measure it for this hash.
    for (n, max_bias, max_rms) in [(256u32, 0.02, 0.07), (1_000, 0.06, 0.15)] {
        let (mut sum, mut sum_sq) = (0.0, 0.0);
        let ranges = 100;
        for r in 0..ranges {
            let estimate = writers_of(1 + r * 7_919, n).estimated_threads();
            let error = (estimate as f64 - n as f64) / n as f64;
            sum += error;
            sum_sq += error * error;
        }
        let (bias, mean_sq) = (sum / ranges as f64, sum_sq / ranges as f64);
        assert!(
            bias.abs() <= max_bias && mean_sq <= max_rms * max_rms,
            "{n} threads: bias {bias}, mean square error {mean_sq}"
        );
    }
}

#[test]
fn object_writes_count_and_track_writers() {
    let mut stats = ObjectStats::default();
    record_object_write(&mut stats, &write(5, 1), 2, plain_add);
    record_object_write(&mut stats, &write(6, 0), 2, plain_add);
    assert_eq!(stats.writes, 2);
    assert_eq!(stats.kind, 2);
    assert_eq!(stats.writers.thread_count(), 2);
}

/// The line update as first written: a scan over the holder words and the thread slots, easy to
/// read and slow for the verifier. `record_line_write` must agree with it on every input.
fn scan_line_write(stats: &mut LineStats, write: &Write) {
    stats.writes += 1;
    let sampled = write.samples_writes();
    if sampled {
        stats.sampled.writes += 1;
    }
    let cpu_plus1 = write.cpu + 1;
    if stats.last_cpu_plus1 != 0 && stats.last_cpu_plus1 != cpu_plus1 {
        stats.transfers += 1;
        if sampled {
            stats.sampled.transfers += 1;
        }
    }
    let (word, mask) = cpu_bit(write.cpu);
    let (last_word, last_mask) = if stats.last_cpu_plus1 != 0 {
        cpu_bit(stats.last_cpu_plus1 - 1)
    } else {
        (0, 0)
    };
    let (mut copies, mut only_writer) = (0u32, true);
    for i in 0..stats.holders.len() {
        let mut others = stats.holders[i];
        if i == word {
            others &= !mask;
        }
        if others != 0 {
            only_writer = false;
        }
        if i == last_word {
            others &= !last_mask;
        }
        copies += others.count_ones();
    }
    if copies > 0 && write.sharing != 0 {
        stats.invalidations += copies as u64;
        if write.samples_reads() {
            stats.sampled.invalidations += copies as u64;
        }
    }
    if !only_writer || stats.holders[word] & mask == 0 {
        for i in 0..stats.holders.len() {
            stats.holders[i] = if i == word { mask } else { 0 };
        }
    }
    if stats.last_tid != 0 && stats.last_tid != write.tid {
        stats.thread_switches += 1;
    }
    stats.last_cpu_plus1 = cpu_plus1;
    stats.last_tid = write.tid;
    stats.last_ns = write.now_ns;
    scan_note_writer(&mut stats.writers, write.tid, write.cpu);
}

fn scan_note_writer(writers: &mut Writers, tid: u32, cpu: u32) {
    let (word, mask) = cpu_bit(cpu);
    writers.cpus[word] |= mask;
    let bit = tid_sketch_bit(tid);
    writers.tid_sketch[(bit / 64) as usize] |= 1u64 << (bit % 64);
    let mut free = TRACKED_TIDS;
    for i in 0..TRACKED_TIDS {
        if writers.tids[i] == tid {
            return;
        }
        if writers.tids[i] == 0 && free == TRACKED_TIDS {
            free = i;
        }
    }
    if free < TRACKED_TIDS {
        writers.tids[free] = tid;
    } else {
        writers.tid_overflow += 1;
    }
}

#[test]
fn the_indexed_line_update_agrees_with_a_scan_on_random_traffic() {
    // CPUs in every holder word, at word edges and past the bitmap; more threads than slots.
    const CPUS: [u32; 10] = [0, 1, 2, 3, 63, 64, 127, 200, 255, 300];
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    for round in 0..200 {
        let (mut fast, mut scan) = (LineStats::default(), LineStats::default());
        for step in 0..60 {
            let cpu = CPUS[next(CPUS.len() as u64) as usize];
            let event = Write {
                tid: 100 + next(12) as u32,
                cpu,
                now_ns: step,
                sharing: next(2) as u32,
                sampling: next(4) as u32,
                ..write(0, 0)
            };
            if next(3) == 0 {
                record_line_read(&mut fast, &event, plain_add);
                record_line_read(&mut scan, &event, plain_add);
            } else {
                record_line_write(&mut fast, &event, plain_add);
                scan_line_write(&mut scan, &event);
            }
            assert_eq!(
                fast, scan,
                "round {round}, step {step}: {event:?} left the two updates apart"
            );
        }
    }
}
