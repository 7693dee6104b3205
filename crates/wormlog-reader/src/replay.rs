//! [`Replayer`]: rebuild application state from the log, to the end, to a seq or to a time,
//! starting from the newest usable snapshot.
//!
//! ```text
//!  P/snapshots/<seq, 20 digits>  {seq, next_seq, max_epoch, last_time, state}   (create-only)
//!        │ newest one not beyond the target
//!        ▼
//!  state ──► scan from next_seq (binary search to the segment) ──► apply events ──► target
//! ```
//!
//! I8 (replay is deterministic) makes snapshots safe: the state after seq N is the same for
//! every reader, so a snapshot is only a shortcut, and the result with or without it is the
//! same. An unreadable snapshot is skipped, never trusted.

use std::sync::Arc;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use wormlog_format::{Event, StreamKeys};
use wormlog_store::{list_all, ObjectStore, PutOptions, StoreError, Timestamp};

use crate::{LogReader, ReadError, ScanItem};

/// Application state rebuilt from events.
pub trait State: Default + Serialize + DeserializeOwned + Send {
    fn apply(&mut self, event: &Event);
}

/// How far to replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Every event in the log.
    End,
    /// Events up to and including this seq.
    Seq(u64),
    /// Events whose writer time is at or before this instant.
    Time(Timestamp),
}

/// The result of a replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replayed<S> {
    pub state: S,
    /// The seq the next event would have (events applied: `0..next_seq`).
    pub next_seq: u64,
    /// The highest epoch among the segments applied.
    pub max_epoch: u64,
    /// The time of the last event applied.
    pub last_time: Option<String>,
    /// The snapshot the replay started from, by its seq.
    pub from_snapshot: Option<u64>,
}

#[derive(Serialize, Deserialize)]
struct SnapshotFile<S> {
    wormlog_snapshot: u32,
    stream: String,
    /// The last event covered.
    seq: u64,
    next_seq: u64,
    max_epoch: u64,
    last_time: Option<String>,
    state: S,
}

/// Replays one stream.
#[derive(Debug, Clone)]
pub struct Replayer {
    store: Arc<dyn ObjectStore>,
    keys: StreamKeys,
    reader: LogReader,
}

impl Replayer {
    pub fn new(
        store: Arc<dyn ObjectStore>,
        root_prefix: &str,
        stream: &str,
    ) -> Result<Replayer, ReadError> {
        let keys =
            StreamKeys::new(root_prefix, stream).map_err(|e| ReadError::Config(e.to_string()))?;
        let reader = LogReader::new(Arc::clone(&store), root_prefix, stream)?;
        Ok(Replayer {
            store,
            keys,
            reader,
        })
    }

    /// Replays to `target`, from the newest usable snapshot unless `use_snapshots` is false.
    pub async fn replay<S: State>(
        &self,
        target: Target,
        use_snapshots: bool,
    ) -> Result<Replayed<S>, ReadError> {
        let start = if use_snapshots {
            self.newest_snapshot::<S>(target).await?
        } else {
            None
        };
        let mut r = match start {
            Some(snap) => Replayed {
                state: snap.state,
                next_seq: snap.next_seq,
                max_epoch: snap.max_epoch,
                last_time: snap.last_time,
                from_snapshot: Some(snap.seq),
            },
            None => Replayed {
                state: S::default(),
                next_seq: 0,
                max_epoch: 0,
                last_time: None,
                from_snapshot: None,
            },
        };
        let mut scan = self.reader.scan(r.next_seq).await?;
        while let Some(item) = scan.next().await? {
            let ScanItem::Event(e) = item else { continue };
            let reached = match target {
                Target::End => false,
                Target::Seq(t) => e.seq > t,
                Target::Time(t) => Timestamp::parse_rfc3339(&e.time).is_some_and(|et| et > t),
            };
            if reached {
                break;
            }
            r.state.apply(&e);
            r.next_seq = e.seq + 1;
            r.max_epoch = r.max_epoch.max(e.meta.fencing_token.epoch);
            r.last_time = Some(e.time.clone());
        }
        Ok(r)
    }

    /// Stores `r` as a snapshot (create-only). `Ok(None)` when there is nothing to cover or a
    /// snapshot of that seq already exists (by I8 it holds the same state).
    pub async fn save_snapshot<S: State>(
        &self,
        r: &Replayed<S>,
    ) -> Result<Option<String>, ReadError> {
        let Some(seq) = r.next_seq.checked_sub(1) else {
            return Ok(None);
        };
        let file = SnapshotFile {
            wormlog_snapshot: 1,
            stream: self.keys.stream().to_owned(),
            seq,
            next_seq: r.next_seq,
            max_epoch: r.max_epoch,
            last_time: r.last_time.clone(),
            state: &r.state,
        };
        let key = self.snapshot_key(seq);
        let body = Bytes::from(serde_json::to_vec(&file).expect("snapshots serialise"));
        match self
            .store
            .put_if_absent(&key, body, &PutOptions::default())
            .await
        {
            Ok(_) => Ok(Some(key)),
            Err(StoreError::AlreadyExists { .. }) => Ok(None),
            Err(e) => Err(ReadError::Store(e)),
        }
    }

    fn snapshot_key(&self, seq: u64) -> String {
        format!("{}{seq:020}", self.keys.snapshots_prefix())
    }

    /// The newest readable snapshot that does not go beyond `target`.
    async fn newest_snapshot<S: State>(
        &self,
        target: Target,
    ) -> Result<Option<SnapshotFile<S>>, ReadError> {
        let prefix = self.keys.snapshots_prefix();
        let listed = list_all(&*self.store, &prefix, None)
            .await
            .map_err(ReadError::Store)?;
        let mut seqs: Vec<u64> = listed
            .iter()
            .filter_map(|e| e.key.strip_prefix(&prefix)?.parse().ok())
            .filter(|seq| match target {
                Target::Seq(t) => *seq <= t,
                _ => true,
            })
            .collect();
        seqs.sort_unstable_by(|a, b| b.cmp(a));
        for seq in seqs {
            let got = match self.store.get(&self.snapshot_key(seq)).await {
                Ok(g) => g,
                Err(StoreError::NotFound { .. }) => continue,
                Err(e) => return Err(ReadError::Store(e)),
            };
            let Ok(snap) = serde_json::from_slice::<SnapshotFile<S>>(&got.body) else {
                tracing::warn!(seq, "skipping an unreadable snapshot");
                continue;
            };
            if snap.seq != seq || snap.stream != self.keys.stream() {
                continue;
            }
            let fits = match target {
                Target::Time(t) => snap
                    .last_time
                    .as_deref()
                    .and_then(Timestamp::parse_rfc3339)
                    .is_some_and(|lt| lt <= t),
                _ => true,
            };
            if fits {
                return Ok(Some(snap));
            }
        }
        Ok(None)
    }
}
