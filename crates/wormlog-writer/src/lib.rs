//! # wormlog-writer: appending to a log that a stale leader cannot corrupt
//!
//! A [`LogWriter`] appends events to one stream as create-only segments, carrying a fencing
//! token (its epoch). It follows protocol.md's writer rules:
//!
//! ```text
//!  open(store, stream, epoch, writer id)
//!    │  LIST log/ -> tail slot; read last segment's header -> next_seq, epoch seen
//!    │  last epoch > ours?  -> Fenced, nothing written
//!    ▼
//!  commit epoch-start at the tail ───────────────┐   (step 1; from here on no lower epoch
//!  (none if the tail already carries our epoch)  │    can be acknowledged: I4)
//!    ▼                                           │
//!  append() ... append()  ─► queue ─► batch ─► commit(slot s)   (step 4: group commit,
//!                                                │               one unconfirmed slot)
//!              PUT P/log/s  If-None-Match: *  ◄──┘
//!                ├─ 2xx ─────────────► acknowledge batch, s += 1
//!                ├─ 412 ─► read s ─► resolve::decide()  (step 2: one match, see resolve.rs)
//!                │                    ├─ our write id   -> committed (lost response)
//!                │                    ├─ higher epoch   -> Fenced; stop for good (I5)
//!                │                    ├─ same epoch     -> EpochConflict; stop
//!                │                    ├─ older, valid   -> count it, retry at s+1
//!                │                    └─ zombie         -> skip uncounted, retry at s+1
//!                ├─ 409, 5xx, timeout ─► retry slot s, same write id, capped backoff+jitter;
//!                │                       budget spent -> outcome unknown, writer poisoned
//!                └─ other 4xx ─────────► fail the batch with the store's message
//! ```
//!
//! Invariants upheld here: I1 (create-only puts only; a slot is never written twice by us),
//! I2 (slots are taken in order, never skipped unread), I3 (an event is acknowledged only after
//! its segment is committed and counted as readers count it), I4 and I5 (fenced -> no further
//! PUT), I6 (a definite failure never lands: only transient errors are retried, under one
//! write id, so an unknown outcome lands at most once), I7 (event ids are fresh UUIDs).

mod attach;
mod budget;
mod checkpoints;
mod commit;
mod config;
mod error;
mod resolve;
mod settle;
mod stats;
mod telemetry;
mod writer;

pub use attach::{sha256_of_file, PART_SIZE};
pub use checkpoints::{check_before_writing, CheckpointStatus};
pub use config::{
    CheckpointPolicy, LockPolicy, PlantedBug, RetryPolicy, StopHook, WriterConfig,
    DEFAULT_ATTACH_ABOVE, DEFAULT_CHECKPOINT_EVERY, DEFAULT_CHECKPOINT_SEGMENTS,
    DEFAULT_FENCE_AHEAD, DEFAULT_IN_FLIGHT, DEFAULT_MAX_UNACKED_BYTES, DEFAULT_PARTS_ABOVE,
    MAX_EPOCH_JUMP, MAX_FENCE_AHEAD, MAX_RETAIN_DAYS,
};
pub use error::WriteError;
pub use resolve::{decide, Resolution, WriterView};
pub use stats::WriterStats;
pub use writer::{AppendFuture, Appended, LogWriter, WriterPosition};
