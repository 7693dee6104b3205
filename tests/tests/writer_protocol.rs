//! The writer's rules (protocol.md, writer steps 1-4), one test per rule, each run on
//! MemoryStore and FsStore. A `FaultStore` in front of the real store injects failures and
//! records what the writer sent.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use uuid::Uuid;
use wormlog_format::{SegmentKind, SegmentSummary, StreamKeys};
use wormlog_reader::{LogReader, ScanItem};
use wormlog_store::{Fault, FaultStore, ObjectStore, Op, StoreError};
use wormlog_tests::{on_every_local_store, on_every_store, slots, writer_config, Plant};
use wormlog_writer::{LogWriter, WriteError};

const S: &str = "orders";

/// Opens a writer on stream `S` with test settings; panics if it cannot.
async fn open(store: Arc<dyn ObjectStore>, epoch: u64, writer: &str) -> LogWriter {
    LogWriter::open(store, writer_config(S, epoch, writer))
        .await
        .unwrap()
}

fn faulty(store: &Arc<dyn ObjectStore>) -> FaultStore {
    FaultStore::new(Arc::clone(store))
}

/// A store that plants `plant` at slot 1 just before the first PUT there: another writer
/// committed at the tail between a new writer's read of the log and its first PUT.
fn planting_at_slot_1(store: &Arc<dyn ObjectStore>, plant: Plant) -> FaultStore {
    let f = faulty(store);
    let planted = Arc::new(AtomicBool::new(false));
    let inner = Arc::clone(store);
    f.before_each(move |op, key| {
        let (inner, planted, key) = (Arc::clone(&inner), Arc::clone(&planted), key.to_owned());
        let plant = plant.clone();
        async move {
            if op == Op::PutIfAbsent
                && key.ends_with("00000000000000000001")
                && !planted.swap(true, Ordering::SeqCst)
            {
                plant.at(&*inner, S, 1).await;
            }
        }
    });
    f
}

/// Readers stop at a gap from slot `first`, and `verify` reports no pending hole: returns
/// its report.
async fn a_gap_to_every_reader(
    store: &Arc<dyn ObjectStore>,
    first: u64,
) -> wormlog_reader::VerifyReport {
    let reader = LogReader::new(Arc::clone(store), "", S).unwrap();
    let read = reader.read_events(0, None).await;
    assert!(
        matches!(read, Err(wormlog_reader::ReadError::Gap { first: f, .. }) if f == first),
        "{read:?}"
    );
    let report = wormlog_reader::verify(Arc::clone(store), "", S, false)
        .await
        .unwrap();
    assert!(report.pending_holes.is_empty(), "{report:?}");
    report
}

/// The log PUTs recorded by `f` (create-only puts of segments).
fn log_puts(f: &FaultStore) -> Vec<wormlog_store::RecordedRequest> {
    f.journal()
        .into_iter()
        .filter(|r| r.op == Op::PutIfAbsent && r.key.contains("/log/"))
        .collect()
}

async fn events(store: &Arc<dyn ObjectStore>) -> Vec<(u64, uuid::Uuid)> {
    let reader = LogReader::new(Arc::clone(store), "", S).unwrap();
    reader
        .read_events(0, None)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.seq, e.id))
        .collect()
}

/// Step 2, 412 on our own write id: the first PUT committed but its response was lost; the
/// retry meets 412, reads the slot back, finds our write id and counts the batch committed.
async fn lost_response_is_resolved_as_our_own_write(store: Arc<dyn ObjectStore>) {
    let f = faulty(&store);
    let w = open(Arc::new(f.clone()), 1, "a").await;
    f.inject(Fault::lost_response(
        Op::PutIfAbsent,
        "/log/",
        Fault::unavailable(Op::PutIfAbsent, "x"),
        1,
    ));
    let ack = w
        .append("t", "1")
        .await
        .expect("a lost response is not a failure");
    assert_eq!((ack.seq, ack.slot), (0, 1));
    let puts: Vec<_> = log_puts(&f)
        .into_iter()
        .filter(|r| r.key.ends_with("00000000000000000001"))
        .collect();
    assert_eq!(puts.len(), 2, "the same slot was sent twice");
    assert_eq!(
        puts[0].metadata["wormlog-write-id"],
        puts[1].metadata["wormlog-write-id"]
    );
    assert!(matches!(
        puts[1].error,
        Some(StoreError::AlreadyExists { .. })
    ));
    assert_eq!(w.stats().conflicts, 1);
    let next = w.append("t", "2").await.unwrap();
    assert_eq!(
        (next.seq, next.slot),
        (1, 2),
        "the writer moved on past its own segment"
    );
    assert_eq!(
        events(&store).await.len(),
        2,
        "the event is in the log exactly once (I6)"
    );
}

/// Step 2, 412 with a higher epoch: the writer is fenced; this and every later append fail
/// and no further log PUT is sent (I4, I5).
async fn higher_epoch_fences_the_writer_and_it_sends_no_more_puts(store: Arc<dyn ObjectStore>) {
    let fa = faulty(&store);
    let a = open(Arc::new(fa.clone()), 1, "a").await;
    a.append("t", "\"a0\"").await.unwrap();
    let b = open(Arc::clone(&store), 2, "b").await;
    b.append("t", "\"b0\"").await.unwrap();
    let err = a.append("t", "\"a-stale\"").await.unwrap_err();
    assert!(
        matches!(
            err,
            WriteError::Fenced {
                epoch: 2,
                ours: 1,
                slot: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("412"),
        "the message names the 412: {err}"
    );
    let puts_when_fenced = log_puts(&fa).len();
    for _ in 0..3 {
        assert!(matches!(
            a.append("t", "\"again\"").await,
            Err(WriteError::Fenced { .. })
        ));
    }
    assert_eq!(
        log_puts(&fa).len(),
        puts_when_fenced,
        "I5: a fenced writer sends no further log PUT"
    );
    let seqs: Vec<u64> = events(&store).await.iter().map(|e| e.0).collect();
    assert_eq!(seqs, [0, 1], "the stale append is nowhere in the log");
}

/// Step 1: a writer whose epoch is below the log's last one is fenced at open and writes nothing.
async fn open_below_the_current_epoch_is_fenced_and_writes_nothing(store: Arc<dyn ObjectStore>) {
    open(Arc::clone(&store), 5, "new").await;
    let before = slots(&*store, S).await;
    let err = LogWriter::open(Arc::clone(&store), writer_config(S, 4, "old"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            WriteError::Fenced {
                epoch: 5,
                ours: 4,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(slots(&*store, S).await, before);
}

/// Step 2, 412 with our own epoch but another writer: two writers share one token; fail hard.
async fn same_epoch_other_writer_is_an_epoch_conflict(store: Arc<dyn ObjectStore>) {
    let a = open(Arc::clone(&store), 3, "a").await;
    Plant::events(0, 1, 3, "b").at(&*store, S, 1).await;
    let err = a.append("t", "1").await.unwrap_err();
    assert!(
        matches!(&err, WriteError::EpochConflict { slot: 1, epoch: 3, other, .. } if other == "b"),
        "{err:?}"
    );
    assert!(err.is_fenced());
    assert!(
        matches!(
            a.append("t", "2").await,
            Err(WriteError::EpochConflict { .. })
        ),
        "the writer stays stopped"
    );
}

/// Step 2, 412 with a lower epoch not below the highest seen: an older writer committed at the
/// tail between our LIST and our first PUT. Readers count it, so the writer counts it too.
async fn older_valid_segment_is_counted_and_the_writer_moves_past_it(store: Arc<dyn ObjectStore>) {
    open(Arc::clone(&store), 1, "old").await;
    let f = planting_at_slot_1(&store, Plant::events(0, 3, 1, "old"));
    let w = open(Arc::new(f), 2, "new").await;
    // Slot 1 lost to a writer still at work: the new one claims 2 and 3 with voids (fencing
    // ahead) while it reads slot 1, then commits its epoch-start at 4.
    assert_eq!(
        w.position().next_slot,
        5,
        "epoch-start moved from slot 1 past the fence's voids to slot 4"
    );
    let ack = w.append("t", "\"new\"").await.unwrap();
    assert_eq!(
        (ack.seq, ack.slot),
        (3, 5),
        "the older writer's 3 events were counted, the voids were not"
    );
    let seqs: Vec<u64> = events(&store).await.iter().map(|e| e.0).collect();
    assert_eq!(
        seqs,
        [0, 1, 2, 3],
        "readers agree with the writer's count (I3)"
    );
    // Each void names how far into its round it lies, so readers know the round began at
    // slot 2: the slot lost before it (1, the older writer's) is never taken for pending.
    let keys = StreamKeys::new("", S).unwrap();
    for (slot, offset) in [(2u64, 1u32), (3, 2)] {
        let got = store.get(&keys.segment(slot)).await.unwrap();
        let header = wormlog_format::decode_header(&got.body).unwrap();
        assert_eq!(
            (header.kind, header.window),
            (SegmentKind::Void, Some(offset))
        );
        assert_eq!(wormlog_format::lowest_pending(slot, offset), 2);
    }
}

/// Step 2, 412 with a version 3 segment of a lower epoch (not a zombie) that names another
/// predecessor than the valid segment below: an orphan (a pipelined stale writer's batch
/// above a slot it lost). Readers skip it, so the writer skips it uncounted, and its own
/// segments name the valid one below. Returns what readers deliver and the new writer's ack.
async fn an_orphan_met_at_a_412(
    store: Arc<dyn ObjectStore>,
    bug: Option<wormlog_writer::PlantedBug>,
) -> (
    Result<Vec<u64>, wormlog_reader::ReadError>,
    wormlog_writer::Appended,
) {
    open(Arc::clone(&store), 1, "old").await;
    let orphan = Plant::events(0, 3, 1, "old").naming(Some(Uuid::from_u128(77)));
    let f = planting_at_slot_1(&store, orphan);
    let mut cfg = writer_config(S, 2, "new");
    cfg.planted_bug = bug;
    let w = LogWriter::open(Arc::new(f), cfg).await.unwrap();
    let ack = w.append("t", "\"new\"").await.unwrap();
    let reader = LogReader::new(Arc::clone(&store), "", S).unwrap();
    let read = reader.read_events(0, None).await;
    (
        read.map(|events| events.iter().map(|e| e.seq).collect()),
        ack,
    )
}

async fn an_older_writers_orphan_is_skipped_uncounted(store: Arc<dyn ObjectStore>) {
    let (seqs, ack) = an_orphan_met_at_a_412(Arc::clone(&store), None).await;
    assert_eq!(ack.seq, 0, "the orphan's 3 events were not counted");
    assert_eq!(
        seqs.unwrap(),
        [0],
        "readers deliver the acknowledged event (I3)"
    );
    let report = wormlog_reader::verify(store, "", S, false).await.unwrap();
    assert!(report.is_clean(), "{:?}", report.findings);
    assert_eq!(
        report.orphans.iter().map(|o| o.slot).collect::<Vec<_>>(),
        [1]
    );
}

/// The planted bug (an orphan counted as valid) makes the writer acknowledge an event that
/// no reader delivers: the test above catches it.
async fn planted_bug_counting_an_orphan_loses_an_acknowledged_event(store: Arc<dyn ObjectStore>) {
    let bug = Some(wormlog_writer::PlantedBug::CountOrphans);
    let (seqs, ack) = an_orphan_met_at_a_412(store, bug).await;
    assert_eq!(ack.seq, 3, "with the bug, the orphan's events are counted");
    assert!(
        !seqs.as_ref().is_ok_and(|s| s.contains(&ack.seq)),
        "and readers do not deliver the acknowledged event: {seqs:?}"
    );
}

/// Step 2, 412 with an epoch below the highest seen: a zombie. Readers skip it, so the writer
/// skips it without counting its events.
async fn zombie_segment_is_skipped_uncounted(store: Arc<dyn ObjectStore>) {
    let w = open(Arc::clone(&store), 2, "new").await;
    Plant::events(0, 2, 1, "zombie").at(&*store, S, 1).await;
    let ack = w.append("t", "\"x\"").await.unwrap();
    assert_eq!(
        (ack.seq, ack.slot),
        (0, 2),
        "the zombie's events were not counted"
    );
    let reader = LogReader::new(Arc::clone(&store), "", S).unwrap();
    let mut scan = reader.scan(0).await.unwrap();
    let mut saw = Vec::new();
    while let Some(item) = scan.next().await.unwrap() {
        saw.push(match item {
            ScanItem::Zombie { slot, .. } => format!("zombie@{slot}"),
            ScanItem::Void { slot, .. } => format!("void@{slot}"),
            ScanItem::Orphan { slot, .. } => format!("orphan@{slot}"),
            ScanItem::Event(e) => format!("seq{}", e.seq),
            ScanItem::Control { slot, .. } => format!("control@{slot}"),
            ScanItem::Purged { slot, .. } => format!("purged@{slot}"),
            ScanItem::Leaves { slot, .. } => format!("leaves@{slot}"),
        });
    }
    assert_eq!(saw, ["control@0", "zombie@1", "seq0"]);
}

/// Step 2, 409 ConditionalRequestConflict: retried on the same slot after backoff.
async fn conflict_409_is_retried_on_the_same_slot(store: Arc<dyn ObjectStore>) {
    let f = faulty(&store);
    let w = open(Arc::new(f.clone()), 1, "a").await;
    f.inject(Fault::before(
        Op::PutIfAbsent,
        "/log/",
        StoreError::Conflict { key: "k".into() },
        2,
    ));
    let ack = w.append("t", "1").await.unwrap();
    assert_eq!((ack.seq, ack.slot), (0, 1));
    assert_eq!(w.stats().retries, 2);
    let keys: Vec<String> = log_puts(&f).into_iter().skip(1).map(|r| r.key).collect();
    assert_eq!(keys.len(), 3, "two 409s, then success");
    assert!(
        keys.iter().all(|k| k.ends_with("00000000000000000001")),
        "always the same slot: {keys:?}"
    );
}

/// Step 2, 5xx: retried on the same slot with the same write id.
async fn server_errors_are_retried_with_the_same_write_id(store: Arc<dyn ObjectStore>) {
    let f = faulty(&store);
    let w = open(Arc::new(f.clone()), 1, "a").await;
    f.inject(Fault::before(
        Op::PutIfAbsent,
        "/log/",
        Fault::unavailable(Op::PutIfAbsent, "k"),
        3,
    ));
    w.append("t", "1").await.unwrap();
    let puts = log_puts(&f);
    let batch: Vec<_> = puts
        .iter()
        .filter(|r| r.key.ends_with("00000000000000000001"))
        .collect();
    assert_eq!(batch.len(), 4, "three failures, then success");
    assert!(batch
        .iter()
        .all(|r| r.metadata["wormlog-write-id"] == batch[0].metadata["wormlog-write-id"]));
    assert_eq!(w.stats().retries, 3);
}

/// Step 2, retries exhausted: the outcome is unknown, so the writer is poisoned and refuses
/// further appends without sending anything; a reopened writer re-reads the tail and goes on.
async fn exhausted_retries_poison_the_writer_until_reopened(store: Arc<dyn ObjectStore>) {
    let f = faulty(&store);
    let w = open(Arc::new(f.clone()), 1, "a").await;
    // The first attempt lands but its answer is lost; every retry then fails before the store.
    f.inject(Fault::lost_response(
        Op::PutIfAbsent,
        "/log/",
        Fault::unavailable(Op::PutIfAbsent, "k"),
        1,
    ));
    f.inject(Fault::before(
        Op::PutIfAbsent,
        "/log/",
        Fault::unavailable(Op::PutIfAbsent, "k"),
        usize::MAX,
    ));
    let err = w.append("t", "\"maybe\"").await.unwrap_err();
    assert!(
        matches!(
            err,
            WriteError::OutcomeUnknown {
                slot: 1,
                attempts: 5,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.is_definite());
    let sent = log_puts(&f).len();
    assert!(matches!(
        w.append("t", "2").await,
        Err(WriteError::Poisoned { slot: 1 })
    ));
    assert_eq!(log_puts(&f).len(), sent, "a poisoned writer sends nothing");
    f.clear_faults();
    let w2 = open(Arc::new(f.clone()), 2, "a2").await;
    let ack = w2.append("t", "3").await.unwrap();
    assert_eq!(
        ack.seq, 1,
        "the unknown append had landed once, and is counted once (I6)"
    );
    let seqs: Vec<u64> = events(&store).await.iter().map(|e| e.0).collect();
    assert_eq!(seqs, [0, 1]);
}

/// I6: a definite failure (403) fails the batch, never lands, and leaves the writer usable.
async fn definite_failure_never_appears_in_the_log(store: Arc<dyn ObjectStore>) {
    let f = faulty(&store);
    let w = open(Arc::new(f.clone()), 1, "a").await;
    let denied = StoreError::Permanent {
        op: "put",
        key: "k".into(),
        message: "403 AccessDenied".into(),
    };
    f.inject(Fault::before(Op::PutIfAbsent, "/log/", denied, 1));
    let err = w.append("t", "\"denied\"").await.unwrap_err();
    assert!(
        err.is_definite() && matches!(err, WriteError::Store(_)),
        "{err:?}"
    );
    let ok = w.append("t", "\"ok\"").await.unwrap();
    assert_eq!((ok.seq, ok.slot), (0, 1));
    assert_eq!(
        events(&store).await.len(),
        1,
        "the denied event is not in the log"
    );
}

/// Conditional append: succeeds at the expected seq; a stale expectation is a Conflict and
/// writes nothing; a foreign segment in the way is a Conflict, not an advance.
async fn conditional_append_refuses_a_moved_log(store: Arc<dyn ObjectStore>) {
    let w = open(Arc::clone(&store), 1, "a").await;
    let e = vec![w.event("t", "1").unwrap(), w.event("t", "2").unwrap()];
    let acks = w.append_expected(e, 0).await.unwrap();
    assert_eq!(acks.iter().map(|a| a.seq).collect::<Vec<_>>(), [0, 1]);
    assert_eq!(acks[0].slot, acks[1].slot, "one segment");
    let stale = w
        .append_expected(vec![w.event("t", "3").unwrap()], 1)
        .await
        .unwrap_err();
    assert!(
        matches!(
            stale,
            WriteError::Conflict {
                expected: 1,
                actual: 2,
                ..
            }
        ),
        "{stale:?}"
    );
    Plant::events(2, 1, 1, "a").at(&*store, S, 2).await; // same token, same writer id: a twin
    let twin = w
        .append_expected(vec![w.event("t", "4").unwrap()], 2)
        .await
        .unwrap_err();
    assert!(matches!(twin, WriteError::EpochConflict { .. }), "{twin:?}");
}

/// A foreign segment in the way of a conditional append is a Conflict returned to the
/// caller, not an advance. After our epoch-start only a zombie can be foreign and lower.
async fn conditional_append_meeting_a_foreign_segment_is_a_conflict(store: Arc<dyn ObjectStore>) {
    let w = open(Arc::clone(&store), 2, "a").await;
    w.append("t", "0").await.unwrap();
    Plant::events(1, 1, 1, "zombie").at(&*store, S, 2).await;
    let err = w
        .append_expected(vec![w.event("t", "1").unwrap()], 1)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            WriteError::Conflict {
                expected: 1,
                actual: 1,
                slot: 2
            }
        ),
        "{err:?}"
    );
    let ack = w
        .append_expected(vec![w.event("t", "1").unwrap()], 1)
        .await
        .unwrap();
    assert_eq!(
        (ack[0].seq, ack[0].slot),
        (1, 3),
        "a retry after re-reading goes past it"
    );
}

/// Step 4: appends queued while a PUT is in flight share the next segment, in call order.
async fn queued_appends_are_group_committed_in_order(store: Arc<dyn ObjectStore>) {
    let w = open(Arc::clone(&store), 1, "a").await;
    let futures: Vec<_> = (0..200).map(|i| w.append("t", &i.to_string())).collect();
    let mut seqs = Vec::new();
    for f in futures {
        seqs.push(f.await.unwrap().seq);
    }
    assert_eq!(
        seqs,
        (0..200).collect::<Vec<u64>>(),
        "acknowledged in call order"
    );
    let segments = w.stats().segments - 1; // minus the epoch-start
    assert!(
        segments < 200,
        "queued appends were batched: {segments} segments for 200 events"
    );
    let stored: Vec<u64> = events(&store).await.iter().map(|e| e.0).collect();
    assert_eq!(stored, seqs);
}

/// Group commit respects the batch limits.
async fn batches_respect_max_events(store: Arc<dyn ObjectStore>) {
    let mut cfg = writer_config(S, 1, "a");
    cfg.max_batch_events = 7;
    let w = LogWriter::open(Arc::clone(&store), cfg).await.unwrap();
    let futures: Vec<_> = (0..50).map(|i| w.append("t", &i.to_string())).collect();
    for f in futures {
        f.await.unwrap();
    }
    let reader = LogReader::new(Arc::clone(&store), "", S).unwrap();
    let mut scan = reader.scan(0).await.unwrap();
    let mut per_slot = std::collections::BTreeMap::<u64, u64>::new();
    while let Some(item) = scan.next().await.unwrap() {
        if let ScanItem::Event(e) = item {
            *per_slot.entry(e.seq).or_default() += 1;
        }
    }
    assert_eq!(per_slot.len(), 50);
    let keys = StreamKeys::new("", S).unwrap();
    for slot in slots(&*store, S).await {
        let got = store.get(&keys.segment(slot)).await.unwrap();
        let s = SegmentSummary::from_metadata(&got.meta.metadata).unwrap();
        assert!(s.count <= 7, "slot {slot} holds {} events", s.count);
    }
}

/// Object Lock on every segment: HEAD reads the retention back; delete is refused.
async fn segments_carry_the_requested_object_lock(store: Arc<dyn ObjectStore>) {
    let mut cfg = writer_config(S, 1, "a");
    cfg.lock = Some(wormlog_writer::LockPolicy {
        mode: wormlog_store::RetentionMode::Compliance,
        retain_for: std::time::Duration::from_secs(86_400),
    });
    cfg.legal_hold = true;
    let w = LogWriter::open(Arc::clone(&store), cfg).await.unwrap();
    let ack = w.append("t", "1").await.unwrap();
    let key = StreamKeys::new("", S).unwrap().segment(ack.slot);
    let head = store.head(&key).await.unwrap();
    assert_eq!(
        head.lock.retention.unwrap().mode,
        wormlog_store::RetentionMode::Compliance
    );
    assert!(head.lock.legal_hold);
    assert!(matches!(
        store.delete(&key, &Default::default()).await,
        Err(StoreError::ObjectLocked { .. })
    ));
}

/// Open commits an epoch-start control record that readers see but do not deliver.
async fn open_commits_an_epoch_start_record(store: Arc<dyn ObjectStore>) {
    let w = open(Arc::clone(&store), 4, "a").await;
    assert_eq!(w.position().next_slot, 1);
    let keys = StreamKeys::new("", S).unwrap();
    let got = store.get(&keys.segment(0)).await.unwrap();
    let s = SegmentSummary::from_metadata(&got.meta.metadata).unwrap();
    assert_eq!((s.kind, s.epoch, s.count), (SegmentKind::EpochStart, 4, 0));
    assert!(events(&store).await.is_empty());
}

/// Step 1: open finds the tail with O(log n) reads and one LIST after it, not by listing the
/// whole log (every `wormlog append` opens a writer).
async fn open_finds_the_tail_in_logarithmic_reads(store: Arc<dyn ObjectStore>) {
    let w = open(Arc::clone(&store), 1, "a").await;
    for i in 0..299 {
        w.append("t", &i.to_string()).await.unwrap();
    }
    // A log that fits in one listing page: the listing alone, then the last slot's HEAD.
    let f = faulty(&store);
    let b = open(Arc::new(f.clone()), 2, "b").await;
    assert_eq!(
        b.position().next_slot,
        301,
        "epoch-start right after the 300 slots"
    );
    let journal = f.journal();
    let heads = journal.iter().filter(|r| r.op == Op::Head).count();
    let lists = journal.iter().filter(|r| r.op == Op::List).count();
    assert_eq!((lists, heads), (1, 1), "one listing page and one HEAD");
    b.close().await;
    // A longer log than a page (S3 pages at 1000; here 100): the HEAD gallop, then one
    // listing after the probed tail.
    let f = faulty(&store);
    f.page_versions_by(100);
    let c = open(Arc::new(f.clone()), 3, "c").await;
    assert_eq!(c.position().next_slot, 302);
    let journal = f.journal();
    let heads = journal.iter().filter(|r| r.op == Op::Head).count();
    let lists = journal.iter().filter(|r| r.op == Op::List).count();
    assert!(heads <= 2 * 9 + 3, "{heads} HEADs for a 300-slot log");
    assert_eq!(
        lists, 2,
        "the first page, then one listing after the probed tail"
    );
}

/// Step 1: a tail guess far behind the tail (an old cache file, another machine appending
/// since) costs one listing page, then the search from scratch; not a request for every
/// page of the log above it.
async fn an_old_tail_hint_costs_one_listing_page_not_the_log_above_it(store: Arc<dyn ObjectStore>) {
    let w = open(Arc::clone(&store), 1, "a").await;
    for i in 0..299 {
        w.append("t", &i.to_string()).await.unwrap(); // slots 1..=299
    }
    w.close().await;
    let f = faulty(&store);
    f.page_versions_by(10);
    let mut cfg = writer_config(S, 1, "b");
    cfg.tail_hint = Some(3);
    let b = LogWriter::open(Arc::new(f.clone()), cfg).await.unwrap();
    assert_eq!(b.position().next_slot, 300, "the tail, whatever the hint");
    let lists = f.journal().iter().filter(|r| r.op == Op::List).count();
    assert_eq!(
        lists, 3,
        "a page from the hint, the first page, one listing after the gallop (pages of 10)"
    );
    b.close().await;
}

/// Liveness: a stale leader still writing fast cannot starve a new leader. After each foreign
/// segment the writer reads the next slot before writing it, so it catches up with reads
/// (every slot is still read, none skipped) instead of one doomed PUT per slot.
/// A stale leader that appends as fast as the store answers, faster than the new leader
/// reads (each of its requests takes 1 ms; the new leader's PUTs 2 ms, its reads 6 ms),
/// cannot hold the new leader off: fencing ahead puts it in the log within a few round trips. Returns how many
/// of the stale leader's appends were acknowledged between the new leader's first log PUT
/// and its first acknowledged event.
async fn takeover_against_a_stale_leader(
    store: Arc<dyn ObjectStore>,
    bug: Option<wormlog_writer::PlantedBug>,
) -> u64 {
    let acked = Arc::new(std::sync::atomic::AtomicU64::new(0));
    // The stale leader's acks when the new leader sent its first log PUT (after the probe's
    // verdict and the listing, which S3 stores add): the takeover starts there.
    let at_first_put = Arc::new(std::sync::atomic::AtomicU64::new(u64::MAX));
    // Each request waits `put_ms` (PUTs) or `read_ms` (everything else) before the store.
    // The new leader's reads take 6 ms, several of the stale leader's appends even where a
    // PUT costs an fsync on top (FsStore): a chase by reads never catches up, whatever the
    // machine's load, while a fenced-ahead open (two reads and a few PUTs) stays short.
    let latency = |read_ms: u64, put_ms: u64, stale: bool| {
        let f = faulty(&store);
        let (acked, first) = (Arc::clone(&acked), Arc::clone(&at_first_put));
        f.before_each(move |op, key| {
            if !stale && op == Op::PutIfAbsent && key.contains("/log/") {
                let now = acked.load(Ordering::SeqCst);
                let _ = first.compare_exchange(u64::MAX, now, Ordering::SeqCst, Ordering::SeqCst);
            }
            let ms = match op {
                Op::PutIfAbsent | Op::PutIfMatch => put_ms,
                _ => read_ms,
            };
            tokio::time::sleep(std::time::Duration::from_millis(ms))
        });
        Arc::new(f)
    };
    let (fast, slow) = (latency(1, 1, true), latency(6, 2, false));
    // Both one slot in flight, whatever the suite's window: the race timed here is fencing
    // ahead against a serial stale leader, not pipelining.
    let mut stale_cfg = writer_config(S, 1, "old");
    stale_cfg.in_flight = 1;
    let stale = Arc::new(LogWriter::open(fast, stale_cfg).await.unwrap());
    let (s, a) = (Arc::clone(&stale), Arc::clone(&acked));
    let stale_task = tokio::spawn(async move {
        for i in 0..400 {
            if s.append("t", &i.to_string()).await.is_err() {
                return; // fenced
            }
            a.fetch_add(1, Ordering::SeqCst);
        }
    });
    while acked.load(Ordering::SeqCst) < 5 {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    let mut cfg = writer_config(S, 2, "new");
    cfg.planted_bug = bug;
    cfg.in_flight = 1;
    let b = LogWriter::open(Arc::clone(&slow) as Arc<dyn ObjectStore>, cfg)
        .await
        .unwrap();
    let ack = b.append("t", "\"new\"").await.unwrap();
    let during = acked.load(Ordering::SeqCst) - at_first_put.load(Ordering::SeqCst);
    stale_task.await.unwrap();
    let events = events(&store).await;
    let old_counted = events.iter().filter(|(seq, _)| *seq < ack.seq).count() as u64;
    assert_eq!(
        old_counted, ack.seq,
        "every valid segment before the new epoch is counted"
    );
    assert_eq!(
        events.last().unwrap().0,
        ack.seq,
        "nothing of the stale leader after it"
    );
    during
}

async fn a_new_leader_fences_a_stale_leader_still_writing(store: Arc<dyn ObjectStore>) {
    let during = takeover_against_a_stale_leader(store, None).await;
    // The epoch-start (412), the read of that slot beside 2 voids (taken), 4 voids, the
    // epoch-start: a handful of the stale leader's appends land meanwhile.
    assert!(
        during <= 30,
        "the stale leader got {during} appends in during the takeover"
    );
}

/// Without fencing ahead, the new leader chases the stale one slot by slot for as long as it
/// writes: the test above would catch it.
async fn planted_bug_no_fence_ahead_is_held_off_while_the_stale_leader_writes(
    store: Arc<dyn ObjectStore>,
) {
    let bug = Some(wormlog_writer::PlantedBug::NoFenceAhead);
    let during = takeover_against_a_stale_leader(store, bug).await;
    assert!(
        during > 100,
        "held off while the stale leader wrote: {during} appends"
    );
}

/// A tail hint (the slot a previous process wrote) is read beside the listing and used only
/// if the listing shows that slot as the last: a wrong one changes nothing but a read.
async fn a_wrong_tail_hint_changes_nothing_but_a_read(store: Arc<dyn ObjectStore>) {
    let a = open(Arc::clone(&store), 1, "a").await;
    for i in 0..5 {
        a.append("t", &i.to_string()).await.unwrap(); // slots 1..=5
    }
    a.close().await;
    for hint in [None, Some(5), Some(3), Some(9), Some(u64::MAX)] {
        let mut cfg = writer_config(S, 1, "b");
        cfg.tail_hint = hint;
        let b = LogWriter::open(Arc::clone(&store), cfg).await.unwrap();
        assert_eq!(b.position().next_slot, 6, "hint {hint:?}");
        assert_eq!(b.position().next_seq, 5, "hint {hint:?}");
        b.close().await;
    }
    assert_eq!(events(&store).await.len(), 5);
}

/// A writer reopening under the epoch that already holds the tail (every `wormlog append
/// --epoch N` does) commits no epoch-start: its one append writes one object.
async fn reopening_under_the_tails_epoch_writes_only_the_events(store: Arc<dyn ObjectStore>) {
    let a = open(Arc::clone(&store), 3, "a").await;
    a.append("t", "0").await.unwrap(); // slots 0 epoch-start, 1 seq 0
    a.close().await;
    let f = faulty(&store);
    let b = open(Arc::new(f.clone()), 3, "b").await;
    assert_eq!(b.position().next_slot, 2, "no epoch-start at the tail");
    let ack = b.append("t", "1").await.unwrap();
    assert_eq!((ack.slot, ack.seq), (2, 1));
    b.close().await;
    assert_eq!(log_puts(&f).len(), 1, "one object for one append");
    // A lower epoch is fenced by that tail just as by an epoch-start.
    let stale = LogWriter::open(Arc::clone(&store), writer_config(S, 2, "z")).await;
    assert!(matches!(stale, Err(WriteError::Fenced { .. })), "{stale:?}");
}

/// The open's promise: once a writer with epoch e has opened, a lower epoch gets no more
/// acknowledgements, even from a writer that opened before it. The epoch-start shortcut
/// keeps it only when the tail already carries e.
async fn fence_lower_epochs_at_open(
    store: Arc<dyn ObjectStore>,
    bug: Option<wormlog_writer::PlantedBug>,
) -> Result<wormlog_writer::Appended, WriteError> {
    let a = open(Arc::clone(&store), 5, "a").await;
    a.append("t", "0").await.unwrap(); // slots 0 epoch-start, 1 seq 0, epoch 5
    a.close().await;
    let z = open(Arc::clone(&store), 6, "z").await; // slot 2: epoch-start, epoch 6
    let mut cfg = writer_config(S, 7, "w");
    cfg.planted_bug = bug;
    let _w = LogWriter::open(Arc::clone(&store), cfg).await.unwrap();
    z.append("t", "\"from the old leader\"").await
}

async fn an_open_fences_lower_epochs_at_once(store: Arc<dyn ObjectStore>) {
    let late = fence_lower_epochs_at_open(store, None).await;
    assert!(matches!(late, Err(WriteError::Fenced { .. })), "{late:?}");
}

/// The planted bug (no epoch-start whenever the tail's epoch is at or below ours) breaks that
/// promise, and the test above would catch it.
async fn planted_bug_skipping_the_epoch_start_below_us_is_caught(store: Arc<dyn ObjectStore>) {
    let bug = Some(wormlog_writer::PlantedBug::SkipEpochStartBelowUs);
    let late = fence_lower_epochs_at_open(store, bug).await;
    assert!(
        late.is_ok(),
        "with the bug, the old leader is still acknowledged: {late:?}"
    );
}

on_every_store!(
    lost_response_is_resolved_as_our_own_write,
    higher_epoch_fences_the_writer_and_it_sends_no_more_puts,
    open_below_the_current_epoch_is_fenced_and_writes_nothing,
    same_epoch_other_writer_is_an_epoch_conflict,
    older_valid_segment_is_counted_and_the_writer_moves_past_it,
    zombie_segment_is_skipped_uncounted,
    an_older_writers_orphan_is_skipped_uncounted,
    planted_bug_counting_an_orphan_loses_an_acknowledged_event,
    conflict_409_is_retried_on_the_same_slot,
    server_errors_are_retried_with_the_same_write_id,
    exhausted_retries_poison_the_writer_until_reopened,
    definite_failure_never_appears_in_the_log,
    conditional_append_refuses_a_moved_log,
    conditional_append_meeting_a_foreign_segment_is_a_conflict,
    queued_appends_are_group_committed_in_order,
    batches_respect_max_events,
    open_commits_an_epoch_start_record,
    reopening_under_the_tails_epoch_writes_only_the_events,
    a_wrong_tail_hint_changes_nothing_but_a_read,
    an_open_fences_lower_epochs_at_once,
    planted_bug_skipping_the_epoch_start_below_us_is_caught,
);

// Local stores only: request counting (the capability probe adds requests on S3 stores) and
// Object Lock on every segment (RGW's unversioned bucket has none; moto's is in s3_stores.rs).
mod local_only {
    use super::*;
    // Also the takeover race, timed by the latency the test adds rather than a server's own
    // (on S3 servers the two-process takeover test measures it).
    on_every_local_store!(
        open_finds_the_tail_in_logarithmic_reads,
        an_old_tail_hint_costs_one_listing_page_not_the_log_above_it,
        a_new_leader_fences_a_stale_leader_still_writing,
        planted_bug_no_fence_ahead_is_held_off_while_the_stale_leader_writes,
        segments_carry_the_requested_object_lock,
    );
}

/// A new leader that crashed while fencing ahead: events at slots 0..=1, slot 2 taken by a
/// stale leader's segment (its epoch-start lost there), its two claims at 3 and 4 sent, the
/// one at 4 landed (epoch 2, window 2), the one at 3 never. Readers wait at slot 3 (a pending
/// hole, not a gap); the next opener fills it with a void and goes on, and the log reads whole.
async fn crashed_fence(store: &Arc<dyn ObjectStore>) {
    let a = open(Arc::clone(store), 1, "a").await;
    a.append("t", "0").await.unwrap(); // slot 0 epoch-start, slot 1 seq 0
    a.close().await;
    Plant::events(1, 1, 1, "a").at(&**store, S, 2).await;
    Plant::void(2, 2, "crashed").at(&**store, S, 4).await;
}

async fn a_crashed_fence_is_a_pending_hole_that_the_next_opener_fills(store: Arc<dyn ObjectStore>) {
    crashed_fence(&store).await;
    let reader = LogReader::new(Arc::clone(&store), "", S).unwrap();
    let mut scan = reader.scan(0).await.unwrap();
    let mut seqs = Vec::new();
    while let Some(item) = scan.next().await.expect("a pending hole is not an error") {
        if let ScanItem::Event(e) = item {
            seqs.push(e.seq);
        }
    }
    assert_eq!((seqs, scan.pending_hole()), (vec![0, 1], Some((3, 3))));
    let report = wormlog_reader::verify(Arc::clone(&store), "", S, false)
        .await
        .unwrap();
    assert!(report.is_clean(), "{:?}", report.findings);
    assert_eq!(report.pending_holes, vec![(3, 3)]);

    let b = open(Arc::clone(&store), 3, "b").await;
    let ack = b.append("t", "2").await.unwrap();
    assert_eq!((ack.seq, ack.slot), (2, 6), "void at 3, epoch-start at 5");
    assert_eq!(events(&store).await.len(), 3);
    wormlog_tests::verify_settled(&store, S).await;
}

/// An opener that writes on above the hole without filling it turns it into a gap below its
/// own events: readers stop there. The test above would catch it.
async fn planted_bug_an_opener_that_does_not_repair_leaves_a_gap(store: Arc<dyn ObjectStore>) {
    crashed_fence(&store).await;
    let mut cfg = writer_config(S, 3, "b");
    cfg.planted_bug = Some(wormlog_writer::PlantedBug::OpenWithoutRepair);
    let b = LogWriter::open(Arc::clone(&store), cfg).await.unwrap();
    b.append("t", "1").await.unwrap();
    let reader = LogReader::new(Arc::clone(&store), "", S).unwrap();
    let read = reader.read_events(0, None).await;
    assert!(
        matches!(read, Err(wormlog_reader::ReadError::Gap { first: 3, .. })),
        "{read:?}"
    );
}

/// A new leader whose fence lost its race leaves voids of its lower epoch after a higher
/// epoch-start. The log's epoch is still the higher one: a lease issues above it, and a writer
/// between the two is fenced at open.
async fn a_lower_epoch_void_at_the_tail_does_not_hide_the_log_epoch(store: Arc<dyn ObjectStore>) {
    let b = open(Arc::clone(&store), 5, "b").await;
    b.append("t", "0").await.unwrap(); // slot 0 epoch-start at 5, slot 1 seq 0
    b.close().await;
    Plant::void(2, 2, "loser").at(&*store, S, 2).await;
    let keys = StreamKeys::new("", S).unwrap();
    let reads = wormlog_fencing::tail::LogReads::new(Arc::clone(&store), keys, Default::default());
    assert_eq!(reads.find_tail().await.unwrap().epoch(), 5);
    let cfg = wormlog_fencing::LeaseConfig::new(
        S,
        "candidate",
        std::time::Duration::from_secs(5),
        wormlog_store::SystemClock::shared(),
    );
    let mut lease = wormlog_fencing::Lease::new(Arc::clone(&store), cfg).unwrap();
    match lease.try_acquire().await.unwrap() {
        wormlog_fencing::Acquire::Acquired(t) => assert_eq!(t.epoch, 6, "above the log's 5"),
        other => panic!("{other:?}"),
    }
    let opened = LogWriter::open(Arc::clone(&store), writer_config(S, 3, "between")).await;
    assert!(
        matches!(opened, Err(WriteError::Fenced { epoch: 5, .. })),
        "{opened:?}"
    );
}

/// Segments deleted below a crashed fence's voids, further down than its claims reach, are a
/// gap: readers and `verify` report it, and a writer refuses to open rather than void them
/// and hand their seqs out again.
async fn segments_deleted_below_a_crashed_fence_are_a_gap(store: Arc<dyn ObjectStore>) {
    crashed_fence(&store).await;
    let keys = StreamKeys::new("", S).unwrap();
    for slot in 1..=2 {
        let opts = wormlog_store::DeleteOptions::default();
        store.delete(&keys.segment(slot), &opts).await.unwrap();
    }
    let report = a_gap_to_every_reader(&store, 1).await;
    assert!(
        report
            .findings
            .contains(&wormlog_reader::Finding::Gap { first: 1, last: 3 }),
        "{:?}",
        report.findings
    );
    let before = slots(&*store, S).await;
    let opened = LogWriter::open(Arc::clone(&store), writer_config(S, 3, "b")).await;
    assert!(matches!(opened, Err(WriteError::Gap { .. })), "{opened:?}");
    assert_eq!(slots(&*store, S).await, before, "nothing was written");
}

/// An opener below the log's epoch is refused before it repairs anything: with a pending
/// hole under a lower epoch's void, above a higher epoch's segment, nothing is written.
async fn an_opener_below_the_log_epoch_repairs_nothing(store: Arc<dyn ObjectStore>) {
    let h = open(Arc::clone(&store), 3, "h").await;
    h.append("t", "0").await.unwrap(); // slot 0 epoch-start at 3, slot 1 seq 0
    h.close().await;
    Plant::void(2, 2, "crashed").at(&*store, S, 3).await; // its round began at 2: 2 pending
    let before = slots(&*store, S).await;
    let opened = LogWriter::open(Arc::clone(&store), writer_config(S, 2, "low")).await;
    assert!(
        matches!(opened, Err(WriteError::Fenced { epoch: 3, .. })),
        "{opened:?}"
    );
    assert_eq!(
        slots(&*store, S).await,
        before,
        "nothing was written, no repair either"
    );
}

/// Missing slots in two runs under voids, the higher run below every claim above it: the
/// scan, `verify` and a writer's open all call it a gap, none a pending hole.
async fn readers_verify_and_writers_judge_every_missing_run_alike(store: Arc<dyn ObjectStore>) {
    let a = open(Arc::clone(&store), 1, "a").await;
    a.append("t", "0").await.unwrap(); // slots 0, 1
    a.close().await;
    // A round from slot 2: its void at 3 (offset 2); a lone void at 6 (offset 1); 2, 4, 5
    // missing. The run 4..=5 lies below the only claim above it (6's, from 6).
    Plant::void(2, 2, "n").at(&*store, S, 3).await;
    Plant::void(2, 1, "m").at(&*store, S, 6).await;
    a_gap_to_every_reader(&store, 2).await;
    let opened = LogWriter::open(Arc::clone(&store), writer_config(S, 3, "b")).await;
    assert!(matches!(opened, Err(WriteError::Gap { .. })), "{opened:?}");
}

mod fencing_ahead {
    use super::*;
    on_every_store!(
        an_opener_below_the_log_epoch_repairs_nothing,
        readers_verify_and_writers_judge_every_missing_run_alike,
        a_crashed_fence_is_a_pending_hole_that_the_next_opener_fills,
        planted_bug_an_opener_that_does_not_repair_leaves_a_gap,
        a_lower_epoch_void_at_the_tail_does_not_hide_the_log_epoch,
        segments_deleted_below_a_crashed_fence_are_a_gap,
    );
}

/// On a versioned bucket, slots deleted above a pending hole (delete markers beyond a
/// crashed fence's voids) are reported as a cut log, never waited on as a pending hole.
#[tokio::test]
async fn a_delete_marker_beyond_a_pending_hole_is_reported_not_waited_on() {
    let bucket = wormlog_tests::servers::Server::fresh_bucket("wl-fence");
    let s3 = wormlog_tests::servers::MOTO.store(&bucket, true).await;
    let store: Arc<dyn ObjectStore> = s3.clone();
    crashed_fence(&store).await;
    Plant::void(2, 2, "crashed").at(&*store, S, 5).await;
    let keys = StreamKeys::new("", S).unwrap();
    s3.client()
        .delete_object()
        .bucket(&bucket)
        .key(keys.segment(5))
        .send()
        .await
        .unwrap();
    let reader = LogReader::new(Arc::clone(&store), "", S).unwrap();
    let read = reader.read_events(0, None).await;
    assert!(
        matches!(
            read,
            Err(wormlog_reader::ReadError::SlotDeleted { slot: 5, .. })
        ),
        "{read:?}"
    );
    let opened = LogWriter::open(Arc::clone(&store), writer_config(S, 3, "b")).await;
    assert!(
        matches!(opened, Err(WriteError::SlotDeleted { slot: 5, .. })),
        "{opened:?}"
    );
}

/// A slot deleted below a crashed fence's voids on a versioned bucket (a delete marker) is
/// refused by name: the opener would write a void over the marker.
#[tokio::test]
async fn a_deleted_slot_under_voids_on_a_versioned_bucket_is_refused_by_name() {
    let bucket = wormlog_tests::servers::Server::fresh_bucket("wl-fence");
    let s3 = wormlog_tests::servers::MOTO.store(&bucket, true).await;
    let store: Arc<dyn ObjectStore> = s3.clone();
    crashed_fence(&store).await;
    let keys = StreamKeys::new("", S).unwrap();
    s3.client()
        .delete_object()
        .bucket(&bucket)
        .key(keys.segment(2))
        .send()
        .await
        .unwrap();
    let opened = LogWriter::open(Arc::clone(&store), writer_config(S, 3, "b")).await;
    assert!(
        matches!(opened, Err(WriteError::SlotDeleted { slot: 2, .. })),
        "{opened:?}"
    );
}
