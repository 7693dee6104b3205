//! Replaying into application state, with and without snapshots (I8).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use wormlog_format::{Event, StreamKeys};
use wormlog_reader::{Replayer, State, Target};
use wormlog_store::{ManualClock, MemoryStore, ObjectStore, PutOptions, Timestamp};
use wormlog_tests::{on_every_store, writer_config};
use wormlog_writer::LogWriter;

const S: &str = "orders";

/// A small state machine: a running total, a count, and an order-sensitive fingerprint.
#[derive(Default, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Totals {
    count: u64,
    sum: i64,
    fingerprint: u64,
}

impl State for Totals {
    fn apply(&mut self, e: &Event) {
        let n: i64 = serde_json::from_str(e.json().unwrap_or_default()).unwrap_or(0);
        self.count += 1;
        self.sum += n;
        self.fingerprint = self
            .fingerprint
            .wrapping_mul(31)
            .wrapping_add(e.id.as_u128() as u64 ^ e.seq);
    }
}

async fn snapshots_are_stored_once_and_loaded_automatically(store: Arc<dyn ObjectStore>) {
    let w = LogWriter::open(Arc::clone(&store), writer_config(S, 1, "w"))
        .await
        .unwrap();
    for i in 0..10 {
        w.append("t", &i.to_string()).await.unwrap();
    }
    let replayer = Replayer::new(Arc::clone(&store), "", S).unwrap();
    let at6: wormlog_reader::Replayed<Totals> =
        replayer.replay(Target::Seq(6), true).await.unwrap();
    assert_eq!((at6.state.count, at6.state.sum, at6.next_seq), (7, 21, 7));
    let key = replayer
        .save_snapshot(&at6)
        .await
        .unwrap()
        .expect("a new snapshot");
    assert_eq!(
        key,
        StreamKeys::new("", S).unwrap().snapshots_prefix() + "00000000000000000006"
    );
    assert_eq!(
        replayer.save_snapshot(&at6).await.unwrap(),
        None,
        "create-only: the same seq is not written twice"
    );
    let full: wormlog_reader::Replayed<Totals> = replayer.replay(Target::End, true).await.unwrap();
    assert_eq!(
        full.from_snapshot,
        Some(6),
        "the newest snapshot not beyond the target is used"
    );
    let plain: wormlog_reader::Replayed<Totals> =
        replayer.replay(Target::End, false).await.unwrap();
    assert_eq!(full.state, plain.state);
    assert_eq!((full.next_seq, full.max_epoch), (10, 1));
    let early: wormlog_reader::Replayed<Totals> =
        replayer.replay(Target::Seq(3), true).await.unwrap();
    assert_eq!(
        (early.from_snapshot, early.state.count),
        (None, 4),
        "a later snapshot is not used for an earlier target"
    );
}

on_every_store!(snapshots_are_stored_once_and_loaded_automatically);

#[tokio::test]
async fn replay_to_a_time_applies_the_events_written_up_to_it() {
    let store: Arc<dyn ObjectStore> = Arc::new(MemoryStore::new());
    let clock = ManualClock::new(Timestamp(1_800_000_000_000));
    let mut cfg = writer_config(S, 1, "w");
    cfg.clock = Arc::new(clock.clone());
    let w = LogWriter::open(Arc::clone(&store), cfg).await.unwrap();
    for i in 0..5 {
        w.append("t", &i.to_string()).await.unwrap();
        clock.advance(Duration::from_secs(60));
    }
    let replayer = Replayer::new(Arc::clone(&store), "", S).unwrap();
    let cut = Timestamp(1_800_000_000_000).plus(Duration::from_secs(150));
    let r: wormlog_reader::Replayed<Totals> =
        replayer.replay(Target::Time(cut), true).await.unwrap();
    assert_eq!(
        (r.state.count, r.state.sum),
        (3, 3),
        "events at +0, +60 and +120 s"
    );
    replayer.save_snapshot(&r).await.unwrap();
    let later = Timestamp(1_800_000_000_000).plus(Duration::from_secs(200));
    let r: wormlog_reader::Replayed<Totals> =
        replayer.replay(Target::Time(later), true).await.unwrap();
    assert_eq!((r.from_snapshot, r.state.count), (Some(2), 4));
    let r: wormlog_reader::Replayed<Totals> = replayer
        .replay(Target::Time(Timestamp(0)), true)
        .await
        .unwrap();
    assert_eq!(
        (r.from_snapshot, r.state.count),
        (None, 0),
        "a snapshot past the time is not used"
    );
}

#[tokio::test]
async fn an_unreadable_snapshot_is_skipped_not_trusted() {
    let store: Arc<dyn ObjectStore> = Arc::new(MemoryStore::new());
    let w = LogWriter::open(Arc::clone(&store), writer_config(S, 1, "w"))
        .await
        .unwrap();
    for i in 0..4 {
        w.append("t", &i.to_string()).await.unwrap();
    }
    let bad = StreamKeys::new("", S).unwrap().snapshots_prefix() + "00000000000000000002";
    store
        .put_if_absent(
            &bad,
            Bytes::from_static(b"{not json"),
            &PutOptions::default(),
        )
        .await
        .unwrap();
    let replayer = Replayer::new(Arc::clone(&store), "", S).unwrap();
    let r: wormlog_reader::Replayed<Totals> = replayer.replay(Target::End, true).await.unwrap();
    assert_eq!((r.from_snapshot, r.state.count, r.state.sum), (None, 4, 6));
}

/// One step of a random history: writer `w` appends these numbers, then maybe a snapshot is
/// taken of the log so far.
#[derive(Clone, Debug)]
struct Step {
    writer: usize,
    numbers: Vec<i8>,
    snapshot: bool,
}

fn steps() -> impl Strategy<Value = (Vec<Step>, u64)> {
    (
        prop::collection::vec(
            (
                0usize..3,
                prop::collection::vec(any::<i8>(), 1..4),
                any::<bool>(),
            )
                .prop_map(|(writer, numbers, snapshot)| Step {
                    writer,
                    numbers,
                    snapshot,
                }),
            1..15,
        ),
        0u64..60,
    )
}

async fn equivalence(steps: Vec<Step>, target_seq: u64) {
    let store: Arc<dyn ObjectStore> = Arc::new(MemoryStore::new());
    let replayer = Replayer::new(Arc::clone(&store), "", S).unwrap();
    let mut writers: Vec<Option<LogWriter>> = (0..3).map(|_| None).collect();
    for step in steps {
        if writers[step.writer].is_none() {
            match LogWriter::open(
                Arc::clone(&store),
                writer_config(S, step.writer as u64 + 1, &format!("w{}", step.writer)),
            )
            .await
            {
                Ok(w) => writers[step.writer] = Some(w),
                Err(_) => continue,
            }
        }
        let w = writers[step.writer].as_ref().unwrap();
        for n in step.numbers {
            let _ = w.append("t", &n.to_string()).await;
        }
        if step.snapshot {
            let r: wormlog_reader::Replayed<Totals> =
                replayer.replay(Target::End, true).await.unwrap();
            replayer.save_snapshot(&r).await.unwrap();
        }
    }
    for target in [Target::End, Target::Seq(target_seq)] {
        let with: wormlog_reader::Replayed<Totals> = replayer.replay(target, true).await.unwrap();
        let without: wormlog_reader::Replayed<Totals> =
            replayer.replay(target, false).await.unwrap();
        assert_eq!(
            with.state, without.state,
            "I8: the same state with and without snapshots ({target:?})"
        );
        assert_eq!(with.next_seq, without.next_seq);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn i8_replay_with_snapshots_equals_replay_without((steps, target) in steps()) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(equivalence(steps, target));
    }
}
