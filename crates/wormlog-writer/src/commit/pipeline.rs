//! Pipelining (docs/protocol.md, "Pipelining"): up to `k` batches in flight, each encoded
//! as if every unsettled slot below it will settle as this writer's own, and settled in slot
//! order.
//!
//! ```text
//!  send: slot s only while fewer than k slots are unsettled; its header names the batch
//!        sent to s-1 (prev), starts where that one ends (first_seq), and says how many
//!        slots were unsettled with it (window: readers wait on a missing slot that far
//!        down, openers judge it)
//!  settle the lowest slot s, once its PUT is answered:
//!    ours, as speculated (prev and first_seq right) ─► committed: acknowledge it
//!    ours, but what it named did not come true ──────► an orphan: send the batch again
//!    another writer's (412, read) ──► judged as at any occupied slot; send again
//!    definitely not landed ─────────► a void at s if anything above may have landed (the
//!                                     hole would stop readers); fail the batch
//!    unknown outcome ───────────────► poisoned (I6), as with one slot in flight
//!  after anything but "committed": send nothing until the window has drained, then
//!  encode the batches to send again at the next free slots, with fresh write ids (after
//!  another writer's segment, the first of them alone, reading each slot before writing
//!  it, as with one slot in flight: a purged hole is never filled)
//! ```
//!
//! Why it is safe: a batch is acknowledged only when its slot settled as ours and every slot
//! below it settled before it, so the acknowledged segments are a chain, each naming the
//! valid one below it (I3, I6). A speculation that failed at s leaves only orphans above s
//! (each names a batch that is not the valid one below it), which every reader skips; they
//! are never acknowledged, and their events are sent again. A void takes a slot nothing
//! valid can hold any more, so it hides no acknowledged event.

use std::collections::VecDeque;
use std::future::Future;

use uuid::Uuid;
use wormlog_format::{NewEvent, SegmentKind, SegmentSummary};

use super::slot_put::{Fate, Unsettled};
use super::{Committed, Core, Payload};
use crate::WriteError;

/// The slots in flight, lowest first, and where the next speculative batch goes.
pub(crate) struct Window {
    slots: VecDeque<Sent>,
    /// The slot, first seq and predecessor the next batch is encoded with.
    next_slot: u64,
    next_seq: u64,
    prev: Option<Uuid>,
    /// A speculation failed: nothing more is sent until every slot in flight has settled.
    pub draining: bool,
}

/// One batch sent to one slot.
struct Sent {
    slot: u64,
    summary: SegmentSummary,
    len: u64,
    /// The bytes sent (shared with the PUT), for the checkpointer.
    body: bytes::Bytes,
    fate: Option<Result<Fate, Unsettled>>,
}

/// What one settled slot means for its batch.
pub(crate) enum Settlement {
    /// Committed where it landed.
    Committed(Committed),
    /// Not committed (another writer's slot, or an orphan of ours): send it again.
    Resend,
    /// Definitely not committed, or the writer stopped: its appends fail with this error.
    Failed(WriteError),
}

/// How the PUT of one slot of the window settled.
pub(crate) struct Answer {
    slot: u64,
    fate: Result<Fate, Unsettled>,
}

/// A PUT in flight.
pub(crate) type SlotSend = std::pin::Pin<Box<dyn Future<Output = Answer> + Send + 'static>>;

impl Window {
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Records how the PUT of `slot` settled.
    pub fn settled(&mut self, answer: Answer) {
        if let Some(sent) = self.slots.iter_mut().find(|s| s.slot == answer.slot) {
            sent.fate = Some(answer.fate);
        }
    }

    /// The lowest slot in flight has settled.
    pub fn lowest_settled(&self) -> bool {
        self.slots.front().is_some_and(|s| s.fate.is_some())
    }

    /// Whether `answer` landed our batch, and where it was speculated to start (for the
    /// planted bug that acknowledges it at once).
    pub fn landed_as_sent_now(&self, answer: &Answer) -> Option<Committed> {
        let sent = self.slots.iter().find(|s| s.slot == answer.slot)?;
        matches!(answer.fate, Ok(Fate::Ours(_))).then_some(Committed {
            slot: answer.slot,
            first_seq: sent.summary.first_seq,
        })
    }

    /// The slots still in flight, lowest first.
    pub fn slots_in_flight(&self) -> Vec<u64> {
        self.slots.iter().map(|s| s.slot).collect()
    }

    /// The lowest slot in flight.
    pub fn lowest_slot(&self) -> u64 {
        self.slots.front().map_or(self.next_slot, |s| s.slot)
    }
}

impl Core {
    /// An empty window, speculating from where the writer stands.
    pub(crate) fn window(&self) -> Window {
        Window {
            slots: VecDeque::new(),
            next_slot: self.next_slot,
            next_seq: self.next_seq,
            prev: self.prev,
            draining: false,
        }
    }

    /// After the window drained: speculate from where the writer stands again.
    pub(crate) fn restart(&self, window: &mut Window) {
        debug_assert!(window.is_empty());
        *window = self.window();
    }

    /// Whether another batch may be sent now (rule 1: fewer than `k` slots unsettled).
    pub(crate) fn may_send(&self, window: &Window) -> bool {
        let k = self.cfg.in_flight as usize;
        let k = match self.cfg.planted_bug {
            Some(crate::PlantedBug::WindowAboveK) => k + 1,
            _ => k,
        };
        self.stopped.is_none() && !window.draining && window.len() < k
    }

    /// Encodes `events` for the next slot of the window as if every slot in flight below it
    /// settles as ours (rule 2) and starts its PUT; the caller polls it beside the others.
    pub(crate) fn send_speculative(
        &mut self,
        window: &mut Window,
        events: &[NewEvent],
    ) -> SlotSend {
        let slot = window.next_slot;
        // How many slots are unsettled with this one, itself included: readers take a missing
        // slot that far below it for pending, openers judge it from there.
        let depth = window.len() as u32 + 1;
        let depth = depth.min(self.cfg.in_flight);
        let write_id = self.rng.uuid();
        let speculated = super::Speculated {
            first_seq: window.next_seq,
            prev: window.prev,
            window: depth,
        };
        let (body, summary) = self.encode_as(Payload::Events(events), slot, write_id, speculated);
        let len = body.len() as u64;
        let mut put = self.slot_put(slot, body.clone(), &summary);
        put.count_on_land = false;
        window.next_slot = slot + 1;
        window.next_seq = summary.next_seq();
        window.prev = Some(write_id);
        window.slots.push_back(Sent {
            slot,
            summary,
            len,
            body,
            fate: None,
        });
        Box::pin(async move {
            let fate = put.settle().await.map(|(_, fate)| fate);
            Answer { slot, fate }
        })
    }

    /// Settles the lowest slot of the window (rule 3), which must have settled
    /// ([`Window::lowest_settled`]). Anything but a commit stops speculation until the
    /// window drains.
    pub(crate) async fn settle_lowest(
        &mut self,
        window: &mut Window,
        events: &[NewEvent],
    ) -> Settlement {
        let mut sent = window.slots.pop_front().expect("a settled slot");
        let fate = sent.fate.take().expect("settled");
        let settlement = match fate {
            Ok(Fate::Ours(_)) => self.settle_ours(&sent, events),
            Ok(Fate::Foreign(found)) => self.settle_foreign(sent.slot, &found),
            Ok(Fate::Occupied(..)) => unreachable!("a pipelined PUT reads the slot it lost"),
            Err(Unsettled(tries, e)) => {
                let e = self.unsettled_control(tries, e);
                // A writer whose lease ended still fills the hole under what it sent.
                let stopped_for_good = self
                    .stopped
                    .as_ref()
                    .is_some_and(|s| !matches!(s, WriteError::LeadershipLost { .. }));
                match stopped_for_good || !e.is_definite() {
                    true => Settlement::Failed(e),
                    false => {
                        self.definite_failure(sent.slot, e, !window.is_empty())
                            .await
                    }
                }
            }
        };
        if !matches!(settlement, Settlement::Committed(_)) {
            window.draining = true;
        }
        settlement
    }

    /// Our batch landed. It is committed if what it was encoded against came true: the slot
    /// below settled as the segment it names, and the seqs follow on.
    fn settle_ours(&mut self, sent: &Sent, events: &[NewEvent]) -> Settlement {
        let (slot, summary, len) = (sent.slot, &sent.summary, sent.len);
        let as_speculated = summary.first_seq == self.next_seq
            && summary.prev == wormlog_format::Prev::Bound(self.prev)
            && slot == self.next_slot;
        let unchecked = self.cfg.planted_bug == Some(crate::PlantedBug::NoReencode);
        if as_speculated || unchecked {
            tracing::debug!(
                stream = self.keys.stream(),
                slot,
                epoch = self.cfg.epoch,
                count = events.len(),
                bytes = len,
                window = summary.window,
                "committed"
            );
            let committed = self.advance_past(slot, summary);
            return Settlement::Committed(self.counted(committed, events, len, Some(&sent.body)));
        }
        // An orphan of ours: readers skip it, and so do we.
        tracing::debug!(
            stream = self.keys.stream(),
            slot,
            "our batch is an orphan (a slot below it settled otherwise): sending it again"
        );
        self.stats
            .telemetry
            .resolved(&crate::Resolution::SkipOrphan);
        self.next_slot = slot + 1;
        Settlement::Resend
    }

    /// Another writer holds the slot: judged as at any occupied slot, then our batch goes
    /// again, unless the writer stopped (fenced, two writers on one epoch).
    fn settle_foreign(&mut self, slot: u64, found: &SegmentSummary) -> Settlement {
        self.chasing = true;
        match self.judge_foreign(slot, found) {
            Ok(()) => Settlement::Resend,
            Err(e) => Settlement::Failed(e),
        }
    }

    /// Our batch is definitely not at `slot`. With slots above it in flight, some may have
    /// landed, and a missing slot below them would stop every reader once it is below their
    /// window: fill it with a void (rule 5). The batch fails either way.
    async fn definite_failure(&mut self, slot: u64, e: WriteError, above: bool) -> Settlement {
        let unfilled = self.cfg.planted_bug == Some(crate::PlantedBug::NoVoid);
        if above && !unfilled {
            if let Err(stop) = self.void_at(slot).await {
                return Settlement::Failed(stop);
            }
        }
        Settlement::Failed(e)
    }

    /// Fills `slot` with a void record (create-only). If another writer's segment got there
    /// first, it is judged in its place.
    async fn void_at(&mut self, slot: u64) -> Result<(), WriteError> {
        let put = self.control_put(slot, SegmentKind::Void, 1);
        match put.settle().await {
            Ok((_, Fate::Ours(_))) => {
                self.next_slot = slot + 1;
                Ok(())
            }
            Ok((_, Fate::Foreign(found))) => self.judge_foreign(slot, &found),
            Ok((_, Fate::Occupied(..))) => unreachable!("a void reads the slot it lost"),
            Err(Unsettled(tries, e)) => {
                let e = self.unsettled_control(tries, e);
                Err(self.stop(e))
            }
        }
    }

    /// Why the batches still in flight must be given up after `settled` (what the lowest
    /// slot just settled as), if they must: a fence or a twin below them (nothing above can
    /// be valid), an unknown outcome below them (anything above may be valid: their outcome
    /// is unknown too), or any other stop but a lost lease (with which the window settles
    /// as usual, and nothing new is sent).
    pub(crate) fn must_abandon(&self, settled: &Settlement) -> Option<WriteError> {
        if let Settlement::Failed(e) = settled {
            if e.is_fenced() || !e.is_definite() {
                return Some(e.clone());
            }
        }
        self.stopped
            .clone()
            .filter(|s| !matches!(s, WriteError::LeadershipLost { .. }))
    }

    /// The error for a batch at `slot` given up in flight because of `cause`: definite when
    /// the cause proves nothing above it can be valid, otherwise an unknown outcome.
    pub(crate) fn abandoned(&self, slot: u64, cause: &WriteError) -> WriteError {
        match cause {
            WriteError::Fenced { .. } | WriteError::EpochConflict { .. } => cause.clone(),
            other => WriteError::OutcomeUnknown {
                slot,
                attempts: 1,
                source: wormlog_store::StoreError::Permanent {
                    op: "settle slot",
                    key: self.keys.segment(slot),
                    message: format!("the writer stopped with this batch in flight: {other}"),
                },
            },
        }
    }
}
