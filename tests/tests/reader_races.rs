//! Readers racing writers and faults (protocol.md, Reader): a slot absent when a follower
//! looked may be present by the time its LIST shows a later one; transient store errors do
//! not end a follow; a seek never starts at a segment a scan from slot 0 would skip; and a
//! crafted header cannot make a reader panic.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use wormlog_format::{NewEvent, SegmentKind, SegmentSpec, SegmentSummary, StreamKeys};
use wormlog_reader::{FollowPolicy, LogReader, ReadError, ScanItem};
use wormlog_store::{Fault, FaultStore, ObjectStore, Op, PutOptions};
use wormlog_tests::{on_every_store, writer_config, Plant};
use wormlog_writer::LogWriter;

const S: &str = "races";

fn every_poll_checks_for_gaps() -> FollowPolicy {
    FollowPolicy {
        min_interval: Duration::from_millis(5),
        max_interval: Duration::from_millis(20),
        gap_check_every: 1,
    }
}

async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("the follow got stuck")
}

async fn next_event(follow: &mut wormlog_reader::Follow) -> Result<u64, ReadError> {
    loop {
        if let Some(ScanItem::Event(e)) = within(follow.next()).await? {
            return Ok(e.seq);
        }
    }
}

/// The follower GETs slot k (absent); the writer commits k and k+1 before the follower's
/// LIST; the LIST shows k+1. Slot k exists: no gap.
async fn a_slot_committed_between_the_get_and_the_list_is_not_a_gap(store: Arc<dyn ObjectStore>) {
    let w = Arc::new(
        LogWriter::open(Arc::clone(&store), writer_config(S, 1, "w"))
            .await
            .unwrap(),
    );
    w.append("t", "0").await.unwrap();
    let f = FaultStore::new(Arc::clone(&store));
    let lists = Arc::new(AtomicUsize::new(0));
    let (writer, count) = (Arc::clone(&w), Arc::clone(&lists));
    f.before_each(move |op, key| {
        let (writer, count, key) = (Arc::clone(&writer), Arc::clone(&count), key.to_owned());
        async move {
            // The scan's own LIST is the first; the follower's first gap check is the second.
            if op == Op::List && key.ends_with("/log/") && count.fetch_add(1, Ordering::SeqCst) == 1
            {
                writer.append("t", "1").await.unwrap();
                writer.append("t", "2").await.unwrap();
            }
        }
    });
    let reader = LogReader::new(Arc::new(f), "", S).unwrap();
    let (mut follow, stop) = reader
        .follow(0, every_poll_checks_for_gaps())
        .await
        .unwrap();
    let mut seqs = Vec::new();
    for _ in 0..3 {
        seqs.push(next_event(&mut follow).await.expect("no false gap"));
    }
    assert_eq!(seqs, [0, 1, 2]);
    stop.stop();
}

/// A transient LIST failure during a follow is retried, as GETs are; the follow goes on.
async fn a_transient_list_error_does_not_end_a_follow(store: Arc<dyn ObjectStore>) {
    let w = LogWriter::open(Arc::clone(&store), writer_config(S, 1, "w"))
        .await
        .unwrap();
    w.append("t", "0").await.unwrap();
    let f = FaultStore::new(Arc::clone(&store));
    let reader = LogReader::new(Arc::new(f.clone()), "", S).unwrap();
    let (mut follow, stop) = reader
        .follow(0, every_poll_checks_for_gaps())
        .await
        .unwrap();
    assert_eq!(next_event(&mut follow).await.unwrap(), 0);
    f.inject(Fault::before(
        Op::List,
        "/log/",
        Fault::unavailable(Op::List, "log/"),
        2,
    ));
    let waiting = tokio::spawn(async move { next_event(&mut follow).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    w.append("t", "1").await.unwrap();
    assert_eq!(within(waiting).await.unwrap().expect("still following"), 1);
    stop.stop();
    assert!(
        f.journal()
            .iter()
            .any(|r| r.op == Op::List && r.error.is_some()),
        "the fault was hit"
    );
}

/// Seqs a scan delivers from `from`.
async fn seqs_from(store: &Arc<dyn ObjectStore>, from: u64) -> Vec<(u64, String)> {
    LogReader::new(Arc::clone(store), "", S)
        .unwrap()
        .read_events(from, None)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.seq, e.meta.fencing_token.writer))
        .collect()
}

/// A stale writer's segment at the tail (epoch 1 after epoch 2): a scan from slot 0 skips it
/// as a zombie, so a scan starting at its seqs must skip it too (I8).
async fn a_seek_never_lands_on_a_zombie(store: Arc<dyn ObjectStore>) {
    let w = LogWriter::open(Arc::clone(&store), writer_config(S, 2, "leader"))
        .await
        .unwrap();
    for i in 0..3 {
        w.append("t", &i.to_string()).await.unwrap(); // slots 1..=3, seqs 0..=2
    }
    Plant::events(2, 2, 1, "stale").at(&*store, S, 4).await; // claims seqs 2 and 3
    let all = seqs_from(&store, 0).await;
    assert_eq!(all.len(), 3, "the zombie is skipped from slot 0: {all:?}");
    for from in 0..=4 {
        let want: Vec<_> = all.iter().filter(|(s, _)| *s >= from).cloned().collect();
        assert_eq!(seqs_from(&store, from).await, want, "from seq {from}");
    }
    w.append("t", "3").await.unwrap(); // skips the zombie: slot 5, seq 3
    let all = seqs_from(&store, 0).await;
    for from in 0..=4 {
        let want: Vec<_> = all.iter().filter(|(s, _)| *s >= from).cloned().collect();
        assert_eq!(seqs_from(&store, from).await, want, "from seq {from}");
    }
}

/// A segment whose header says `first_seq` u64::MAX with one event would make `first_seq +
/// count` overflow: it is a corrupt segment, reported by slot, never a panic.
async fn a_crafted_seq_overflow_is_corrupt_not_a_panic(store: Arc<dyn ObjectStore>) {
    LogWriter::open(Arc::clone(&store), writer_config(S, 1, "w"))
        .await
        .unwrap();
    let spec = SegmentSpec {
        stream: S.into(),
        slot: 1,
        kind: SegmentKind::Events,
        first_seq: u64::MAX,
        epoch: 1,
        writer: "w".into(),
        write_id: uuid::Uuid::from_u128(7),
        prev: None,
        window: 1,
        created_at: "2026-01-01T00:00:00Z".into(),
    };
    let e = NewEvent::new(uuid::Uuid::from_u128(8), "t", "2026-01-01T00:00:00Z", "1").unwrap();
    let (bytes, header) = wormlog_format::encode_segment(&spec, &[e]);
    let opts = PutOptions {
        metadata: SegmentSummary::of(&header).to_metadata(),
        ..PutOptions::default()
    };
    let keys = StreamKeys::new("", S).unwrap();
    store
        .put_if_absent(&keys.segment(1), bytes, &opts)
        .await
        .unwrap();
    let reader = LogReader::new(Arc::clone(&store), "", S).unwrap();
    let err = reader.read_events(0, None).await.unwrap_err();
    assert!(matches!(err, ReadError::Corrupt { slot: 1, .. }), "{err:?}");
    assert!(reader.read_events(5, None).await.is_err());
    let report = wormlog_reader::verify(Arc::clone(&store), "", S, false)
        .await
        .unwrap();
    assert!(
        report
            .findings
            .iter()
            .any(|f| matches!(f, wormlog_reader::Finding::Corrupt { slot: 1, .. })),
        "{:?}",
        report.findings
    );
    let open = LogWriter::open(Arc::clone(&store), writer_config(S, 2, "next")).await;
    assert!(
        matches!(
            open,
            Err(wormlog_writer::WriteError::Corrupt { slot: 1, .. })
        ),
        "{open:?}"
    );
}

on_every_store!(
    a_slot_committed_between_the_get_and_the_list_is_not_a_gap,
    a_transient_list_error_does_not_end_a_follow,
    a_seek_never_lands_on_a_zombie,
    a_crafted_seq_overflow_is_corrupt_not_a_panic,
);
