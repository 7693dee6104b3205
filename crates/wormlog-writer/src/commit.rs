//! The commit loop: protocol steps 1 to 3 for one batch at a time.
//!
//! [`Core`] owns the writer's protocol state (epoch, next slot, next seq, highest epoch seen)
//! and is used by one task only, so "one unconfirmed slot at a time" holds by construction.

use std::sync::Arc;

use bytes::Bytes;
use tracing::{debug, info_span, warn, Instrument};
use uuid::Uuid;
use wormlog_fencing::tail::{LogReads, ReadRetry, Tail, TailError, VoidRun};
use wormlog_format::{
    encode_purge, encode_segment, NewEvent, PurgeRecord, SegmentKind, SegmentSpec, SegmentSummary,
    StreamKeys,
};
use wormlog_store::{ObjectStore, PutOptions, SeededRng, StoreError};

mod fence;
use fence::Started;
pub(crate) mod pipeline;
mod slot_put;

use crate::resolve::{decide, Resolution, WriterView};
use crate::settle::{Settled, SlotAttempts};
use crate::stats::StatsCells;
use crate::LockPolicy;
use crate::{WriteError, WriterConfig};

/// A committed batch: where it landed and the seq of its first event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Committed {
    pub slot: u64,
    pub first_seq: u64,
}

/// What one commit writes: a batch of events, or a control record.
#[derive(Clone, Copy)]
pub(crate) enum Payload<'a> {
    Events(&'a [NewEvent]),
    EpochStart,
    /// A slot claimed or filled without a segment (fencing ahead, repairing a hole), with
    /// how many slots the writer claimed at once (its header's `window`: readers take a
    /// missing slot for pending only within that many slots below a void).
    Void {
        window: u32,
    },
    Purge(&'a PurgeRecord),
}

impl<'a> Payload<'a> {
    fn events(self) -> &'a [NewEvent] {
        match self {
            Payload::Events(events) => events,
            Payload::EpochStart | Payload::Void { .. } | Payload::Purge(_) => &[],
        }
    }
}

/// Where a batch starts, what it names as its predecessor and its header's `window`.
#[derive(Clone, Copy)]
struct Speculated {
    first_seq: u64,
    prev: Option<Uuid>,
    window: u32,
}

/// The writer's protocol state.
pub(crate) struct Core {
    store: Arc<dyn ObjectStore>,
    keys: StreamKeys,
    reads: LogReads,
    cfg: WriterConfig,
    rng: SeededRng,
    pub(crate) next_slot: u64,
    pub(crate) next_seq: u64,
    max_epoch_seen: u64,
    /// The write id of the last segment the writer counted as valid: the `prev` of its next.
    prev: Option<Uuid>,
    /// Set once the writer must refuse every further append (fenced, conflicted, poisoned).
    pub(crate) stopped: Option<WriteError>,
    /// A pipelined window met another writer's segment: the next batch goes alone, reading
    /// each slot before it writes it (the chase of step 2), so it never fills a purged hole
    /// and never races a stale leader with doomed PUTs.
    pub(crate) chasing: bool,
    pub(crate) stats: Arc<StatsCells>,
    /// Where acknowledged batches go for signed checkpoints, when the writer keeps them.
    pub(crate) feed: Option<crate::checkpoints::Feed>,
}

/// A batch its writer sent with slots below it still unsettled (a pipelined writer's): what
/// it names is known valid only once its window is judged.
fn sent_with_slots_unsettled(summary: &SegmentSummary) -> bool {
    summary.kind != SegmentKind::Void
        && summary.window > 1
        && matches!(summary.prev, wormlog_format::Prev::Bound(_))
}

/// A failed read of the log, as a write error of `stream`.
fn read_error(stream: &str, e: TailError) -> WriteError {
    match e {
        TailError::Store(e) => WriteError::Store(e),
        TailError::Corrupt { slot, source } => WriteError::Corrupt {
            stream: stream.to_owned(),
            slot,
            source,
        },
    }
}

/// The capability probe's verdict (`wormlog_store::probe::ensure_safe`), or `UnsafeStore`.
async fn ensure_safe(
    store: &dyn ObjectStore,
    cfg: &WriterConfig,
    fresh: bool,
) -> Result<wormlog_store::probe::Verdict, WriteError> {
    wormlog_store::probe::ensure_safe(store, &cfg.root_prefix, &*cfg.clock, fresh)
        .await
        .map_err(|report| {
            let failed = report
                .first_failure()
                .expect("an unsafe report names a failure");
            WriteError::UnsafeStore {
                store: report.store.clone(),
                check: failed.name.to_owned(),
                detail: failed.detail.clone(),
            }
        })
}

impl Core {
    /// Protocol step 1: prove the store enforces conditional writes (its verdict), find the
    /// tail, refuse if a newer epoch holds the log, then commit an `epoch-start` record
    /// unless the tail already carries our epoch.
    pub(crate) async fn open(
        store: Arc<dyn ObjectStore>,
        cfg: WriterConfig,
        rng: SeededRng,
        stats: Arc<StatsCells>,
    ) -> Result<Core, WriteError> {
        cfg.validate().map_err(WriteError::Config)?;
        let keys = StreamKeys::new(&cfg.root_prefix, &cfg.stream)
            .map_err(|e| WriteError::Config(e.to_string()))?;
        let reads = LogReads::new(
            Arc::clone(&store),
            keys.clone(),
            ReadRetry {
                attempts: cfg.retry.max_attempts,
                base_delay: cfg.retry.base_delay,
                max_delay: cfg.retry.max_delay,
            },
        );
        let mut core = Core {
            store,
            keys,
            reads,
            cfg,
            rng,
            next_slot: 0,
            next_seq: 0,
            max_epoch_seen: 0,
            prev: None,
            stopped: None,
            chasing: false,
            stats,
            feed: None,
        };
        // The verdict and the tail at once: reads change nothing, and nothing is written
        // before the store is known safe.
        let (verdict, tail) = tokio::join!(
            ensure_safe(&*core.store, &core.cfg, false),
            core.reads.find_tail_guessing(core.cfg.tail_hint)
        );
        let verdict = verdict?;
        let mut tail = tail.map_err(|e| core.read_failed(e))?;
        if let (Some(hint), Some(crate::PlantedBug::TrustTailHint)) =
            (core.cfg.tail_hint, core.cfg.planted_bug)
        {
            // The planted bug: the hinted slot is taken for the last, unconfirmed.
            if let Ok(Some(summary)) = core.reads.summary(hint).await {
                tail.next_slot = hint + 1;
                tail.last = Some(summary);
            }
        }
        // The verdict's cheap check: a probe that saw an unversioned bucket says nothing of a
        // versioned one (Ceph RGW ignores If-None-Match there). Probe again.
        if verdict.versioned == Some(false) && tail.versioned {
            ensure_safe(&*core.store, &core.cfg, true).await?;
        }
        loop {
            core.take_tail(tail).await?;
            if core.tail_holds_our_epoch() || core.start_epoch().await? == Started::Yes {
                return Ok(core);
            }
            // Another new leader's claims lie ahead of ours (a fence of a lower epoch, maybe
            // one that crashed): they are the tail now, judged as an open judges it.
            tail = core
                .reads
                .find_tail()
                .await
                .map_err(|e| core.read_failed(e))?;
        }
    }

    /// Takes `tail` as the log's: refuses a deleted slot at it, an epoch too far above it,
    /// and a newer epoch holding it; judges the voids or the pipelined window that end it
    /// (repairing their holes), and stands at its last valid segment.
    async fn take_tail(&mut self, mut tail: Tail) -> Result<(), WriteError> {
        let unchecked = self.cfg.planted_bug == Some(crate::PlantedBug::OpenOverDeletedSlot);
        if let Some(slot) = tail.deleted.filter(|_| !unchecked) {
            return Err(WriteError::SlotDeleted {
                stream: self.keys().stream().to_owned(),
                slot,
                key: self.keys().segment(slot),
            });
        }
        let current = tail.epoch();
        if let Some(limit) = self.cfg.max_epoch_jump {
            if self.cfg.epoch > current.saturating_add(limit) {
                return Err(WriteError::EpochTooFarAhead {
                    epoch: self.cfg.epoch,
                    current,
                    limit,
                });
            }
        }
        self.next_slot = tail.next_slot;
        let unchecked = self.cfg.planted_bug == Some(crate::PlantedBug::OpenWithoutEpochCheck);
        if current > self.cfg.epoch && !unchecked {
            // A newer epoch holds the log (its last segment, or the voids that end it, or the
            // segment below them): refused before anything is written, repairs included.
            return Err(self.fenced(current, tail.next_slot.saturating_sub(1), false));
        }
        let last = match tail.voids.take() {
            Some(run) => self.below_voids(tail.next_slot, run).await?,
            None if tail.last.as_ref().is_some_and(sent_with_slots_unsettled) => {
                self.below_window(tail.next_slot).await?
            }
            None => tail.last.map(|l| (tail.next_slot - 1, l)),
        };
        if let Some((slot, last)) = last {
            self.next_seq = last.next_seq();
            self.max_epoch_seen = last.epoch;
            self.prev = Some(last.write_id);
            if last.epoch > self.cfg.epoch && !unchecked {
                return Err(self.fenced(last.epoch, slot, false));
            }
        }
        Ok(())
    }

    /// The tail is a void: a new leader is fencing ahead, or one crashed while it did. From
    /// the walk down to the last segment that is not a void (where the seqs stand, read with
    /// the tail): refuses if a void carries a higher epoch, or if a slot below the voids'
    /// claims is missing (deleted), and fills every pending hole with a void of our own
    /// before anything else is written ([`fence`]). Returns that segment.
    async fn below_voids(
        &mut self,
        next_slot: u64,
        mut run: VoidRun,
    ) -> Result<Option<(u64, SegmentSummary)>, WriteError> {
        loop {
            let void_epoch = run.max_void_epoch();
            if void_epoch > self.cfg.epoch {
                let slot = run.voids.last().map_or(next_slot - 1, |v| v.0);
                return Err(self.fenced(void_epoch, slot, false));
            }
            self.refuse_missing(run.gap, &run.holes).await?;
            if run
                .base
                .as_ref()
                .is_some_and(|(_, b)| sent_with_slots_unsettled(b))
            {
                // A pipelined writer's batches below the voids: judged by their windows.
                return self.below_window(next_slot).await;
            }
            let base = run.base.clone();
            (self.next_seq, self.prev) = match &base {
                Some((_, b)) => (b.next_seq(), Some(b.write_id)),
                None => (0, None),
            };
            let unrepaired = self.cfg.planted_bug == Some(crate::PlantedBug::OpenWithoutRepair);
            if run.holes.is_empty() || unrepaired {
                return Ok(base);
            }
            if self.repair(&run.holes).await? {
                return Ok(base);
            }
            // A late segment took a hole before our void: walk down again from the tail.
            let walked = self.reads.void_run(next_slot).await;
            run = walked.map_err(|e| self.read_failed(e))?;
        }
    }

    /// The tail is a pipelined writer's batch, sent with slots below it unsettled (it may
    /// have crashed with its window full): judged from the headers of its windows
    /// ([`LogReads::window_run`]). Refuses if a higher epoch is among them or a missing slot
    /// is no pending one, fills every pending hole with a void of our own, and returns the
    /// last valid segment.
    async fn below_window(
        &mut self,
        next_slot: u64,
    ) -> Result<Option<(u64, SegmentSummary)>, WriteError> {
        loop {
            let run = self.reads.window_run(next_slot).await;
            let run = run.map_err(|e| self.read_failed(e))?;
            let unchecked = self.cfg.planted_bug == Some(crate::PlantedBug::OpenWithoutEpochCheck);
            if run.epoch > self.cfg.epoch && !unchecked {
                return Err(self.fenced(run.epoch, next_slot - 1, false));
            }
            self.refuse_missing(run.gap, &run.holes).await?;
            (self.next_seq, self.prev) = match &run.base {
                Some((_, b)) => (b.next_seq(), Some(b.write_id)),
                None => (0, None),
            };
            let unrepaired = self.cfg.planted_bug == Some(crate::PlantedBug::OpenWithoutRepair);
            if run.holes.is_empty() || unrepaired || self.repair(&run.holes).await? {
                return Ok(run.base);
            }
            // A late batch took a hole before our void: judge the windows again.
        }
    }

    /// Missing slots below the tail, found by an open's walk: refuses a deleted one (a
    /// delete marker on a versioned bucket says what a missing slot is) and a gap; the
    /// pending `holes` are left for the repair.
    async fn refuse_missing(&mut self, gap: Option<u64>, holes: &[u64]) -> Result<(), WriteError> {
        let missing: Vec<u64> = gap.into_iter().chain(holes.iter().copied()).collect();
        if !missing.is_empty() {
            self.refuse_deleted(&missing).await?;
        }
        match gap {
            Some(slot) => Err(WriteError::Gap {
                stream: self.cfg.stream.clone(),
                slot,
            }),
            None => Ok(()),
        }
    }

    /// On a versioned bucket a missing slot may be a deleted one (a delete marker), which a
    /// void would write over on AWS and moto: refuse it as at the tail. One listing of
    /// versions from the lowest of `missing` on.
    async fn refuse_deleted(&mut self, missing: &[u64]) -> Result<(), WriteError> {
        let lowest = missing.iter().min().copied().unwrap_or(0);
        let after = lowest.checked_sub(1).map(|s| self.keys.segment(s));
        let listed = self.reads.list_versions_after(after.as_deref()).await;
        let listed = listed.map_err(|e| self.read_failed(e))?;
        let shadowed = wormlog_store::shadowed_keys(&listed);
        match missing
            .iter()
            .find(|&&h| shadowed.contains(&self.keys.segment(h)))
        {
            Some(&slot) => Err(WriteError::SlotDeleted {
                stream: self.keys.stream().to_owned(),
                slot,
                key: self.keys.segment(slot),
            }),
            None => Ok(()),
        }
    }

    /// An `epoch-start` record fences lower epochs from its slot on. A tail segment that
    /// already carries this writer's epoch does the same (a lower epoch meeting it is fenced
    /// just as well), so a writer reopening under its epoch, as every `wormlog append --epoch`
    /// does, writes only its events: one object per append.
    fn tail_holds_our_epoch(&self) -> bool {
        let planted = self.cfg.planted_bug == Some(crate::PlantedBug::SkipEpochStartBelowUs);
        self.prev.is_some()
            && (self.max_epoch_seen == self.cfg.epoch
                || (planted && self.max_epoch_seen < self.cfg.epoch))
    }

    /// Commits one batch (protocol step 2). Returns where it landed. Each slot it tries is
    /// settled by the rules of [`crate::settle`]: once a send may have landed, a failure to
    /// settle that slot is an unknown outcome that poisons the writer (I6).
    pub(crate) async fn commit(
        &mut self,
        payload: Payload<'_>,
        expected_seq: Option<u64>,
    ) -> Result<Committed, WriteError> {
        let events = payload.events();
        if let Some(stopped) = &self.stopped {
            return Err(stopped.clone());
        }
        let write_id = self.rng.uuid();
        let mut tries = SlotAttempts::new(self.next_slot);
        // After moving past a foreign segment the tail may still be moving (a stale leader
        // still writing): read the next slot before writing it, so catching up costs one read
        // per slot instead of a doomed create-only PUT. Nothing is skipped unread.
        let mut read_ahead = std::mem::take(&mut self.chasing);
        let mut purged = None;
        // The bytes last sent under `write_id`: what a lost response left in the log.
        let mut last_sent: Option<Bytes> = None;
        loop {
            let slot = self.next_slot;
            tries.at(slot);
            if let Some(expected) = expected_seq.filter(|&e| e != self.next_seq) {
                return Err(WriteError::Conflict {
                    expected,
                    actual: self.next_seq,
                    slot: slot.saturating_sub(1),
                });
            }
            let span = info_span!(
                "append",
                stream = self.keys.stream(),
                slot,
                attempt = tries.failed,
                epoch = self.cfg.epoch
            );
            if read_ahead {
                read_ahead = false;
                let found = self.read_summary(slot).instrument(span.clone()).await;
                if let Some(found) = found.map_err(|e| self.unsettled(&tries, e))? {
                    self.stats.conflict();
                    match self.resolve_occupied(slot, write_id, &found, expected_seq)? {
                        Some(committed) => {
                            return Ok(self.counted(committed, events, 0, last_sent.as_ref()))
                        }
                        None => {
                            read_ahead = true;
                            continue;
                        }
                    }
                }
                // Free after a chase: the tail, unless a purge emptied it below the tail.
                self.refuse_a_hole(slot, &mut purged)
                    .instrument(span.clone())
                    .await?;
            }
            let (body, summary) = self.encode(payload, slot, write_id);
            let len = body.len() as u64;
            last_sent = Some(body.clone());
            let (key, opts) = (self.keys.segment(slot), self.put_options(&summary));
            let put = self.store.put_if_absent(&key, body, &opts);
            let sent = self.cfg.clock.monotonic();
            let put = put.instrument(span.clone()).await;
            let outcome = match &put {
                Ok(_) => "ok",
                Err(StoreError::AlreadyExists { .. }) => "exists",
                Err(_) => "error",
            };
            let took = self.cfg.clock.monotonic().saturating_sub(sent);
            self.stats.telemetry.put(outcome, took.as_secs_f64());
            match put {
                Ok(_) => {
                    span.in_scope(|| debug!(count = events.len(), bytes = len, "committed"));
                    let committed = self.advance_past(slot, &summary);
                    return Ok(self.counted(committed, events, len, last_sent.as_ref()));
                }
                Err(StoreError::AlreadyExists { .. })
                    if self.cfg.planted_bug == Some(crate::PlantedBug::SkipReadAfter412) =>
                {
                    self.next_slot = slot + 1; // the planted bug: nothing is read
                }
                Err(StoreError::AlreadyExists { .. }) => {
                    self.stats.conflict();
                    let found = self.read_summary(slot).instrument(span.clone()).await;
                    let Some(found) = found.map_err(|e| self.unsettled(&tries, e))? else {
                        // Occupied, then gone before our read: deleted behind us (a purge, or
                        // tampering). Never write into it: stop until reopened.
                        let gone = self.vanished(slot);
                        return Err(self.unsettled(&tries, gone));
                    };
                    span.in_scope(|| debug!(epoch = found.epoch, writer = %found.writer, "slot occupied (412)"));
                    match self.resolve_occupied(slot, write_id, &found, expected_seq)? {
                        Some(committed) => {
                            return Ok(self.counted(committed, events, len, last_sent.as_ref()))
                        }
                        None => read_ahead = true,
                    }
                }
                Err(e) if e.is_transient() => {
                    tries.send_failed(&e);
                    self.backoff_or_poison(&tries, e).instrument(span).await?;
                }
                Err(e) => return Err(self.unsettled(&tries, WriteError::Store(e))),
            }
        }
    }

    /// A slot that held a segment and is empty now: the writer stops (every later append
    /// fails with the same error), so that it never refills a deleted slot below the tail.
    fn vanished(&mut self, slot: u64) -> WriteError {
        self.stop(WriteError::Vanished {
            stream: self.cfg.stream.clone(),
            slot,
        })
    }

    /// Before writing `slot`, found free after passing foreign segments: if a purge record
    /// names it, it is a hole below the tail, and the writer stops instead of filling it. The
    /// records are read once per commit, and only when a chase meets a free slot.
    async fn refuse_a_hole(
        &mut self,
        slot: u64,
        purged: &mut Option<std::collections::BTreeSet<u64>>,
    ) -> Result<(), WriteError> {
        if purged.is_none() {
            let read = self.reads.purged_slots().await;
            *purged = Some(read.map_err(|e| self.read_failed(e))?);
        }
        match purged.as_ref().is_some_and(|p| p.contains(&slot)) {
            true => Err(self.vanished(slot)),
            false => Ok(()),
        }
    }

    /// A failure to settle the slot `tries` is at: returned as it is while no send there may
    /// have landed; otherwise the outcome is unknown and the writer stops until reopened.
    fn unsettled(&mut self, tries: &SlotAttempts, e: WriteError) -> WriteError {
        if self.cfg.planted_bug == Some(crate::PlantedBug::DefiniteAfterMaybeLanded) {
            return e; // the planted bug: a send that may have landed is called a definite failure
        }
        match tries.outcome_of(e) {
            Settled::Definite(e) => e,
            Settled::Unknown(e) => {
                self.stop(WriteError::Poisoned { slot: tries.slot });
                e
            }
        }
    }

    /// Counts a committed batch of ours in the writer's stats, and gives its stored bytes
    /// (`body`) to the checkpointer, if there is one.
    fn counted(
        &self,
        committed: Committed,
        events: &[NewEvent],
        len: u64,
        body: Option<&Bytes>,
    ) -> Committed {
        self.stats.committed(events.len() as u64, len);
        if let (Some(feed), Some(body), false) = (&self.feed, body, events.is_empty()) {
            let _ = feed.send(crate::checkpoints::Acknowledged {
                slot: committed.slot,
                first_seq: committed.first_seq,
                epoch: self.cfg.epoch,
                write_id: self.prev.expect("a committed batch is the writer's prev"),
                count: events.len(),
                leaves: wormlog_format::encoded_leaf_hashes(body),
            });
        }
        committed
    }

    /// [`decide`]'s answer for `found` at an occupied slot where we sent `write_id` (nil:
    /// nothing of ours), given what this writer has seen (with the planted bugs that
    /// change it).
    pub(super) fn decided(&self, found: &SegmentSummary, write_id: Uuid) -> Resolution {
        let write_id = match self.cfg.planted_bug {
            Some(crate::PlantedBug::IgnoreOwnWriteId) => Uuid::nil(),
            _ => write_id,
        };
        let me = WriterView {
            epoch: self.cfg.epoch,
            writer_id: &self.cfg.writer_id,
            write_id,
            max_epoch_seen: self.max_epoch_seen,
            prev: self.prev,
        };
        match decide(found, &me) {
            // The planted bug: a higher epoch is counted and passed, as if it were older.
            Resolution::Fenced { .. }
                if self.cfg.planted_bug == Some(crate::PlantedBug::CountHigherEpoch) =>
            {
                Resolution::CountAndAdvance
            }
            // The planted bug: an orphan is counted as if it were valid.
            Resolution::SkipOrphan
                if self.cfg.planted_bug == Some(crate::PlantedBug::CountOrphans) =>
            {
                Resolution::CountAndAdvance
            }
            d => d,
        }
    }

    /// A zombie met at `slot`. A batch its writer sent with slots unsettled below it is a
    /// fenced pipelined writer's leftover, expected after a takeover (its PUTs in flight when
    /// it was fenced land above the new leader's records): debug. One sent with nothing
    /// unsettled is a writer that went on past a higher epoch, which the protocol never
    /// does: a warning.
    fn log_zombie(&self, slot: u64, found: &SegmentSummary) {
        let stream = self.keys.stream();
        if found.window > 1 {
            debug!(
                stream,
                slot,
                epoch = found.epoch,
                "skipping a fenced pipelined writer's late batch (a zombie)"
            );
        } else {
            warn!(
                stream,
                slot,
                epoch = found.epoch,
                "skipping a zombie segment"
            );
        }
    }

    /// Acts on [`decide`]'s answer for an occupied slot. `Some` when our batch is committed,
    /// `None` to retry at the (advanced) next slot.
    fn resolve_occupied(
        &mut self,
        slot: u64,
        write_id: Uuid,
        found: &SegmentSummary,
        expected_seq: Option<u64>,
    ) -> Result<Option<Committed>, WriteError> {
        let decided = self.decided(found, write_id);
        self.stats.telemetry.resolved(&decided);
        match decided {
            // A lost response: our segment is there, with the seqs we sent.
            Resolution::OurOwnWrite => Ok(Some(self.advance_past(slot, found))),
            Resolution::Fenced { epoch } => Err(self.stop(self.fenced(epoch, slot, true))),
            Resolution::EpochConflict => Err(self.stop(WriteError::EpochConflict {
                stream: self.cfg.stream.clone(),
                slot,
                epoch: self.cfg.epoch,
                other: found.writer.clone(),
                write_id: found.write_id,
            })),
            Resolution::CountAndAdvance => {
                if found.first_seq != self.next_seq {
                    return Err(self.stop(WriteError::Corrupt {
                        stream: self.cfg.stream.clone(),
                        slot,
                        source: wormlog_format::FormatError::Inconsistent {
                            line: 0,
                            reason: format!(
                                "it starts at seq {}, but the log before it ends at seq {}",
                                found.first_seq, self.next_seq
                            ),
                        },
                    }));
                }
                let prev = self.prev;
                self.advance_past(slot, found);
                if self.cfg.planted_bug == Some(crate::PlantedBug::StalePrevAfterCount) {
                    self.prev = prev; // the planted bug: the counted segment is not named
                }
                self.foreign_conflict(expected_seq, slot)
            }
            Resolution::SkipZombie => {
                self.log_zombie(slot, found);
                self.next_slot = slot + 1;
                self.foreign_conflict(expected_seq, slot)
            }
            Resolution::SkipOrphan => {
                debug!(
                    stream = self.keys.stream(),
                    slot, "skipping an orphan segment"
                );
                self.next_slot = slot + 1;
                self.foreign_conflict(expected_seq, slot)
            }
            // A void changes no seq: even a conditional append goes on past it.
            Resolution::SkipVoid => {
                self.next_slot = slot + 1;
                Ok(None)
            }
        }
    }

    /// A conditional append that meets a foreign segment fails with `Conflict` (step 2, last
    /// rule); a plain append retries at the next slot.
    fn foreign_conflict(
        &self,
        expected_seq: Option<u64>,
        slot: u64,
    ) -> Result<Option<Committed>, WriteError> {
        match expected_seq {
            Some(expected) => Err(WriteError::Conflict {
                expected,
                actual: self.next_seq,
                slot,
            }),
            None => Ok(None),
        }
    }

    /// Encodes a batch for `slot` from where the writer stands (no speculation).
    fn encode(&self, payload: Payload<'_>, slot: u64, write_id: Uuid) -> (Bytes, SegmentSummary) {
        let window = match payload {
            Payload::Void { window } => window,
            _ => 1,
        };
        let here = Speculated {
            first_seq: self.next_seq,
            prev: self.prev,
            window,
        };
        self.encode_as(payload, slot, write_id, here)
    }

    /// Encodes a batch for `slot` starting at `at.first_seq`, naming `at.prev` (a pipelined
    /// batch speculates both from the batches in flight below it).
    fn encode_as(
        &self,
        payload: Payload<'_>,
        slot: u64,
        write_id: Uuid,
        at: Speculated,
    ) -> (Bytes, SegmentSummary) {
        let kind = match payload {
            Payload::Events(_) => SegmentKind::Events,
            Payload::EpochStart => SegmentKind::EpochStart,
            Payload::Void { .. } => SegmentKind::Void,
            Payload::Purge(_) => SegmentKind::Purge,
        };
        let spec = SegmentSpec {
            stream: self.cfg.stream.clone(),
            slot,
            kind,
            first_seq: at.first_seq,
            epoch: self.cfg.epoch,
            writer: self.cfg.writer_id.clone(),
            write_id,
            prev: at.prev,
            window: at.window,
            created_at: self.cfg.clock.now().to_rfc3339(),
        };
        let (bytes, header) = match payload {
            Payload::Purge(record) => encode_purge(&spec, record),
            Payload::Events(events) => encode_segment(&spec, events),
            Payload::EpochStart | Payload::Void { .. } => encode_segment(&spec, &[]),
        };
        (bytes, SegmentSummary::of(&header))
    }

    /// A create-only PUT of `body` (encoded as `summary`) to `slot`, settled on its own.
    fn slot_put(&mut self, slot: u64, body: Bytes, summary: &SegmentSummary) -> slot_put::SlotPut {
        slot_put::SlotPut {
            store: Arc::clone(&self.store),
            reads: self.reads.clone(),
            retry: self.cfg.retry,
            rng: SeededRng::new(self.rng.next_u64()),
            slot,
            key: self.keys.segment(slot),
            opts: self.put_options(summary),
            body,
            summary: summary.clone(),
            read_occupied: true,
            count_on_land: true,
            stats: Arc::clone(&self.stats),
            stream: self.keys.stream().to_owned(),
        }
    }

    fn put_options(&self, summary: &SegmentSummary) -> PutOptions {
        // No retention asked for means the bucket default, never a weaker one: a legal hold
        // alone leaves retention to the bucket.
        let lock = LockPolicy::request(self.cfg.lock, self.cfg.legal_hold, self.cfg.clock.now());
        PutOptions {
            metadata: summary.to_metadata(),
            lock,
            sha256: None,
            ..PutOptions::default()
        }
    }

    /// Moves past a valid segment at `slot` (ours or an older writer's).
    fn advance_past(&mut self, slot: u64, summary: &SegmentSummary) -> Committed {
        self.next_slot = slot + 1;
        self.next_seq = summary.next_seq();
        self.max_epoch_seen = self.max_epoch_seen.max(summary.epoch);
        self.prev = Some(summary.write_id);
        Committed {
            slot,
            first_seq: summary.first_seq,
        }
    }

    /// Who wrote `slot` (`None` if it is free), read with retries ([`LogReads::summary`]).
    async fn read_summary(&mut self, slot: u64) -> Result<Option<SegmentSummary>, WriteError> {
        let read = self.reads.summary(slot).await;
        read.map_err(|e| self.read_failed(e))
    }

    fn read_failed(&self, e: TailError) -> WriteError {
        read_error(&self.cfg.stream, e)
    }

    /// After a transient failure at a slot: wait and send again, or, with the slot's budget
    /// spent, give up on it (an unknown outcome if a send may have landed, step 2).
    async fn backoff_or_poison(
        &mut self,
        tries: &SlotAttempts,
        error: StoreError,
    ) -> Result<(), WriteError> {
        if tries.failed >= self.cfg.retry.max_attempts {
            return Err(self.unsettled(tries, WriteError::Store(error)));
        }
        debug!(error = %error, "transient failure; retrying the same slot with the same write id");
        self.stats.retry();
        self.sleep_backoff(tries.failed).await;
        Ok(())
    }

    async fn sleep_backoff(&mut self, attempt: u32) {
        let ceiling = self.cfg.retry.ceiling(attempt).as_micros() as u64;
        let wait = std::time::Duration::from_micros(self.rng.below(ceiling.max(1)));
        tokio::time::sleep(wait).await;
    }

    fn fenced(&self, epoch: u64, slot: u64, refused: bool) -> WriteError {
        WriteError::Fenced {
            stream: self.cfg.stream.clone(),
            epoch,
            ours: self.cfg.epoch,
            slot,
            refused,
        }
    }

    /// Remembers `e` so every later append fails with it and no further PUT is sent (I5),
    /// and tells the `on_stop` hook, once.
    fn stop(&mut self, e: WriteError) -> WriteError {
        if self.stopped.is_none() {
            if let Some(hook) = &self.cfg.on_stop {
                (hook.0)(&e);
            }
            self.stats.telemetry.stopped(&e);
            self.stopped = Some(e.clone());
        }
        e
    }

    /// Stops the writer because its lease was lost; later appends fail without a request.
    pub(crate) fn lose_leadership(&mut self) {
        if self.stopped.is_none() {
            tracing::warn!(
                stream = self.keys.stream(),
                epoch = self.cfg.epoch,
                "leadership lost: the writer stops"
            );
            self.stop(WriteError::LeadershipLost {
                stream: self.cfg.stream.clone(),
                epoch: self.cfg.epoch,
            });
        }
    }

    pub(crate) fn config(&self) -> &WriterConfig {
        &self.cfg
    }

    pub(crate) fn keys(&self) -> &StreamKeys {
        &self.keys
    }
}
