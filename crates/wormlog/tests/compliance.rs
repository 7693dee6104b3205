//! What a compliance team relies on, tried on a moto Object-Lock bucket with a COMPLIANCE
//! default (and on the directory store where it applies): no command weakens the retention
//! a bucket promises, deletions on versioned buckets are caught, auditors check read-only.

mod support;

use std::time::Duration;

use support::{assert_exit, stderr, stdout, Env};
use wormlog_store::{Clock, RetentionMode, SystemClock, Timestamp};
use wormlog_tests::servers::{Server, MOTO};

const TEN_YEARS: &str = "3650";

/// A fresh moto bucket with Object Lock and a COMPLIANCE default of ten years.
fn moto_compliance_bucket(name: &str) -> Env {
    let env = Env::s3_bucket(MOTO, &Server::fresh_bucket(name), true);
    let o = env.run(&[
        "init",
        "--object-lock",
        "compliance",
        "--retention-days",
        TEN_YEARS,
    ]);
    assert_exit(&o, 0);
    env
}

/// A directory store with the same default.
fn dir_compliance_store() -> Env {
    let env = Env::new();
    let o = env.run(&[
        "init",
        "--object-lock",
        "compliance",
        "--retention-days",
        TEN_YEARS,
    ]);
    assert_exit(&o, 0);
    env
}

/// The lock of every segment of stream `s`: (mode, retain-until, legal hold).
fn segment_locks(env: &Env) -> Vec<(Option<RetentionMode>, Option<Timestamp>, bool)> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (store, root) = rt.block_on(env.open());
    let keys = wormlog_format::StreamKeys::new(&root, "s").unwrap();
    let listed = rt
        .block_on(wormlog_store::list_all(&*store, &keys.log_prefix(), None))
        .unwrap();
    listed
        .iter()
        .map(|e| {
            let lock = rt.block_on(store.head(&e.key)).unwrap().lock;
            (
                lock.retention.map(|r| r.mode),
                lock.retention.map(|r| r.retain_until),
                lock.legal_hold,
            )
        })
        .collect()
}

/// Every segment keeps the bucket's COMPLIANCE default of about ten years.
fn assert_default_kept(env: &Env, legal_hold: bool) {
    let nine_years = SystemClock::new()
        .now()
        .plus(Duration::from_secs(9 * 365 * 86_400));
    let locks = segment_locks(env);
    assert!(!locks.is_empty());
    for (mode, until, hold) in locks {
        assert_eq!(mode, Some(RetentionMode::Compliance), "the bucket's mode");
        assert!(until.unwrap() > nine_years, "the bucket's ten years");
        assert_eq!(hold, legal_hold);
    }
}

fn legal_hold_keeps_the_default_retention(env: &Env) {
    let o = env.run(&["append", "--epoch", "1", "--legal-hold", "\"held\""]);
    assert_exit(&o, 0);
    assert_default_kept(env, true);
    let o = env.run(&["append", "--epoch", "1", "\"later\""]);
    assert_exit(&o, 0);
    let o = env.run(&["hold", "set"]);
    assert_exit(&o, 0);
    assert_default_kept(env, true);
    let o = env.run(&["hold", "clear"]);
    assert_exit(&o, 0);
    assert_default_kept(env, false);
}

/// `append --legal-hold` without `--lock-mode` used to write GOVERNANCE retention ending at
/// write time over the bucket's COMPLIANCE default.
#[test]
fn a_legal_hold_never_weakens_retention_on_moto() {
    legal_hold_keeps_the_default_retention(&moto_compliance_bucket("wl-hold"));
}

#[test]
fn a_legal_hold_never_weakens_retention_on_a_directory() {
    legal_hold_keeps_the_default_retention(&dir_compliance_store());
}

fn init_refuses_to_weaken(env: &Env) {
    for weaker in [
        ["--object-lock", "governance", "--retention-days", TEN_YEARS],
        ["--object-lock", "compliance", "--retention-days", "30"],
    ] {
        let mut args = vec!["init"];
        args.extend_from_slice(&weaker);
        let o = env.run(&args);
        assert_exit(&o, 2);
        assert!(
            stderr(&o).contains("COMPLIANCE for 3650 days"),
            "names the settings in force: {}",
            stderr(&o)
        );
    }
    let o = env.run(&["init"]);
    assert_exit(&o, 0);
    assert!(
        stdout(&o).contains("default retention: COMPLIANCE for 3650 days"),
        "re-running reports the settings in force: {}",
        stdout(&o)
    );
    let o = env.run(&[
        "init",
        "--object-lock",
        "compliance",
        "--retention-days",
        "4000",
    ]);
    assert_exit(&o, 0);
    let o = env.run(&[
        "init",
        "--object-lock",
        "governance",
        "--retention-days",
        "30",
        "--allow-weaker-default",
    ]);
    assert_exit(&o, 0);
    assert!(
        stdout(&o).contains("default retention: GOVERNANCE for 30 days"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn init_refuses_to_weaken_the_default_on_moto() {
    init_refuses_to_weaken(&moto_compliance_bucket("wl-init"));
}

#[test]
fn init_refuses_to_weaken_the_default_on_a_directory() {
    init_refuses_to_weaken(&dir_compliance_store());
}

/// On a versioned bucket a plain DELETE of the last segments leaves delete markers, and AWS
/// and moto accept `If-None-Match: *` over them: a writer that went on would re-create the
/// slots, and `cat` would serve the new history with the locked old one hidden.
#[test]
fn a_tail_cut_by_delete_markers_stops_writers_and_readers() {
    let env = moto_compliance_bucket("wl-cut");
    for (seq, data) in ["\"a\"", "\"b\"", "\"c\""].iter().enumerate() {
        let o = env.run(&[
            "append",
            "--epoch",
            "1",
            "--expected-seq",
            &seq.to_string(),
            data,
        ]);
        assert_exit(&o, 0);
    }
    // Slots: 0 epoch-start, 1 "a", 2 epoch-start, 3 "b", 4 epoch-start, 5 "c".
    let rt = tokio::runtime::Runtime::new().unwrap();
    for slot in [4u64, 5] {
        env.plain_delete(&rt, &format!("cli/s/log/{slot:020}"));
    }
    let o = env.run(&["append", "--epoch", "2", "\"fork\""]);
    assert_exit(&o, 1);
    assert!(stderr(&o).contains("slot 4"), "{}", stderr(&o));
    let o = env.run(&["cat"]);
    assert_exit(&o, 1);
    assert!(stderr(&o).contains("slot 4"), "{}", stderr(&o));
    let o = env.run(&["verify"]);
    assert_exit(&o, 1);
    assert!(stdout(&o).contains("delete marker"), "{}", stdout(&o));
}
