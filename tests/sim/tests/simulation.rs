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
