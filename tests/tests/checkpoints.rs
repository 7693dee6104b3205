//! Signed checkpoints as the writer goes (`WriterConfig::checkpoints`; docs/protocol.md,
//! "Checkpoints and proofs"): when they are written, that an audit recomputes every one of
//! them whatever else wrote to the log, and that a key the log's checkpoints do not verify
//! under fails the open with nothing written.

use std::sync::Arc;
use std::time::Duration;

use wormlog_format::StreamKeys;
use wormlog_reader::tlog::{self, KnownSegment, Pushed, Tree, TreeBug};
use wormlog_reader::LogReader;
use wormlog_store::{Fault, FaultStore, ObjectStore, Op, PutOptions, StoreError};
use wormlog_tests::{on_every_local_store, writer_config, Plant};
use wormlog_tlog::Signer;
use wormlog_writer::{CheckpointPolicy, LogWriter, WriterConfig};

const S: &str = "invoices";

fn signer() -> Signer {
    Signer::generate("example.com/invoices").unwrap()
}

fn policy(signer: &Signer, every_segments: u64, every: Duration) -> CheckpointPolicy {
    let mut p = CheckpointPolicy::new(Signer::parse(&signer.encode()).unwrap());
    p.every_segments = every_segments;
    p.every = every;
    p
}

fn checkpointing(epoch: u64, policy: CheckpointPolicy) -> WriterConfig {
    let mut cfg = writer_config(S, epoch, &format!("w{epoch}"));
    cfg.checkpoints = Some(policy);
    cfg
}

async fn sizes(store: &Arc<dyn ObjectStore>) -> Vec<u64> {
    tlog::checkpoint_sizes(&**store, &StreamKeys::new("", S).unwrap())
        .await
        .unwrap()
}

/// Audits the log against its checkpoints: no violation, and the tree holds `events`.
async fn assert_audited(store: &Arc<dyn ObjectStore>, signer: &Signer, events: u64) {
    let audit = tlog::audit_tree(Arc::clone(store), "", S, &[signer.verifier()], None)
        .await
        .unwrap();
    assert_eq!(audit.violations, Vec::<String>::new());
    assert_eq!(audit.tree_size, events);
    assert!(!audit.checkpoints.is_empty());
}

/// Events `from..to` appended by a writer of `epoch` that signs no checkpoint (another
/// writer of the log), which then closes.
async fn others_append(store: &Arc<dyn ObjectStore>, epoch: u64, from: u64, to: u64) {
    let w = LogWriter::open(
        Arc::clone(store),
        writer_config(S, epoch, &format!("other{epoch}")),
    )
    .await
    .unwrap();
    for i in from..to {
        w.append("t", &i.to_string()).await.unwrap();
    }
    w.close().await;
}

/// One checkpoint every `every_segments` segments of the writer's, and one at close.
async fn a_writer_signs_every_n_segments_and_at_close(store: Arc<dyn ObjectStore>) {
    let key = signer();
    let mut cfg = checkpointing(1, policy(&key, 3, Duration::from_secs(3600)));
    cfg.in_flight = 1;
    let w = LogWriter::open(Arc::clone(&store), cfg).await.unwrap();
    for i in 0..10 {
        w.append("t", &i.to_string()).await.unwrap();
    }
    let status = w.close().await.unwrap();
    assert_eq!(sizes(&store).await, vec![3, 6, 9, 10]);
    assert_eq!(
        (status.written, status.latest, status.unsigned),
        (4, Some(10), 0)
    );
    assert_eq!(status.error, None);
    assert_audited(&store, &key, 10).await;
}

/// A pipelined writer's batches, acknowledged out of the order their PUTs were answered in,
/// still make the tree readers compute.
async fn a_pipelined_writer_signs_what_readers_compute(store: Arc<dyn ObjectStore>) {
    let key = signer();
    let mut cfg = checkpointing(1, policy(&key, 4, Duration::from_secs(3600)));
    cfg.in_flight = 8;
    cfg.max_batch_events = 7;
    let w = LogWriter::open(Arc::clone(&store), cfg).await.unwrap();
    let appends: Vec<_> = (0..500).map(|i| w.append("t", &i.to_string())).collect();
    for a in futures::future::join_all(appends).await {
        a.unwrap();
    }
    let status = w.close().await.unwrap();
    assert_eq!((status.latest, status.unsigned), (Some(500), 0));
    assert!(sizes(&store).await.len() > 2);
    assert_audited(&store, &key, 500).await;
}

/// A writer that opens on a log others wrote (with and without checkpoints of the same key)
/// reads what lies past the latest checkpoint into its tree.
async fn a_writer_resumes_from_the_log_others_wrote(store: Arc<dyn ObjectStore>) {
    let key = signer();
    others_append(&store, 1, 0, 5).await;
    tlog::write_checkpoint(Arc::clone(&store), "", S, &key, &PutOptions::default())
        .await
        .unwrap()
        .unwrap();
    others_append(&store, 2, 5, 7).await;
    let c = LogWriter::open(
        Arc::clone(&store),
        checkpointing(3, policy(&key, 1, Duration::from_secs(3600))),
    )
    .await
    .unwrap();
    c.append("t", "7").await.unwrap();
    let status = c.close().await.unwrap();
    assert_eq!(status.latest, Some(8));
    assert_eq!(sizes(&store).await, vec![5, 8]);
    assert_audited(&store, &key, 8).await;
}

/// A checkpoint `every` after the last, when events came since; none while nothing comes.
async fn a_writer_signs_after_its_interval(store: Arc<dyn ObjectStore>) {
    let key = signer();
    let cfg = checkpointing(1, policy(&key, 1000, Duration::from_millis(300)));
    let w = LogWriter::open(Arc::clone(&store), cfg).await.unwrap();
    w.append("t", "1").await.unwrap();
    let mut waited = Duration::ZERO;
    while sizes(&store).await.is_empty() {
        assert!(
            waited < Duration::from_secs(30),
            "no checkpoint after its interval"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += Duration::from_millis(50);
    }
    assert_eq!(sizes(&store).await, vec![1]);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        sizes(&store).await,
        vec![1],
        "a checkpoint with no new events"
    );
    assert_eq!(w.checkpoints().unwrap().written, 1);
    w.close().await;
    assert_eq!(sizes(&store).await, vec![1]);
}

/// A newer checkpoint of another key (a typo'd key file, a forgery) stops the writer's
/// checkpointer before it signs anything, while the appends go on; after a rotation, named
/// as an earlier key, it is passed over and the writer signs its own; the audit under the
/// new key names the old one's. One of another log, signed by the writer's own key and
/// copied in, stops it too.
async fn a_newer_checkpoint_of_another_key_stops_signing_unless_it_was_rotated(
    store: Arc<dyn ObjectStore>,
) {
    let (old, new) = (signer(), signer());
    let opts = PutOptions::default();
    others_append(&store, 1, 0, 1).await;
    tlog::write_checkpoint(Arc::clone(&store), "", S, &old, &opts)
        .await
        .unwrap()
        .unwrap();
    let refused = tlog::write_checkpoint(Arc::clone(&store), "", S, &new, &opts).await;
    assert!(
        matches!(refused, Err(tlog::TlogError::Tampered(_))),
        "{refused:?}"
    );
    let cfg = checkpointing(2, policy(&new, 1, Duration::from_secs(3600)));
    let w = LogWriter::open(Arc::clone(&store), cfg).await.unwrap();
    w.append("t", "1").await.unwrap();
    let status = w.close().await.unwrap();
    assert!(status.tampered && status.error.is_some(), "{status:?}");
    assert_eq!((status.written, sizes(&store).await), (0, vec![1]));
    // The rotation, named.
    let mut rotated = policy(&new, 1, Duration::from_secs(3600));
    rotated.previous = vec![old.verifier()];
    let w = LogWriter::open(Arc::clone(&store), checkpointing(3, rotated))
        .await
        .unwrap();
    w.append("t", "2").await.unwrap();
    let status = w.close().await.unwrap();
    assert_eq!(
        (status.latest, status.unsigned, status.error),
        (Some(3), 0, None)
    );
    assert_eq!(status.passed_over.len(), 1, "{:?}", status.passed_over);
    let audit = tlog::audit_tree(Arc::clone(&store), "", S, &[new.verifier()], None)
        .await
        .unwrap();
    assert_eq!(audit.tree_size, 3);
    assert_eq!(audit.violations.len(), 1, "{:?}", audit.violations);
    assert!(audit.violations[0].contains("00000000000000000001"));
    // The auditor who holds both keys: every checkpoint verifies under one of them.
    let both = [old.verifier(), new.verifier()];
    let audit = tlog::audit_tree(Arc::clone(&store), "", S, &both, None)
        .await
        .unwrap();
    assert_eq!(
        (audit.checkpoints.len(), audit.violations),
        (2, Vec::<String>::new())
    );
    // Another log's checkpoint under the new key, copied in at a size this log never had.
    let elsewhere: Arc<dyn ObjectStore> = Arc::new(wormlog_store::MemoryStore::new());
    let mut cfg = writer_config(S, 1, "x");
    cfg.root_prefix = "other".into();
    let w = LogWriter::open(Arc::clone(&elsewhere), cfg).await.unwrap();
    for i in 0..9 {
        w.append("t", &i.to_string()).await.unwrap();
    }
    w.close().await;
    let (_, note) = tlog::write_checkpoint(elsewhere, "other", S, &new, &opts)
        .await
        .unwrap()
        .unwrap();
    let keys = StreamKeys::new("", S).unwrap();
    store
        .put_if_absent(&keys.checkpoint(9), note.into_bytes().into(), &opts)
        .await
        .unwrap();
    let mut rotated = policy(&new, 1, Duration::from_secs(3600));
    rotated.previous = vec![old.verifier()];
    let w = LogWriter::open(Arc::clone(&store), checkpointing(4, rotated))
        .await
        .unwrap();
    w.append("t", "3").await.unwrap();
    let status = w.close().await.unwrap();
    assert!(status.tampered, "{status:?}");
    assert!(
        status
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("not this log"),
        "{status:?}"
    );
    let audit = tlog::audit_tree(Arc::clone(&store), "", S, &[new.verifier()], None)
        .await
        .unwrap();
    assert!(
        audit.violations.iter().any(|v| v.contains("another log")),
        "{:?}",
        audit.violations
    );
}

/// Another writer's segment lands between the new writer's listing and its epoch-start
/// (counted as valid by step 2): its events are leaves of the tree the writer signs.
async fn another_writers_events_during_the_open_are_leaves(store: Arc<dyn ObjectStore>) {
    let key = signer();
    others_append(&store, 1, 0, 1).await;
    let faults = FaultStore::new(Arc::clone(&store));
    let inner = Arc::clone(&store);
    let planted = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let trigger = StreamKeys::new("", S).unwrap().segment(2);
    faults.before_each(move |op, k| {
        let (inner, planted, fire) = (
            Arc::clone(&inner),
            Arc::clone(&planted),
            op == Op::PutIfAbsent && k == trigger,
        );
        async move {
            if fire && !planted.swap(true, std::sync::atomic::Ordering::SeqCst) {
                Plant::events(1, 3, 1, "a").at(&*inner, S, 2).await;
            }
        }
    });
    let faulty: Arc<dyn ObjectStore> = Arc::new(faults);
    let mut cfg = checkpointing(2, policy(&key, 1, Duration::from_secs(3600)));
    cfg.fence_ahead = 0;
    let b = LogWriter::open(Arc::clone(&faulty), cfg).await.unwrap();
    let at = b.append("t", "4").await.unwrap();
    assert_eq!(at.seq, 4, "the planted events came first");
    b.close().await.unwrap();
    assert_audited(&store, &key, 5).await;
}

/// The checkpointer's first read of the log fails (its first segment cannot be read for a
/// while): the writer appends on regardless, and the checkpointer reads the log again
/// before it signs.
async fn a_failed_first_read_is_made_up(store: Arc<dyn ObjectStore>) {
    let key = signer();
    others_append(&store, 1, 0, 3).await;
    // Only the checkpointer reads slot 0 (the writer's open reads the tail).
    let faults = Arc::new(FaultStore::new(Arc::clone(&store)));
    let slot0 = StreamKeys::new("", S).unwrap().segment(0);
    let down = Fault::unavailable(Op::Get, &slot0);
    faults.inject(Fault::before(Op::Get, &slot0, down, usize::MAX));
    let faulty: Arc<dyn ObjectStore> = Arc::clone(&faults) as Arc<dyn ObjectStore>;
    let cfg = checkpointing(2, policy(&key, 1, Duration::from_secs(3600)));
    let b = LogWriter::open(faulty, cfg).await.unwrap();
    let mut waited = Duration::ZERO;
    while b.checkpoints().unwrap().failures == 0 {
        assert!(
            waited < Duration::from_secs(60),
            "the first read never failed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += Duration::from_millis(20);
    }
    for i in 3..6 {
        b.append("t", &i.to_string()).await.unwrap();
    }
    faults.clear_faults();
    let status = b.close().await.unwrap();
    assert_eq!(
        (status.latest, status.unsigned, status.error),
        (Some(6), 0, None)
    );
    assert_audited(&store, &key, 6).await;
}

/// While the log cannot be read, the checkpointer reads it at most once per backoff (1 s,
/// doubling), however many batches come meanwhile: they are in the log, and the next read
/// takes them. The read is refused outright (403: the reader does not retry it), so without
/// the backoff each of the 30 batches below would be a read, and a failure, of its own.
async fn a_failing_read_is_tried_once_per_backoff(store: Arc<dyn ObjectStore>) {
    let key = signer();
    others_append(&store, 1, 0, 3).await;
    let faults = Arc::new(FaultStore::new(Arc::clone(&store)));
    let slot0 = StreamKeys::new("", S).unwrap().segment(0);
    let denied = StoreError::Permanent {
        op: "get",
        key: slot0.clone(),
        message: "HTTP 403 AccessDenied (injected)".into(),
    };
    faults.inject(Fault::before(Op::Get, &slot0, denied, usize::MAX));
    let faulty: Arc<dyn ObjectStore> = Arc::clone(&faults) as Arc<dyn ObjectStore>;
    let cfg = checkpointing(2, policy(&key, 1, Duration::from_secs(3600)));
    let w = LogWriter::open(faulty, cfg).await.unwrap();
    let started = tokio::time::Instant::now();
    while w.checkpoints().unwrap().failures == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the first read never failed"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let first_failed = tokio::time::Instant::now();
    for i in 3..33 {
        w.append("t", &i.to_string()).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let failures = w.checkpoints().unwrap().failures;
    // Reads after the first: one when each backoff (1 s, 2 s, 4 s, ...) has run out; one
    // more for the time between the first failure and the test seeing it.
    let waited = first_failed.elapsed().as_secs_f64();
    let allowed = 2 + (waited + 1.0).log2().floor() as u64;
    assert!(
        failures <= allowed,
        "{failures} failed reads for 30 batches in {waited:.2} s: the checkpointer did not back off"
    );
    faults.clear_faults();
    let status = w.close().await.unwrap();
    assert_eq!(
        (status.latest, status.unsigned, status.error),
        (Some(33), 0, None),
        "the read tried once more at close takes every batch"
    );
}

/// No checkpoint can be stored: the appends go on, each failure is counted, and the writer
/// says at close how many of its events no checkpoint covers.
async fn a_checkpoint_that_cannot_be_stored_is_reported_at_close(store: Arc<dyn ObjectStore>) {
    let key = signer();
    let faults = Arc::new(FaultStore::new(Arc::clone(&store)));
    let refused = Fault::unavailable(Op::PutIfAbsent, "checkpoints/");
    faults.inject(Fault::before(
        Op::PutIfAbsent,
        "checkpoints/",
        refused,
        usize::MAX,
    ));
    let faulty: Arc<dyn ObjectStore> = Arc::clone(&faults) as Arc<dyn ObjectStore>;
    let mut cfg = checkpointing(1, policy(&key, 1, Duration::from_secs(3600)));
    cfg.retry.max_attempts = 1;
    let w = LogWriter::open(faulty, cfg).await.unwrap();
    for i in 0..4 {
        w.append("t", &i.to_string()).await.unwrap();
    }
    let status = w.close().await.unwrap();
    assert_eq!(
        (status.written, status.latest, status.unsigned),
        (0, None, 4)
    );
    assert!(status.failures >= 4, "{status:?}");
    assert_eq!(status.error, None, "a store failure is no reason to stop");
    assert!(sizes(&store).await.is_empty());
}

on_every_local_store!(
    a_checkpoint_that_cannot_be_stored_is_reported_at_close,
    a_writer_signs_every_n_segments_and_at_close,
    a_pipelined_writer_signs_what_readers_compute,
    a_writer_resumes_from_the_log_others_wrote,
    a_writer_signs_after_its_interval,
    a_newer_checkpoint_of_another_key_stops_signing_unless_it_was_rotated,
    another_writers_events_during_the_open_are_leaves,
    a_failed_first_read_is_made_up,
    a_failing_read_is_tried_once_per_backoff,
    a_leaves_only_reader_yields_the_parsing_readers_leaves,
);

/// The tree's rule for a segment it is told of: added only where it starts at the seq the
/// tree stands at. With the rule switched off (the planted bug), a segment above another
/// writer's events is added without them, and the checkpoint it signs fails the audit.
#[tokio::test]
async fn a_known_segment_above_unseen_events_is_read_first() {
    for bug in [None, Some(TreeBug::PushWithoutSeqCheck)] {
        let store: Arc<dyn ObjectStore> = Arc::new(wormlog_store::MemoryStore::new());
        let key = signer();
        let w = LogWriter::open(Arc::clone(&store), writer_config(S, 1, "a"))
            .await
            .unwrap();
        for i in 0..4 {
            w.append("t", &i.to_string()).await.unwrap();
        }
        let last = w.append("t", "4").await.unwrap();
        w.close().await;
        let reader = LogReader::new(Arc::clone(&store), "", S)
            .unwrap()
            .with_leaf_hashes();
        let mut tree = Tree::resume(&*store, reader.keys().clone(), &key.verifier(), &[])
            .await
            .unwrap();
        if let Some(bug) = bug {
            tree = tree.with_planted_bug(bug);
        }
        // The last segment as its writer knows it; the four below it, the tree has not seen.
        let seg = wormlog_format::decode_segment(
            &store
                .get(&reader.keys().segment(last.slot))
                .await
                .unwrap()
                .body,
        )
        .unwrap();
        let known = KnownSegment {
            slot: last.slot,
            first_seq: 4,
            epoch: 1,
            write_id: seg.header.write_id,
            leaves: vec![wormlog_format::leaf_hash(b"whatever the writer hashed")],
        };
        let opts = PutOptions::default();
        match tree.push(&known) {
            Pushed::Behind => {
                assert_eq!(bug, None);
                tree.catch_up(&*store, &reader, &opts).await.unwrap();
                assert_eq!(tree.push(&known), Pushed::Covered);
            }
            Pushed::Added => assert_eq!(bug, Some(TreeBug::PushWithoutSeqCheck)),
            Pushed::Covered | Pushed::Contradiction => panic!("nothing read yet"),
        }
        tree.checkpoint(&*store, &key, &opts)
            .await
            .unwrap()
            .unwrap();
        let audit = tlog::audit_tree(Arc::clone(&store), "", S, &[key.verifier()], None)
            .await
            .unwrap();
        match bug {
            None => assert_eq!(audit.violations, Vec::<String>::new()),
            Some(_) => assert!(
                !audit.violations.is_empty(),
                "the planted bug's checkpoint passed the audit"
            ),
        }
    }
}

wormlog_tests::on_s3_stores!(
    a_writer_signs_every_n_segments_and_at_close,
    a_pipelined_writer_signs_what_readers_compute,
);

/// On an Object-Lock bucket, checkpoints and tiles get the writer's retention and legal hold,
/// as its segments do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_moto_checkpoints_and_tiles_are_locked_as_segments() {
    let bucket = wormlog_tests::servers::Server::fresh_bucket("wl-moto");
    let store: Arc<dyn ObjectStore> = wormlog_tests::servers::MOTO.store(&bucket, true).await;
    let key = signer();
    let mut cfg = checkpointing(1, policy(&key, 2, Duration::from_secs(3600)));
    cfg.lock = Some(wormlog_writer::LockPolicy {
        mode: wormlog_store::RetentionMode::Governance,
        retain_for: Duration::from_secs(86_400),
    });
    cfg.legal_hold = true;
    let w = LogWriter::open(Arc::clone(&store), cfg).await.unwrap();
    for i in 0..3 {
        w.append("t", &i.to_string()).await.unwrap();
    }
    assert_eq!(w.close().await.unwrap().latest, Some(3));
    let keys = StreamKeys::new("", S).unwrap();
    let mut objects = Vec::new();
    for prefix in [
        keys.checkpoints_prefix(),
        format!("{}tiles/", keys.prefix()),
    ] {
        objects.extend(
            wormlog_store::list_all(&*store, &prefix, None)
                .await
                .unwrap(),
        );
    }
    assert!(objects.len() >= 4, "{objects:?}");
    for o in objects {
        let lock = store.head(&o.key).await.unwrap().lock;
        assert!(lock.legal_hold, "{} has no legal hold", o.key);
        let mode = lock.retention.map(|r| r.mode);
        assert_eq!(
            mode,
            Some(wormlog_store::RetentionMode::Governance),
            "{}",
            o.key
        );
    }
    assert_audited(&store, &key, 3).await;
}

/// A leaves-only reader (the audit's) yields exactly the leaves a reader that parses every
/// event hashes, past a stale leader's zombie and a pipelined writer's batches.
async fn a_leaves_only_reader_yields_the_parsing_readers_leaves(store: Arc<dyn ObjectStore>) {
    let a = LogWriter::open(Arc::clone(&store), writer_config(S, 1, "a"))
        .await
        .unwrap();
    a.append("t", "0").await.unwrap();
    let mut cfg = writer_config(S, 2, "b");
    cfg.in_flight = 4;
    cfg.max_batch_events = 3;
    let b = LogWriter::open(Arc::clone(&store), cfg).await.unwrap();
    let _ = a.append("t", "stale").await; // fenced: a zombie, or refused
    let appends: Vec<_> = (0..40).map(|i| b.append("t", &i.to_string())).collect();
    for r in futures::future::join_all(appends).await {
        r.unwrap();
    }
    b.close().await;
    a.close().await;
    let leaves = |reader: LogReader| async move {
        let mut scan = reader.scan(0).await.unwrap();
        let mut out = Vec::new();
        while let Some(item) = scan.next().await.unwrap() {
            match item {
                wormlog_reader::ScanItem::Event(e) => out.push(e.leaf_hash.unwrap()),
                wormlog_reader::ScanItem::Leaves { hashes, .. } => out.extend(hashes),
                _ => {}
            }
        }
        out
    };
    let parsed = leaves(
        LogReader::new(Arc::clone(&store), "", S)
            .unwrap()
            .with_leaf_hashes(),
    )
    .await;
    let only = leaves(
        LogReader::new(Arc::clone(&store), "", S)
            .unwrap()
            .leaves_only(),
    )
    .await;
    assert_eq!(parsed.len(), 41);
    assert_eq!(parsed, only);
}

/// The newest checkpoint below a bound is found in O(log n) single-key listings, however
/// many checkpoints there are, and agrees with a full listing.
#[tokio::test]
async fn the_newest_checkpoint_is_found_without_listing_them_all() {
    let faults = Arc::new(FaultStore::new(Arc::new(wormlog_store::MemoryStore::new())));
    let store: Arc<dyn ObjectStore> = Arc::clone(&faults) as Arc<dyn ObjectStore>;
    let keys = StreamKeys::new("", S).unwrap();
    let mut sizes: Vec<u64> = (1..=2500).map(|i| i * 3).collect();
    sizes.extend([10_000, 10_001, 123_456, 9_999_999]);
    // A first page of keys that are no checkpoint (they sort before every size), then the
    // checkpoints' keys (a listing reads only the names).
    let strays = (0..1001).map(|i| format!("{}-stray-{i:04}", keys.checkpoints_prefix()));
    for key in strays.chain(sizes.iter().map(|&size| keys.checkpoint(size))) {
        let body = bytes::Bytes::from_static(b"x");
        store
            .put_if_absent(&key, body, &PutOptions::default())
            .await
            .unwrap();
    }
    let brute = |below: Option<u64>| {
        sizes
            .iter()
            .copied()
            .filter(|&s| below.is_none_or(|b| s < b))
            .max()
    };
    for below in [
        None,
        Some(0),
        Some(1),
        Some(4),
        Some(3000),
        Some(7501),
        Some(9999),
        Some(10_001),
        Some(10_002),
        Some(200_000),
        Some(u64::MAX),
    ] {
        let before = faults.journal().len();
        let found = tlog::newest_checkpoint(&*store, &keys, below)
            .await
            .unwrap();
        assert_eq!(found, brute(below), "below {below:?}");
        let lists = faults.journal().len() - before;
        assert!(lists <= 100, "{lists} listings for below {below:?}");
    }
}

/// An interval too long to add to a clock (`--checkpoint-secs 18446744073709551615`) means
/// "never by the clock", not a checkpointer that panics and a close that reports nothing.
#[tokio::test]
async fn an_interval_beyond_the_clock_signs_at_close() {
    let store: Arc<dyn ObjectStore> = Arc::new(wormlog_store::MemoryStore::new());
    let key = signer();
    let cfg = checkpointing(1, policy(&key, 1000, Duration::from_secs(u64::MAX)));
    let w = LogWriter::open(Arc::clone(&store), cfg).await.unwrap();
    for i in 0..3 {
        w.append("t", &i.to_string()).await.unwrap();
    }
    let status = w.close().await.unwrap();
    assert_eq!(
        (status.latest, status.unsigned, status.error),
        (Some(3), 0, None)
    );
}
