//! What only the real S3 servers can show: Object Lock end to end on moto, the capability
//! probe failing Ceph RGW's versioned buckets (and writers refusing them), a lost response
//! resolved from object metadata, and `init` on buckets.

use std::sync::Arc;
use std::time::Duration;

use wormlog_format::StreamKeys;
use wormlog_reader::{LogReader, ReadError};
use wormlog_store::probe::{probe, Outcome};
use wormlog_store::{
    Clock, DefaultRetention, DeleteOptions, Fault, FaultStore, InitOptions, ObjectStore, Op,
    RetentionMode, StoreError, SystemClock,
};
use wormlog_tests::servers::{Server, MOTO, RGW};
use wormlog_tests::writer_config;
use wormlog_writer::{LockPolicy, LogWriter, WriteError};

const S: &str = "ledger";

fn segment(slot: u64) -> String {
    StreamKeys::new("", S).unwrap().segment(slot)
}

async fn locked_writer(store: Arc<dyn ObjectStore>, mode: RetentionMode) -> LogWriter {
    let mut cfg = writer_config(S, 1, "auditor");
    cfg.lock = Some(LockPolicy {
        mode,
        retain_for: Duration::from_secs(86_400),
    });
    LogWriter::open(store, cfg).await.unwrap()
}

#[tokio::test]
async fn moto_segments_carry_compliance_retention_and_their_versions_cannot_be_deleted() {
    let store: Arc<dyn ObjectStore> = MOTO.store(&Server::fresh_bucket("wl-lock"), true).await;
    let w = locked_writer(Arc::clone(&store), RetentionMode::Compliance).await;
    let ack = w.append("t", "{\"amount\":10}").await.unwrap();
    let head = store.head(&segment(ack.slot)).await.unwrap();
    let r = head
        .lock
        .retention
        .expect("HEAD shows the segment's retention");
    assert_eq!(r.mode, RetentionMode::Compliance);
    let expected = SystemClock::new().now().plus(Duration::from_secs(86_400));
    assert!(
        r.retain_until.as_millis().abs_diff(expected.as_millis()) < 60_000,
        "retain-until about a day out"
    );
    for bypass in [false, true] {
        let d = store
            .delete(
                &segment(ack.slot),
                &DeleteOptions {
                    bypass_governance: bypass,
                },
            )
            .await;
        assert!(
            matches!(d, Err(StoreError::ObjectLocked { .. })),
            "deleting the segment version (bypass {bypass}): {d:?}"
        );
    }
    assert!(
        store.get(&segment(ack.slot)).await.is_ok(),
        "the segment is still there"
    );
}

#[tokio::test]
async fn moto_legal_hold_can_be_set_and_cleared_on_a_segment() {
    let store: Arc<dyn ObjectStore> = MOTO.store(&Server::fresh_bucket("wl-hold"), true).await;
    let w = LogWriter::open(Arc::clone(&store), writer_config(S, 1, "w"))
        .await
        .unwrap();
    let key = segment(w.append("t", "1").await.unwrap().slot);
    store.set_legal_hold(&key, true).await.unwrap();
    assert!(store.head(&key).await.unwrap().lock.legal_hold);
    assert!(matches!(
        store.delete(&key, &DeleteOptions::default()).await,
        Err(StoreError::ObjectLocked { .. })
    ));
    store.set_legal_hold(&key, false).await.unwrap();
    assert!(!store.head(&key).await.unwrap().lock.legal_hold);
}

#[tokio::test]
async fn moto_governance_delete_succeeds_only_with_the_bypass() {
    let store: Arc<dyn ObjectStore> = MOTO.store(&Server::fresh_bucket("wl-gov"), true).await;
    let w = locked_writer(Arc::clone(&store), RetentionMode::Governance).await;
    let key = segment(w.append("t", "1").await.unwrap().slot);
    assert_eq!(
        store.head(&key).await.unwrap().lock.retention.unwrap().mode,
        RetentionMode::Governance
    );
    assert!(matches!(
        store.delete(&key, &DeleteOptions::default()).await,
        Err(StoreError::ObjectLocked { .. })
    ));
    store
        .delete(
            &key,
            &DeleteOptions {
                bypass_governance: true,
            },
        )
        .await
        .unwrap();
    assert!(matches!(
        store.head(&key).await,
        Err(StoreError::NotFound { .. })
    ));
}

#[tokio::test]
async fn rgw_versioned_bucket_fails_the_probe_and_writers_refuse_to_open() {
    let store: Arc<dyn ObjectStore> = RGW.store(&Server::fresh_bucket("wl-versioned"), true).await;
    let report = probe(&*store, "").await;
    let failed = report
        .first_failure()
        .expect("RGW 16.2 ignores If-None-Match on versioned buckets");
    assert_eq!(failed.name, "create-only (If-None-Match: *)");
    assert_eq!(failed.outcome, Outcome::Fail);
    let err = LogWriter::open(Arc::clone(&store), writer_config(S, 1, "w"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, WriteError::UnsafeStore { check, .. } if check.contains("create-only")),
        "{err:?}"
    );
    assert!(err.to_string().contains("wormlog doctor"), "{err}");
    let log = wormlog_store::list_all(&*store, &StreamKeys::new("", S).unwrap().log_prefix(), None)
        .await
        .unwrap();
    assert!(log.is_empty(), "a refused writer wrote nothing to the log");
}

#[tokio::test]
async fn unversioned_rgw_and_object_lock_moto_buckets_pass_the_probe() {
    for (server, lock) in [(RGW, false), (MOTO, true)] {
        let store = server.store(&Server::fresh_bucket("wl-probe"), lock).await;
        let report = probe(&*store, "team-a").await;
        assert!(report.is_safe(), "{}: {report:#?}", server.name);
        assert!(report
            .checks
            .iter()
            .filter(|c| c.safety)
            .all(|c| c.outcome == Outcome::Pass));
        // Ceph RGW checks the signed payload hash; moto 5.2.5 stores the bytes regardless.
        let sha256 = report
            .checks
            .iter()
            .find(|c| c.name == "uploads checked against their SHA-256")
            .expect("doctor reports whether uploads are checked");
        let expected = if server.name == RGW.name {
            Outcome::Pass
        } else {
            Outcome::Info
        };
        assert_eq!(sha256.outcome, expected, "{}: {sha256:?}", server.name);
        let left = wormlog_store::list_all(&*store, "team-a/.wormlog-probe/", None)
            .await
            .unwrap();
        assert!(
            left.is_empty(),
            "{}: the probe cleans up: {left:?}",
            server.name
        );
    }
}

#[tokio::test]
async fn a_lost_response_on_s3_is_resolved_by_reading_the_metadata_back() {
    for (server, lock) in [(RGW, false), (MOTO, true)] {
        let inner: Arc<dyn ObjectStore> =
            server.store(&Server::fresh_bucket("wl-lost"), lock).await;
        let f = FaultStore::new(Arc::clone(&inner));
        let w = LogWriter::open(Arc::new(f.clone()), writer_config(S, 1, "w"))
            .await
            .unwrap();
        f.inject(Fault::lost_response(
            Op::PutIfAbsent,
            "/log/",
            Fault::unavailable(Op::PutIfAbsent, "k"),
            1,
        ));
        let ack = w
            .append("t", "\"once\"")
            .await
            .expect("our own write, not a conflict");
        let slot_ops: Vec<Op> = f
            .journal()
            .iter()
            .filter(|r| r.key == segment(ack.slot))
            .map(|r| r.op)
            .collect();
        assert_eq!(
            slot_ops,
            [Op::PutIfAbsent, Op::PutIfAbsent, Op::Head],
            "{}: committed, lost, 412 on retry, one HEAD of the metadata, no GET",
            server.name
        );
        let events = wormlog_reader::LogReader::new(inner, "", S)
            .unwrap()
            .read_events(0, None)
            .await
            .unwrap();
        assert_eq!(
            events.len(),
            1,
            "{}: the event is in the log once",
            server.name
        );
    }
}

#[tokio::test]
async fn init_creates_an_object_lock_bucket_whose_default_retention_applies_to_segments() {
    MOTO.require();
    let bucket = Server::fresh_bucket("wl-init");
    let store = wormlog_s3::S3Store::connect(MOTO.config(&bucket)).await;
    let default = DefaultRetention {
        mode: RetentionMode::Compliance,
        days: 3,
    };
    let report = store
        .init(&InitOptions {
            object_lock: true,
            default_retention: Some(default),
        })
        .await
        .unwrap();
    assert!(report.created);
    assert_eq!(report.default_retention, Some(default));
    let store: Arc<dyn ObjectStore> = Arc::new(store);
    let w = LogWriter::open(Arc::clone(&store), writer_config(S, 1, "w"))
        .await
        .unwrap();
    let key = segment(w.append("t", "1").await.unwrap().slot);
    let r = store
        .head(&key)
        .await
        .unwrap()
        .lock
        .retention
        .expect("the bucket default applies");
    assert_eq!(r.mode, RetentionMode::Compliance);
}

#[tokio::test]
async fn init_says_what_an_existing_bucket_without_object_lock_lacks() {
    let bucket = Server::fresh_bucket("wl-plain");
    let store = RGW.store(&bucket, false).await;
    let default = DefaultRetention {
        mode: RetentionMode::Governance,
        days: 1,
    };
    let err = store
        .init(&InitOptions {
            object_lock: true,
            default_retention: Some(default),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unsupported { .. }), "{err:?}");
    assert!(err.to_string().contains("Object Lock"), "{err}");
}

#[tokio::test]
async fn writer_stats_show_the_s3_requests_with_their_latency() {
    let store: Arc<dyn ObjectStore> = RGW.store(&Server::fresh_bucket("wl-stats"), false).await;
    let w = LogWriter::open(Arc::clone(&store), writer_config(S, 1, "w"))
        .await
        .unwrap();
    for i in 0..5 {
        w.append("t", &i.to_string()).await.unwrap();
    }
    let stats = w.stats();
    let puts = stats
        .store_requests
        .iter()
        .find(|r| r.op == "put_if_absent")
        .expect("puts are counted");
    assert!(
        puts.requests >= 6,
        "epoch-start, five appends and the probe: {puts:?}"
    );
    assert!(puts.mean_latency_us() > 0);
    let lists = stats
        .store_requests
        .iter()
        .find(|r| r.op == "list")
        .expect("the tail is found by listing");
    assert!(lists.requests >= 1, "{lists:?}");
}

/// Every request the store sends reaches the metrics (`wormlog_s3_requests_total` by
/// operation), version listings too: they find every tail, and were left out once.
#[test]
fn every_s3_request_reaches_the_metrics_version_listings_too() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = rt.block_on(MOTO.store(&Server::fresh_bucket("wl-metrics"), true));
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    // A thread-local recorder: the current-thread runtime polls everything on this thread.
    metrics::with_local_recorder(&recorder, || {
        rt.block_on(store.list_versions_after("ledger/log/", None))
            .unwrap()
    });
    let lists = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .find_map(|(key, _, _, value)| {
            let key = key.key();
            let op = key
                .labels()
                .find(|l| l.key() == "op")
                .map(|l| l.value().to_owned());
            (key.name() == "wormlog_s3_requests_total" && op.as_deref() == Some("list"))
                .then_some(value)
        });
    assert_eq!(
        lists,
        Some(DebugValue::Counter(1)),
        "one version listing, counted"
    );
}

#[tokio::test]
async fn segments_can_be_written_with_sse_s3_encryption() {
    MOTO.require();
    let bucket = Server::fresh_bucket("wl-sse");
    let mut config = MOTO.config(&bucket);
    config.sse = Some(wormlog_s3::Sse::S3);
    let store = wormlog_s3::S3Store::connect(config).await;
    store.init(&InitOptions::default()).await.unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(store);
    let w = LogWriter::open(Arc::clone(&store), writer_config(S, 1, "w"))
        .await
        .unwrap();
    let ack = w.append("t", "\"secret\"").await.unwrap();
    let events = wormlog_reader::LogReader::new(store, "", S)
        .unwrap()
        .read_events(0, None)
        .await
        .unwrap();
    assert_eq!(events[0].id, ack.id);
}

#[tokio::test]
async fn list_versions_shows_a_delete_marker_left_by_a_plain_delete() {
    MOTO.require();
    let bucket = Server::fresh_bucket("wl-versions");
    let store = MOTO.store(&bucket, true).await;
    let w = LogWriter::open(store.clone(), writer_config(S, 1, "w"))
        .await
        .unwrap();
    let key = segment(w.append("t", "1").await.unwrap().slot);
    // An outside client sends a plain DELETE: on a versioned bucket that adds a delete marker
    // and keeps the segment's version underneath.
    store
        .client()
        .delete_object()
        .bucket(&bucket)
        .key(&key)
        .send()
        .await
        .unwrap();
    let versions = store.list_versions(&key).await.unwrap();
    assert_eq!(versions.len(), 2, "{versions:#?}");
    assert!(
        versions[0].delete_marker && versions[0].is_latest,
        "the marker is the latest: {versions:#?}"
    );
    assert!(!versions[1].delete_marker && versions[1].version_id.is_some() && versions[1].size > 0);
    assert!(
        matches!(store.head(&key).await, Err(StoreError::NotFound { .. })),
        "the key reads as deleted"
    );
}

/// A versioned moto bucket holding `events` one-event segments under epoch 1 (slot 0 their
/// epoch-start), whose last `cut` segments an outside client then deleted with plain DELETEs
/// (delete markers over them). Returns the store and the last slot written.
async fn moto_log_cut_by_deletes(
    name: &str,
    events: usize,
    cut: u64,
) -> (Arc<wormlog_s3::S3Store>, u64) {
    MOTO.require();
    let bucket = Server::fresh_bucket(name);
    let store = MOTO.store(&bucket, true).await;
    let w = LogWriter::open(store.clone(), writer_config(S, 1, "w"))
        .await
        .unwrap();
    let mut last = 0;
    for i in 0..events {
        last = w.append("t", &i.to_string()).await.unwrap().slot;
    }
    w.close().await;
    for slot in last + 1 - cut..=last {
        store
            .client()
            .delete_object()
            .bucket(&bucket)
            .key(segment(slot))
            .send()
            .await
            .unwrap();
    }
    (store, last)
}

/// Cuts the tail of a log on a versioned moto bucket with plain DELETEs (delete markers over
/// the last two segments), then opens a writer with `bug` planted (or none).
async fn open_after_the_tail_was_cut(
    bug: Option<wormlog_writer::PlantedBug>,
) -> (Arc<wormlog_s3::S3Store>, Result<LogWriter, WriteError>) {
    let (store, _) = moto_log_cut_by_deletes("wl-cut", 3, 2).await;
    let mut cfg = writer_config(S, 2, "w2");
    cfg.planted_bug = bug;
    let opened = LogWriter::open(store.clone() as Arc<dyn ObjectStore>, cfg).await;
    (store, opened)
}

/// A writer refuses to open on a log whose tail was cut on a versioned bucket: AWS and moto
/// accept a create-only PUT over a delete marker, so writing on would fork the log. A reader
/// reports the cut instead of ending quietly before it.
#[tokio::test]
async fn a_writer_refuses_a_log_whose_tail_was_deleted_and_readers_report_it() {
    let (store, opened) = open_after_the_tail_was_cut(None).await;
    match opened {
        Err(WriteError::SlotDeleted { slot, .. }) => assert!(slot >= 2, "slot {slot}"),
        other => panic!("expected SlotDeleted, got {other:?}"),
    }
    let reader = LogReader::new(store as Arc<dyn ObjectStore>, "", S).unwrap();
    let read = reader.read_events(0, None).await;
    assert!(
        matches!(read, Err(ReadError::SlotDeleted { .. })),
        "{read:?}"
    );
}

/// A tail guess more than a listing page below a cut tail (an old cache file) is dropped
/// after one page, and the search from scratch still finds the delete markers: the writer
/// refuses, as it does without a guess. (Pages of 10 here, as S3's of 1000.)
#[tokio::test]
async fn a_tail_cut_far_above_an_old_tail_guess_still_stops_the_writer() {
    let (store, last) = moto_log_cut_by_deletes("wl-cut-guess", 25, 2).await;
    let paged = FaultStore::new(store.clone() as Arc<dyn ObjectStore>);
    paged.page_versions_by(10);
    let mut cfg = writer_config(S, 1, "w2");
    cfg.tail_hint = Some(3);
    match LogWriter::open(Arc::new(paged.clone()), cfg).await {
        Err(WriteError::SlotDeleted { slot, .. }) => assert_eq!(slot, last - 1),
        other => panic!("expected SlotDeleted, got {other:?}"),
    }
    // (The capability probe lists its own prefix besides: not counted.)
    let log_lists = paged
        .journal()
        .iter()
        .filter(|r| r.op == Op::List && r.key.ends_with("/log/"))
        .count();
    assert_eq!(
        log_lists, 3,
        "a page from the guess, the first page, one listing after the gallop"
    );
}

/// Planted bug: the writer opens anyway and re-creates the deleted slots; the readers (and
/// `verify`) catch the forked history.
#[tokio::test]
async fn planted_bug_writing_over_a_deleted_tail_is_caught_by_readers() {
    let bug = Some(wormlog_writer::PlantedBug::OpenOverDeletedSlot);
    let (store, opened) = open_after_the_tail_was_cut(bug).await;
    let w = opened.expect("the planted bug opens");
    w.append("t", "\"fork\"").await.unwrap();
    w.close().await;
    let store: Arc<dyn ObjectStore> = store;
    let reader = LogReader::new(Arc::clone(&store), "", S).unwrap();
    assert!(matches!(
        reader.read_events(0, None).await,
        Err(ReadError::SlotDeleted { .. })
    ));
    let report = wormlog_reader::verify(store, "", S, false).await.unwrap();
    assert!(!report.is_clean());
}

#[tokio::test]
async fn unversioned_stores_list_each_object_as_its_one_version() {
    for store in [
        RGW.store(&Server::fresh_bucket("wl-v1"), false).await as Arc<dyn ObjectStore>,
        Arc::new(wormlog_store::MemoryStore::new()),
    ] {
        let w = LogWriter::open(Arc::clone(&store), writer_config(S, 1, "w"))
            .await
            .unwrap();
        w.append("t", "1").await.unwrap();
        let versions = store
            .list_versions(&StreamKeys::new("", S).unwrap().log_prefix())
            .await
            .unwrap();
        assert_eq!(versions.len(), 2, "{}: {versions:#?}", store.describe());
        assert!(versions.iter().all(|v| v.is_latest && !v.delete_marker));
    }
}

/// A plain DELETE on `bucket`'s versioned store: a delete marker over the slot.
async fn cut(store: &wormlog_s3::S3Store, bucket: &str, slot: u64) {
    store
        .client()
        .delete_object()
        .bucket(bucket)
        .key(segment(slot))
        .send()
        .await
        .unwrap();
}

/// A writer that skips the open check (the planted bug: an old or broken client) and
/// appends `n` events.
async fn fork(store: &Arc<wormlog_s3::S3Store>, epoch: u64, n: u64) {
    let mut cfg = writer_config(S, epoch, "forker");
    cfg.planted_bug = Some(wormlog_writer::PlantedBug::OpenOverDeletedSlot);
    let w = LogWriter::open(store.clone() as Arc<dyn ObjectStore>, cfg)
        .await
        .unwrap();
    for i in 0..n {
        w.append("fork", &i.to_string()).await.unwrap();
    }
    w.close().await;
}

async fn next_event(f: &mut wormlog_reader::Follow) -> Result<u64, ReadError> {
    loop {
        match f.next().await? {
            Some(wormlog_reader::ScanItem::Event(e)) => return Ok(e.seq),
            Some(_) => continue,
            None => panic!("the follow ended"),
        }
    }
}

/// A follower waiting at slot 2 when slot 2 is cut and written again by a fork: the fork's
/// seqs line up with what the follower expects, so only the slot's versions show it. The
/// follower stops with SlotDeleted instead of serving the fork.
#[tokio::test]
async fn a_follower_does_not_serve_a_fork_written_over_the_slot_it_waits_for() {
    MOTO.require();
    let bucket = Server::fresh_bucket("wl-follow-fork");
    let store = MOTO.store(&bucket, true).await;
    let w = LogWriter::open(
        store.clone() as Arc<dyn ObjectStore>,
        writer_config(S, 1, "w"),
    )
    .await
    .unwrap();
    w.append("t", "0").await.unwrap(); // slot 1 (slot 0: epoch-start)
    let reader = LogReader::new(store.clone() as Arc<dyn ObjectStore>, "", S).unwrap();
    let (mut follow, _stop) = reader
        .follow(0, wormlog_reader::FollowPolicy::default())
        .await
        .unwrap();
    assert_eq!(next_event(&mut follow).await.unwrap(), 0);
    let slot = w.append("t", "1").await.unwrap().slot;
    assert_eq!(slot, 2);
    w.close().await;
    cut(&store, &bucket, 2).await;
    fork(&store, 2, 1).await; // epoch-start at slot 2 (over the marker), seq 1 at slot 3
    match tokio::time::timeout(Duration::from_secs(20), next_event(&mut follow)).await {
        Ok(Err(ReadError::SlotDeleted { slot, .. })) => assert_eq!(slot, 2),
        other => panic!("expected SlotDeleted at slot 2, got {other:?}"),
    }
}

/// A scan resumed from a position at the tail (a snapshot's) covers the last slot that
/// position judged: a slot rewritten there (its locked version kept behind the new one, as a
/// versioned bucket keeps it) is reported, not passed over. The memory store keeps versions
/// the way AWS lists them, so the listing's boundary is what is tested.
#[tokio::test]
async fn a_scan_resumed_at_the_tail_reports_a_rewrite_of_the_slot_before_it() {
    let store: Arc<dyn ObjectStore> = Arc::new(wormlog_store::MemoryStore::new());
    let w = locked_writer(Arc::clone(&store), RetentionMode::Governance).await;
    for i in 0..3 {
        w.append("t", &i.to_string()).await.unwrap(); // slots 1, 2, 3
    }
    w.close().await;
    let reader = LogReader::new(Arc::clone(&store), "", S).unwrap();
    let mut scan = reader.scan(0).await.unwrap();
    while scan.next().await.unwrap().is_some() {}
    let position = scan.position();
    assert_eq!(position.slot, 4);
    let (etag, body) = {
        let got = store.get(&segment(3)).await.unwrap();
        (got.meta.etag, got.body)
    };
    store
        .put_if_match(
            &segment(3),
            body,
            &etag,
            &wormlog_store::PutOptions::default(),
        )
        .await
        .unwrap();
    let mut resumed = reader.scan_from(position, 3).await.unwrap();
    match resumed.next().await {
        Err(ReadError::SlotDeleted { slot: 3, .. }) => {}
        other => panic!("expected SlotDeleted at slot 3, got {other:?}"),
    }
}
