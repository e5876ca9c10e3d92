use super::*;

#[test]
fn reads_this_process_to_the_nanosecond_and_grows_with_work() {
    let mut reader = CpuReader::new(std::process::id());
    let before = reader.read().expect("own threads are readable");
    assert!(
        !reader.events.is_empty(),
        "no task-clock event could be opened"
    );
    // Spin until this thread's own CPU clock says 30 ms (however busy the machine is): the
    // process's threads together used at least that.
    let thread = |id| clock(id).expect("this thread's CPU clock");
    let start = thread(libc::CLOCK_THREAD_CPUTIME_ID);
    let mut x = 1u64;
    while thread(libc::CLOCK_THREAD_CPUTIME_ID) - start < Duration::from_millis(30) {
        x = std::hint::black_box(x.wrapping_mul(3).wrapping_add(1));
    }
    let after = reader.read().expect("own threads are readable");
    let spent = after.saturating_sub(before);
    assert!(
        spent >= Duration::from_millis(30),
        "30 ms of this thread's CPU booked as {spent:?} for the process"
    );
    assert_ne!(
        after.subsec_nanos() % 1_000_000,
        0,
        "not tick-rounded: {after:?}"
    );
}

#[test]
fn a_gone_process_reads_none() {
    assert_eq!(CpuReader::new(u32::MAX - 1).read(), None);
}

#[test]
fn a_thread_started_between_readings_brings_what_it_ran_before() {
    let mut reader = CpuReader::new(std::process::id());
    let before = reader.read().expect("own threads are readable");
    // The thread spins 30 ms of its own CPU before the next reading finds it, then stays alive.
    let (spun, spun_rx) = std::sync::mpsc::channel();
    let (done, done_rx) = std::sync::mpsc::channel::<()>();
    let worker = std::thread::spawn(move || {
        let start = clock(libc::CLOCK_THREAD_CPUTIME_ID).expect("thread CPU clock");
        let mut x = 1u64;
        while clock(libc::CLOCK_THREAD_CPUTIME_ID).expect("thread CPU clock") - start
            < Duration::from_millis(30)
        {
            x = std::hint::black_box(x.wrapping_mul(3).wrapping_add(1));
        }
        spun.send(()).expect("test alive");
        done_rx.recv().ok();
    });
    spun_rx.recv().expect("worker spun");
    let after = reader.read().expect("own threads are readable");
    done.send(()).ok();
    worker.join().expect("worker");
    let spent = after.saturating_sub(before);
    assert!(
        spent >= Duration::from_millis(25),
        "a thread that ran 30 ms before it was found booked as {spent:?}"
    );
}

#[test]
fn schedstat_gives_its_first_field() {
    assert_eq!(parse_schedstat("188410121 16646999 400\n"), Some(188410121));
    assert_eq!(parse_schedstat(""), None);
}
