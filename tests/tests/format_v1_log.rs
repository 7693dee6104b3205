//! Logs are kept for years: a log written by wormlog's first format (version 1), checked in
//! under tests/fixtures/v1-log (written by `wormlog append` and `wormlog purge` of that
//! version), must read exactly as it did, and a writer of today must go on appending to it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use wormlog_format::{decode_header, SegmentSummary};
use wormlog_reader::{verify, LogReader};
use wormlog_store::{MemoryStore, ObjectStore, PutOptions};
use wormlog_tests::writer_config;
use wormlog_writer::LogWriter;

const S: &str = "orders";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/v1-log")
}

/// The fixture's objects in a store, as a bucket holds them: each segment with the metadata
/// its writer sent (its header's facts), other objects as they are.
async fn v1_store() -> Arc<dyn ObjectStore> {
    let store: Arc<dyn ObjectStore> = Arc::new(MemoryStore::new());
    let mut stack = vec![fixture().join(S)];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let key = path
                .strip_prefix(fixture())
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

fn expected_lines() -> Vec<String> {
    std::fs::read_to_string(fixture().join("events.jsonl"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn a_version_1_log_reads_exactly_as_it_did() {
    let store = v1_store().await;
    let events = LogReader::new(Arc::clone(&store), "", S)
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
        expected_lines(),
        "every event, byte for byte, as cat printed it"
    );
    let from_4 = LogReader::new(Arc::clone(&store), "", S)
        .unwrap()
        .read_events(4, None)
        .await
        .unwrap();
    assert_eq!(
        from_4.first().map(|e| e.seq),
        Some(4),
        "a seek works on it too"
    );
    let report = verify(Arc::clone(&store), "", S, false).await.unwrap();
    assert!(report.is_clean(), "{:?}", report.findings);
    assert_eq!(report.purges.len(), 1, "its documented purge is read");
    assert_eq!(report.purges[0].slot, 3);
}

#[tokio::test]
async fn a_writer_of_today_goes_on_appending_to_a_version_1_log() {
    let store = v1_store().await;
    let w = LogWriter::open(Arc::clone(&store), writer_config(S, 3, "today"))
        .await
        .unwrap();
    let ack = w.append("t", "{\"new\":true}").await.unwrap();
    assert_eq!(ack.seq, 7, "after the version 1 log's seqs 0..=6");
    let got = store
        .get(&format!("{S}/log/{:020}", ack.slot))
        .await
        .unwrap();
    assert_eq!(decode_header(&got.body).unwrap().wormlog, 2);
    let events = LogReader::new(Arc::clone(&store), "", S)
        .unwrap()
        .read_events(0, None)
        .await
        .unwrap();
    assert_eq!(events.len(), expected_lines().len() + 1);
    assert!(verify(store, "", S, false).await.unwrap().is_clean());
}
