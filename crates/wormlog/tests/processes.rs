//! Real OS processes on one FsStore directory: two leaders racing (split brain), and a writer
//! killed with SIGKILL mid-append. The log is then read with the library's reader.

mod support;

use std::time::Duration;

use support::{check_log, read_log, Appender, Env};

#[test]
fn two_processes_with_epochs_1_and_2_leave_one_consistent_log() {
    support::split_brain_race(&Env::new(), 40, 300, Duration::from_millis(1));
}

/// Writers killed with SIGKILL at random points: after a random number of acknowledged
/// events, plus a random pause so the kill lands anywhere in the next PUT (encoding, the temp
/// file, fsync, the link). The seed is printed; `WORMLOG_CRASH_SEED=N` replays its points.
#[test]
fn kill_9_mid_append_leaves_no_partial_object_and_loses_no_acknowledged_event() {
    let env = Env::new();
    let seed = std::env::var("WORMLOG_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| wormlog::store::SeededRng::from_entropy().next_u64());
    eprintln!("kill -9 points from WORMLOG_CRASH_SEED={seed}");
    let mut rng = wormlog::store::SeededRng::new(seed);
    let mut acked = Vec::new();
    for round in 0..6usize {
        let kill_after = 1 + rng.below(50) as usize;
        let pause = Duration::from_micros(rng.below(3_000));
        let epoch = round as u64 + 1;
        let mut w = Appender::start(
            &env,
            epoch,
            &format!("w{round}"),
            100_000,
            16 * 1024,
            Duration::ZERO,
        );
        w.wait_for_acks(kill_after);
        std::thread::sleep(pause);
        w.child.kill().unwrap(); // SIGKILL, mid-stream: PUTs are in flight
        let (code, round_acks, _) = w.finish();
        assert_eq!(code, None, "killed by a signal");
        assert!(round_acks.len() >= kill_after);
        acked.extend(round_acks);
        // Reopening (the next round's writer, or a reader) sees only whole segments.
        check_log(&read_log(&env), &acked);
    }
    // Every object in the log directory decodes; temp files stay out of the log.
    for entry in std::fs::read_dir(env.store().join("objects/s/log")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        wormlog::format::decode_segment(&bytes).expect("I1: no partial object is visible");
    }
    let o = env.run(&["append", "--epoch", "9", "\"after the crashes\""]);
    support::assert_exit(&o, 0);
    let log = read_log(&env);
    assert_eq!(log.last().unwrap().2, 9);
}
