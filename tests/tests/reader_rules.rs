//! The reader's rules (protocol.md, Reader), each run on MemoryStore and FsStore: a corrupt,
//! missing, misplaced or discontinuous segment stops the scan with an error naming its slot,
//! after every event before it was delivered; nothing corrupt is ever delivered.

use std::sync::Arc;

use bytes::Bytes;
use wormlog_format::StreamKeys;
use wormlog_reader::{LogReader, ReadError, ScanItem};
use wormlog_store::{DeleteOptions, ObjectStore, PutOptions};
use wormlog_tests::{on_every_store, writer_config, Plant};
use wormlog_writer::LogWriter;

const S: &str = "audit";

/// Opens a writer on stream `S` with test settings; panics if it cannot.
async fn open(store: Arc<dyn ObjectStore>, epoch: u64, writer: &str) -> LogWriter {
    LogWriter::open(store, writer_config(S, epoch, writer))
        .await
        .unwrap()
}

/// A log of an epoch-start (slot 0) and `n` one-event segments (slots 1..=n).
async fn log_of(store: &Arc<dyn ObjectStore>, n: u64) -> LogWriter {
    let w = open(Arc::clone(store), 1, "w").await;
    for i in 0..n {
        w.append("t", &i.to_string()).await.unwrap();
    }
    w
}

/// Delivers events until the scan ends; returns their seqs and how it ended.
async fn drain(store: &Arc<dyn ObjectStore>, from: u64) -> (Vec<u64>, Result<(), ReadError>) {
    let reader = LogReader::new(Arc::clone(store), "", S)
        .unwrap()
        .with_prefetch(4);
    let mut scan = reader.scan(from).await.unwrap();
    let mut seqs = Vec::new();
    loop {
        match scan.next().await {
            Ok(Some(ScanItem::Event(e))) => seqs.push(e.seq),
            Ok(Some(_)) => {}
            Ok(None) => return (seqs, Ok(())),
            Err(e) => return (seqs, Err(e)),
        }
    }
}

/// Replaces the bytes of `slot` (delete, then create) to simulate tampering behind wormlog.
async fn tamper(store: &Arc<dyn ObjectStore>, slot: u64, f: impl FnOnce(&mut Vec<u8>)) {
    let key = StreamKeys::new("", S).unwrap().segment(slot);
    let got = store.get(&key).await.unwrap();
    let mut bytes = got.body.to_vec();
    f(&mut bytes);
    store.delete(&key, &DeleteOptions::default()).await.unwrap();
    let opts = PutOptions {
        metadata: got.meta.metadata,
        ..Default::default()
    };
    store
        .put_if_absent(&key, Bytes::from(bytes), &opts)
        .await
        .unwrap();
}

async fn a_flipped_byte_is_reported_as_corruption_naming_the_slot(store: Arc<dyn ObjectStore>) {
    log_of(&store, 4).await;
    tamper(&store, 3, |b| {
        let i = b.len() - 4;
        b[i] ^= 0x20;
    })
    .await;
    let (seqs, end) = drain(&store, 0).await;
    assert_eq!(
        seqs,
        [0, 1],
        "events before the corrupt segment are delivered, none after"
    );
    let err = end.unwrap_err();
    assert!(matches!(err, ReadError::Corrupt { slot: 3, .. }), "{err:?}");
    assert!(
        err.to_string().contains("slot 3") && err.to_string().contains("CRC"),
        "{err}"
    );
}

async fn a_truncated_segment_is_corruption(store: Arc<dyn ObjectStore>) {
    log_of(&store, 2).await;
    tamper(&store, 2, |b| b.truncate(b.len() / 2)).await;
    let (seqs, end) = drain(&store, 0).await;
    assert_eq!(seqs, [0]);
    assert!(
        matches!(end, Err(ReadError::Corrupt { slot: 2, .. })),
        "{end:?}"
    );
}

async fn a_deleted_segment_is_a_gap(store: Arc<dyn ObjectStore>) {
    log_of(&store, 5).await;
    let key = StreamKeys::new("", S).unwrap().segment(2);
    store.delete(&key, &DeleteOptions::default()).await.unwrap();
    let (seqs, end) = drain(&store, 0).await;
    assert_eq!(seqs, [0], "I2: nothing past a gap is delivered");
    assert!(
        matches!(
            end,
            Err(ReadError::Gap {
                first: 2,
                last: 2,
                next: 3,
                ..
            })
        ),
        "{end:?}"
    );
}

async fn a_segment_copied_to_another_slot_is_corruption(store: Arc<dyn ObjectStore>) {
    log_of(&store, 2).await;
    let keys = StreamKeys::new("", S).unwrap();
    let copy = store.get(&keys.segment(2)).await.unwrap();
    store
        .put_if_absent(&keys.segment(3), copy.body, &PutOptions::default())
        .await
        .unwrap();
    let (seqs, end) = drain(&store, 0).await;
    assert_eq!(seqs, [0, 1]);
    let err = end.unwrap_err();
    assert!(matches!(err, ReadError::Corrupt { slot: 3, .. }), "{err:?}");
}

async fn a_seq_discontinuity_is_reported(store: Arc<dyn ObjectStore>) {
    log_of(&store, 2).await;
    Plant::events(7, 1, 1, "w").at(&*store, S, 3).await;
    let (seqs, end) = drain(&store, 0).await;
    assert_eq!(seqs, [0, 1]);
    assert!(
        matches!(
            end,
            Err(ReadError::Discontinuity {
                slot: 3,
                expected: 2,
                found: 7,
                ..
            })
        ),
        "{end:?}"
    );
}

async fn zombies_are_reported_and_never_delivered(store: Arc<dyn ObjectStore>) {
    let w = open(Arc::clone(&store), 3, "leader").await;
    w.append("t", "0").await.unwrap();
    Plant::events(1, 4, 2, "stale").at(&*store, S, 2).await;
    w.append("t", "1").await.unwrap();
    let reader = LogReader::new(Arc::clone(&store), "", S).unwrap();
    let mut scan = reader.scan(0).await.unwrap();
    let mut zombies = Vec::new();
    let mut seqs = Vec::new();
    while let Some(item) = scan.next().await.unwrap() {
        match item {
            ScanItem::Zombie {
                slot,
                header,
                max_epoch,
            } => zombies.push((slot, header.epoch, max_epoch)),
            ScanItem::Event(e) => {
                assert_eq!(
                    e.meta.fencing_token.writer, "leader",
                    "no zombie event delivered"
                );
                seqs.push(e.seq);
            }
            ScanItem::Control { .. }
            | ScanItem::Purged { .. }
            | ScanItem::Void { .. }
            | ScanItem::Leaves { .. }
            | ScanItem::Orphan { .. } => {}
        }
    }
    assert_eq!(zombies, [(2, 2, 3)]);
    assert_eq!(seqs, [0, 1]);
}

async fn scan_from_a_seq_skips_earlier_events(store: Arc<dyn ObjectStore>) {
    let w = log_of(&store, 10).await;
    drop(w);
    let (seqs, end) = drain(&store, 6).await;
    end.unwrap();
    assert_eq!(seqs, [6, 7, 8, 9]);
    let reader = LogReader::new(Arc::clone(&store), "", S).unwrap();
    let some = reader.read_events(2, Some(4)).await.unwrap();
    assert_eq!(some.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 3, 4]);
}

/// I8: replay is deterministic: readers with different prefetch see the same events.
async fn i8_replays_with_any_prefetch_agree(store: Arc<dyn ObjectStore>) {
    let w = open(Arc::clone(&store), 1, "w").await;
    for i in 0..60u64 {
        w.append(&format!("t{}", i % 3), &format!("{{\"i\":{i}}}"))
            .await
            .unwrap();
    }
    let mut replays = Vec::new();
    for prefetch in [1, 3, 32] {
        let reader = LogReader::new(Arc::clone(&store), "", S)
            .unwrap()
            .with_prefetch(prefetch);
        replays.push(reader.read_events(0, None).await.unwrap());
    }
    assert_eq!(replays[0].len(), 60);
    assert!(replays.iter().all(|r| r == &replays[0]));
}

async fn an_empty_stream_has_no_events(store: Arc<dyn ObjectStore>) {
    let (seqs, end) = drain(&store, 0).await;
    end.unwrap();
    assert!(seqs.is_empty());
}

/// A pipelined writer's history: slots 1 and 2 valid (seqs 0, 1); slot 3 an orphan (its
/// batch names a predecessor that never became valid, seqs 2..=3 speculative); slot 4 the
/// same writer's batch sent again, naming slot 2. Returns the ids readers must deliver.
async fn a_log_with_an_orphan(store: &Arc<dyn ObjectStore>) -> Vec<uuid::Uuid> {
    let w = log_of(store, 2).await;
    drop(w);
    let lost = Some(uuid::Uuid::from_u128(77));
    Plant::events(2, 2, 1, "w")
        .naming(lost)
        .at(&**store, S, 3)
        .await;
    // Named from the valid slot 2 (planted without `naming`: the highest segment below that
    // is not a void would be the orphan).
    let keys = StreamKeys::new("", S).unwrap();
    let two = store.get(&keys.segment(2)).await.unwrap();
    let two = wormlog_format::decode_header(&two.body).unwrap().write_id;
    Plant::events(2, 1, 1, "w")
        .sent_again_naming(Some(two))
        .at(&**store, S, 4)
        .await;
    let mut ids = Vec::new();
    for slot in [1u64, 2, 4] {
        let got = store.get(&keys.segment(slot)).await.unwrap();
        let seg = wormlog_format::decode_segment(&got.body).unwrap();
        ids.extend(seg.events.iter().map(|e| e.id));
    }
    ids
}

/// Version 3's rule: a segment whose `prev` is not the last valid segment is an orphan. The
/// scan skips it and goes on, a seek never starts on it, verify lists it (not a violation).
async fn orphans_are_skipped_by_every_reader_and_listed_by_verify(store: Arc<dyn ObjectStore>) {
    let want = a_log_with_an_orphan(&store).await;
    let reader = LogReader::new(Arc::clone(&store), "", S).unwrap();
    let mut scan = reader.scan(0).await.unwrap();
    let (mut ids, mut orphans) = (Vec::new(), Vec::new());
    while let Some(item) = scan.next().await.unwrap() {
        match item {
            ScanItem::Event(e) => ids.push(e.id),
            ScanItem::Orphan { slot, .. } => orphans.push(slot),
            _ => {}
        }
    }
    assert_eq!(ids, want, "the orphan's events are never delivered");
    assert_eq!(orphans, [3]);
    let from_2 = reader.read_events(2, None).await.unwrap();
    assert_eq!(
        from_2.iter().map(|e| (e.seq, e.id)).collect::<Vec<_>>(),
        [(2, want[2])],
        "a seek to seq 2 starts at slot 4, not on the orphan claiming seqs 2..=3"
    );
    let report = wormlog_reader::verify(Arc::clone(&store), "", S, false)
        .await
        .unwrap();
    assert!(report.is_clean(), "{:?}", report.findings);
    assert_eq!(report.events, 3);
    assert_eq!(
        report.orphans.iter().map(|o| o.slot).collect::<Vec<_>>(),
        [3]
    );
}

/// The planted bug (orphans taken for valid) delivers the orphan's events and loses the
/// batch sent again: the check above catches it.
async fn planted_bug_delivering_orphans_is_caught(store: Arc<dyn ObjectStore>) {
    let want = a_log_with_an_orphan(&store).await;
    let reader = LogReader::new(Arc::clone(&store), "", S)
        .unwrap()
        .with_planted_bug(wormlog_reader::ReaderBug::DeliverOrphans);
    let got = reader.read_events(0, None).await;
    let ids: Option<Vec<uuid::Uuid>> = got.ok().map(|es| es.iter().map(|e| e.id).collect());
    assert_ne!(ids.as_ref(), Some(&want), "with the bug the replay differs");
}

on_every_store!(
    orphans_are_skipped_by_every_reader_and_listed_by_verify,
    planted_bug_delivering_orphans_is_caught,
    a_flipped_byte_is_reported_as_corruption_naming_the_slot,
    a_truncated_segment_is_corruption,
    a_deleted_segment_is_a_gap,
    a_segment_copied_to_another_slot_is_corruption,
    a_seq_discontinuity_is_reported,
    zombies_are_reported_and_never_delivered,
    scan_from_a_seq_skips_earlier_events,
    i8_replays_with_any_prefetch_agree,
    an_empty_stream_has_no_events,
);
