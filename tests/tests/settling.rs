//! Settling a slot honestly under faults (protocol.md, writer step 2, "Settling a slot"): while
//! no attempt at a slot may have landed, a failure is definite; once one may have, every
//! failure to settle that slot is an unknown outcome that poisons the writer (I6). Each
//! scenario runs on every store through a `FaultStore`.

use std::sync::Arc;

use wormlog_reader::LogReader;
use wormlog_store::{Fault, FaultStore, ObjectStore, Op, StoreError};
use wormlog_tests::{on_every_store, writer_config, Plant};
use wormlog_writer::{LogWriter, WriteError};

const S: &str = "settle";

async fn open(store: Arc<dyn ObjectStore>, epoch: u64, writer: &str) -> LogWriter {
    LogWriter::open(store, writer_config(S, epoch, writer))
        .await
        .unwrap()
}

async fn seqs(store: &Arc<dyn ObjectStore>) -> Vec<u64> {
    LogReader::new(Arc::clone(store), "", S)
        .unwrap()
        .read_events(0, None)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect()
}

fn expired_token() -> StoreError {
    StoreError::Permanent {
        op: "put_if_absent",
        key: "k".into(),
        message: "HTTP 403 ExpiredToken: The provided token has expired. (injected)".into(),
    }
}

/// Asserts `err` is an unknown outcome at `slot`, that the writer is poisoned, and that a
/// reopened writer counts the landed segment exactly once.
async fn assert_unknown_and_counted_once(
    store: &Arc<dyn ObjectStore>,
    f: &FaultStore,
    w: &LogWriter,
    err: WriteError,
    slot: u64,
) {
    assert!(
        matches!(err, WriteError::OutcomeUnknown { slot: s, .. } if s == slot),
        "a segment that may have landed is not a definite failure: {err:?}"
    );
    assert!(!err.is_definite());
    f.clear_faults();
    assert!(
        matches!(w.append("t", "2").await, Err(WriteError::Poisoned { .. })),
        "the writer refuses further appends until reopened"
    );
    assert_eq!(
        seqs(store).await,
        [0],
        "the landed event is in the log once"
    );
    let w2 = open(Arc::new(f.clone()), 2, "b").await;
    assert_eq!(w2.append("t", "3").await.unwrap().seq, 1);
}

/// A PUT lands and its response is lost; the retry gets 412; reading the slot then fails
/// until the read retries run out. The batch may be in the log: an unknown outcome.
async fn a_lost_response_then_an_unreadable_slot_is_an_unknown_outcome(
    store: Arc<dyn ObjectStore>,
) {
    let f = FaultStore::new(Arc::clone(&store));
    let w = open(Arc::new(f.clone()), 1, "a").await;
    let unavailable = |op| Fault::unavailable(op, "k");
    f.inject(Fault::lost_response(
        Op::PutIfAbsent,
        "/log/",
        unavailable(Op::PutIfAbsent),
        1,
    ));
    f.inject(Fault::before(
        Op::Head,
        "/log/",
        unavailable(Op::Head),
        usize::MAX,
    ));
    f.inject(Fault::before(
        Op::Get,
        "/log/",
        unavailable(Op::Get),
        usize::MAX,
    ));
    let err = w.append("t", "1").await.unwrap_err();
    assert_unknown_and_counted_once(&store, &f, &w, err, 1).await;
}

/// A PUT lands and its response is lost; the retry is refused with a non-transient 4xx
/// (expired credentials). The first attempt may have landed: an unknown outcome.
async fn a_lost_response_then_a_refused_retry_is_an_unknown_outcome(store: Arc<dyn ObjectStore>) {
    let f = FaultStore::new(Arc::clone(&store));
    let w = open(Arc::new(f.clone()), 1, "a").await;
    f.inject(Fault::lost_response(
        Op::PutIfAbsent,
        "/log/",
        Fault::unavailable(Op::PutIfAbsent, "k"),
        1,
    ));
    f.inject(Fault::before(Op::PutIfAbsent, "/log/", expired_token(), 1));
    let err = w.append("t", "1").await.unwrap_err();
    assert_unknown_and_counted_once(&store, &f, &w, err, 1).await;
}

/// A refusal before any attempt could have landed stays a definite failure, and the writer
/// stays usable (the rule does not turn every error into an unknown one).
async fn a_refused_first_attempt_is_still_definite(store: Arc<dyn ObjectStore>) {
    let f = FaultStore::new(Arc::clone(&store));
    let w = open(Arc::new(f.clone()), 1, "a").await;
    f.inject(Fault::before(Op::PutIfAbsent, "/log/", expired_token(), 1));
    let err = w.append("t", "1").await.unwrap_err();
    assert!(
        err.is_definite() && matches!(err, WriteError::Store(_)),
        "{err:?}"
    );
    assert_eq!(w.append("t", "2").await.unwrap().seq, 0);
    assert_eq!(seqs(&store).await, [0]);
}

/// The retry budget is per slot: a writer chasing through foreign segments, meeting one
/// transient failure at each slot, is not poisoned by their sum.
async fn the_retry_budget_is_per_slot_during_a_chase(store: Arc<dyn ObjectStore>) {
    let f = FaultStore::new(Arc::clone(&store));
    let w = open(Arc::new(f.clone()), 2, "new").await;
    let (inner, faults) = (Arc::clone(&store), f.clone());
    let planted = Arc::new(parking_lot::Mutex::new(std::collections::BTreeSet::new()));
    f.before_each(move |op, key| {
        let (inner, faults, planted) = (Arc::clone(&inner), faults.clone(), Arc::clone(&planted));
        let key = key.to_owned();
        async move {
            let slot: u64 = key.rsplit('/').next().unwrap().parse().unwrap_or(0);
            if op == Op::PutIfAbsent && (1..=8).contains(&slot) && planted.lock().insert(slot) {
                // A stale writer takes the slot; our first PUT at it fails before the store.
                Plant::events(0, 1, 1, "stale").at(&*inner, S, slot).await;
                faults.inject(Fault::before(
                    Op::PutIfAbsent,
                    &key,
                    Fault::unavailable(Op::PutIfAbsent, &key),
                    1,
                ));
            }
        }
    });
    let ack = w.append("t", "\"new\"").await.unwrap();
    assert_eq!(
        (ack.seq, ack.slot),
        (0, 9),
        "eight zombies skipped, one try each"
    );
}

on_every_store!(
    a_lost_response_then_an_unreadable_slot_is_an_unknown_outcome,
    a_lost_response_then_a_refused_retry_is_an_unknown_outcome,
    a_refused_first_attempt_is_still_definite,
    the_retry_budget_is_per_slot_during_a_chase,
);
