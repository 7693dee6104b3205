//! The deterministic simulation (tests/src/sim.rs): seeds pass the checker, a seed replays
//! exactly, and the checker catches bugs planted in the writer.

use wormlog_tests::sim::{check, run, SimConfig};
use wormlog_writer::PlantedBug;

#[test]
fn seeds_pass_the_checker() {
    for seed in 1..=20 {
        let violations = check(&run(&SimConfig::new(seed)));
        assert!(violations.is_empty(), "seed {seed}: {violations:#?}");
    }
}

#[test]
fn one_seed_run_twice_gives_the_same_history() {
    let cfg = SimConfig::new(7);
    let (a, b) = (run(&cfg), run(&cfg));
    assert!(a.history.entries.len() > 20, "the run did something");
    assert_eq!(a.history, b.history);
    assert_eq!(a.replays[0].as_ref().ok(), b.replays[0].as_ref().ok());
    assert_eq!(a.log_puts, b.log_puts);
}

/// The checker fails at least one of the first seeds when `bug` is planted.
fn caught(bug: PlantedBug) -> Vec<String> {
    for seed in 1..=30 {
        let mut cfg = SimConfig::new(seed);
        cfg.planted_bug = Some(bug);
        let violations = check(&run(&cfg));
        if !violations.is_empty() {
            return violations;
        }
    }
    panic!("the checker missed {bug:?} in 30 seeds");
}

#[test]
fn the_checker_catches_a_writer_without_the_same_write_id_rule() {
    let v = caught(PlantedBug::IgnoreOwnWriteId);
    assert!(
        v.iter()
            .any(|m| m.contains("ghost") || m.contains("I3") || m.contains("appears at")),
        "{v:#?}"
    );
}

#[test]
fn the_checker_catches_a_writer_that_skips_the_read_after_a_412() {
    let v = caught(PlantedBug::SkipReadAfter412);
    assert!(!v.is_empty());
}
