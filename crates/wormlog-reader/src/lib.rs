//! # wormlog-reader: replaying a log exactly as every other reader does
//!
//! A [`LogReader`] reads a stream's segments in slot order and delivers its events by the
//! reader rules of protocol.md (one place: [`rules`](crate::Position)):
//!
//! ```text
//!  LIST log/ ─► slots 0..n ─► GET slot s (prefetched, `prefetch` ahead, in order)
//!                                   │
//!        decode + CRC ── fails ─────┼─► Err(Corrupt{slot})         never delivered
//!        slot missing below tail ───┼─► read again (a writer may have committed it since);
//!                                   │   still missing: Purged{slot} if a purge record names
//!                                   │   it (purges.rs), else Err(Gap{slots})
//!        epoch < max_epoch ─────────┼─► Zombie{slot} reported, skipped
//!        first_seq != expected ─────┼─► Err(Discontinuity{slot})
//!        control record ────────────┼─► Control{slot} (audit tools), not an event
//!        otherwise ─────────────────┴─► Event, Event, ...   max_epoch = epoch
//! ```
//!
//! A scan from a seq applies the same rules to the summaries (HEADs) of the slots below it
//! (seek.rs); a scan from a [`Position`] a reader reached starts there at once. A follow
//! (follow.rs) polls the next slot at the end of the log and survives transient errors.
//!
//! Invariants upheld here: I3 (every committed valid segment is read, at its seqs), I4 (valid
//! epochs never decrease, since lower ones are skipped as zombies), I8 (replay is a function of
//! the stored bytes alone: two readers, or one before and after a crash, see the same prefix,
//! whatever seq or position they start from), I9 (a malformed segment is an error naming its
//! slot, never a panic or a silent skip).

mod attachments;
mod documents;
mod error;
mod fetch;
mod follow;
mod purges;
mod replay;
mod rules;
mod scan;
mod seek;
pub mod tlog;
mod verify;

pub use documents::EventKey;
pub use error::ReadError;
pub use follow::{Follow, FollowPolicy, FollowStop};
pub use purges::{DocumentedPurge, PurgeIndex};
pub use replay::{DiscardedSnapshot, Replayed, Replayer, State, Target};
pub use rules::Position;
pub use scan::{LogReader, Scan, ScanItem};
pub use verify::{verify, Finding, OrphanNote, PurgeNote, SegmentLock, Transition, VerifyReport};

/// Bugs a test can plant in readers (`LogReader::with_planted_bug`) to show that the
/// simulation checker notices what they break.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReaderBug {
    /// A seek takes a zombie's seqs at face value and may start on it.
    SeekOntoZombie,
    /// A follow ends at the end of the log instead of waiting for new segments.
    FollowerStopsEarly,
    /// A replay starts from a snapshot without checking it knows every purge it covers.
    SnapshotIgnoresPurges,
    /// Orphans (version 3 segments naming a predecessor other than the valid one) are taken
    /// for valid.
    DeliverOrphans,
}
