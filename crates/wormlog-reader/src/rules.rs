//! The reader rules of protocol.md, one slot at a time, on the facts every reader sees alike:
//! a segment's kind, epoch, first seq, count, write id and the predecessor it names (from its
//! header, its metadata summary, or a purge record's copy of them). The scan, the seek and the
//! follow all decide through [`Position::judge`], so they cannot disagree about which segments
//! are valid (I8).
//!
//! In slot order, from a known-valid point:
//! - a segment whose epoch is below the highest valid one so far is a **zombie**;
//! - a version 3 events or purge segment that does not name the last valid segment as its
//!   `prev` is an **orphan**: a pipelined writer's speculation that did not come true, or a
//!   writer that never read the slot below. Both are skipped, never delivered, and reported;
//! - a segment that is neither, but does not start at the seq the log before it ends at, is
//!   a **discontinuity** (damage);
//! - anything else is **valid**. An `epoch-start`'s `prev` is advisory: a new leader fencing
//!   ahead places it without knowing every slot below.
//!
//! Validity of slot `s` depends only on slots below `s`, which never change (create-only):
//! once valid, always valid (I3).

use uuid::Uuid;
use wormlog_format::{Prev, SegmentHeader, SegmentKind, SegmentSummary};

/// Where a reader stands in a stream: the next slot to read, the highest epoch of a valid
/// segment so far, the seq the next valid segment must start at, and the write id of the
/// last valid segment (what a version 3 segment must name as its `prev`). A scan can start
/// from any position a reader reached (it is known valid); [`crate::LogReader::scan_from`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Position {
    pub slot: u64,
    pub max_epoch: u64,
    pub expected_seq: u64,
    /// `None` before the first valid segment.
    #[serde(default)]
    pub prev: Option<Uuid>,
    /// Whether `prev` is known. A position saved before format version 3 has no `prev`, so
    /// it reads as unknown, and [`crate::LogReader::scan_from`] seeks from the seq instead
    /// of resuming there (it would take every later segment for an orphan).
    #[serde(default)]
    pub prev_known: bool,
}

impl Default for Position {
    /// Slot 0, before anything: nothing valid below, which is known.
    fn default() -> Position {
        Position {
            slot: 0,
            max_epoch: 0,
            expected_seq: 0,
            prev: None,
            prev_known: true,
        }
    }
}

/// What the rules make of one slot's segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Delivered (events) or shown (control records); the position advances past it.
    Valid,
    /// Its epoch is below one already seen: a stale leader's write, skipped and reported.
    Zombie,
    /// It names a predecessor other than the valid segment below it: skipped and reported.
    Orphan,
    /// Valid by epoch and predecessor, but it does not start where the log before it ends.
    Discontinuity,
}

/// The facts of one slot's segment that the rules read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Facts {
    pub kind: SegmentKind,
    pub epoch: u64,
    pub first_seq: u64,
    pub count: u64,
    pub write_id: Uuid,
    pub prev: Prev,
}

impl Facts {
    pub(crate) fn of_header(h: &SegmentHeader) -> Facts {
        Facts::of_summary(&SegmentSummary::of(h))
    }

    pub(crate) fn of_summary(s: &SegmentSummary) -> Facts {
        Facts {
            kind: s.kind,
            epoch: s.epoch,
            first_seq: s.first_seq,
            count: s.count,
            write_id: s.write_id,
            prev: s.prev,
        }
    }

    /// A purged segment, from its purge record's copy of its header facts: judged exactly as
    /// the segment was (a purged orphan stays an orphan, since the record keeps the `prev` of
    /// a version 3 segment), and its write id is what the next segment names.
    pub(crate) fn of_purged(p: &wormlog_format::PurgedSlot) -> Facts {
        Facts {
            kind: SegmentKind::Events,
            epoch: p.epoch,
            first_seq: p.first_seq,
            count: p.count,
            write_id: p.write_id,
            prev: p.prev.map_or(Prev::Unbound, Prev::Bound),
        }
    }

    /// Whether it is an orphan when `last_valid` is the write id of the last valid segment
    /// below it: a version 3 events or purge segment naming another (an `epoch-start`'s
    /// `prev` is advisory; voids are never valid anyway).
    pub(crate) fn orphaned_by(&self, last_valid: Option<Uuid>) -> bool {
        matches!(self.kind, SegmentKind::Events | SegmentKind::Purge)
            && matches!(self.prev, Prev::Bound(named) if named != last_valid)
    }
}

impl Position {
    /// The rule for one segment at this position.
    pub(crate) fn judge(&self, f: &Facts) -> Verdict {
        if f.epoch < self.max_epoch {
            Verdict::Zombie
        } else if f.orphaned_by(self.prev) {
            Verdict::Orphan
        } else if f.first_seq != self.expected_seq {
            Verdict::Discontinuity
        } else {
            Verdict::Valid
        }
    }

    /// Moves past a valid segment (`first_seq + count` never overflows: decoders refuse
    /// segments whose seqs would).
    pub(crate) fn accept(&mut self, f: &Facts) {
        self.max_epoch = f.epoch;
        self.expected_seq = f.first_seq.saturating_add(f.count);
        (self.prev, self.prev_known) = (Some(f.write_id), true);
        self.slot += 1;
    }

    /// Moves past a slot that counts for nothing (a zombie, an orphan, a void).
    pub(crate) fn skip(&mut self) {
        self.slot += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(epoch: u64, first_seq: u64, count: u64, id: u128, prev: Prev) -> Facts {
        Facts {
            kind: SegmentKind::Events,
            epoch,
            first_seq,
            count,
            write_id: Uuid::from_u128(id),
            prev,
        }
    }

    #[test]
    fn lower_epochs_are_zombies_and_seqs_must_follow_on() {
        let mut p = Position::default();
        let first = facts(2, 0, 3, 1, Prev::Unbound);
        assert_eq!(p.judge(&first), Verdict::Valid);
        p.accept(&first);
        assert_eq!(
            p.judge(&facts(1, 3, 1, 2, Prev::Unbound)),
            Verdict::Zombie,
            "below the epoch seen"
        );
        assert_eq!(
            p.judge(&facts(2, 4, 1, 2, Prev::Unbound)),
            Verdict::Discontinuity
        );
        assert_eq!(p.judge(&facts(3, 3, 1, 2, Prev::Unbound)), Verdict::Valid);
        assert_eq!(
            p,
            Position {
                slot: 1,
                max_epoch: 2,
                expected_seq: 3,
                prev: Some(Uuid::from_u128(1)),
                prev_known: true,
            }
        );
    }

    #[test]
    fn a_position_saved_before_version_3_has_an_unknown_prev() {
        let old: Position =
            serde_json::from_str(r#"{"slot":4,"max_epoch":2,"expected_seq":7}"#).unwrap();
        assert!(!old.prev_known);
        let now = Position::default();
        let back: Position = serde_json::from_str(&serde_json::to_string(&now).unwrap()).unwrap();
        assert_eq!(back, now);
        assert!(back.prev_known);
    }

    #[test]
    fn a_bound_prev_must_name_the_last_valid_segment() {
        let mut p = Position::default();
        assert_eq!(
            p.judge(&facts(2, 0, 1, 1, Prev::Bound(Some(Uuid::from_u128(9))))),
            Verdict::Orphan,
            "names a segment where there is none"
        );
        let first = facts(2, 0, 1, 1, Prev::Bound(None));
        assert_eq!(p.judge(&first), Verdict::Valid);
        p.accept(&first);
        let named = |id| Prev::Bound(Some(Uuid::from_u128(id)));
        assert_eq!(p.judge(&facts(2, 1, 1, 2, named(1))), Verdict::Valid);
        assert_eq!(
            p.judge(&facts(2, 7, 1, 2, named(5))),
            Verdict::Orphan,
            "an orphan's seqs are speculative: not a discontinuity"
        );
        assert_eq!(
            p.judge(&facts(1, 1, 1, 2, named(1))),
            Verdict::Zombie,
            "a lower epoch is a zombie whatever it names"
        );
        let epoch_start = Facts {
            kind: SegmentKind::EpochStart,
            count: 0,
            ..facts(3, 1, 0, 3, named(5))
        };
        assert_eq!(p.judge(&epoch_start), Verdict::Valid, "advisory");
        let purge = Facts {
            kind: SegmentKind::Purge,
            count: 0,
            ..facts(3, 1, 0, 3, named(5))
        };
        assert_eq!(p.judge(&purge), Verdict::Orphan, "a purge record binds");
        assert_eq!(
            p.judge(&facts(2, 1, 1, 2, Prev::Unbound)),
            Verdict::Valid,
            "versions 1 and 2 are judged as they always were"
        );
    }
}
