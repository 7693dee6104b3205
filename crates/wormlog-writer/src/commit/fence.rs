//! Writer step 1 at a new epoch: fencing ahead, and repairing the holes a crashed fence left.
//!
//! ```text
//!  tail t, at a lower epoch    PUT t: epoch-start ── 2xx ─► open (a quiet log: one object)
//!                                   └── 412: someone is writing, maybe a stale leader
//!                              at once: HEAD t, and PUT t+1..=t+k: void (create-only)
//!  it took the whole round: LIST above it, claim after the highest slot listed (twice as
//!    many, up to 32; the slots passed over are read later)
//!  one void of ours landed, so the stale leader stops there: read every slot from t up
//!    that is not ours (32 at a time); fill a passed-over hole that the segments above still
//!    claim with our void (a hole nothing claims: a gap, refused); judge the run in slot
//!    order as at any occupied slot (a stale leader's segments are counted, its orphans
//!    skipped; a higher epoch fences us); the epoch-start goes after it, first_seq known.
//!
//!  tail a void: walk down to the last segment that is not one (one batch of HEADs)
//!    a void above our epoch: fenced, nothing written
//!    missing slots above that segment (a fence that crashed): fill each with our own void,
//!    create-only, before anything else; what a late PUT put there first is judged instead
//! ```
//!
//! Why this is safe (I2, I4): a void is never valid, so readers skip it without counting it
//! or raising their epoch, and the writer does the same ([`crate::resolve::decide`],
//! `SkipVoid`). But every writer that meets a void of a higher epoch at a 412 is fenced by
//! it, as by any segment. A stale leader writes in slot order and never skips a slot unread,
//! so it stops at the first of our records it meets: below that record it can only have
//! taken slots contiguously from the tail, each a valid segment readers count, and above it
//! nothing. Its segments that land in the run do so before we read them (a slot still
//! missing then is filled by our void before the epoch-start), so before our epoch-start:
//! epochs never decrease along the log. The run is settled whole before the writer commits
//! anything after it, so a missing slot can only sit inside the last run, under segments
//! and voids that all claim it: readers wait there (a pending hole) instead of reporting a
//! gap, and the next opener fills it.

use uuid::Uuid;
use wormlog_fencing::tail::TailError;
use wormlog_format::{SegmentKind, SegmentSummary};

use super::slot_put::{Fate, SlotPut, Unsettled};
use super::{Core, Payload};
use crate::resolve::{decide, Resolution, WriterView};
use crate::settle::SlotAttempts;
use crate::WriteError;

/// The most voids one round of fencing ahead claims (a window doubles each time a stale
/// leader takes all of it). Below the readers' bound on voids above a pending hole.
const MAX_CLAIM: u64 = 32;
const _: () = assert!(MAX_CLAIM as usize <= wormlog_format::MAX_VOIDS_ABOVE_A_HOLE);

/// How many slots of a fenced run are read at once.
const READ_BATCH: usize = 32;

/// A slot a claim lost (412), to be read: its sends, and what we sent there (and its size).
type Lost = (u64, SlotAttempts, (SegmentSummary, u64));

/// The run a new leader fenced: every slot from the tail it lost to its first void.
#[derive(Default)]
struct Claims {
    /// Slots our claims (or the first epoch-start) lost to a 412.
    lost: Vec<Lost>,
    /// Slots passed over when claiming after the listing: neither claimed nor seen.
    passed: Vec<u64>,
    /// Our voids that landed.
    ours: Vec<u64>,
    /// What the slots we did not take hold, as read.
    read: Vec<(u64, Result<Option<SegmentSummary>, TailError>)>,
}

/// A slot of the run, ready to be judged in slot order.
enum Judged {
    Ours,
    Lost(Lost, Result<Option<SegmentSummary>, TailError>),
    Foreign(SegmentSummary),
}

impl Core {
    /// A control record of `kind` for `slot`, ready to be sent on its own.
    /// A control record for `slot`: the epoch-start, or a void lying `window` slots into the
    /// round of claims it belongs to (1: the round's first slot, or a lone repair).
    pub(super) fn control_put(&mut self, slot: u64, kind: SegmentKind, window: u64) -> SlotPut {
        let payload = match kind {
            SegmentKind::EpochStart => Payload::EpochStart,
            _ => Payload::Void {
                window: window.clamp(1, u64::from(u32::MAX)) as u32,
            },
        };
        let write_id = self.rng.uuid();
        let (body, summary) = self.encode(payload, slot, write_id);
        self.slot_put(slot, body, &summary)
    }

    /// Takes what a batch of control PUTs settled as. A slot that cannot be settled stops
    /// the open: definite while none of its sends may have landed, otherwise an unknown
    /// outcome that poisons the writer (the hole it may leave is repaired by the next opener).
    fn fates(
        &mut self,
        settled: Vec<Result<(u64, Fate), Unsettled>>,
    ) -> Result<Vec<(u64, Fate)>, WriteError> {
        let mut fates = Vec::with_capacity(settled.len());
        for result in settled {
            match result {
                Ok(fate) => fates.push(fate),
                Err(Unsettled(tries, e)) => return Err(self.unsettled_control(tries, e)),
            }
        }
        Ok(fates)
    }

    /// A control record's slot that could not be settled; a slot emptied behind us stops the
    /// writer, as in step 2.
    pub(super) fn unsettled_control(&mut self, tries: SlotAttempts, e: WriteError) -> WriteError {
        let e = match e {
            WriteError::Vanished { slot, .. } => self.vanished(slot),
            e => e,
        };
        self.unsettled(&tries, e)
    }

    /// Judges a foreign segment met in a window or a hole, as at any occupied slot: counted,
    /// skipped, or the end of this writer (fenced, two writers on one epoch).
    pub(super) fn judge_foreign(
        &mut self,
        slot: u64,
        found: &SegmentSummary,
    ) -> Result<(), WriteError> {
        self.stats.conflict();
        self.resolve_occupied(slot, Uuid::nil(), found, None)
            .map(drop)
    }

    /// Commits this writer's `epoch-start` at the tail. If a stale leader got there first,
    /// fences ahead: [`crate::WriterConfig::fence_ahead`] voids at the slots after it, sent
    /// beside the read of the slot we lost, then the epoch-start after them.
    pub(super) async fn start_epoch(&mut self) -> Result<(), WriteError> {
        let mut ahead = match self.cfg.planted_bug {
            Some(crate::PlantedBug::NoFenceAhead) => 0,
            _ => u64::from(self.cfg.fence_ahead),
        };
        if ahead == 0 {
            return self.commit(Payload::EpochStart, None).await.map(drop);
        }
        // A quiet log: the epoch-start alone lands, one object.
        let t = self.next_slot;
        let mut first = self.control_put(t, SegmentKind::EpochStart, 1);
        first.read_occupied = false;
        let lost = match first.settle().await {
            Ok((slot, Fate::Ours(ours))) => {
                self.advance_past(slot, &ours);
                return Ok(());
            }
            Ok((_, Fate::Occupied(tries, sent, len))) => (tries, sent, len),
            Ok((_, Fate::Foreign(_))) => unreachable!("the first PUT does not read what it lost"),
            Err(Unsettled(tries, e)) => return Err(self.unsettled_control(tries, e)),
        };
        // Someone holds slot t, maybe a stale leader still writing: claim the slots after it
        // now, while reading who holds t.
        let mut run = Claims {
            lost: vec![(t, lost.0, (lost.1, lost.2))],
            ..Claims::default()
        };
        let reads = self.reads.clone();
        let (at_t, claimed) = tokio::join!(
            reads.summary(t),
            self.send_voids(t + 1..t + 1 + ahead, t + 1, false)
        );
        run.read.push((t, at_t));
        let mut claimed = claimed?;
        let mut window = t + 1;
        loop {
            let top = window + ahead - 1;
            for (slot, fate) in claimed {
                match fate {
                    Fate::Occupied(tries, sent, len) => run.lost.push((slot, tries, (sent, len))),
                    _ => run.ours.push(slot),
                }
            }
            if !run.ours.is_empty() {
                // The stale leader stops at our first record: judge the run, then commit.
                return self.end_claims(run).await;
            }
            // It took every slot of the round, so it lands more slots per round trip than we
            // claimed. Claim after the highest slot listed instead of after the round: the
            // next claims land however fast it is (a round of claims per listing), and the
            // slots passed over are read, and any hole in them filled, once one lands.
            let head = self
                .reads
                .highest_listed_above(top)
                .await
                .map_err(|e| self.read_failed(e))?;
            window = head.map_or(top + 1, |h| h.max(top) + 1);
            run.passed.extend(top + 1..window);
            // Twice as many claims, or twice what it landed past the round while we listed,
            // whichever is more (a bounded number of rounds, whatever its speed).
            ahead = (ahead * 2).max(2 * (window - top - 1)).min(MAX_CLAIM);
            let floor = run.passed.first().copied().unwrap_or(window);
            claimed = self
                .send_voids(window..window + ahead, floor, false)
                .await?;
        }
    }

    /// Sends a void to each of `slots` at once, each claiming the slots down to `floor` in
    /// its header (readers take a slot missing there for pending, not a gap), and settles
    /// them: what a lost one holds is read when `read_occupied`, else reported as occupied.
    async fn send_voids(
        &mut self,
        slots: impl IntoIterator<Item = u64>,
        floor: u64,
        read_occupied: bool,
    ) -> Result<Vec<(u64, Fate)>, WriteError> {
        let puts: Vec<SlotPut> = slots
            .into_iter()
            .map(|slot| {
                let mut void = self.control_put(slot, SegmentKind::Void, slot - floor + 1);
                void.read_occupied = read_occupied;
                void
            })
            .collect();
        let settled = futures::future::join_all(puts.into_iter().map(SlotPut::settle)).await;
        self.fates(settled)
    }

    /// One of our voids landed, so the stale leader stops at it: reads every slot of the run
    /// we did not take (a batch at a time), fills with voids the holes a writer may still be
    /// sending, refuses a gap, judges the run in slot order, and commits the epoch-start
    /// after it, its first_seq now known.
    async fn end_claims(&mut self, mut run: Claims) -> Result<(), WriteError> {
        let unread: Vec<u64> = run
            .lost
            .iter()
            .map(|l| l.0)
            .chain(run.passed.iter().copied())
            .filter(|slot| !run.read.iter().any(|(s, _)| s == slot))
            .collect();
        for batch in unread.chunks(READ_BATCH) {
            let found = futures::future::join_all(batch.iter().map(|&slot| {
                let reads = self.reads.clone();
                async move { (slot, reads.summary(slot).await) }
            }))
            .await;
            run.read.extend(found);
        }
        run.read.sort_by_key(|(slot, _)| *slot);
        let holes = self.fill_passed_holes(&mut run).await?;
        let mut lost: std::collections::BTreeMap<u64, _> =
            run.lost.into_iter().map(|l| (l.0, l)).collect();
        let mut slots: Vec<(u64, Judged)> =
            run.ours.into_iter().map(|s| (s, Judged::Ours)).collect();
        for (slot, found) in run.read {
            let judged = match lost.remove(&slot) {
                Some(l) => Judged::Lost(l, found),
                None => match found {
                    Ok(Some(found)) => Judged::Foreign(found),
                    Ok(None) => continue, // a hole: filled above, its fate in `holes`
                    Err(e) => return Err(self.read_failed(e)),
                },
            };
            slots.push((slot, judged));
        }
        slots.extend(holes);
        slots.sort_by_key(|(slot, _)| *slot);
        let mut started = false;
        for (slot, judged) in slots {
            match judged {
                Judged::Ours => self.next_slot = slot + 1, // our void: nothing to count
                Judged::Lost(l, f) => self.judge_lost(l, f, &mut started)?,
                Judged::Foreign(found) => self.judge_foreign(slot, &found)?,
            }
        }
        if started {
            return Ok(()); // our first epoch-start landed after all (a lost answer)
        }
        self.commit(Payload::EpochStart, None).await.map(drop)
    }

    /// The slots passed over by a claim after the listing that were still missing when read:
    /// a hole a writer may still be sending (every segment read above it says so, its
    /// window reaching down to it) is filled with a void of ours, create-only; what a late
    /// PUT put there first is judged instead. A hole no writer above claims is a gap (or, on a
    /// versioned bucket, a deleted slot): refused, nothing more written.
    async fn fill_passed_holes(
        &mut self,
        run: &mut Claims,
    ) -> Result<Vec<(u64, Judged)>, WriteError> {
        let missing: Vec<u64> = run
            .read
            .iter()
            .filter(|(slot, found)| {
                matches!(found, Ok(None)) && run.passed.binary_search(slot).is_ok()
            })
            .map(|(slot, _)| *slot)
            .collect();
        if missing.is_empty() {
            return Ok(Vec::new());
        }
        let claimed_by_above = |hole: u64| {
            run.read.iter().all(|(slot, found)| match found {
                Ok(Some(s)) if *slot > hole => {
                    wormlog_format::lowest_pending(*slot, s.window) <= hole
                }
                _ => true,
            })
        };
        let gap = missing
            .iter()
            .copied()
            .find(|&hole| !claimed_by_above(hole));
        self.refuse_missing(gap, &missing).await?;
        let floor = run.passed.first().copied().unwrap_or(0);
        Ok(self
            .send_voids(missing, floor, true)
            .await?
            .into_iter()
            .map(|(slot, fate)| match fate {
                Fate::Foreign(found) => (slot, Judged::Foreign(found)),
                _ => (slot, Judged::Ours),
            })
            .collect())
    }

    /// Judges a slot a claim (or the first epoch-start) lost (412), from its read. A slot
    /// holding what we sent (an earlier send landed, its answer lost) is ours, and our
    /// epoch-start there sets `started`.
    fn judge_lost(
        &mut self,
        (slot, tries, (sent, len)): Lost,
        found: Result<Option<SegmentSummary>, TailError>,
        started: &mut bool,
    ) -> Result<(), WriteError> {
        match found {
            Ok(Some(found)) if found.write_id == sent.write_id => {
                self.stats.committed(0, len);
                match found.kind {
                    SegmentKind::EpochStart => {
                        self.advance_past(slot, &found);
                        *started = true;
                    }
                    _ => self.next_slot = slot + 1,
                }
                Ok(())
            }
            Ok(Some(found)) => self.judge_foreign(slot, &found),
            Ok(None) => {
                let gone = self.vanished(slot);
                Err(self.unsettled(&tries, gone))
            }
            Err(e) => {
                let e = self.read_failed(e);
                Err(self.unsettled(&tries, e))
            }
        }
    }

    /// Fills the holes of a void run or a pipelined tail with voids of our own (create-only), so nothing can
    /// land in them any more. `Ok(true)` when every hole is now a void; `Ok(false)` when a
    /// late segment got to one first (the run must be walked again).
    ///
    /// The voids are sent at once, so each claims every hole below it (its `window` reaches
    /// the lowest): if one of them does not land (a refusal, a crash), the hole it leaves is
    /// still pending under the others, not a gap, and the next opener fills it.
    pub(super) async fn repair(&mut self, holes: &[u64]) -> Result<bool, WriteError> {
        let lowest = holes.iter().copied().min().unwrap_or(0);
        let mut all_void = true;
        for (slot, fate) in self.send_voids(holes.iter().copied(), lowest, true).await? {
            if let Fate::Foreign(found) = fate {
                let me = WriterView {
                    epoch: self.cfg.epoch,
                    writer_id: &self.cfg.writer_id,
                    write_id: Uuid::nil(),
                    max_epoch_seen: self.max_epoch_seen,
                    prev: self.prev,
                };
                if let Resolution::Fenced { .. } | Resolution::EpochConflict = decide(&found, &me) {
                    // Judged as at any occupied slot: fenced, or two writers on one epoch.
                    self.judge_foreign(slot, &found)?;
                }
                // Anything else is judged in its place when the run is walked again.
                all_void &= found.kind == SegmentKind::Void;
            }
        }
        Ok(all_void)
    }
}
