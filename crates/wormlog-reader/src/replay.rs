//! [`Replayer`]: rebuild application state from the log, to the end, to a seq or to a time,
//! starting from the newest usable snapshot.
//!
//! ```text
//!  P/snapshots/<seq>[-<digest of purged slots>]   create-only, JSON:
//!     {seq, next_seq, max_epoch, last_time, max_time, position, purged_slots, state}
//!        │ the newest usable one (below)
//!        ▼
//!  state ──► scan from its position (no reads below it) ──► apply events ──► target
//! ```
//!
//! I8 (replay is deterministic) makes snapshots safe: the state after seq N is the same for
//! every reader, so a snapshot is only a shortcut, and the result with or without it must be
//! the same. A snapshot is usable for a target only when starting from it cannot change that:
//!
//! - it does not go beyond the target: for `Seq(t)`, its seq <= t; for `Time(t)`, every event
//!   it covers was written at or before t (`max_time`, not the last event's time: writer
//!   clocks need not be monotone across leaders, and a replay from slot 0 stops at the first
//!   event after t);
//! - it knows every purge of the events it covers: a purge after a snapshot leaves the erased
//!   events in that snapshot. Each snapshot lists the purged slots its replay passed; one
//!   that misses a documented purge of a seq it covers is never used (and `wormlog purge`
//!   deletes such snapshots where retention allows, [`Replayer::discard_snapshots_covering`]);
//! - it is readable and names this stream and seq. An unreadable snapshot is skipped.

use std::sync::Arc;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use wormlog_format::{Event, PurgeRecord, StreamKeys, SLOT_DIGITS};
use wormlog_store::{DeleteOptions, ObjectStore, PutOptions, StoreError, Timestamp};

use crate::fetch::{get_with_retries, list_all_with_retries};
use crate::{LogReader, Position, PurgeIndex, ReadError, ReaderBug, ScanItem};

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
    /// Events up to the first whose writer time is after this instant.
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
    /// The latest writer time among the events applied (clocks need not be monotone).
    pub max_time: Option<String>,
    /// A known-valid point to continue from (`None` before any event).
    pub position: Option<Position>,
    /// Slots the replay passed as documented purges.
    pub purged_slots: Vec<u64>,
    /// The snapshot the replay started from, by its seq.
    pub from_snapshot: Option<u64>,
}

impl<S: Default> Replayed<S> {
    fn empty() -> Replayed<S> {
        Replayed {
            state: S::default(),
            next_seq: 0,
            max_epoch: 0,
            last_time: None,
            max_time: None,
            position: None,
            purged_slots: Vec::new(),
            from_snapshot: None,
        }
    }
}

/// The snapshot format written now; version 1 (no `max_time`, `position` or
/// `purged_slots`) is still read: usable for seq targets on logs without purges. Version 2's
/// position has no `prev` (the last valid segment's write id, which segment format 3 binds):
/// `scan_from` seeks from its `next_seq` instead of resuming at that position.
const SNAPSHOT_VERSION: u32 = 3;

#[derive(Serialize, Deserialize)]
struct SnapshotFile<S> {
    wormlog_snapshot: u32,
    stream: String,
    /// The last event covered.
    seq: u64,
    next_seq: u64,
    max_epoch: u64,
    last_time: Option<String>,
    #[serde(default)]
    max_time: Option<String>,
    #[serde(default)]
    position: Option<Position>,
    #[serde(default)]
    purged_slots: Vec<u64>,
    state: S,
}

/// What a purge did to the snapshots that held its events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiscardedSnapshot {
    pub key: String,
    /// `None` when deleted; otherwise why it stays (retention): readers never use it.
    pub kept: Option<String>,
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

    /// Switches on a replay bug, for tests that prove the simulation checker catches it.
    #[doc(hidden)]
    pub fn with_planted_bug(mut self, bug: ReaderBug) -> Replayer {
        self.reader = self.reader.with_planted_bug(bug);
        self
    }

    /// Replays to `target`, from the newest usable snapshot unless `use_snapshots` is false.
    pub async fn replay<S: State>(
        &self,
        target: Target,
        use_snapshots: bool,
    ) -> Result<Replayed<S>, ReadError> {
        let start = match use_snapshots {
            true => self.newest_usable::<S>(target).await?,
            false => None,
        };
        let (mut r, mut scan) = match start {
            Some((seq, snap)) => {
                let position = snap.position;
                let scan = match position {
                    Some(p) => self.reader.scan_from(p, snap.next_seq).await?,
                    None => self.reader.scan(snap.next_seq).await?,
                };
                let r = Replayed {
                    state: snap.state,
                    next_seq: snap.next_seq,
                    max_epoch: snap.max_epoch,
                    last_time: snap.last_time,
                    max_time: snap.max_time,
                    position,
                    purged_slots: snap.purged_slots,
                    from_snapshot: Some(seq),
                };
                (r, scan)
            }
            None => (Replayed::empty(), self.reader.scan(0).await?),
        };
        while let Some(item) = scan.next().await? {
            let e = match item {
                ScanItem::Event(e) => e,
                ScanItem::Purged { slot, .. } => {
                    r.purged_slots.push(slot);
                    continue;
                }
                ScanItem::Control { .. }
                | ScanItem::Zombie { .. }
                | ScanItem::Void { .. }
                | ScanItem::Orphan { .. } => continue,
                ScanItem::Leaves { .. } => {
                    return Err(ReadError::Config(
                        "a reader made with leaves_only() delivers no events to replay; replay with a plain LogReader".into(),
                    ))
                }
            };
            let time = Timestamp::parse_rfc3339(&e.time);
            let reached = match target {
                Target::End => false,
                Target::Seq(t) => e.seq > t,
                Target::Time(t) => time.is_some_and(|et| et > t),
            };
            if reached {
                break;
            }
            r.state.apply(&e);
            r.next_seq = e.seq + 1;
            r.max_epoch = r.max_epoch.max(e.meta.fencing_token.epoch);
            if let Some(et) = time {
                let newest = r.max_time.as_deref().and_then(Timestamp::parse_rfc3339);
                if newest.is_none_or(|m| et > m) {
                    r.max_time = Some(e.time.clone());
                }
            }
            r.last_time = Some(e.time);
            r.position = Some(scan.position());
        }
        Ok(r)
    }

    /// Stores `r` as a snapshot (create-only). `Ok(None)` when there is nothing to cover or a
    /// snapshot of that seq, after the same purges, already exists (by I8 it holds the same
    /// state).
    pub async fn save_snapshot<S: State>(
        &self,
        r: &Replayed<S>,
    ) -> Result<Option<String>, ReadError> {
        let Some(seq) = r.next_seq.checked_sub(1) else {
            return Ok(None);
        };
        let file = SnapshotFile {
            wormlog_snapshot: SNAPSHOT_VERSION,
            stream: self.keys.stream().to_owned(),
            seq,
            next_seq: r.next_seq,
            max_epoch: r.max_epoch,
            last_time: r.last_time.clone(),
            max_time: r.max_time.clone(),
            position: r.position,
            purged_slots: r.purged_slots.clone(),
            state: &r.state,
        };
        let key = self.snapshot_key(seq, &r.purged_slots);
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

    /// `P/snapshots/<seq>`, or `P/snapshots/<seq>-<digest of the purged slots passed>` for a
    /// replay that passed purges: snapshots of the same seq after different purges hold
    /// different state, so they get different keys.
    fn snapshot_key(&self, seq: u64, purged: &[u64]) -> String {
        let prefix = self.keys.snapshots_prefix();
        if purged.is_empty() {
            return format!("{prefix}{seq:0w$}", w = SLOT_DIGITS);
        }
        let mut slots = purged.to_vec();
        slots.sort_unstable();
        slots.dedup();
        // FNV-1a over the slots: a name, not a security property (the file lists the slots).
        let digest = slots
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
            });
        format!("{prefix}{seq:0w$}-{digest:016x}", w = SLOT_DIGITS)
    }

    /// Every snapshot key with the seq it covers, newest first.
    async fn snapshot_keys(&self) -> Result<Vec<(u64, String)>, ReadError> {
        let prefix = self.keys.snapshots_prefix();
        let listed = list_all_with_retries(&*self.store, &prefix, None)
            .await
            .map_err(ReadError::Store)?;
        let mut keys: Vec<(u64, String)> = listed
            .into_iter()
            .filter_map(|e| {
                let name = e.key.strip_prefix(&prefix)?;
                let seq = name.split('-').next()?.parse().ok()?;
                Some((seq, e.key))
            })
            .collect();
        keys.sort_unstable_by(|a, b| b.cmp(a));
        Ok(keys)
    }

    /// The newest snapshot usable for `target` (see the module docs), with its seq.
    async fn newest_usable<S: State>(
        &self,
        target: Target,
    ) -> Result<Option<(u64, SnapshotFile<S>)>, ReadError> {
        let candidates = self.snapshot_keys().await?;
        if candidates.is_empty() {
            return Ok(None);
        }
        let purges = PurgeIndex::load(&*self.store, &self.keys).await?;
        for (seq, key) in candidates {
            if matches!(target, Target::Seq(t) if seq > t) {
                continue;
            }
            let got = match get_with_retries(&*self.store, &key).await {
                Ok(g) => g,
                Err(StoreError::NotFound { .. }) => continue,
                Err(e) => return Err(ReadError::Store(e)),
            };
            let Ok(snap) = serde_json::from_slice::<SnapshotFile<S>>(&got.body) else {
                tracing::warn!(key, "skipping an unreadable snapshot");
                continue;
            };
            if snap.seq != seq || snap.stream != self.keys.stream() {
                continue;
            }
            let ignores_purges = self.reader.bug == Some(ReaderBug::SnapshotIgnoresPurges);
            if !ignores_purges && !knows_every_purge(&snap, &purges) {
                tracing::debug!(
                    key,
                    "skipping a snapshot taken before a purge of its events"
                );
                continue;
            }
            if let Target::Time(t) = target {
                let newest = snap.max_time.as_deref().and_then(Timestamp::parse_rfc3339);
                if newest.is_none_or(|m| m > t) {
                    continue; // version 1 has no max_time: not usable for a time target
                }
            }
            return Ok(Some((seq, snap)));
        }
        Ok(None)
    }

    /// After a purge: deletes every snapshot that covers a purged event (all of them were
    /// taken before the purge, so they still hold the erased events), with the governance
    /// bypass the purge itself used. One that retention keeps is reported; readers never
    /// use it.
    pub async fn discard_snapshots_covering(
        &self,
        record: &PurgeRecord,
    ) -> Result<Vec<DiscardedSnapshot>, ReadError> {
        let Some(first) = record
            .purged
            .iter()
            .filter(|p| p.count > 0)
            .map(|p| p.first_seq)
            .min()
        else {
            return Ok(Vec::new());
        };
        let bypass = DeleteOptions {
            bypass_governance: true,
        };
        let mut out = Vec::new();
        for (seq, key) in self.snapshot_keys().await? {
            if seq < first {
                continue;
            }
            let kept = match self.store.delete(&key, &bypass).await {
                Ok(()) => None,
                Err(e @ StoreError::ObjectLocked { .. }) => Some(e.to_string()),
                Err(e) => return Err(ReadError::Store(e)),
            };
            out.push(DiscardedSnapshot { key, kept });
        }
        Ok(out)
    }
}

/// True when the snapshot's replay passed every documented purge of a seq it covers.
fn knows_every_purge<S>(snap: &SnapshotFile<S>, purges: &PurgeIndex) -> bool {
    purges.by_slot.values().all(|d| {
        let p = &d.purged;
        p.count == 0 || p.first_seq > snap.seq || snap.purged_slots.contains(&p.slot)
    })
}
