//! Pipelining (docs/protocol.md, "Pipelining"): a writer with several batches in flight, on
//! every store. Each rule of the window has a test here: the batches really overlap and are
//! acknowledged in slot order; a failed speculation leaves only orphans, whose events are
//! sent again; a definite failure mid-window is filled with a void; a crash with a full
//! window leaves pending holes that readers wait on and the next opener repairs; and an
//! opener that does not repair loses acknowledged events to a late PUT (the planted bug).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use wormlog_reader::{LogReader, ReadError};
use wormlog_store::{Fault, FaultStore, ObjectStore, Op, StoreError};
use wormlog_tests::{on_every_store, writer_config, Plant};
use wormlog_writer::{Appended, LogWriter, PlantedBug, WriteError, WriterConfig};

const S: &str = "pipelined";

/// A writer with a window of 8, one event per segment (so each append is one slot).
fn pipelined(epoch: u64, writer: &str) -> WriterConfig {
    let mut cfg = writer_config(S, epoch, writer);
    cfg.in_flight = 8;
    cfg.one_per_segment = true;
    cfg
}

/// Appends `n` events at once (all queued before any is answered), in call order.
async fn append_at_once(w: &LogWriter, n: usize) -> Vec<Result<Appended, WriteError>> {
    let futures: Vec<_> = (0..n).map(|i| w.append("t", &i.to_string())).collect();
    futures::future::join_all(futures).await
}

/// The log's events as readers see them: (seq, data).
async fn events(store: &Arc<dyn ObjectStore>) -> Vec<(u64, String)> {
    let reader = LogReader::new(Arc::clone(store), "", S).unwrap();
    let read = reader.read_events(0, None).await.unwrap();
    read.into_iter()
        .map(|e| {
            (
                e.seq,
                e.data.map(|d| d.get().to_owned()).unwrap_or_default(),
            )
        })
        .collect()
}

/// The slot key's suffix for `slot`.
fn slot_key(slot: u64) -> String {
    format!("{slot:020}")
}

/// Every acknowledged append is in the log at its seq, with its data, and verify is clean.
async fn acknowledged_are_in_the_log(
    store: &Arc<dyn ObjectStore>,
    acks: &[(usize, Appended)],
) -> wormlog_reader::VerifyReport {
    let log = events(store).await;
    for (i, ack) in acks {
        let at = log.iter().find(|(seq, _)| *seq == ack.seq);
        assert_eq!(
            at.map(|(_, d)| d.as_str()),
            Some(i.to_string().as_str()),
            "append {i} was acknowledged at seq {} but the log says {at:?}",
            ack.seq
        );
    }
    let seqs: Vec<u64> = log.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        seqs,
        (0..log.len() as u64).collect::<Vec<_>>(),
        "seqs follow on"
    );
    let report = wormlog_reader::verify(Arc::clone(store), "", S, false)
        .await
        .unwrap();
    assert!(report.is_clean(), "{report:?}");
    report
}

/// A store that holds each log PUT for a moment and counts how many are held at once.
fn overlapping(store: &Arc<dyn ObjectStore>, max_seen: Arc<AtomicUsize>) -> FaultStore {
    let f = FaultStore::new(Arc::clone(store));
    let active = Arc::new(AtomicUsize::new(0));
    f.before_each(move |op, key| {
        let (active, max_seen) = (Arc::clone(&active), Arc::clone(&max_seen));
        let put = op == Op::PutIfAbsent && key.contains("/log/");
        async move {
            if put {
                let now = active.fetch_add(1, Ordering::SeqCst) + 1;
                max_seen.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                active.fetch_sub(1, Ordering::SeqCst);
            }
        }
    });
    f
}

/// Rules 1 and 3: up to k PUTs overlap, never more, and the acknowledgements come in slot
/// order with seqs that follow call order.
async fn a_window_overlaps_k_puts_and_acknowledges_in_order(store: Arc<dyn ObjectStore>) {
    let max_seen = Arc::new(AtomicUsize::new(0));
    let f: Arc<dyn ObjectStore> = Arc::new(overlapping(&store, Arc::clone(&max_seen)));
    let w = LogWriter::open(Arc::clone(&f), pipelined(1, "a"))
        .await
        .unwrap();
    max_seen.store(0, Ordering::SeqCst);
    let acks = append_at_once(&w, 40).await;
    let acks: Vec<(usize, Appended)> = acks.into_iter().map(Result::unwrap).enumerate().collect();
    let seen = max_seen.load(Ordering::SeqCst);
    assert!((2..=8).contains(&seen), "{seen} PUTs in flight at once");
    for (i, ack) in &acks {
        assert_eq!(ack.seq, *i as u64);
        assert_eq!(ack.slot, *i as u64 + 1, "slot 0 is the epoch-start");
    }
    let report = acknowledged_are_in_the_log(&store, &acks).await;
    assert!(report.orphans.is_empty() && report.voids.is_empty());
    w.close().await;
}

/// Planted bug: one slot more in flight than the window allows.
async fn planted_bug_window_above_k_is_caught(store: Arc<dyn ObjectStore>) {
    let max_seen = Arc::new(AtomicUsize::new(0));
    let f: Arc<dyn ObjectStore> = Arc::new(overlapping(&store, Arc::clone(&max_seen)));
    let mut cfg = pipelined(1, "a");
    cfg.planted_bug = Some(PlantedBug::WindowAboveK);
    let w = LogWriter::open(Arc::clone(&f), cfg).await.unwrap();
    max_seen.store(0, Ordering::SeqCst);
    for r in append_at_once(&w, 40).await {
        r.unwrap();
    }
    assert_eq!(max_seen.load(Ordering::SeqCst), 9, "the bug sends k + 1");
    w.close().await;
}

/// A store that plants `plant` at `slot` just before our first PUT there: another writer
/// took a slot in the middle of our window.
fn planting_at(store: &Arc<dyn ObjectStore>, slot: u64, plant: Plant) -> FaultStore {
    let f = FaultStore::new(Arc::clone(store));
    let planted = Arc::new(AtomicBool::new(false));
    let inner = Arc::clone(store);
    let suffix = slot_key(slot);
    f.before_each(move |op, key| {
        let (inner, planted, plant) = (Arc::clone(&inner), Arc::clone(&planted), plant.clone());
        let hit = op == Op::PutIfAbsent && key.ends_with(&suffix);
        async move {
            if hit && !planted.swap(true, Ordering::SeqCst) {
                plant.at(&*inner, S, slot).await;
            }
            // Hold every PUT a moment, so the window is full when the plant is met.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    f
}

/// Rule 4: a speculation that fails at slot 3 (an older writer's segment there) leaves our
/// batches above it as orphans; their events are sent again above them and acknowledged
/// once, at the seqs readers see.
async fn a_failed_speculation_is_sent_again_above_its_orphans(store: Arc<dyn ObjectStore>) {
    // An older leader's void (epoch 1, below ours) in the middle of our window.
    let plant = Plant::void(1, 1, "old");
    let f: Arc<dyn ObjectStore> = Arc::new(planting_at(&store, 3, plant));
    let w = LogWriter::open(Arc::clone(&f), pipelined(2, "a"))
        .await
        .unwrap();
    let acks: Vec<(usize, Appended)> = append_at_once(&w, 20)
        .await
        .into_iter()
        .map(Result::unwrap)
        .enumerate()
        .collect();
    let report = acknowledged_are_in_the_log(&store, &acks).await;
    assert!(
        !report.orphans.is_empty(),
        "the batches above slot 3: {report:?}"
    );
    assert!(report.orphans.iter().all(|o| o.writer == "a"));
    assert_eq!(
        events(&store).await.len(),
        20,
        "nothing twice, nothing lost"
    );
    w.close().await;
}

/// Planted bug: no re-encoding. The orphans' events are taken as committed where they landed.
async fn planted_bug_no_reencode_is_caught(store: Arc<dyn ObjectStore>) {
    let plant = Plant::void(1, 1, "old");
    let f: Arc<dyn ObjectStore> = Arc::new(planting_at(&store, 3, plant));
    let mut cfg = pipelined(2, "a");
    cfg.planted_bug = Some(PlantedBug::NoReencode);
    let w = LogWriter::open(Arc::clone(&f), cfg).await.unwrap();
    let acks = append_at_once(&w, 20).await;
    let log = events(&store).await;
    assert!(
        acknowledged_elsewhere(&acks, &log) > 0,
        "acknowledged orphans must show: {log:?}"
    );
}

/// How many of `acks` (append i appended data i) the log does not hold at their seq.
fn acknowledged_elsewhere(acks: &[Result<Appended, WriteError>], log: &[(u64, String)]) -> usize {
    let at = |seq: u64| log.iter().find(|(s, _)| *s == seq).map(|(_, d)| d.as_str());
    acks.iter()
        .enumerate()
        .filter(|(i, a)| {
            a.as_ref()
                .is_ok_and(|a| at(a.seq) != Some(i.to_string().as_str()))
        })
        .count()
}

/// Planted bug: acknowledging a batch when its PUT returns, before the slots below settle.
/// A new leader's void at slot 3 fences the writer there: what landed above it is never in
/// the log, yet the bug acknowledged it.
async fn planted_bug_ack_before_lower_settles_is_caught(store: Arc<dyn ObjectStore>) {
    let plant = Plant::void(3, 1, "new-leader");
    let f: Arc<dyn ObjectStore> = Arc::new(planting_at(&store, 3, plant));
    let mut cfg = pipelined(2, "a");
    cfg.planted_bug = Some(PlantedBug::AckBeforeLowerSettles);
    let w = LogWriter::open(Arc::clone(&f), cfg).await.unwrap();
    let acks = append_at_once(&w, 20).await;
    let log = events(&store).await;
    assert!(
        acknowledged_elsewhere(&acks, &log) > 0,
        "an orphan's events were acknowledged: {log:?} {acks:?}"
    );
    w.close().await;
}

/// A store that refuses our first PUT to `slot` with a 403 (definitely not landed), after
/// holding every PUT a moment so the slots above are in flight.
fn refusing_once_at(store: &Arc<dyn ObjectStore>, slot: u64) -> FaultStore {
    let f = FaultStore::new(Arc::clone(store));
    f.inject(Fault::before(
        Op::PutIfAbsent,
        &slot_key(slot),
        StoreError::Permanent {
            op: "put_if_absent",
            key: slot_key(slot),
            message: "403 AccessDenied (injected)".into(),
        },
        1,
    ));
    f.before_each(|op, key| {
        let put = op == Op::PutIfAbsent && key.contains("/log/");
        async move {
            if put {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    });
    f
}

/// Rule 5: a definite failure at slot 3 while the slots above landed leaves no hole: a void
/// takes slot 3, its batch fails, and the batches above are sent again.
async fn a_definite_failure_mid_window_is_filled_with_a_void(store: Arc<dyn ObjectStore>) {
    let f: Arc<dyn ObjectStore> = Arc::new(refusing_once_at(&store, 3));
    let w = LogWriter::open(Arc::clone(&f), pipelined(1, "a"))
        .await
        .unwrap();
    let results = append_at_once(&w, 12).await;
    let failed: Vec<usize> = (0..12).filter(|&i| results[i].is_err()).collect();
    assert_eq!(failed, vec![2], "the batch sent to slot 3: {results:?}");
    assert!(matches!(
        results[2],
        Err(WriteError::Store(StoreError::Permanent { .. }))
    ));
    let acks: Vec<(usize, Appended)> = results
        .into_iter()
        .enumerate()
        .filter_map(|(i, r)| r.ok().map(|a| (i, a)))
        .collect();
    let report = acknowledged_are_in_the_log(&store, &acks).await;
    assert!(report.voids.contains(&3), "{report:?}");
    assert!(report.pending_holes.is_empty());
    assert_eq!(events(&store).await.len(), 11);
    // The writer is still usable: the failure was definite.
    w.append("t", "\"after\"").await.unwrap();
    w.close().await;
}

/// Planted bug: no void. The hole under landed slots stops every reader.
async fn planted_bug_no_void_is_caught(store: Arc<dyn ObjectStore>) {
    let f: Arc<dyn ObjectStore> = Arc::new(refusing_once_at(&store, 3));
    let mut cfg = pipelined(1, "a");
    cfg.planted_bug = Some(PlantedBug::NoVoid);
    let w = LogWriter::open(Arc::clone(&f), cfg).await.unwrap();
    let _ = append_at_once(&w, 12).await;
    w.close().await;
    let reader = LogReader::new(Arc::clone(&store), "", S).unwrap();
    let read = reader.read_events(0, None).await;
    assert!(
        matches!(read, Err(ReadError::Gap { first: 3, .. })),
        "{read:?}"
    );
}

/// A store whose log PUTs to `slot` never return until `release` is set; every other PUT
/// is held a moment, so the window above it fills first.
fn stuck_at(
    store: &Arc<dyn ObjectStore>,
    slot: u64,
    release: Arc<tokio::sync::Notify>,
) -> FaultStore {
    let f = FaultStore::new(Arc::clone(store));
    let suffix = slot_key(slot);
    f.before_each(move |op, key| {
        let release = Arc::clone(&release);
        let stuck = op == Op::PutIfAbsent && key.ends_with(&suffix);
        let put = op == Op::PutIfAbsent && key.contains("/log/");
        async move {
            if stuck {
                release.notified().await;
            } else if put {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    });
    f
}

/// Waits until slots `from..=to` are all present.
async fn until_present(store: &Arc<dyn ObjectStore>, from: u64, to: u64) {
    for _ in 0..500 {
        let slots = wormlog_tests::slots(&**store, S).await;
        if (from..=to).all(|s| slots.contains(&s)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("slots {from}..={to} never landed");
}

/// A writer stuck on slot 3 with slots 4..=9 landed above it (a crash with a full window):
/// readers wait on the pending hole; a new leader's open fills it with a void, judges the
/// batches above it orphans, and carries on from slot 2. The stuck PUT, released at last,
/// is refused and its writer fenced.
async fn a_crash_with_a_full_window_is_repaired_by_the_next_opener(store: Arc<dyn ObjectStore>) {
    let (release, old_acks) = stuck_writer(&store).await;
    let reader = LogReader::new(Arc::clone(&store), "", S).unwrap();
    assert_eq!(
        events(&store).await.len(),
        2,
        "the readable end is the hole"
    );
    let mut scan = reader.scan(0).await.unwrap();
    while scan.next().await.unwrap().is_some() {}
    assert_eq!(
        scan.pending_hole(),
        Some((3, 3)),
        "readers wait on it, not a gap"
    );
    let w2 = LogWriter::open(Arc::clone(&store), writer_config(S, 2, "b"))
        .await
        .unwrap();
    assert_eq!(w2.position().next_seq, 2, "two events below the hole");
    let ack = w2.append("t", "\"new\"").await.unwrap();
    release.notify_one();
    let old = old_acks.await.unwrap();
    assert!(old[..2].iter().all(Result::is_ok), "{old:?}");
    assert!(
        old[2..].iter().all(Result::is_err),
        "nothing above the hole is acknowledged"
    );
    let log = events(&store).await;
    assert_eq!(log.len(), 3, "{log:?}");
    assert_eq!(log[2], (ack.seq, "\"new\"".to_owned()));
    let report = wormlog_reader::verify(Arc::clone(&store), "", S, false)
        .await
        .unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert!(report.voids.contains(&3), "{report:?}");
    assert_eq!(report.orphans.len(), 6, "{report:?}");
}

/// Planted bug: an opener that does not fill the pending hole. The stuck PUT lands late,
/// completing the old writer's chain, and the new leader's acknowledged event is no longer
/// where it was acknowledged.
async fn planted_bug_opener_not_repairing_is_caught(store: Arc<dyn ObjectStore>) {
    let (release, old_acks) = stuck_writer(&store).await;
    let mut cfg = writer_config(S, 2, "b");
    cfg.planted_bug = Some(PlantedBug::OpenWithoutRepair);
    let w2 = LogWriter::open(Arc::clone(&store), cfg).await.unwrap();
    let ack = w2.append("t", "\"new\"").await.unwrap();
    release.notify_one();
    let _ = old_acks.await;
    let reader = LogReader::new(Arc::clone(&store), "", S).unwrap();
    let log = reader.read_events(0, None).await;
    let kept = log.as_ref().is_ok_and(|log| {
        log.iter()
            .any(|e| e.seq == ack.seq && e.data.as_ref().is_some_and(|d| d.get() == "\"new\""))
    });
    let report = wormlog_reader::verify(Arc::clone(&store), "", S, false)
        .await
        .unwrap();
    assert!(
        !kept || !report.is_clean(),
        "the late PUT must break the unrepaired log: {log:?} {report:?}"
    );
}

/// Opens a pipelined writer at epoch 1 through a store stuck on slot 3 and appends 9 events
/// at once: slots 1 and 2 settle, 4..=9 land above the stuck one. Returns the release and
/// the old writer's appends (its task keeps running).
async fn stuck_writer(
    store: &Arc<dyn ObjectStore>,
) -> (
    Arc<tokio::sync::Notify>,
    tokio::task::JoinHandle<Vec<Result<Appended, WriteError>>>,
) {
    let release = Arc::new(tokio::sync::Notify::new());
    let f: Arc<dyn ObjectStore> = Arc::new(stuck_at(store, 3, Arc::clone(&release)));
    let w = LogWriter::open(Arc::clone(&f), pipelined(1, "a"))
        .await
        .unwrap();
    let old = tokio::spawn(async move {
        let acks = append_at_once(&w, 9).await;
        w.close().await;
        acks
    });
    until_present(store, 4, 9).await;
    (release, old)
}

/// Rule 6: with appends unanswered beyond `max_unacked_bytes`, `append` waits (in call
/// order) and `try_append` says the writer is full, queueing nothing.
async fn backpressure_bounds_what_is_unanswered(store: Arc<dyn ObjectStore>) {
    let release = Arc::new(tokio::sync::Notify::new());
    let f: Arc<dyn ObjectStore> = Arc::new(stuck_at(&store, 1, Arc::clone(&release)));
    let mut cfg = pipelined(1, "a");
    cfg.max_unacked_bytes = 2_000;
    let w = Arc::new(LogWriter::open(Arc::clone(&f), cfg).await.unwrap());
    let writer = Arc::clone(&w);
    let all = tokio::spawn(async move { append_at_once(&writer, 100).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let full = w.try_append("t", "0");
    assert!(
        matches!(full, Err(WriteError::Full { max: 2_000, .. })),
        "{:?}",
        full.err()
    );
    release.notify_one();
    let acks = all.await.unwrap();
    for (i, ack) in acks.iter().enumerate() {
        assert_eq!(ack.as_ref().unwrap().seq, i as u64, "call order kept");
    }
    let next = w.try_append("t", "100").unwrap().await.unwrap();
    assert_eq!(next.seq, 100, "nothing was queued by the refused try");
}

/// Rule 6: an append waiting for room needs no polling to move up the line: awaiting a
/// later append while holding an earlier one's future never hangs, and order is kept.
async fn a_held_append_does_not_block_a_later_one(store: Arc<dyn ObjectStore>) {
    let mut cfg = pipelined(1, "a");
    cfg.max_unacked_bytes = 1; // every event alone: each waits for the one before it
    let w = LogWriter::open(Arc::clone(&store), cfg).await.unwrap();
    let first = w.append("t", "0");
    let second = w.append("t", "1");
    let second = tokio::time::timeout(Duration::from_secs(10), second)
        .await
        .expect("the later append is answered without the earlier one being polled")
        .unwrap();
    assert_eq!(first.await.unwrap().seq + 1, second.seq);
    w.close().await;
}

/// A store whose log PUTs to any of `slots` never return; others are held a moment.
fn stuck_at_all(store: &Arc<dyn ObjectStore>, slots: &[u64]) -> FaultStore {
    let f = FaultStore::new(Arc::clone(store));
    let suffixes: Vec<String> = slots.iter().map(|&s| slot_key(s)).collect();
    f.before_each(move |op, key| {
        let put = op == Op::PutIfAbsent && key.contains("/log/");
        let stuck = put && suffixes.iter().any(|s| key.ends_with(s.as_str()));
        async move {
            if stuck {
                std::future::pending::<()>().await;
            } else if put {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    });
    f
}

/// An opener's repair that fills one of two holes and not the other (its void refused, or
/// a crash) leaves the other pending under the void it did place, never a gap: the voids of
/// one repair each claim every hole below them. The next opener finishes the repair.
async fn a_repair_that_fails_halfway_leaves_the_rest_pending(store: Arc<dyn ObjectStore>) {
    let f: Arc<dyn ObjectStore> = Arc::new(stuck_at_all(&store, &[3, 5]));
    let w = LogWriter::open(Arc::clone(&f), pipelined(1, "a"))
        .await
        .unwrap();
    let w = Arc::new(w);
    let writer = Arc::clone(&w);
    let old = tokio::spawn(async move { append_at_once(&writer, 8).await });
    until_present(&store, 6, 8).await;
    w.abort();
    old.abort();
    let refusing: Arc<dyn ObjectStore> = Arc::new(refusing_once_at(&store, 3));
    let open = LogWriter::open(Arc::clone(&refusing), writer_config(S, 2, "b")).await;
    assert!(
        open.is_err(),
        "the void at slot 3 was refused: the open fails"
    );
    let slots = wormlog_tests::slots(&*store, S).await;
    assert!(slots.contains(&5) && !slots.contains(&3), "{slots:?}");
    let report = wormlog_reader::verify(Arc::clone(&store), "", S, false)
        .await
        .unwrap();
    assert!(report.is_clean(), "a pending hole, not a gap: {report:?}");
    assert_eq!(report.pending_holes, vec![(3, 3)]);
    let c = LogWriter::open(Arc::clone(&store), writer_config(S, 3, "c"))
        .await
        .unwrap();
    c.append("t", "\"c\"").await.unwrap();
    let report = wormlog_tests::verify_settled(&store, S).await;
    assert!(
        report.voids.contains(&3) && report.voids.contains(&5),
        "{report:?}"
    );
}

/// The writer's position is where it stands once an append is acknowledged, so a conditional
/// append made from it does not conflict (the position was updated after the answers).
async fn the_position_after_an_acknowledgement_is_where_the_writer_stands(
    store: Arc<dyn ObjectStore>,
) {
    let w = LogWriter::open(Arc::clone(&store), pipelined(1, "a"))
        .await
        .unwrap();
    for i in 0..20 {
        let next = w.position().next_seq;
        let event = w.event("t", &i.to_string()).unwrap();
        w.append_expected(vec![event], next).await.unwrap();
    }
    assert_eq!(w.position().next_seq, 20);
    w.close().await;
}

/// A segment naming another predecessor that no failed speculation explains (sent with
/// nothing unsettled below it, far above the last valid one) was replaced or forged: a
/// finding of `verify`, not one of the orphans a pipelined writer leaves.
async fn a_forged_orphan_is_a_finding(store: Arc<dyn ObjectStore>) {
    let w = LogWriter::open(Arc::clone(&store), pipelined(1, "a"))
        .await
        .unwrap();
    for r in append_at_once(&w, 3).await {
        r.unwrap();
    }
    w.close().await;
    let forged = Plant::events(3, 1, 1, "a").sent_again_naming(Some(uuid::Uuid::from_u128(9)));
    forged.at(&*store, S, 4).await;
    let report = wormlog_reader::verify(Arc::clone(&store), "", S, false)
        .await
        .unwrap();
    assert!(
        matches!(
            report.findings.as_slice(),
            [wormlog_reader::Finding::UnexplainedOrphan {
                slot: 4,
                window: 1,
                valid_at: Some(3)
            }]
        ),
        "{report:?}"
    );
}

on_every_store!(
    the_position_after_an_acknowledgement_is_where_the_writer_stands,
    a_forged_orphan_is_a_finding,
    a_held_append_does_not_block_a_later_one,
    a_repair_that_fails_halfway_leaves_the_rest_pending,
    backpressure_bounds_what_is_unanswered,
    a_window_overlaps_k_puts_and_acknowledges_in_order,
    planted_bug_window_above_k_is_caught,
    a_failed_speculation_is_sent_again_above_its_orphans,
    planted_bug_no_reencode_is_caught,
    planted_bug_ack_before_lower_settles_is_caught,
    a_definite_failure_mid_window_is_filled_with_a_void,
    planted_bug_no_void_is_caught,
    a_crash_with_a_full_window_is_repaired_by_the_next_opener,
    planted_bug_opener_not_repairing_is_caught,
);
