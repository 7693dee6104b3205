//! Why an append or an open failed, and whether its outcome is known.

use wormlog_format::FormatError;
use wormlog_store::{ErrorClass, StoreError};

/// An append or open that did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    #[error("stream {stream} is fenced: epoch {epoch} holds it ({}); this writer has epoch {ours} and has stopped; only a writer with epoch {epoch} or higher may append", if *refused { format!("our create-only PUT of slot {slot} was refused with 412 and the slot holds epoch {epoch}") } else { format!("the log's last segment, slot {slot}, has epoch {epoch}; nothing was written") })]
    Fenced {
        stream: String,
        epoch: u64,
        ours: u64,
        slot: u64,
        /// True when a PUT of ours met the newer epoch (a 412); false when open found it.
        refused: bool,
    },

    #[error("leadership of stream {stream} at epoch {epoch} was lost (the lease moved on or could not be renewed in time); this writer stopped and wrote nothing more")]
    LeadershipLost { stream: String, epoch: u64 },

    #[error("slot {slot} of stream {stream} was written by writer {other:?} (write id {write_id}) at our own epoch {epoch}: two writers share one fencing token; stop both and give each writer its own epoch")]
    EpochConflict {
        stream: String,
        slot: u64,
        epoch: u64,
        other: String,
        write_id: uuid::Uuid,
    },

    #[error("the conditional append expected next seq {expected}, but another writer's segment at slot {slot} moved the log to seq {actual}; re-read and decide again")]
    Conflict {
        expected: u64,
        actual: u64,
        slot: u64,
    },

    #[error("appending at slot {slot} failed after {attempts} attempts ({source}); the events may or may not be in the log, and the writer refuses further appends until reopened")]
    OutcomeUnknown {
        slot: u64,
        attempts: u32,
        source: StoreError,
    },

    #[error("the writer stopped after an append's outcome became unknown at slot {slot}; reopen it to re-read the tail")]
    Poisoned { slot: u64 },

    #[error("slot {slot} of stream {stream} held a segment that was then deleted (a purge, or tampering), or is a hole below the tail; the writer stopped rather than fill it; reopen it, and run `wormlog verify` if no purge explains it")]
    Vanished { stream: String, slot: u64 },

    #[error("slot {slot} of stream {stream} is missing below the void records that end the log, further down than any writer's claim reaches: it was deleted; nothing was written; run `wormlog verify`")]
    Gap { stream: String, slot: u64 },

    #[error("slot {slot} of stream {stream} was deleted on a versioned bucket (a delete marker, or a slot written again over one, hides its locked version): writing on would fork the log, so nothing was written; investigate with `wormlog verify` and the bucket's object versions of {key}")]
    SlotDeleted {
        stream: String,
        slot: u64,
        key: String,
    },

    #[error("epoch {epoch} is more than {limit} above the log's current epoch {current}: after it only epochs >= {epoch} could ever append, so nothing was written; use an epoch near {current} (a typo?), or allow the jump explicitly")]
    EpochTooFarAhead {
        epoch: u64,
        current: u64,
        limit: u64,
    },

    #[error("the store refused the append: {0}")]
    Store(StoreError),

    #[error("the segment at slot {slot} of stream {stream} is corrupt ({source}); run `wormlog verify` and inspect the object")]
    Corrupt {
        stream: String,
        slot: u64,
        source: FormatError,
    },

    #[error("the store {store} is not safe for writers: the capability check \"{check}\" failed ({detail}); run `wormlog doctor` for the full report")]
    UnsafeStore {
        store: String,
        check: String,
        detail: String,
    },

    #[error("invalid event: {0}")]
    InvalidEvent(FormatError),

    #[error("could not read {path} ({reason}); nothing was appended for it")]
    File { path: String, reason: String },

    #[error("invalid writer configuration: {0}")]
    Config(String),

    #[error("the writer is full: {unacked} bytes of appends are unanswered, at most {max} (max_unacked_bytes); wait for some to be answered, or use append, which waits")]
    Full { unacked: usize, max: usize },

    #[error("the writer is closed")]
    Closed,
}

impl WriteError {
    /// Its [`ErrorClass`]: what the caller decides on.
    pub fn class(&self) -> ErrorClass {
        match self {
            WriteError::Fenced { .. }
            | WriteError::EpochConflict { .. }
            | WriteError::LeadershipLost { .. } => ErrorClass::Fenced,
            WriteError::Conflict { .. } => ErrorClass::Conflict,
            WriteError::InvalidEvent(_)
            | WriteError::Config(_)
            | WriteError::EpochTooFarAhead { .. }
            | WriteError::File { .. } => ErrorClass::InvalidInput,
            WriteError::Corrupt { .. }
            | WriteError::Vanished { .. }
            | WriteError::Gap { .. }
            | WriteError::SlotDeleted { .. } => ErrorClass::Integrity,
            // A poisoned or closed writer may have left its last appends unanswered.
            WriteError::OutcomeUnknown { .. }
            | WriteError::Poisoned { .. }
            | WriteError::Closed => ErrorClass::OutcomeUnknown,
            WriteError::UnsafeStore { .. } => ErrorClass::UnsafeStore,
            WriteError::Full { .. } => ErrorClass::Store,
            WriteError::Store(e) => e.class(),
        }
    }

    /// True when the events certainly are not in the log (I6): the caller may safely retry
    /// them with another writer. False when they may have landed.
    pub fn is_definite(&self) -> bool {
        !matches!(self, WriteError::OutcomeUnknown { .. } | WriteError::Closed)
    }

    /// True when this writer must stop because another one holds the log.
    pub fn is_fenced(&self) -> bool {
        matches!(
            self,
            WriteError::Fenced { .. } | WriteError::EpochConflict { .. }
        )
    }
}
