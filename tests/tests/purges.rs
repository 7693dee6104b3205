//! Documented purges: readers and `verify` pass slots deleted under a purge record, and an
//! undocumented deletion, a forged index key or an unindexed record is still caught.
//! Runs on every store.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use wormlog_format::{decode_segment, PurgeRecord, PurgedSlot, StreamKeys};
use wormlog_reader::{verify, Finding, FollowPolicy, LogReader, ReadError, ScanItem};
use wormlog_store::{DeleteOptions, ObjectStore, PutOptions};
use wormlog_tests::on_every_store;
use wormlog_writer::LogWriter;

const S: &str = "purged";

fn keys() -> StreamKeys {
    StreamKeys::new("", S).unwrap()
}

/// Slot 0 epoch-start, slots 1..=n one event each (seqs 0..n), at epoch 2.
async fn log_of(store: &Arc<dyn ObjectStore>, n: u64) -> LogWriter {
    wormlog_tests::one_event_segments(store, S, n).await
}

async fn record_of(store: &Arc<dyn ObjectStore>, slots: &[u64]) -> PurgeRecord {
    let mut purged = Vec::new();
    for &slot in slots {
        let got = store.get(&keys().segment(slot)).await.unwrap();
        purged.push(PurgedSlot::of_segment(&got.body).unwrap());
    }
    PurgeRecord {
        operator: "ops".into(),
        reason: "erasure".into(),
        purged,
        attachments: Vec::new(),
    }
}

/// What `wormlog purge` does: the record, then the index key, then the deletes.
async fn purge(store: &Arc<dyn ObjectStore>, w: &LogWriter, slots: &[u64]) -> u64 {
    let record_slot = w.append_purge(record_of(store, slots).await).await.unwrap();
    store
        .put_if_absent(
            &keys().purge_index(record_slot),
            Bytes::from_static(b"{}"),
            &PutOptions::default(),
        )
        .await
        .unwrap();
    delete(store, slots).await;
    record_slot
}

async fn delete(store: &Arc<dyn ObjectStore>, slots: &[u64]) {
    for &slot in slots {
        store
            .delete(&keys().segment(slot), &DeleteOptions::default())
            .await
            .unwrap();
    }
}

/// Every item of a full scan, as text.
async fn scan_all(store: &Arc<dyn ObjectStore>, from: u64) -> Result<Vec<String>, ReadError> {
    let reader = LogReader::new(Arc::clone(store), "", S).unwrap();
    let mut scan = reader.scan(from).await?;
    let mut out = Vec::new();
    while let Some(item) = scan.next().await? {
        out.push(match item {
            ScanItem::Event(e) => format!("seq{}", e.seq),
            ScanItem::Purged { slot, purge, .. } => format!("purged@{slot}by{}", purge.record_slot),
            ScanItem::Control { slot, .. } => format!("control@{slot}"),
            ScanItem::Zombie { slot, .. } => format!("zombie@{slot}"),
            ScanItem::Void { slot, .. } => format!("void@{slot}"),
            ScanItem::Orphan { slot, .. } => format!("orphan@{slot}"),
            ScanItem::Leaves { slot, .. } => format!("leaves@{slot}"),
        });
    }
    Ok(out)
}

async fn readers_and_verify_pass_a_documented_purge(store: Arc<dyn ObjectStore>) {
    let w = log_of(&store, 4).await;
    let record_slot = purge(&store, &w, &[2, 3]).await;
    assert_eq!(record_slot, 5);
    let ack = w.append("t", "\"after\"").await.unwrap();
    assert_eq!((ack.seq, ack.slot), (4, 6), "seqs continue past the purge");
    assert_eq!(
        scan_all(&store, 0).await.unwrap(),
        [
            "control@0",
            "seq0",
            "purged@2by5",
            "purged@3by5",
            "seq3",
            "control@5",
            "seq4"
        ]
    );
    // A seek that lands before the purged slots passes them too.
    assert_eq!(
        scan_all(&store, 1).await.unwrap()[..2],
        ["purged@2by5".to_owned(), "purged@3by5".to_owned()]
    );
    let r = verify(Arc::clone(&store), "", S, false).await.unwrap();
    assert!(r.is_clean(), "{:#?}", r.findings);
    let noted: Vec<(u64, u64, u64, &str)> = r
        .purges
        .iter()
        .map(|p| (p.slot, p.record_slot, p.first_seq, p.reason.as_str()))
        .collect();
    assert_eq!(noted, [(2, 5, 1, "erasure"), (3, 5, 2, "erasure")]);
}

async fn an_undocumented_deletion_is_still_a_gap(store: Arc<dyn ObjectStore>) {
    let w = log_of(&store, 4).await;
    purge(&store, &w, &[2]).await;
    delete(&store, &[3]).await;
    let scanned = scan_all(&store, 0).await;
    assert!(
        matches!(
            scanned,
            Err(ReadError::Gap {
                first: 3,
                last: 3,
                ..
            })
        ),
        "{scanned:?}"
    );
    let r = verify(Arc::clone(&store), "", S, false).await.unwrap();
    assert_eq!(r.purges.len(), 1);
    assert!(
        r.findings.contains(&Finding::Gap { first: 3, last: 3 }),
        "{:#?}",
        r.findings
    );
}

async fn a_forged_index_key_documents_nothing(store: Arc<dyn ObjectStore>) {
    let _w = log_of(&store, 3).await;
    // An index key pointing at the epoch-start record, to excuse a deletion.
    store
        .put_if_absent(
            &keys().purge_index(0),
            Bytes::from_static(b"{}"),
            &PutOptions::default(),
        )
        .await
        .unwrap();
    delete(&store, &[2]).await;
    let scanned = scan_all(&store, 0).await;
    assert!(
        matches!(scanned, Err(ReadError::Gap { first: 2, .. })),
        "{scanned:?}"
    );
    let r = verify(Arc::clone(&store), "", S, false).await.unwrap();
    assert!(r.purges.is_empty());
    assert!(
        matches!(
            &r.findings[..2],
            [
                Finding::BadPurgeIndex { record_slot: 0, .. },
                Finding::Gap { first: 2, last: 2 }
            ]
        ),
        "{:#?}",
        r.findings
    );
}

async fn a_purge_record_without_its_index_key_is_reported(store: Arc<dyn ObjectStore>) {
    let w = log_of(&store, 3).await;
    let record_slot = w.append_purge(record_of(&store, &[1]).await).await.unwrap();
    delete(&store, &[1]).await;
    assert!(matches!(
        scan_all(&store, 0).await,
        Err(ReadError::Gap { first: 1, .. })
    ));
    let r = verify(Arc::clone(&store), "", S, false).await.unwrap();
    assert!(
        r.findings
            .contains(&Finding::PurgeUnindexed { record_slot }),
        "{:#?}",
        r.findings
    );
    assert!(r.findings.contains(&Finding::Gap { first: 1, last: 1 }));
}

async fn a_follower_passes_a_purge_made_while_it_waits(store: Arc<dyn ObjectStore>) {
    let w = log_of(&store, 1).await;
    let reader = LogReader::new(Arc::clone(&store), "", S).unwrap();
    let policy = FollowPolicy {
        min_interval: Duration::from_millis(2),
        max_interval: Duration::from_millis(10),
        gap_check_every: 2,
    };
    let (mut follow, stop) = reader.follow(0, policy).await.unwrap();
    for _ in 0..2 {
        follow.next().await.unwrap().unwrap(); // control@0, seq0
    }
    // Slot 2 (seq 1) is appended and purged before the follower polls for it.
    w.append("t", "\"gone\"").await.unwrap();
    w.append("t", "\"kept\"").await.unwrap();
    purge(&store, &w, &[2]).await;
    let limit = Duration::from_secs(20);
    let item = tokio::time::timeout(limit, follow.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(matches!(item, ScanItem::Purged { slot: 2, .. }), "{item:?}");
    let item = tokio::time::timeout(limit, follow.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        matches!(item, ScanItem::Event(ref e) if e.seq == 2),
        "{item:?}"
    );
    stop.stop();
}

/// A purge record keeps a version 3 segment's `prev`, so a purged orphan is judged as the
/// orphan was: skipped. Without it, readers would take the record's copy for valid, and the
/// batch its writer sent again above it (acknowledged) would turn into an orphan.
async fn a_purged_orphan_stays_an_orphan(store: Arc<dyn ObjectStore>) {
    drop(log_of(&store, 2).await); // slots 1 and 2: seqs 0 and 1, epoch 2
    let two = store.get(&keys().segment(2)).await.unwrap();
    let two = decode_segment(&two.body).unwrap().header.write_id;
    let lost = Some(uuid::Uuid::from_u128(77));
    let orphan = wormlog_tests::Plant::events(2, 2, 2, "leader").naming(lost);
    orphan.at(&*store, S, 3).await;
    let again = wormlog_tests::Plant::events(2, 1, 2, "leader").sent_again_naming(Some(two));
    again.at(&*store, S, 4).await;
    let reader = LogReader::new(Arc::clone(&store), "", S).unwrap();
    let before: Vec<_> = reader.read_events(0, None).await.unwrap();
    let key = wormlog_tlog::Signer::generate("example.com/audit").unwrap();
    let signed = wormlog_reader::tlog::write_checkpoint(
        Arc::clone(&store),
        "",
        S,
        &key,
        &PutOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(signed.map(|(cp, _)| cp.size), Some(3));
    let w = LogWriter::open(
        Arc::clone(&store),
        wormlog_tests::writer_config(S, 3, "ops"),
    )
    .await
    .unwrap();
    let record = record_of(&store, &[3]).await;
    assert_eq!(
        record.purged[0].prev,
        Some(lost),
        "the record keeps its prev"
    );
    purge(&store, &w, &[3]).await;
    let after: Vec<_> = reader.read_events(0, None).await.unwrap();
    assert_eq!(after, before, "the purge of an orphan changes no event");
    assert_eq!(after.len(), 3);
    let report = verify(Arc::clone(&store), "", S, false).await.unwrap();
    assert!(report.is_clean(), "{:?}", report.findings);
    assert_eq!(report.events, 3);
    // Its events were never leaves of the Merkle tree, and are not once it is purged.
    let audit =
        wormlog_reader::tlog::audit_tree(Arc::clone(&store), "", S, &[key.verifier()], None)
            .await
            .unwrap();
    assert_eq!(audit.violations, Vec::<String>::new());
    assert_eq!(audit.tree_size, 3);
}

on_every_store!(
    a_purged_orphan_stays_an_orphan,
    readers_and_verify_pass_a_documented_purge,
    an_undocumented_deletion_is_still_a_gap,
    a_forged_index_key_documents_nothing,
    a_purge_record_without_its_index_key_is_reported,
    a_follower_passes_a_purge_made_while_it_waits,
);
