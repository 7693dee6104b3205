//! Following a stream as it grows, and starting a scan at any seq without reading the log
//! from the start.

use std::sync::Arc;
use std::time::Duration;

use wormlog_reader::{FollowPolicy, LogReader, ReadError, ScanItem};
use wormlog_store::{FaultStore, MemoryStore, ObjectStore, Op};
use wormlog_tests::{on_every_store, writer_config, Plant};
use wormlog_writer::LogWriter;

const S: &str = "tail";

fn quick() -> FollowPolicy {
    FollowPolicy {
        min_interval: Duration::from_millis(5),
        max_interval: Duration::from_millis(20),
        gap_check_every: 10,
    }
}

/// A bound on waiting, so a broken follow fails instead of hanging (not a speed target).
async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("follow got stuck")
}

async fn follow_delivers_segments_committed_after_it_started(store: Arc<dyn ObjectStore>) {
    let w = LogWriter::open(Arc::clone(&store), writer_config(S, 1, "w"))
        .await
        .unwrap();
    w.append("t", "0").await.unwrap();
    let reader = LogReader::new(Arc::clone(&store), "", S).unwrap();
    let (mut follow, stop) = reader.follow(0, quick()).await.unwrap();
    let writer = tokio::spawn(async move {
        for i in 1..4 {
            tokio::time::sleep(Duration::from_millis(30)).await;
            w.append("t", &i.to_string()).await.unwrap();
        }
    });
    let mut seqs = Vec::new();
    while seqs.len() < 4 {
        if let ScanItem::Event(e) = within(follow.next()).await.unwrap().unwrap() {
            seqs.push(e.seq);
        }
    }
    assert_eq!(seqs, [0, 1, 2, 3]);
    writer.await.unwrap();
    stop.stop();
    assert!(
        within(follow.next()).await.unwrap().is_none(),
        "a stopped follow ends cleanly"
    );
}

async fn follow_reports_a_gap_beyond_a_missing_slot(store: Arc<dyn ObjectStore>) {
    let w = LogWriter::open(Arc::clone(&store), writer_config(S, 1, "w"))
        .await
        .unwrap();
    w.append("t", "0").await.unwrap();
    let reader = LogReader::new(Arc::clone(&store), "", S).unwrap();
    let (mut follow, _stop) = reader.follow(0, quick()).await.unwrap();
    assert!(matches!(
        within(follow.next()).await.unwrap(),
        Some(ScanItem::Control { .. })
    ));
    assert!(matches!(
        within(follow.next()).await.unwrap(),
        Some(ScanItem::Event(_))
    ));
    Plant::events(1, 1, 1, "w").at(&*store, S, 3).await; // slot 2 skipped
    let end = within(follow.next()).await;
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

async fn scan_from_a_late_seq_starts_there(store: Arc<dyn ObjectStore>) {
    let w = LogWriter::open(Arc::clone(&store), writer_config(S, 1, "w"))
        .await
        .unwrap();
    for i in 0..40 {
        w.append("t", &i.to_string()).await.unwrap();
    }
    let reader = LogReader::new(Arc::clone(&store), "", S).unwrap();
    for from in [0, 1, 17, 39, 40] {
        let seqs: Vec<u64> = reader
            .read_events(from, None)
            .await
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(seqs, (from..40).collect::<Vec<_>>(), "from {from}");
    }
}

on_every_store!(
    follow_delivers_segments_committed_after_it_started,
    follow_reports_a_gap_beyond_a_missing_slot,
    scan_from_a_late_seq_starts_there,
);

#[tokio::test]
async fn follow_polls_with_gets_not_a_list_per_poll() {
    let inner: Arc<dyn ObjectStore> = Arc::new(MemoryStore::new());
    let f = FaultStore::new(Arc::clone(&inner));
    LogWriter::open(Arc::clone(&inner), writer_config(S, 1, "w"))
        .await
        .unwrap();
    let reader = LogReader::new(Arc::new(f.clone()), "", S).unwrap();
    let (mut follow, stop) = reader.follow(0, quick()).await.unwrap();
    within(follow.next()).await.unwrap(); // the epoch-start
    let idle = tokio::spawn(async move { follow.next().await });
    tokio::time::sleep(Duration::from_millis(600)).await;
    stop.stop();
    assert!(within(idle).await.unwrap().unwrap().is_none());
    let j = f.journal();
    let (gets, lists) = (
        j.iter().filter(|r| r.op == Op::Get).count(),
        j.iter().filter(|r| r.op == Op::List).count(),
    );
    assert!(gets >= 20, "it kept polling: {gets} GETs");
    assert!(lists <= 1 + gets / 10 + 1, "{lists} LISTs for {gets} polls");
}

/// A late start reads no segment body before the ones it delivers, but one summary (a HEAD)
/// per slot below its start: a segment's validity depends on every slot below it, so a seek
/// that looked at fewer could start on a zombie (`a_seek_never_lands_on_a_zombie`).
#[tokio::test]
async fn a_late_start_reads_no_segment_body_before_the_ones_it_delivers() {
    let inner: Arc<dyn ObjectStore> = Arc::new(MemoryStore::new());
    let w = LogWriter::open(Arc::clone(&inner), writer_config(S, 1, "w"))
        .await
        .unwrap();
    for i in 0..255 {
        w.append("t", &i.to_string()).await.unwrap();
    }
    let f = FaultStore::new(Arc::clone(&inner));
    let reader = LogReader::new(Arc::new(f.clone()), "", S)
        .unwrap()
        .with_prefetch(1);
    let events = reader.read_events(250, None).await.unwrap();
    assert_eq!(events.first().unwrap().seq, 250);
    let count = |op| f.journal().iter().filter(|r| r.op == op).count();
    assert_eq!(
        count(Op::Get),
        5,
        "only the five segments delivered are read whole"
    );
    assert!(
        count(Op::Head) <= 256,
        "{} HEADs: one per slot below the start, at most",
        count(Op::Head)
    );
}

/// From a position a reader reached, a scan starts at once: no summary below it is read.
#[tokio::test]
async fn a_scan_from_a_known_position_reads_nothing_below_it() {
    let inner: Arc<dyn ObjectStore> = Arc::new(MemoryStore::new());
    let w = LogWriter::open(Arc::clone(&inner), writer_config(S, 1, "w"))
        .await
        .unwrap();
    for i in 0..100 {
        w.append("t", &i.to_string()).await.unwrap();
    }
    let reader = LogReader::new(Arc::clone(&inner), "", S).unwrap();
    let mut scan = reader.scan(0).await.unwrap();
    let mut delivered = 0;
    while delivered < 60 {
        if let Some(ScanItem::Event(_)) = scan.next().await.unwrap() {
            delivered += 1;
        }
    }
    let position = scan.position();
    let f = FaultStore::new(Arc::clone(&inner));
    let resumed = LogReader::new(Arc::new(f.clone()), "", S).unwrap();
    let mut scan = resumed.scan_from(position, 60).await.unwrap();
    let mut seqs = Vec::new();
    while let Some(item) = scan.next().await.unwrap() {
        if let ScanItem::Event(e) = item {
            seqs.push(e.seq);
        }
    }
    assert_eq!(seqs, (60..100).collect::<Vec<u64>>());
    let j = f.journal();
    assert_eq!(j.iter().filter(|r| r.op == Op::Head).count(), 0);
    assert_eq!(j.iter().filter(|r| r.op == Op::Get).count(), 40);
}
