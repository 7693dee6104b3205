//! Replays that must agree with and without snapshots (I8) in the two cases that broke it:
//! writer clocks that are not monotone across leaders (a time target), and a purge made after
//! a snapshot was taken (the snapshot still holds the erased events).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use wormlog_format::{decode_segment, Event, PurgeRecord, PurgedSlot, StreamKeys};
use wormlog_reader::{Replayed, Replayer, State, Target};
use wormlog_store::{
    Clock, DeleteOptions, ManualClock, MemoryStore, ObjectStore, PutOptions, Timestamp,
};
use wormlog_tests::{on_every_store, one_event_segments, writer_config};
use wormlog_writer::LogWriter;

const S: &str = "edges";

/// The data of every event applied, in order.
#[derive(Default, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Seen(Vec<String>);

impl State for Seen {
    fn apply(&mut self, e: &Event) {
        self.0.push(e.json().unwrap_or_default().to_owned());
    }
}

async fn replay(r: &Replayer, target: Target, snapshots: bool) -> Replayed<Seen> {
    r.replay(target, snapshots).await.unwrap()
}

/// Leader A's clock is ahead of leader B's: A writes at T and T+30 s, then B writes at T+20 s.
/// To T+25 s, a replay from slot 0 stops at A's second event; a snapshot taken after B's
/// event (last time T+20 s) must not be used for that target, or the states differ.
#[tokio::test]
async fn a_time_target_agrees_with_and_without_snapshots_when_clocks_go_back() {
    let store: Arc<dyn ObjectStore> = Arc::new(MemoryStore::new());
    let t = Timestamp(1_800_000_000_000);
    let clock_a = ManualClock::new(t);
    let mut cfg = writer_config(S, 1, "a");
    cfg.clock = Arc::new(clock_a.clone()) as Arc<dyn Clock>;
    let a = LogWriter::open(Arc::clone(&store), cfg).await.unwrap();
    a.append("t", "\"a at T\"").await.unwrap();
    clock_a.advance(Duration::from_secs(30));
    a.append("t", "\"a at T+30\"").await.unwrap();
    a.close().await;
    let mut cfg = writer_config(S, 2, "b");
    cfg.clock = Arc::new(ManualClock::new(t.plus(Duration::from_secs(20)))) as Arc<dyn Clock>;
    let b = LogWriter::open(Arc::clone(&store), cfg).await.unwrap();
    b.append("t", "\"b at T+20\"").await.unwrap();

    let r = Replayer::new(Arc::clone(&store), "", S).unwrap();
    let all = replay(&r, Target::End, false).await;
    r.save_snapshot(&all).await.unwrap().expect("a snapshot");
    let target = Target::Time(t.plus(Duration::from_secs(25)));
    let without = replay(&r, target, false).await;
    assert_eq!(without.state.0, ["\"a at T\""]);
    let with = replay(&r, target, true).await;
    assert_eq!(with.state, without.state, "I8 for a time target");
}

/// What `wormlog purge` does to the log: the record, its index key, then the deletes.
async fn purge(store: &Arc<dyn ObjectStore>, w: &LogWriter, slots: &[u64]) {
    let keys = StreamKeys::new("", S).unwrap();
    let mut purged = Vec::new();
    for &slot in slots {
        let got = store.get(&keys.segment(slot)).await.unwrap();
        purged.push(PurgedSlot::of(&decode_segment(&got.body).unwrap().header));
    }
    let record = PurgeRecord {
        operator: "ops".into(),
        reason: "erasure".into(),
        purged,
        attachments: Vec::new(),
    };
    let record_slot = w.append_purge(record).await.unwrap();
    store
        .put_if_absent(
            &keys.purge_index(record_slot),
            Bytes::from_static(b"{}"),
            &PutOptions::default(),
        )
        .await
        .unwrap();
    for &slot in slots {
        store
            .delete(&keys.segment(slot), &DeleteOptions::default())
            .await
            .unwrap();
    }
}

/// A snapshot taken before a purge holds the erased events. Even where nobody could delete it
/// (retention), a replay never starts from it; a snapshot taken after the purge is used.
async fn a_snapshot_that_predates_a_purge_is_never_used(store: Arc<dyn ObjectStore>) {
    let w = one_event_segments(&store, S, 4).await; // seqs 0..=3 at slots 1..=4
    let r = Replayer::new(Arc::clone(&store), "", S).unwrap();
    let before = replay(&r, Target::End, false).await;
    r.save_snapshot(&before).await.unwrap().expect("a snapshot");
    purge(&store, &w, &[2, 3]).await; // erases seqs 1 and 2
    let without = replay(&r, Target::End, false).await;
    assert_eq!(without.state.0, ["0", "3"]);
    let with = replay(&r, Target::End, true).await;
    assert_eq!(with.state, without.state, "the erased events came back");
    assert_eq!(with.from_snapshot, None);
    w.append("t", "4").await.unwrap();
    let after = replay(&r, Target::End, false).await;
    r.save_snapshot(&after)
        .await
        .unwrap()
        .expect("a snapshot after the purge");
    let with = replay(&r, Target::End, true).await;
    assert_eq!(with.from_snapshot, Some(4), "the new snapshot is used");
    assert_eq!(with.state.0, ["0", "3", "4"]);
}

on_every_store!(a_snapshot_that_predates_a_purge_is_never_used);

/// `discard_snapshots_covering` deletes the snapshots that hold purged events, keeps those
/// that cover only earlier seqs, and reports one that retention keeps.
#[tokio::test]
async fn a_purge_discards_the_snapshots_that_hold_its_events() {
    let store: Arc<dyn ObjectStore> = Arc::new(MemoryStore::new());
    let w = one_event_segments(&store, S, 4).await;
    let r = Replayer::new(Arc::clone(&store), "", S).unwrap();
    let early: Replayed<Seen> = r.replay(Target::Seq(0), false).await.unwrap();
    let early_key = r.save_snapshot(&early).await.unwrap().unwrap();
    let late: Replayed<Seen> = r.replay(Target::End, false).await.unwrap();
    let late_key = r.save_snapshot(&late).await.unwrap().unwrap();
    let keys = StreamKeys::new("", S).unwrap();
    let got = store.get(&keys.segment(2)).await.unwrap();
    let record = PurgeRecord {
        operator: "ops".into(),
        reason: "erasure".into(),
        purged: vec![PurgedSlot::of(&decode_segment(&got.body).unwrap().header)],
        attachments: Vec::new(),
    };
    purge(&store, &w, &[2]).await;
    let discarded = r.discard_snapshots_covering(&record).await.unwrap();
    assert_eq!(
        discarded,
        [wormlog_reader::DiscardedSnapshot {
            key: late_key.clone(),
            kept: None
        }]
    );
    assert!(store.head(&late_key).await.is_err(), "deleted");
    assert!(store.head(&early_key).await.is_ok(), "seq 0 is not purged");
}
