//! A documented limit, pinned: a seek (`LogReader::scan(from_seq > 0)`) judges the slots
//! below its start by their summaries (HEAD metadata) and reads no body there, so it does not
//! see a corrupt body below its start. A scan from slot 0 stops at it, and `verify`, which
//! reads every body, reports it (docs/protocol.md, Reader; docs/replay.md).

use std::sync::Arc;

use wormlog_format::StreamKeys;
use wormlog_reader::{verify, Finding, LogReader, ReadError};
use wormlog_store::{FsStore, ObjectStore};

const S: &str = "seekcorrupt";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seek_reads_no_body_below_its_start_and_verify_reports_the_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FsStore::open(dir.path());
    let store: Arc<dyn ObjectStore> = Arc::new(fs.clone());
    let w = wormlog_tests::one_event_segments(&store, S, 4).await; // slots 1..=4, seqs 0..4
    drop(w);
    // Bit rot (or a hand edit) in slot 2's body, seq 1: same file, same inode, same sidecar.
    let path = fs
        .object_path(&StreamKeys::new("", S).unwrap().segment(2))
        .unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() - 5;
    bytes[at] ^= 0x01;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, &bytes))
        .unwrap();

    let reader = LogReader::new(Arc::clone(&store), "", S).unwrap();
    let from_zero = reader.read_events(0, None).await;
    assert!(
        matches!(from_zero, Err(ReadError::Corrupt { slot: 2, .. })),
        "{from_zero:?}"
    );
    let from_three = reader.read_events(3, None).await.unwrap();
    assert_eq!(
        from_three.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [3],
        "the seek reads no body below its start"
    );
    let report = verify(Arc::clone(&store), "", S, false).await.unwrap();
    assert!(
        report
            .findings
            .iter()
            .any(|f| matches!(f, Finding::Corrupt { slot: 2, .. })),
        "{:?}",
        report.findings
    );
}
