//! The capability probe (protocol.md, "Store capability probe"): under faults, a transient
//! error does not make a safe store look unsafe, and a long-running process probes again once
//! its verdict is old; what it reports beside the safety checks, and when.

use std::sync::Arc;
use std::time::Duration;

use wormlog_store::probe::{probe, Outcome, STORED_VERDICT_TTL, VERDICT_TTL};
use wormlog_store::{
    Clock, Fault, FaultStore, ManualClock, MemoryStore, ObjectStore, Op, Timestamp,
};
use wormlog_tests::writer_config;
use wormlog_writer::LogWriter;

fn remote_like() -> FaultStore {
    let f = FaultStore::new(Arc::new(MemoryStore::new()));
    f.probe_like_a_remote_store();
    f
}

#[tokio::test]
async fn one_transient_error_per_probe_step_does_not_fail_the_probe() {
    let f = remote_like();
    for op in [Op::PutIfAbsent, Op::PutIfMatch, Op::Head, Op::List] {
        f.inject(Fault::before(
            op,
            ".wormlog-probe",
            Fault::unavailable(op, "probe"),
            1,
        ));
    }
    // And a lost answer on the first create: the retry meets its own object.
    f.inject(Fault::lost_response(
        Op::PutIfAbsent,
        ".wormlog-probe",
        Fault::unavailable(Op::PutIfAbsent, "probe"),
        1,
    ));
    let report = probe(&f, "").await;
    assert!(report.is_safe(), "{:#?}", report.checks);
}

#[tokio::test]
async fn a_writer_probes_again_once_the_verdict_is_older_than_its_ttl() {
    let f = remote_like();
    let clock = ManualClock::new(Timestamp(1_800_000_000_000));
    let probes = || {
        f.journal()
            .iter()
            .filter(|r| r.op == Op::PutIfAbsent && r.key.contains(".wormlog-probe"))
            .count()
    };
    let open = |epoch| {
        let mut cfg = writer_config("ttl", epoch, "w");
        cfg.clock = Arc::new(clock.clone()) as Arc<dyn Clock>;
        LogWriter::open(Arc::new(f.clone()), cfg)
    };
    open(1).await.unwrap().close().await;
    let first = probes();
    assert!(first > 0, "the first writer probes");
    open(2).await.unwrap().close().await;
    assert_eq!(probes(), first, "a fresh verdict is reused");
    // A new process finds the verdict kept in the bucket: one GET, no probe.
    wormlog_store::probe::forget_verdicts();
    open(3).await.unwrap().close().await;
    assert_eq!(probes(), first, "the bucket's verdict is reused");
    let verdict_reads = f
        .journal()
        .iter()
        .filter(|r| r.op == Op::Get && r.key.ends_with(".wormlog-probe/verdict"))
        .count();
    assert!(verdict_reads >= 1);
    assert_eq!(
        VERDICT_TTL, STORED_VERDICT_TTL,
        "trusted as long as a process's own"
    );
    clock.advance(STORED_VERDICT_TTL + Duration::from_secs(1));
    open(4).await.unwrap().close().await;
    assert!(probes() > first, "an old verdict is not trusted");
}

/// A verdict kept in the bucket says what the probe saw; a writer whose listing of the log
/// shows what the verdict did not (version ids, where the probe saw an unversioned bucket:
/// Ceph RGW stops enforcing If-None-Match once versioning is on) probes again.
#[tokio::test]
async fn a_verdict_that_says_unversioned_is_checked_against_the_log_listing() {
    let f = remote_like();
    let prefix = "verdict-check";
    let probes = || {
        f.journal()
            .iter()
            .filter(|r| {
                r.op == Op::PutIfAbsent
                    && r.key.contains(".wormlog-probe/")
                    && !r.key.ends_with("verdict")
            })
            .count()
    };
    let open = |epoch| {
        let mut cfg = writer_config("v", epoch, "w");
        cfg.root_prefix = prefix.into();
        LogWriter::open(Arc::new(f.clone()), cfg)
    };
    open(1).await.unwrap().close().await; // probes, keeps the verdict (versioned: the memory store lists version ids)
    let first = probes();
    assert!(first > 0);
    // The kept verdict, edited to say the probe saw an unversioned bucket.
    let key = wormlog_store::probe::verdict_key(prefix);
    let got = f.get(&key).await.unwrap();
    let mut v: wormlog_store::probe::StoredVerdict = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(v.versioned, Some(true));
    v.versioned = Some(false);
    f.put_if_match(
        &key,
        bytes::Bytes::from(serde_json::to_vec(&v).unwrap()),
        &got.meta.etag,
        &wormlog_store::PutOptions::default(),
    )
    .await
    .unwrap();
    wormlog_store::probe::forget_verdicts();
    open(2).await.unwrap().close().await;
    assert!(
        probes() > first,
        "the log's versions contradict the verdict: probe again"
    );
}

/// `doctor` (and `init`) report whether the store refuses bytes that do not match their
/// SHA-256, and clean up after; a writer's own probe, which leaves its objects, does not ask.
#[tokio::test]
async fn doctor_reports_whether_uploads_are_checked_and_a_writer_does_not_ask() {
    let f = remote_like();
    let report = probe(&f, "").await;
    let row = report
        .checks
        .iter()
        .find(|c| c.name == "uploads checked against their SHA-256")
        .expect("the probe reports it");
    assert_eq!(row.outcome, Outcome::Pass, "{row:?}");
    assert!(!row.safety);
    let left = wormlog_store::list_all(&f, ".wormlog-probe/", None)
        .await
        .unwrap();
    assert!(left.is_empty(), "{left:?}");

    let f = remote_like();
    LogWriter::open(Arc::new(f.clone()), writer_config("w", 1, "w"))
        .await
        .unwrap()
        .close()
        .await;
    assert!(
        !f.journal().iter().any(|r| r.key.contains("sha256-checked")),
        "a writer's probe stores nothing it cannot remove"
    );
}
