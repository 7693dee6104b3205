//! The capability probe under faults (protocol.md, "Store capability probe"): a transient
//! error does not make a safe store look unsafe, and a long-running process probes again once
//! its verdict is old.

use std::sync::Arc;
use std::time::Duration;

use wormlog_store::probe::{probe, VERDICT_TTL};
use wormlog_store::{Clock, Fault, FaultStore, ManualClock, MemoryStore, Op, Timestamp};
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
    clock.advance(VERDICT_TTL + Duration::from_secs(1));
    open(3).await.unwrap().close().await;
    assert!(probes() > first, "an old verdict is not trusted");
}
