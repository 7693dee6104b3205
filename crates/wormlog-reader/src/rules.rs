//! The reader rules of protocol.md, one slot at a time, on the facts every reader sees alike:
//! a segment's epoch, first seq and count (from its header, its metadata summary, or a purge
//! record's copy of them). The scan, the seek and the follow all decide through
//! [`Position::judge`], so they cannot disagree about which segments are valid (I8).

/// Where a reader stands in a stream: the next slot to read, the highest epoch of a valid
/// segment so far, and the seq the next valid segment must start at. A scan can start from
/// any position a reader reached (it is known valid); [`crate::LogReader::scan_from`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Position {
    pub slot: u64,
    pub max_epoch: u64,
    pub expected_seq: u64,
}

/// What the rules make of one slot's segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Delivered (events) or shown (control records); the position advances past it.
    Valid,
    /// Its epoch is below one already seen: a stale leader's write, skipped and reported.
    Zombie,
    /// Valid by epoch, but it does not start where the log before it ends.
    Discontinuity,
}

impl Position {
    /// The rule for a segment of `epoch` starting at `first_seq`, at this position.
    pub(crate) fn judge(&self, epoch: u64, first_seq: u64) -> Verdict {
        if epoch < self.max_epoch {
            Verdict::Zombie
        } else if first_seq != self.expected_seq {
            Verdict::Discontinuity
        } else {
            Verdict::Valid
        }
    }

    /// Moves past a valid segment (`first_seq + count` never overflows: decoders refuse
    /// segments whose seqs would).
    pub(crate) fn accept(&mut self, epoch: u64, first_seq: u64, count: u64) {
        self.max_epoch = epoch;
        self.expected_seq = first_seq.saturating_add(count);
        self.slot += 1;
    }

    /// Moves past a slot that counts for nothing (a zombie).
    pub(crate) fn skip(&mut self) {
        self.slot += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_epochs_are_zombies_and_seqs_must_follow_on() {
        let mut p = Position::default();
        assert_eq!(p.judge(2, 0), Verdict::Valid);
        p.accept(2, 0, 3);
        assert_eq!(p.judge(1, 3), Verdict::Zombie, "below the epoch seen");
        assert_eq!(p.judge(2, 4), Verdict::Discontinuity);
        assert_eq!(p.judge(3, 3), Verdict::Valid);
        assert_eq!(
            p,
            Position {
                slot: 1,
                max_epoch: 2,
                expected_seq: 3
            }
        );
    }
}
