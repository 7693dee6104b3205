//! Why a scan stopped.

use wormlog_format::FormatError;
use wormlog_store::{ErrorClass, StoreError};

/// A scan that cannot go on: the log is damaged here, or the store failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("the segment at slot {slot} of stream {stream} is corrupt ({source}); it was not delivered; run `wormlog verify` and inspect {key}")]
    Corrupt {
        stream: String,
        slot: u64,
        key: String,
        source: FormatError,
    },

    #[error("slots {first}..={last} of stream {stream} are missing below slot {next}: segments were deleted or the log was tampered with; run `wormlog verify`")]
    Gap {
        stream: String,
        first: u64,
        last: u64,
        next: u64,
    },

    /// Only void records lie above the missing slots: a new leader is still fencing ahead, or
    /// crashed while it did. Not damage: the scan ends there, a follower waits, and the next
    /// writer's open fills the slots.
    #[error("slots {first}..={last} of stream {stream} are pending: a writer claimed the slots after them and has not filled these yet; they are filled by it or by the next writer to open")]
    Pending {
        stream: String,
        first: u64,
        last: u64,
    },

    #[error("the segment at slot {slot} of stream {stream} starts at seq {found}, but the log before it ends at seq {expected}; run `wormlog verify`")]
    Discontinuity {
        stream: String,
        slot: u64,
        expected: u64,
        found: u64,
    },

    #[error("slot {slot} of stream {stream} was deleted on a versioned bucket (a delete marker, or a slot written again over one, hides its locked version): what follows may be another history; run `wormlog verify` and inspect the object versions of {key}")]
    SlotDeleted {
        stream: String,
        slot: u64,
        key: String,
    },

    #[error("the attachment of seq {seq} ({key}) is missing: it was deleted, or never written; run `wormlog verify`")]
    AttachmentMissing { seq: u64, key: String },

    #[error("the document of seq {seq} does not match its event: {what}; its bytes were changed, do not trust them; run `wormlog verify`")]
    PayloadMismatch { seq: u64, what: String },

    #[error("writing the document failed: {0}")]
    Output(String),

    #[error("reading the log failed: {0}")]
    Store(StoreError),

    #[error("invalid reader configuration: {0}")]
    Config(String),
}

impl ReadError {
    /// Its [`ErrorClass`]: what the caller decides on.
    pub fn class(&self) -> ErrorClass {
        match self {
            ReadError::Corrupt { .. }
            | ReadError::SlotDeleted { .. }
            | ReadError::Gap { .. }
            | ReadError::Discontinuity { .. }
            | ReadError::AttachmentMissing { .. }
            | ReadError::PayloadMismatch { .. } => ErrorClass::Integrity,
            ReadError::Config(_) => ErrorClass::InvalidInput,
            // A writer is still filling the slots: try again, as after a store failure.
            ReadError::Output(_) | ReadError::Pending { .. } => ErrorClass::Store,
            ReadError::Store(e) => e.class(),
        }
    }
}
