//! Protocol step 2, the 412 branch: a create-only PUT of slot `s` was refused because `s`
//! exists. Having read who wrote `s`, decide what that means. One pure function, one `match`,
//! each arm a rule of protocol.md, so it can be read against the spec and tested exhaustively.

use uuid::Uuid;
use wormlog_format::{Prev, SegmentKind, SegmentSummary};

/// What the writer knows when it meets an occupied slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriterView<'a> {
    pub epoch: u64,
    pub writer_id: &'a str,
    /// The write id of the batch being committed.
    pub write_id: Uuid,
    /// The highest epoch this writer has seen in the log (its own once its epoch-start landed).
    pub max_epoch_seen: u64,
    /// The write id of the last segment the writer counted as valid (`None` before any):
    /// what a version 3 segment at this slot must name to be valid.
    pub prev: Option<Uuid>,
}

/// What the occupied slot means for the batch being committed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// Our own earlier attempt landed and its response was lost: committed.
    OurOwnWrite,
    /// A writer with a higher epoch holds the log: fail this and every later append, stop.
    Fenced { epoch: u64 },
    /// Another write at our own epoch: two writers share one token. Fail hard.
    EpochConflict,
    /// An older writer committed here before our first commit; readers count it, so do we:
    /// advance `next_seq` past it and retry at the next slot.
    CountAndAdvance,
    /// A zombie (epoch below the highest seen): readers skip it, so skip it uncounted.
    SkipZombie,
    /// A void record at or below our epoch (a new leader fencing ahead, or an opener
    /// repairing a hole): never valid, so readers skip it without raising their epoch or
    /// counting it, and so does the writer. A void of a higher epoch fences like any segment.
    SkipVoid,
    /// A version 3 segment naming another predecessor than the valid one below (a
    /// pipelined writer's batch above a slot it lost): an orphan, which readers skip. Skip
    /// it uncounted: counting it would make our own next segment name an orphan.
    SkipOrphan,
}

/// Decides what the segment found at an occupied slot means (protocol.md, writer step 2).
pub fn decide(found: &SegmentSummary, me: &WriterView<'_>) -> Resolution {
    match found {
        f if f.write_id == me.write_id => Resolution::OurOwnWrite,
        f if f.epoch > me.epoch => Resolution::Fenced { epoch: f.epoch },
        // Same epoch but not our write: another process holds our token (even under our
        // writer id: a restarted twin). Counting it would let two leaders interleave.
        f if f.epoch == me.epoch => Resolution::EpochConflict,
        f if f.kind == SegmentKind::Void => Resolution::SkipVoid,
        f if f.epoch < me.max_epoch_seen => Resolution::SkipZombie,
        f if names_another(f, me.prev) => Resolution::SkipOrphan,
        _ => Resolution::CountAndAdvance,
    }
}

/// The readers' orphan rule (`wormlog_reader`'s `Facts::orphaned_by`): a version 3 events or
/// purge segment whose `prev` is not the last valid segment's write id.
fn names_another(found: &SegmentSummary, last_valid: Option<Uuid>) -> bool {
    matches!(found.kind, SegmentKind::Events | SegmentKind::Purge)
        && matches!(found.prev, Prev::Bound(named) if named != last_valid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(epoch: u64, writer: &str, id: u128) -> SegmentSummary {
        SegmentSummary {
            kind: SegmentKind::Events,
            epoch,
            writer: writer.into(),
            write_id: Uuid::from_u128(id),
            first_seq: 0,
            count: 3,
            prev: Prev::Unbound,
            window: 1,
        }
    }

    fn me(max_seen: u64) -> WriterView<'static> {
        WriterView {
            epoch: 5,
            writer_id: "me",
            write_id: Uuid::from_u128(1),
            max_epoch_seen: max_seen,
            prev: Some(Uuid::from_u128(40)),
        }
    }

    #[test]
    fn each_rule_of_step_two() {
        assert_eq!(decide(&found(5, "me", 1), &me(5)), Resolution::OurOwnWrite);
        assert_eq!(
            decide(&found(6, "b", 2), &me(5)),
            Resolution::Fenced { epoch: 6 }
        );
        assert_eq!(decide(&found(5, "b", 2), &me(5)), Resolution::EpochConflict);
        assert_eq!(
            decide(&found(5, "me", 2), &me(5)),
            Resolution::EpochConflict
        );
        assert_eq!(
            decide(&found(4, "b", 2), &me(4)),
            Resolution::CountAndAdvance
        );
        assert_eq!(decide(&found(3, "b", 2), &me(4)), Resolution::SkipZombie);
        assert_eq!(decide(&found(4, "b", 2), &me(5)), Resolution::SkipZombie);
    }

    #[test]
    fn a_void_fences_from_above_and_is_skipped_from_below() {
        let void = |epoch| SegmentSummary {
            kind: SegmentKind::Void,
            count: 0,
            ..found(epoch, "b", 2)
        };
        assert_eq!(decide(&void(6), &me(4)), Resolution::Fenced { epoch: 6 });
        assert_eq!(decide(&void(5), &me(4)), Resolution::EpochConflict);
        assert_eq!(decide(&void(4), &me(4)), Resolution::SkipVoid);
        assert_eq!(decide(&void(3), &me(4)), Resolution::SkipVoid);
    }

    #[test]
    fn a_version_3_segment_naming_another_predecessor_is_skipped_as_an_orphan() {
        let linked = |prev| SegmentSummary {
            prev: Prev::Bound(prev),
            ..found(4, "b", 2)
        };
        let ours_below = Some(Uuid::from_u128(40));
        assert_eq!(
            decide(&linked(ours_below), &me(4)),
            Resolution::CountAndAdvance
        );
        assert_eq!(
            decide(&linked(Some(Uuid::from_u128(41))), &me(4)),
            Resolution::SkipOrphan
        );
        assert_eq!(decide(&linked(None), &me(4)), Resolution::SkipOrphan);
        assert_eq!(
            decide(&linked(Some(Uuid::from_u128(41))), &me(5)),
            Resolution::SkipZombie,
            "a lower epoch is a zombie first"
        );
        let epoch_start = SegmentSummary {
            kind: SegmentKind::EpochStart,
            count: 0,
            ..linked(Some(Uuid::from_u128(41)))
        };
        assert_eq!(
            decide(&epoch_start, &me(4)),
            Resolution::CountAndAdvance,
            "an epoch-start's prev is advisory"
        );
        assert_eq!(
            decide(
                &linked(Some(Uuid::from_u128(41))),
                &WriterView { epoch: 3, ..me(3) }
            ),
            Resolution::Fenced { epoch: 4 },
            "a higher epoch fences whatever it names"
        );
    }

    #[test]
    fn our_write_id_wins_over_every_other_rule() {
        // Even an (impossible) epoch mismatch on our own write id is our write.
        assert_eq!(decide(&found(9, "x", 1), &me(5)), Resolution::OurOwnWrite);
    }
}
