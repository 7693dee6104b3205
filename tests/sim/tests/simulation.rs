//! The deterministic simulation: seeds of every profile pass the checker, and a seed replays
//! exactly.

use wormlog_sim::{check, run, Profile, SimConfig};

#[test]
fn seeds_of_every_profile_pass_the_checker() {
    for profile in Profile::ALL {
        for seed in 1..=10 {
            let violations = check(&run(&SimConfig::new(seed, profile)));
            assert!(
                violations.is_empty(),
                "{} seed {seed}: {violations:#?}",
                profile.name()
            );
        }
    }
}

#[test]
fn one_seed_run_twice_gives_the_same_history() {
    let cfg = SimConfig::new(7, Profile::Default);
    let (a, b) = (run(&cfg), run(&cfg));
    assert!(a.history.entries.len() > 20, "the run did something");
    assert_eq!(a.history, b.history);
    assert_eq!(
        a.finale.replays[0].as_ref().ok(),
        b.finale.replays[0].as_ref().ok()
    );
    assert_eq!(a.log_puts, b.log_puts);
}

/// The stale-writer profile is not vacuous: leaders do open while a runaway writer appends,
/// and the runaways are fenced by them.
#[test]
fn the_stale_writer_profile_contends_takeovers() {
    let (mut contended, mut fenced) = (0, 0);
    for seed in 1..=10 {
        let r = run(&SimConfig::new(seed, Profile::StaleWriter));
        let h = &r.history;
        contended += h
            .open_times
            .iter()
            .filter(|o| o.writer.starts_with("node-"))
            .filter(|o| {
                h.runaways
                    .iter()
                    .any(|&(from, to)| o.started_ms < to && o.started_ms + o.took_ms > from)
            })
            .count();
        fenced += h
            .stops
            .iter()
            .filter(|s| s.writer.starts_with("runaway-") && s.kind == wormlog_sim::StopKind::Fenced)
            .count();
    }
    assert!(
        contended >= 5,
        "{contended} leader opens met a runaway writer"
    );
    assert!(fenced >= 5, "{fenced} runaway writers were fenced");
}
