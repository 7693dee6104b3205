//! Shared fixtures of the integration tests: stores to test against, writer settings with
//! fast retries, and a way to plant a segment exactly where a scenario needs it (a stale
//! leader's write, a zombie, a forged twin).

pub mod servers;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;
use wormlog_format::{
    encode_segment, NewEvent, SegmentKind, SegmentSpec, SegmentSummary, StreamKeys,
};
use wormlog_store::conformance::Subject;
use wormlog_store::{FsStore, MemoryStore, ObjectStore, PutOptions, SeededRng};
use wormlog_writer::{RetryPolicy, WriterConfig};

/// A fresh in-memory store.
pub async fn memory_subject() -> Subject {
    Subject::new(Arc::new(MemoryStore::new()), ())
}

/// A fresh directory store in a temporary directory that lives as long as the subject.
pub async fn fs_subject() -> Subject {
    let dir = tempfile::tempdir().expect("a temporary directory");
    Subject::new(Arc::new(FsStore::open(dir.path())), dir)
}

/// `stream` with an epoch-start (slot 0) and `n` one-event segments (slots 1..=n, seqs 0..n)
/// at epoch 2 by writer "leader", whose writer stays open.
pub async fn one_event_segments(
    store: &Arc<dyn ObjectStore>,
    stream: &str,
    n: u64,
) -> wormlog_writer::LogWriter {
    let w = wormlog_writer::LogWriter::open(Arc::clone(store), writer_config(stream, 2, "leader"))
        .await
        .unwrap();
    for i in 0..n {
        w.append("t", &i.to_string()).await.unwrap();
    }
    w
}

/// The window the suites' writers use: `WORMLOG_TEST_IN_FLIGHT` (scripts/test.sh runs the
/// protocol suites once with 1 and once with 8), else 1.
pub fn test_in_flight() -> u32 {
    std::env::var("WORMLOG_TEST_IN_FLIGHT")
        .ok()
        .map(|v| {
            v.parse()
                .expect("WORMLOG_TEST_IN_FLIGHT is a window, 1 to 16")
        })
        .unwrap_or(1)
}

/// Writer settings for tests: fast retries, a seed of its own, and the suite's window
/// ([`test_in_flight`]).
pub fn writer_config(stream: &str, epoch: u64, writer: &str) -> WriterConfig {
    let mut cfg = WriterConfig::new(stream, epoch, writer);
    cfg.in_flight = test_in_flight();
    cfg.retry = RetryPolicy {
        max_attempts: 5,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
    };
    cfg.seed = Some(SeededRng::from_entropy().next_u64());
    cfg
}

/// Verifies `stream` and asserts the log is clean and settled (no pending hole); returns the
/// report.
pub async fn verify_settled(
    store: &Arc<dyn ObjectStore>,
    stream: &str,
) -> wormlog_reader::VerifyReport {
    let report = wormlog_reader::verify(Arc::clone(store), "", stream, false)
        .await
        .unwrap();
    assert!(
        report.is_clean() && report.pending_holes.is_empty(),
        "{report:?}"
    );
    report
}

/// What to plant at a slot.
#[derive(Clone, Debug)]
pub struct Plant {
    pub kind: SegmentKind,
    pub first_seq: u64,
    pub count: u64,
    pub epoch: u64,
    pub writer: String,
    /// The header's `window`: for a void, how many slots its writer claimed at once.
    pub window: u32,
    /// The `prev` it names: `None` for what a writer that read the slot below would name
    /// (the highest segment below that is not a void); `Some` to name exactly that.
    pub prev: Option<Option<Uuid>>,
}

impl Plant {
    pub fn events(first_seq: u64, count: u64, epoch: u64, writer: &str) -> Plant {
        Plant {
            kind: SegmentKind::Events,
            first_seq,
            count,
            epoch,
            writer: writer.to_owned(),
            window: 1,
            prev: None,
        }
    }

    /// The same segment naming `prev` as its predecessor: an orphan where that is not the
    /// valid segment below. It is planted as a pipelined writer sends one, with the slot
    /// below it unsettled (window 2): an orphan `verify` can explain.
    pub fn naming(self, prev: Option<Uuid>) -> Plant {
        Plant {
            prev: Some(prev),
            window: self.window.max(2),
            ..self
        }
    }

    /// The same segment naming `prev` and sent with everything below it settled (window 1):
    /// a pipelined writer's batch sent again after its window drained.
    pub fn sent_again_naming(self, prev: Option<Uuid>) -> Plant {
        Plant {
            prev: Some(prev),
            window: 1,
            ..self
        }
    }

    /// A void record of `epoch`, one of `window` slots a new leader claimed at once.
    pub fn void(epoch: u64, window: u32, writer: &str) -> Plant {
        Plant {
            kind: SegmentKind::Void,
            window,
            ..Plant::events(0, 0, epoch, writer)
        }
    }

    /// Creates the segment at `slot` of `stream` (create-only, with metadata, as a writer
    /// would), bypassing any writer: another process's write, as the scenario needs it.
    pub async fn at(&self, store: &dyn ObjectStore, stream: &str, slot: u64) -> SegmentSummary {
        self.try_at(store, stream, slot)
            .await
            .expect("planting a segment at a free slot")
    }

    /// [`Plant::at`], returning the store's refusal (a slot already taken: `AlreadyExists`).
    pub async fn try_at(
        &self,
        store: &dyn ObjectStore,
        stream: &str,
        slot: u64,
    ) -> Result<SegmentSummary, wormlog_store::StoreError> {
        let keys = StreamKeys::new("", stream).unwrap();
        let mut rng = SeededRng::from_entropy();
        let events: Vec<NewEvent> = (0..self.count)
            .map(|i| {
                NewEvent::new(
                    rng.uuid(),
                    "planted",
                    "2026-01-01T00:00:00Z",
                    &format!("{{\"i\":{i}}}"),
                )
                .unwrap()
            })
            .collect();
        let spec = SegmentSpec {
            stream: stream.to_owned(),
            slot,
            kind: self.kind,
            first_seq: self.first_seq,
            epoch: self.epoch,
            writer: self.writer.clone(),
            write_id: Uuid::from_u128(rng.next_u64() as u128),
            prev: match self.prev {
                Some(named) => named,
                None => segment_below(store, &keys, slot).await?,
            },
            window: self.window,
            created_at: "2026-01-01T00:00:00Z".to_owned(),
        };
        let (bytes, header) = encode_segment(&spec, &events);
        let summary = SegmentSummary::of(&header);
        let opts = PutOptions {
            metadata: summary.to_metadata(),
            ..PutOptions::default()
        };
        store
            .put_if_absent(&keys.segment(slot), bytes, &opts)
            .await?;
        Ok(summary)
    }
}

/// The write id of the highest segment below `slot` that is not a void: what a writer that
/// read the slots below would name as `prev` in the simple cases tests plant.
async fn segment_below(
    store: &dyn ObjectStore,
    keys: &StreamKeys,
    slot: u64,
) -> Result<Option<Uuid>, wormlog_store::StoreError> {
    for below in (0..slot).rev() {
        match store.head(&keys.segment(below)).await {
            Ok(head) => match SegmentSummary::from_metadata(&head.metadata) {
                Some(s) if s.kind == SegmentKind::Void => continue,
                Some(s) => return Ok(Some(s.write_id)),
                None => continue,
            },
            Err(wormlog_store::StoreError::NotFound { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// Slots present in a stream's log.
pub async fn slots(store: &dyn ObjectStore, stream: &str) -> Vec<u64> {
    let keys = StreamKeys::new("", stream).unwrap();
    wormlog_store::list_all(store, &keys.log_prefix(), None)
        .await
        .unwrap()
        .iter()
        .filter_map(|e| keys.parse_slot(&e.key))
        .collect()
}

/// Generates the given scenario tests once per local store: `mod memory` and `mod fs`.
/// Each scenario is `async fn name(store: Arc<dyn ObjectStore>)`.
#[macro_export]
macro_rules! on_every_local_store {
    ($($scenario:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let subject = $crate::memory_subject().await;
                    super::$scenario(std::sync::Arc::clone(&subject.store)).await;
                }
            )*
        }
        mod fs {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let subject = $crate::fs_subject().await;
                    super::$scenario(std::sync::Arc::clone(&subject.store)).await;
                }
            )*
        }
    };
}

/// Generates the given scenario tests on S3Store against the real servers, each in a fresh
/// bucket: `mod rgw` (unversioned bucket, where RGW enforces create-only) and `mod moto`
/// (Object-Lock bucket). Each scenario is `async fn name(store: Arc<dyn ObjectStore>)`.
#[macro_export]
macro_rules! on_s3_stores {
    ($($scenario:ident),* $(,)?) => {
        mod rgw {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let s = $crate::servers::RGW;
                    let bucket = $crate::servers::Server::fresh_bucket("wl-rgw");
                    let store: std::sync::Arc<dyn wormlog_store::ObjectStore> = s.store(&bucket, false).await;
                    super::$scenario(store).await;
                }
            )*
        }
        mod moto {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let s = $crate::servers::MOTO;
                    let bucket = $crate::servers::Server::fresh_bucket("wl-moto");
                    let store: std::sync::Arc<dyn wormlog_store::ObjectStore> = s.store(&bucket, true).await;
                    super::$scenario(store).await;
                }
            )*
        }
    };
}

/// Generates the given scenario tests on every store: memory and directory (`mod memory`,
/// `mod fs`), Ceph RGW and moto (`mod on_s3::{rgw, moto}`).
#[macro_export]
macro_rules! on_every_store {
    ($($scenario:ident),* $(,)?) => {
        $crate::on_every_local_store!($($scenario),*);
        mod on_s3 {
            use super::*;
            $crate::on_s3_stores!($($scenario),*);
        }
    };
}
