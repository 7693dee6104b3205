//! Logs are kept for years: a log written in every earlier format version, checked in under
//! tests/fixtures/v<N>-log (written by `wormlog append` and `wormlog purge` of that version),
//! must read exactly as it did, and a writer of today must go on appending to it. Each
//! events.jsonl holds the events as that version read them: for v1 what `wormlog cat`
//! printed, for v2 (whose `cat` leaves inline bytes out) the event lines as stored.
//!
//! - v1-log, stream `orders`: JSON events, three epochs, a documented purge.
//! - v2-log, stream `evidence/acme`: JSON kept token for token (a big number, duplicate keys,
//!   a multi-line value), a raw XML payload inline and a binary one in an attachment, four
//!   epochs, a documented purge, and a new leader's takeover from a stale writer that was
//!   still appending (its claims: two `void` records before its epoch-start); written by
//!   tests/fixtures/v2-log/written-by.sh.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use wormlog_format::{decode_header, SegmentSummary};
use wormlog_reader::{verify, LogReader};
use wormlog_store::{MemoryStore, ObjectStore, PutOptions};
use wormlog_tests::writer_config;
use wormlog_writer::LogWriter;

/// One checked-in log: its folder under tests/fixtures and its stream.
#[derive(Clone, Copy)]
struct OldLog {
    dir: &'static str,
    stream: &'static str,
}

const V1: OldLog = OldLog {
    dir: "v1-log",
    stream: "orders",
};
const V2: OldLog = OldLog {
    dir: "v2-log",
    stream: "evidence/acme",
};

impl OldLog {
    fn path(self) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(self.dir)
    }
}

/// The fixture's objects in a store, as a bucket holds them: each segment with the metadata
/// its writer sent (its header's facts), other objects as they are.
async fn store_of(log: OldLog) -> Arc<dyn ObjectStore> {
    let store: Arc<dyn ObjectStore> = Arc::new(MemoryStore::new());
    let mut stack = vec![log.path().join(log.stream)];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let key = path
                .strip_prefix(log.path())
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned();
            let body = std::fs::read(&path).unwrap();
            let metadata = match decode_header(&body) {
                Ok(h) => SegmentSummary::of(&h).to_metadata(),
                Err(_) => Default::default(),
            };
            let opts = PutOptions {
                metadata,
                ..PutOptions::default()
            };
            store
                .put_if_absent(&key, Bytes::from(body), &opts)
                .await
                .unwrap();
        }
    }
    store
}

fn expected_lines(log: OldLog) -> Vec<String> {
    std::fs::read_to_string(log.path().join("events.jsonl"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

async fn reads_exactly_as_it_did(log: OldLog, purged_slot: u64) {
    let store = store_of(log).await;
    let events = LogReader::new(Arc::clone(&store), "", log.stream)
        .unwrap()
        .read_events(0, None)
        .await
        .unwrap();
    let lines: Vec<String> = events
        .iter()
        .map(|e| serde_json::to_string(e).unwrap())
        .collect();
    assert_eq!(
        lines,
        expected_lines(log),
        "every event, byte for byte, as cat printed it"
    );
    let from_4 = LogReader::new(Arc::clone(&store), "", log.stream)
        .unwrap()
        .read_events(4, None)
        .await
        .unwrap();
    assert_eq!(
        from_4.first().map(|e| e.seq),
        Some(4),
        "a seek works on it too"
    );
    let report = verify(Arc::clone(&store), "", log.stream, false)
        .await
        .unwrap();
    assert!(report.is_clean(), "{:?}", report.findings);
    assert_eq!(report.purges.len(), 1, "its documented purge is read");
    assert_eq!(report.purges[0].slot, purged_slot);
}

async fn a_writer_of_today_goes_on_appending(log: OldLog, epoch: u64) {
    let store = store_of(log).await;
    let before = expected_lines(log).len() as u64;
    let w = LogWriter::open(
        Arc::clone(&store),
        writer_config(log.stream, epoch, "today"),
    )
    .await
    .unwrap();
    let ack = w.append("t", "{\"new\":true}").await.unwrap();
    let purged = 1; // each fixture's purge took one event away
    assert_eq!(ack.seq, before + purged, "after the old log's seqs");
    let got = store
        .get(&format!("{}/log/{:020}", log.stream, ack.slot))
        .await
        .unwrap();
    assert_eq!(
        decode_header(&got.body).unwrap().wormlog,
        wormlog_format::FORMAT_VERSION
    );
    let events = LogReader::new(Arc::clone(&store), "", log.stream)
        .unwrap()
        .read_events(0, None)
        .await
        .unwrap();
    assert_eq!(events.len() as u64, before + 1);
    assert_eq!(events.last().unwrap().id, ack.id);
    assert!(verify(store, "", log.stream, false)
        .await
        .unwrap()
        .is_clean());
}

#[tokio::test]
async fn a_version_1_log_reads_exactly_as_it_did() {
    reads_exactly_as_it_did(V1, 3).await;
}

#[tokio::test]
async fn a_writer_of_today_goes_on_appending_to_a_version_1_log() {
    a_writer_of_today_goes_on_appending(V1, 3).await;
}

#[tokio::test]
async fn a_version_2_log_reads_exactly_as_it_did() {
    reads_exactly_as_it_did(V2, 6).await;
}

#[tokio::test]
async fn a_writer_of_today_goes_on_appending_to_a_version_2_log() {
    a_writer_of_today_goes_on_appending(V2, 4).await;
}
