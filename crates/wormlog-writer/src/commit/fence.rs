//! Writer step 1 at a new epoch: fencing ahead, and repairing the holes a crashed fence left.
//!
//! ```text
//!  tail t, at a lower epoch    PUT t: epoch-start ── 2xx ─► open (a quiet log: one object)
//!                                   └── 412: someone is writing, maybe a stale leader
//!                              at once: HEAD t, and PUT t+1..=t+k: void (create-only)
//!  it took the whole round: read the round's slots beside a LIST above it (a higher
//!    epoch: fenced; one of ours, its answer lost: done; another new leader's voids: open
//!    again from the tail they end), read the highest slot listed (no segment there, or
//!    gone: stop; a higher epoch: fenced; another leader's void: open again), and claim
//!    after it (twice as many, up to 48; the slots passed over are read later)
//!  one void of ours landed, so the stale leader stops there: read every slot from t up
//!    that is not ours (32 at a time), stopping at a higher epoch or a failed read before
//!    writing anything more; fill a passed-over hole that the segments above still claim
//!    with our void (a hole nothing claims: a gap, refused); judge the run in slot order as
//!    at any occupied slot (a stale leader's segments are counted, its orphans skipped);
//!    the epoch-start goes after it, first_seq known.
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

use std::collections::BTreeMap;

use uuid::Uuid;
use wormlog_fencing::tail::{LogReads, TailError};
use wormlog_format::{Prev, SegmentKind, SegmentSummary};

use super::slot_put::{Fate, SlotPut, Unsettled};
use super::{Core, Payload};
use crate::resolve::Resolution;
use crate::settle::SlotAttempts;
use crate::WriteError;

/// The most voids one round of fencing ahead claims (a round doubles each time a stale
/// leader takes all of it). A stale leader lands at most `MAX_WINDOW` slots per round trip,
/// so a round claimed after a listing and a read of its head, two round trips old, still
/// lands past it.
const MAX_CLAIM: u64 = 48;
/// Readers take a missing slot for pending with at most `MAX_VOIDS_ABOVE_A_HOLE` slots
/// present above it. Above a hole a fence fills or leaves: the slots within the reach of the
/// segments that claim it (a window, at most `MAX_WINDOW - 1` above it: a segment beyond
/// that reach makes it a gap, refused) and one round of claims, our last.
const _: () = assert!(
    (wormlog_format::MAX_WINDOW as usize - 1) + MAX_CLAIM as usize
        <= wormlog_format::MAX_VOIDS_ABOVE_A_HOLE
);
const _: () = assert!(2 * wormlog_format::MAX_WINDOW as u64 <= MAX_CLAIM);

/// How many slots of a fenced run are read at once.
const READ_BATCH: usize = 32;

/// A slot a claim lost (412), to be read: its sends, and what we sent there (and its size).
type Lost = (u64, SlotAttempts, (SegmentSummary, u64));

/// The run a new leader fenced: every slot from the tail it lost to its first void.
#[derive(Default)]
struct Claims {
    /// Slots our claims (or the first epoch-start) lost to a 412, by slot.
    lost: BTreeMap<u64, Lost>,
    /// Slots passed over when claiming after the listing: neither claimed nor seen.
    passed: Vec<u64>,
    /// Our voids that landed.
    ours: Vec<u64>,
    /// What the slots we did not take hold, as read.
    read: BTreeMap<u64, Read>,
}

/// A slot's read: what it holds (`None`: missing), or why it could not be read.
type Read = Result<Option<SegmentSummary>, TailError>;

/// How [`Core::start_epoch`] ended.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Started {
    /// Our epoch-start is in the log.
    Yes,
    /// Another new leader's claims lie above the run, and none of ours landed: the open
    /// judges the log's tail again, their voids included.
    AnotherFenceAhead,
}

/// What a round of claims lost whole showed.
enum Round {
    /// Claim after this slot: the highest listed, read and a segment (or the round's top).
    Listed(u64),
    /// One of our claims is there after all (its answer was lost).
    Ours,
    /// Another new leader's voids: its claims.
    AnotherFence,
}

/// Whether `found` is one of another new leader's claims: a void of a round of several
/// (its `window` above 1). A pipelined writer's void for its own failed slot, or a round of
/// one, claims nothing below it. A version 2 void (no `prev`) is taken for a fence too: its
/// object metadata carries no window (its header does, which the open reads), and version 2
/// writers claimed whole rounds of them.
fn is_a_fence(found: &SegmentSummary) -> bool {
    found.kind == SegmentKind::Void && (found.window > 1 || matches!(found.prev, Prev::Unbound))
}

/// Reads `slots`, `batch` at a time.
async fn read_slots(reads: &LogReads, slots: &[u64], batch: usize) -> BTreeMap<u64, Read> {
    let mut out = BTreeMap::new();
    for batch in slots.chunks(batch) {
        let found = futures::future::join_all(
            batch
                .iter()
                .map(|&slot| async move { (slot, reads.summary(slot).await) }),
        )
        .await;
        out.extend(found);
    }
    out
}

/// A slot of the run, ready to be judged in slot order.
enum Judged {
    Ours,
    Lost(Lost, Read),
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
    pub(super) async fn start_epoch(&mut self) -> Result<Started, WriteError> {
        let mut ahead = match self.cfg.planted_bug {
            Some(crate::PlantedBug::NoFenceAhead) => 0,
            _ => u64::from(self.cfg.fence_ahead),
        };
        if ahead == 0 {
            let committed = self.commit(Payload::EpochStart, None).await;
            return committed.map(|_| Started::Yes);
        }
        // A quiet log: the epoch-start alone lands, one object.
        let t = self.next_slot;
        let mut first = self.control_put(t, SegmentKind::EpochStart, 1);
        first.read_occupied = false;
        let lost = match first.settle().await {
            Ok((slot, Fate::Ours(ours))) => {
                self.advance_past(slot, &ours);
                return Ok(Started::Yes);
            }
            Ok((_, Fate::Occupied(tries, sent, len))) => (tries, sent, len),
            Ok((_, Fate::Foreign(_))) => unreachable!("the first PUT does not read what it lost"),
            Err(Unsettled(tries, e)) => return Err(self.unsettled_control(tries, e)),
        };
        // Someone holds slot t, maybe a stale leader still writing: claim the slots after it
        // now, while reading who holds t.
        let mut run = Claims {
            lost: BTreeMap::from([(t, (t, lost.0, (lost.1, lost.2)))]),
            ..Claims::default()
        };
        let reads = self.reads.clone();
        let (at_t, claimed) = tokio::join!(
            reads.summary(t),
            self.send_voids(t + 1..t + 1 + ahead, t + 1, false)
        );
        run.read.insert(t, at_t);
        let mut claimed = claimed?;
        let mut window = t + 1;
        loop {
            let top = window + ahead - 1;
            for (slot, fate) in claimed {
                match fate {
                    Fate::Occupied(tries, sent, len) => {
                        run.lost.insert(slot, (slot, tries, (sent, len)));
                    }
                    _ => run.ours.push(slot),
                }
            }
            if !run.ours.is_empty() {
                // The stale leader stops at our first record: judge the run, then commit.
                return self.end_claims(run).await.map(|()| Started::Yes);
            }
            // It took every slot of the round, so it lands more slots per round trip than we
            // claimed, or it was far ahead when we found the tail. Claim after the highest
            // slot listed instead of after the round: the next claims land however far
            // ahead it is, and the slots passed over are read, and any hole in them filled,
            // once one lands.
            let list = self.cfg.planted_bug != Some(crate::PlantedBug::NoListingJump);
            window = match self.lost_round(top, &mut run, list).await? {
                Round::Listed(head) => head + 1,
                Round::Ours => return self.end_claims(run).await.map(|()| Started::Yes),
                // Nothing of ours landed: the tail is theirs now.
                Round::AnotherFence => return Ok(Started::AnotherFenceAhead),
            };
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

    /// A round lost whole: reads what took its slots, beside the listing of what lies above
    /// it. What the reads show is judged before anything more is sent: a record that ends
    /// the fence (a higher epoch, a slot now empty, a failed read) stops it; one of our own
    /// (a claim whose answer was lost, its retry meeting our void) means the stale leader
    /// stopped there; another new leader's voids (a round of them, `window` above 1) are
    /// not stacked over, since readers count every record above a pending hole. Otherwise
    /// the next round goes after the listed head ([`Self::judge_head`]); after `top` when
    /// nothing is listed, or when `list` is off (the planted bug).
    async fn lost_round(
        &mut self,
        top: u64,
        run: &mut Claims,
        list: bool,
    ) -> Result<Round, WriteError> {
        let unread: Vec<u64> = run
            .lost
            .keys()
            .copied()
            .filter(|slot| !run.read.contains_key(slot))
            .collect();
        let reads = self.reads.clone();
        let (mut found, listed) =
            tokio::join!(read_slots(&reads, &unread, MAX_CLAIM as usize), async {
                match list {
                    true => reads.highest_listed_above(top).await,
                    false => Ok(None),
                }
            });
        // Every read so far, the first slot's included: what ends the fence ends it now.
        run.read.append(&mut found);
        self.refuse_what_ends_the_run(&mut run.read, &mut run.lost)?;
        let read = |slot: &u64| run.read.get(slot);
        let ours = run.lost.iter().any(|(slot, (_, _, (sent, _)))| {
            matches!(read(slot), Some(Ok(Some(f))) if f.write_id == sent.write_id)
        });
        if ours {
            return Ok(Round::Ours);
        }
        if run
            .lost
            .keys()
            .any(|slot| matches!(read(slot), Some(Ok(Some(f))) if is_a_fence(f)))
        {
            return Ok(Round::AnotherFence);
        }
        match listed.map_err(|e| self.read_failed(e))? {
            Some(head) => self.judge_head(head, top, run).await,
            None => Ok(Round::Listed(top)), // nothing above: the listing lags; after the round
        }
    }

    /// The highest slot listed above a lost round ending at `top`: read (kept in `run`), and
    /// trusted only as a record of the log. A listing is a hint: a key there that is no
    /// segment stops the fence with the read's error before anything is claimed past it (a
    /// stray object far ahead would otherwise have us read, and fill, every slot up to it),
    /// and a key gone when read is a slot deleted behind us (the writer stops, as at any slot
    /// that vanished). A record of a higher epoch there fences us at once; another new
    /// leader's void is not stacked over (the open takes it for the tail).
    async fn judge_head(
        &mut self,
        head: u64,
        top: u64,
        run: &mut Claims,
    ) -> Result<Round, WriteError> {
        match self.reads.summary(head).await {
            Ok(None) => Err(self.vanished(head)),
            found if self.ends_the_run(&found, None) => self
                .judge_read(head, found, None, &mut false)
                .map(|()| Round::Listed(top)),
            Ok(Some(f)) if is_a_fence(&f) => Ok(Round::AnotherFence),
            found => {
                run.read.insert(head, found);
                Ok(Round::Listed(head))
            }
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
    /// we did not take (a batch at a time), stops at a slot that ends the fence whatever
    /// lies below it ([`Self::ends_the_run`]) before writing anything more, fills with
    /// voids the holes a writer may still be sending, refuses a gap, judges the run in slot
    /// order, and commits the epoch-start after it, its first_seq now known.
    async fn end_claims(&mut self, mut run: Claims) -> Result<(), WriteError> {
        let mut lost = std::mem::take(&mut run.lost);
        let unread: Vec<u64> = lost
            .keys()
            .copied()
            .chain(run.passed.iter().copied())
            .filter(|slot| !run.read.contains_key(slot))
            .collect();
        self.refuse_what_ends_the_run(&mut run.read, &mut lost)?;
        let reads = self.reads.clone();
        for batch in unread.chunks(READ_BATCH) {
            let mut found = read_slots(&reads, batch, READ_BATCH).await;
            self.refuse_what_ends_the_run(&mut found, &mut lost)?;
            run.read.extend(found);
        }
        let holes = self.fill_passed_holes(&mut run).await?;
        let mut slots: Vec<(u64, Judged)> =
            run.ours.into_iter().map(|s| (s, Judged::Ours)).collect();
        for (slot, found) in run.read {
            let judged = match (lost.remove(&slot), found) {
                (Some(l), found) => Judged::Lost(l, found),
                (None, Ok(Some(found))) => Judged::Foreign(found),
                // A hole: filled above, its fate in `holes` (a failed read ended the run).
                (None, _) => continue,
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

    /// Whether a read ends the fence whatever the slots below it hold: a record of a higher
    /// epoch (fenced) or of another writer on ours (an epoch conflict), a slot we lost that
    /// is empty now (vanished), or a read that failed. `sent`: the write id we sent there,
    /// if a claim lost the slot. Such a read is judged at once, so a fenced writer writes
    /// nothing more, and no void goes into a hole on the word of an unreadable slot.
    fn ends_the_run(&self, found: &Read, sent: Option<Uuid>) -> bool {
        match found {
            Err(_) => true,
            Ok(None) => sent.is_some(),
            Ok(Some(f)) if Some(f.write_id) == sent => false,
            Ok(Some(f)) => matches!(
                self.decided(f, Uuid::nil()),
                Resolution::Fenced { .. } | Resolution::EpochConflict
            ),
        }
    }

    /// Judges the lowest read of `found` that ends the run ([`Self::ends_the_run`]), which
    /// fails: the fence stops there. Reads that do not are left in `found`.
    fn refuse_what_ends_the_run(
        &mut self,
        found: &mut BTreeMap<u64, Read>,
        lost: &mut BTreeMap<u64, Lost>,
    ) -> Result<(), WriteError> {
        let ending = found
            .iter()
            .find(|(slot, read)| self.ends_the_run(read, lost.get(slot).map(|l| l.2 .0.write_id)))
            .map(|(slot, _)| *slot);
        match ending.and_then(|slot| found.remove_entry(&slot)) {
            Some((slot, read)) => self.judge_read(slot, read, lost.remove(&slot), &mut false),
            None => Ok(()),
        }
    }

    /// Judges the read of one slot of the run: one a claim lost ([`Self::judge_lost`]), or
    /// one passed over (a foreign record as at any occupied slot; a failed read ends the
    /// fence; a missing slot is a hole, left to [`Self::fill_passed_holes`]).
    fn judge_read(
        &mut self,
        slot: u64,
        found: Read,
        lost: Option<Lost>,
        started: &mut bool,
    ) -> Result<(), WriteError> {
        match (lost, found) {
            (Some(l), found) => self.judge_lost(l, found, started),
            (None, Ok(Some(found))) => self.judge_foreign(slot, &found),
            (None, Ok(None)) => Ok(()),
            (None, Err(e)) => Err(self.read_failed(e)),
        }
    }

    /// The slots passed over by a claim after the listing that were still missing when read:
    /// a hole a writer may still be sending (every segment read above it says so, its
    /// window reaching down to it) is filled with a void of ours, create-only; what a late
    /// PUT put there first is judged instead. A hole no writer above claims is a gap (or, on a
    /// versioned bucket, a deleted slot): refused, nothing more written. Every read of the
    /// run succeeded ([`Self::refuse_what_ends_the_run`]).
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
                Ok(_) => true, // below the hole, or another hole
                Err(_) => false,
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
        found: Read,
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
                let decided = self.decided(&found, Uuid::nil());
                if let Resolution::Fenced { .. } | Resolution::EpochConflict = decided {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn void(window: u32, prev: Prev) -> SegmentSummary {
        SegmentSummary {
            kind: SegmentKind::Void,
            epoch: 3,
            writer: "l3".into(),
            write_id: Uuid::from_u128(7),
            first_seq: 0,
            count: 0,
            prev,
            window,
        }
    }

    /// A round of claims is a fence; a lone void of a pipelined writer's failed slot is
    /// not; a version 2 void, whose metadata says window 1 whatever its round, is.
    #[test]
    fn which_voids_are_another_leaders_claims() {
        assert!(is_a_fence(&void(5, Prev::Bound(None))));
        assert!(!is_a_fence(&void(1, Prev::Bound(Some(Uuid::from_u128(1))))));
        assert!(is_a_fence(&void(1, Prev::Unbound)));
        let events = SegmentSummary {
            kind: SegmentKind::Events,
            ..void(5, Prev::Unbound)
        };
        assert!(!is_a_fence(&events));
    }
}
