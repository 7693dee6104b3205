//! Purges racing writers (protocol.md, "Documented purges" and "Settling a slot"). A purged
//! slot lies below the tail; a writer must never refill it, and readers must never deliver
//! what was written there again.
//!
//! A: a writer's PUT gets 412, and the segment is purged before its read: the slot is empty
//!    below the tail. Before the fix the writer refilled it, readers stopped with a
//!    discontinuity at the purger's epoch-start, and the purger's acknowledged events were
//!    unreadable (I3). Now the writer stops (`Vanished`) and the log stays whole.
//! B: a lost response, then a purge of that very segment, then the writer's retry lands in
//!    the emptied slot. Before the fix the erased event was back in every scan and `verify`
//!    saw nothing. Now readers pass the slot as purged and `verify` reports it.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use wormlog_format::{decode_segment, PurgeRecord, PurgedSlot, StreamKeys};
use wormlog_reader::{verify, Finding, LogReader};
use wormlog_store::{DeleteOptions, Fault, FaultStore, MemoryStore, ObjectStore, Op, PutOptions};
use wormlog_tests::writer_config;
use wormlog_writer::{LogWriter, WriteError};

const S: &str = "refill";

fn keys() -> StreamKeys {
    StreamKeys::new("", S).unwrap()
}

/// What `wormlog purge` does, by an operator writer `o` on the raw store.
async fn purge(store: &Arc<dyn ObjectStore>, o: &LogWriter, slot: u64) -> u64 {
    let got = store.get(&keys().segment(slot)).await.unwrap();
    let record = PurgeRecord {
        operator: "ops".into(),
        reason: "erasure".into(),
        purged: vec![PurgedSlot::of(&decode_segment(&got.body).unwrap().header)],
        attachments: Vec::new(),
    };
    let record_slot = o.append_purge(record).await.unwrap();
    store
        .put_if_absent(
            &keys().purge_index(record_slot),
            Bytes::from_static(b"{}"),
            &PutOptions::default(),
        )
        .await
        .unwrap();
    store
        .delete(
            &keys().segment(slot),
            &DeleteOptions {
                bypass_governance: true,
            },
        )
        .await
        .unwrap();
    record_slot
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_never_refills_a_slot_purged_between_its_412_and_its_read() {
    let raw: Arc<dyn ObjectStore> = Arc::new(MemoryStore::new());
    let f = FaultStore::new(Arc::clone(&raw));
    // X: a stale leader at epoch 1 (slot 0 = its epoch-start).
    let x = Arc::new(
        LogWriter::open(Arc::clone(&raw), writer_config(S, 1, "x"))
            .await
            .unwrap(),
    );
    let slot1 = keys().segment(1);
    let stage = Arc::new(AtomicU8::new(0));
    let operator: Arc<tokio::sync::Mutex<Option<LogWriter>>> = Arc::default();
    {
        let (raw, x, stage, operator, slot1) = (
            Arc::clone(&raw),
            Arc::clone(&x),
            Arc::clone(&stage),
            Arc::clone(&operator),
            slot1.clone(),
        );
        f.before_each(move |op, key| {
            let (raw, x, stage, operator, slot1) = (
                Arc::clone(&raw),
                Arc::clone(&x),
                Arc::clone(&stage),
                Arc::clone(&operator),
                slot1.clone(),
            );
            let key = key.to_owned();
            async move {
                if key != slot1 {
                    return;
                }
                // W's epoch-start PUT at slot 1: X commits 3 events there first (W gets 412).
                if op == Op::PutIfAbsent && stage.load(Ordering::SeqCst) == 0 {
                    stage.store(1, Ordering::SeqCst);
                    let events = (0..3)
                        .map(|i| x.event("t", &i.to_string()).unwrap())
                        .collect();
                    let acked = x.append_expected(events, 0).await.unwrap();
                    assert_eq!(acked[0].slot, 1);
                }
                // W's read after the 412: an operator at epoch 4 purges X's fresh segment.
                if op == Op::Head && stage.load(Ordering::SeqCst) == 1 {
                    stage.store(2, Ordering::SeqCst);
                    let o = LogWriter::open(Arc::clone(&raw), writer_config(S, 4, "ops"))
                        .await
                        .unwrap();
                    let record_slot = purge(&raw, &o, 1).await;
                    assert_eq!(record_slot, 3, "slot 2 is the operator's epoch-start");
                    *operator.lock().await = Some(o);
                }
            }
        });
    }
    // W: the new leader at epoch 3, opening while X and the operator act. (Without fencing
    // ahead, so that the chase of writer step 2 meets the purged slot; the fence's own read
    // of the slot it lost stops at a vanished slot the same way.)
    let mut wc = writer_config(S, 3, "w");
    wc.fence_ahead = 0;
    let w = LogWriter::open(Arc::new(f.clone()), wc).await;
    assert_eq!(
        stage.load(Ordering::SeqCst),
        2,
        "both interleavings happened"
    );
    let err = w.expect_err("W must not write its epoch-start into the purged slot");
    assert!(
        matches!(err, WriteError::Vanished { slot: 1, .. }) && err.is_definite(),
        "{err:?}"
    );
    assert!(
        raw.head(&keys().segment(1)).await.is_err(),
        "slot 1 stays purged"
    );

    // The operator's writer keeps appending, and readers find its event.
    let o = operator.lock().await.take().unwrap();
    let acked = o.append("t", "\"after\"").await.unwrap();
    assert_eq!(acked.seq, 3);
    let reader = LogReader::new(Arc::clone(&raw), "", S).unwrap();
    let read = reader.read_events(0, None).await.unwrap();
    assert_eq!(
        read.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [3],
        "I3: the acknowledged event is found"
    );
    let report = verify(Arc::clone(&raw), "", S, false).await.unwrap();
    assert!(report.is_clean(), "{:?}", report.findings);
    // A writer reopened later goes on from the tail, above the purge.
    let w = LogWriter::open(Arc::clone(&raw), writer_config(S, 5, "w2"))
        .await
        .unwrap();
    assert_eq!(w.append("t", "1").await.unwrap().seq, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_event_written_again_by_a_late_retry_is_never_delivered() {
    let raw: Arc<dyn ObjectStore> = Arc::new(MemoryStore::new());
    let f = FaultStore::new(Arc::clone(&raw));
    let x = LogWriter::open(Arc::new(f.clone()), writer_config(S, 1, "x"))
        .await
        .unwrap();
    let slot1 = keys().segment(1);
    // X's first PUT of slot 1 lands and its answer is lost.
    f.inject(Fault::lost_response(
        Op::PutIfAbsent,
        &slot1,
        Fault::unavailable(Op::PutIfAbsent, &slot1),
        1,
    ));
    let puts = Arc::new(AtomicU8::new(0));
    {
        let (raw, puts, slot1) = (Arc::clone(&raw), Arc::clone(&puts), slot1.clone());
        f.before_each(move |op, key| {
            let (raw, puts, slot1) = (Arc::clone(&raw), Arc::clone(&puts), slot1.clone());
            let key = key.to_owned();
            async move {
                if op != Op::PutIfAbsent || key != slot1 {
                    return;
                }
                // Before X's retry: an operator (epoch 2) purges the segment X just landed.
                if puts.fetch_add(1, Ordering::SeqCst) == 1 {
                    let o = LogWriter::open(Arc::clone(&raw), writer_config(S, 2, "ops"))
                        .await
                        .unwrap();
                    assert_eq!(purge(&raw, &o, 1).await, 3);
                }
            }
        });
    }
    let acked = x.append("secret", "\"erase me\"").await;
    assert_eq!(puts.load(Ordering::SeqCst), 2, "one lost answer, one retry");
    let acked = acked.expect("the retry lands in the purged slot and X acknowledges it");
    assert_eq!((acked.slot, acked.seq), (1, 0));

    let reader = LogReader::new(Arc::clone(&raw), "", S).unwrap();
    let events = reader.read_events(0, None).await.unwrap();
    assert!(
        events.is_empty(),
        "the erased event stays erased: {:?}",
        events
            .iter()
            .map(|e| e.event_type.as_str())
            .collect::<Vec<_>>()
    );
    assert!(
        reader.read_events(1, None).await.unwrap().is_empty(),
        "a seek agrees"
    );
    let report = verify(Arc::clone(&raw), "", S, false).await.unwrap();
    assert_eq!(
        report.findings,
        [Finding::PurgedSlotPresent {
            slot: 1,
            record_slot: 3
        }]
    );
}

/// A writer chasing foreign segments finds the next slot free, but a purge record names it:
/// it is a hole below the tail, and the writer stops rather than fill it.
#[tokio::test]
async fn a_chasing_writer_never_fills_a_purged_hole() {
    let raw: Arc<dyn ObjectStore> = Arc::new(MemoryStore::new());
    let w = LogWriter::open(Arc::clone(&raw), writer_config(S, 2, "w"))
        .await
        .unwrap();
    wormlog_tests::Plant::events(0, 1, 1, "zombie")
        .at(&*raw, S, 1)
        .await;
    wormlog_tests::Plant::events(0, 1, 2, "w2")
        .at(&*raw, S, 2)
        .await;
    let o = LogWriter::open(Arc::clone(&raw), writer_config(S, 3, "ops"))
        .await
        .unwrap();
    assert_eq!(
        purge(&raw, &o, 2).await,
        4,
        "slot 3 is the operator's epoch-start"
    );
    let err = w.append("t", "1").await.unwrap_err();
    assert!(
        matches!(err, WriteError::Vanished { slot: 2, .. }),
        "{err:?}"
    );
    assert!(
        raw.head(&keys().segment(2)).await.is_err(),
        "the hole stays a hole"
    );
    assert!(matches!(
        w.append("t", "2").await,
        Err(WriteError::Vanished { .. })
    ));
}
