//! # wormlog-reader: replaying a log exactly as every other reader does
//!
//! A [`LogReader`] reads a stream's segments in slot order and delivers its events by the
//! reader rules of protocol.md:
//!
//! ```text
//!  LIST log/ ─► slots 0..n ─► GET slot s (prefetched, `prefetch` ahead, in order)
//!                                   │
//!        decode + CRC ── fails ─────┼─► Err(Corrupt{slot})         never delivered
//!        slot missing below tail ───┼─► Purged{slot} if a purge record names it (purges.rs),
//!                                   │   else Err(Gap{slots})       deletion or tampering
//!        epoch < max_epoch ─────────┼─► Zombie{slot} reported, skipped
//!        first_seq != expected ─────┼─► Err(Discontinuity{slot})
//!        control record ────────────┼─► Control{slot} (audit tools), not an event
//!        otherwise ─────────────────┴─► Event, Event, ...   max_epoch = epoch
//! ```
//!
//! Invariants upheld here: I3 (every committed valid segment is read, at its seqs), I4 (valid
//! epochs never decrease, since lower ones are skipped as zombies), I8 (replay is a function of
//! the stored bytes alone: two readers, or one before and after a crash, see the same prefix),
//! I9 (a malformed segment is an error naming its slot, never a panic or a silent skip).

mod error;
mod purges;
mod replay;
mod scan;
mod verify;

pub use error::ReadError;
pub use purges::{DocumentedPurge, PurgeIndex};
pub use replay::{Replayed, Replayer, State, Target};
pub use scan::{Follow, FollowPolicy, FollowStop, LogReader, Scan, ScanItem};
pub use verify::{verify, Finding, PurgeNote, SegmentLock, Transition, VerifyReport};
