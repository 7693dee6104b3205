//! The directory store's durability steps as the writer relies on them: a segment linked into
//! place is durable only once its folder is fsynced, and so are the folders a stream's first
//! segment creates (protocol.md, "Settling a slot"; the FsStore module docs).

use std::path::PathBuf;
use std::sync::Arc;

use wormlog_reader::LogReader;
use wormlog_store::{FsStep, FsStore, ObjectStore};
use wormlog_tests::writer_config;
use wormlog_writer::{LogWriter, WriteError};

const S: &str = "durable";

/// A failed folder fsync after the link: the segment is visible but may not survive a crash.
/// That is not a definite failure; the writer reports an unknown outcome and stops.
#[tokio::test]
async fn a_failed_folder_fsync_after_the_link_is_an_unknown_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FsStore::open(dir.path());
    let store: Arc<dyn ObjectStore> = Arc::new(fs.clone());
    let w = LogWriter::open(Arc::clone(&store), writer_config(S, 1, "a"))
        .await
        .unwrap();
    fs.fail_folder_syncs(FsStep::Commit, 1);
    let err = w.append("t", "1").await.unwrap_err();
    assert!(
        matches!(err, WriteError::OutcomeUnknown { slot: 1, .. }),
        "{err:?}"
    );
    assert!(matches!(
        w.append("t", "2").await,
        Err(WriteError::Poisoned { .. })
    ));
    let w2 = LogWriter::open(Arc::clone(&store), writer_config(S, 2, "b"))
        .await
        .unwrap();
    assert_eq!(w2.append("t", "3").await.unwrap().seq, 1, "counted once");
    let seqs: Vec<u64> = LogReader::new(store, "", S)
        .unwrap()
        .read_events(0, None)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, [0, 1]);
}

/// A stream's first segment creates `objects/<stream>/log/` and `meta/<stream>/log/`: each
/// new folder's entry in its parent is fsynced too, or a crash could drop the whole folder.
#[tokio::test]
async fn the_folders_a_first_segment_creates_are_fsynced_in_their_parents() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FsStore::open(dir.path());
    fs.synced_folders(); // start recording
    let w = LogWriter::open(Arc::new(fs.clone()), writer_config(S, 1, "a"))
        .await
        .unwrap();
    w.append("t", "1").await.unwrap();
    let synced = fs.synced_folders();
    let root = dir.path().to_path_buf();
    let want: Vec<PathBuf> = ["objects", "meta"]
        .iter()
        .flat_map(|top| {
            let base = root.join(top);
            [base.clone(), base.join(S), base.join(S).join("log")]
        })
        .chain([root.clone()])
        .collect();
    for folder in want {
        assert!(
            synced.contains(&folder),
            "{} was never fsynced; synced: {synced:#?}",
            folder.display()
        );
    }
}
