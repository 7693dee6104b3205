//! The planted-bug table (`wormlog_sim::PLANTED`): each bug switches one protocol rule off,
//! and its profile must catch it within 300 seeds. A test per row.

use wormlog_sim::{check, run, PlantedRow, SimConfig, PLANTED};

/// The first seed (of 300) whose run the checker fails with `row`'s bug planted.
fn caught(name: &str) -> (u64, Vec<String>) {
    let row: &PlantedRow = PLANTED
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no planted bug named {name:?}"));
    for seed in 1..=300 {
        let mut cfg = SimConfig::new(seed, row.profile);
        cfg.planted = Some(row.bug);
        let violations = check(&run(&cfg));
        if !violations.is_empty() {
            return (seed, violations);
        }
    }
    panic!(
        "the {} profile missed \"{}\" ({}) in 300 seeds",
        row.profile.name(),
        row.name,
        row.breaks
    );
}

macro_rules! planted {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                let (seed, violations) = caught($name);
                eprintln!("{}: caught at seed {seed}: {}", $name, violations[0]);
            }
        )*

        #[test]
        fn every_row_of_the_table_has_a_test() {
            let tested = [$($name),*];
            for row in PLANTED {
                assert!(tested.contains(&row.name), "no test for {:?}", row.name);
            }
        }
    };
}

planted! {
    skipping_the_read_after_a_412_is_caught => "skip the read after a 412",
    dropping_the_same_write_id_rule_is_caught => "drop the same-write-id rule",
    opening_without_the_epoch_check_is_caught => "open without the epoch check",
    counting_a_higher_epoch_is_caught => "count a higher epoch and move on",
    a_follower_that_stops_early_is_caught => "a follower that stops early",
    a_seek_onto_a_zombie_is_caught => "seek onto a zombie",
    a_snapshot_that_ignores_purges_is_caught => "a snapshot that ignores purges",
    a_landed_segment_called_failed_is_caught => "a landed segment called a definite failure",
    trusting_the_tail_hint_is_caught => "trust the tail hint",
    naming_a_stale_predecessor_is_caught => "name a stale predecessor after counting a segment",
    not_fencing_ahead_is_caught => "no fence ahead (chase a stale writer slot by slot)",
    a_window_above_k_is_caught => "pipelining: one slot more in flight than the window",
    acknowledging_before_lower_slots_settle_is_caught => "pipelining: acknowledge before the slots below settle",
    not_reencoding_is_caught => "pipelining: no re-encoding after a failed speculation",
    no_void_under_landed_slots_is_caught => "pipelining: no void under landed slots",
    an_opener_that_does_not_repair_is_caught => "pipelining: an opener that does not repair",
}
