//! `verify` finds each planted defect, naming its slot, and keeps going past it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use wormlog_format::{
    encode_segment, NewEvent, SegmentKind, SegmentSpec, SegmentSummary, StreamKeys,
};
use wormlog_reader::{verify, Finding};
use wormlog_store::{
    DefaultRetention, DeleteOptions, InitOptions, ObjectStore, PutOptions, RetentionMode,
};
use wormlog_tests::servers::{Server, MOTO};
use wormlog_tests::{on_every_store, writer_config, Plant};
use wormlog_writer::{LockPolicy, LogWriter};

const S: &str = "audited";

fn key(slot: u64) -> String {
    StreamKeys::new("", S).unwrap().segment(slot)
}

/// An epoch-start (slot 0) and `n` one-event segments (slots 1..=n) at epoch 2.
async fn log_of(store: &Arc<dyn ObjectStore>, n: u64) -> LogWriter {
    wormlog_tests::one_event_segments(store, S, n).await
}

async fn findings(store: &Arc<dyn ObjectStore>) -> Vec<Finding> {
    verify(Arc::clone(store), "", S, false)
        .await
        .unwrap()
        .findings
}

async fn a_clean_log_verifies_with_its_epoch_timeline(store: Arc<dyn ObjectStore>) {
    log_of(&store, 3).await;
    let w = LogWriter::open(Arc::clone(&store), writer_config(S, 3, "next"))
        .await
        .unwrap();
    w.append("t", "\"x\"").await.unwrap();
    let r = verify(Arc::clone(&store), "", S, false).await.unwrap();
    assert!(r.is_clean(), "{:#?}", r.findings);
    assert_eq!((r.segments, r.events, r.control_records), (6, 4, 2));
    let t: Vec<(u64, u64, u64)> = r
        .timeline
        .iter()
        .map(|t| (t.slot, t.seq, t.epoch))
        .collect();
    assert_eq!(
        t,
        [(0, 0, 2), (4, 3, 3)],
        "each transition with slot, seq and epoch"
    );
    assert_eq!(r.timeline[1].writer, "next");
}

async fn a_flipped_byte_is_found_at_its_slot(store: Arc<dyn ObjectStore>) {
    log_of(&store, 4).await;
    let got = store.get(&key(2)).await.unwrap();
    let mut bytes = got.body.to_vec();
    let i = bytes.len() - 3;
    bytes[i] ^= 0x04;
    store
        .delete(&key(2), &DeleteOptions::default())
        .await
        .unwrap();
    store
        .put_if_absent(&key(2), Bytes::from(bytes), &PutOptions::default())
        .await
        .unwrap();
    let f = findings(&store).await;
    assert!(
        matches!(&f[..], [Finding::Corrupt { slot: 2, error }] if error.contains("CRC")),
        "{f:#?}"
    );
}

async fn a_deleted_segment_is_a_gap(store: Arc<dyn ObjectStore>) {
    log_of(&store, 4).await;
    store
        .delete(&key(2), &DeleteOptions::default())
        .await
        .unwrap();
    let f = findings(&store).await;
    assert!(f.contains(&Finding::Gap { first: 2, last: 2 }), "{f:#?}");
    assert!(
        f.iter().any(|x| matches!(
            x,
            Finding::SeqDiscontinuity {
                slot: 3,
                expected: 1,
                found: 2
            }
        )),
        "{f:#?}"
    );
}

async fn a_zombie_with_a_lower_epoch_is_found(store: Arc<dyn ObjectStore>) {
    let w = log_of(&store, 1).await;
    Plant::events(1, 2, 1, "stale").at(&*store, S, 2).await;
    w.append("t", "\"after\"").await.unwrap();
    let f = findings(&store).await;
    assert_eq!(
        f,
        [Finding::Zombie {
            slot: 2,
            epoch: 1,
            max_epoch: 2,
            writer: "stale".into()
        }]
    );
}

async fn a_duplicated_event_id_is_found(store: Arc<dyn ObjectStore>) {
    log_of(&store, 2).await;
    let first = store.get(&key(1)).await.unwrap();
    let original = wormlog_format::decode_segment(&first.body).unwrap().events[0].clone();
    let below = store.get(&key(2)).await.unwrap();
    let below = wormlog_format::decode_header(&below.body).unwrap().write_id;
    // A valid segment at slot 3 whose event reuses the id of seq 0.
    let spec = SegmentSpec {
        stream: S.into(),
        slot: 3,
        kind: SegmentKind::Events,
        first_seq: 2,
        epoch: 2,
        writer: "leader".into(),
        write_id: uuid::Uuid::from_u128(99),
        prev: Some(below),
        window: 1,
        created_at: "2026-01-01T00:00:00Z".into(),
    };
    let dup = NewEvent::new(original.id, "t", "2026-01-01T00:00:00Z", "\"dup\"").unwrap();
    let (bytes, header) = encode_segment(&spec, &[dup]);
    let opts = PutOptions {
        metadata: SegmentSummary::of(&header).to_metadata(),
        ..Default::default()
    };
    store.put_if_absent(&key(3), bytes, &opts).await.unwrap();
    let f = findings(&store).await;
    assert_eq!(
        f,
        [Finding::DuplicateEventId {
            id: original.id.to_string(),
            first_seq: 0,
            seq: 2
        }]
    );
}

async fn require_lock_reports_segments_without_retention(store: Arc<dyn ObjectStore>) {
    log_of(&store, 1).await;
    let r = verify(Arc::clone(&store), "", S, true).await.unwrap();
    assert_eq!(
        r.findings,
        [
            Finding::RetentionMissing { slot: 0 },
            Finding::RetentionMissing { slot: 1 }
        ]
    );
    assert_eq!(r.locks.len(), 2);
}

on_every_store!(
    a_clean_log_verifies_with_its_epoch_timeline,
    a_flipped_byte_is_found_at_its_slot,
    a_deleted_segment_is_a_gap,
    a_zombie_with_a_lower_epoch_is_found,
    a_duplicated_event_id_is_found,
    require_lock_reports_segments_without_retention,
);

#[tokio::test]
async fn a_delete_marker_on_a_versioned_store_is_reported_as_tampering() {
    let bucket = Server::fresh_bucket("wl-verify");
    let s3 = MOTO.store(&bucket, true).await;
    let store: Arc<dyn ObjectStore> = s3.clone();
    log_of(&store, 2).await;
    s3.client()
        .delete_object()
        .bucket(&bucket)
        .key(key(1))
        .send()
        .await
        .unwrap();
    let f = findings(&store).await;
    assert!(f.contains(&Finding::DeleteMarker { slot: 1 }), "{f:#?}");
    assert!(
        f.contains(&Finding::Gap { first: 1, last: 1 }),
        "the marker hides the segment: {f:#?}"
    );
}

#[tokio::test]
async fn require_lock_passes_when_every_segment_has_the_default_retention_and_flags_a_short_one() {
    let store: Arc<dyn ObjectStore> = Arc::new(wormlog_store::MemoryStore::new());
    let default = DefaultRetention {
        mode: RetentionMode::Compliance,
        days: 30,
    };
    store
        .init(&InitOptions {
            object_lock: true,
            default_retention: Some(default),
        })
        .await
        .unwrap();
    let w = log_of(&store, 2).await;
    let r = verify(Arc::clone(&store), "", S, true).await.unwrap();
    assert!(r.is_clean(), "{:#?}", r.findings);
    assert!(r
        .locks
        .iter()
        .all(|l| l.mode == Some(RetentionMode::Compliance)));
    drop(w);
    let mut cfg = writer_config(S, 3, "short");
    cfg.lock = Some(LockPolicy {
        mode: RetentionMode::Compliance,
        retain_for: Duration::from_secs(86_400),
    });
    let short = LogWriter::open(Arc::clone(&store), cfg).await.unwrap();
    let ack = short.append("t", "1").await.unwrap();
    let r = verify(Arc::clone(&store), "", S, true).await.unwrap();
    assert!(
        r.findings
            .iter()
            .any(|f| matches!(f, Finding::RetentionShort { slot, .. } if *slot == ack.slot)),
        "{:#?}",
        r.findings
    );
}
