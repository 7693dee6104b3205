//! The store's error type: one variant per decision a caller makes.

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// Why a store call failed, classified so that the writer decides once what to do.
///
/// | variant | HTTP on S3 | what the caller does |
/// |---|---|---|
/// | `AlreadyExists` | 412 on `If-None-Match: *` | read the object and resolve (protocol step 2) |
/// | `PreconditionFailed` | 412 on `If-Match` | re-read and try again, or lose the lease |
/// | `NotFound` | 404 | the object is absent |
/// | `Conflict` | 409 ConditionalRequestConflict | retry the same request after backoff |
/// | `Transient` | 5xx, SlowDown, timeouts, resets | retry the same request after backoff |
/// | `Indeterminate` | a local store's write whose durability step failed after it became visible | the request may have taken effect; a writer treats the slot's fate as unknown |
/// | `ObjectLocked` | 403 on a protected object | report; retention is doing its job |
/// | `InvalidKey` | 400 | fix the key; nothing was sent |
/// | `Permanent` | other 4xx (403, 400) | configuration problem; report the store's message |
/// | `Unsupported` | 501 | the store lacks the feature |
/// | `Foreign` | a directory store's file without the metadata wormlog writes beside it | planted or replaced outside wormlog: an integrity finding for an audit |
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("object {key} already exists (create-only put refused with 412)")]
    AlreadyExists { key: String },

    #[error("object {key} changed since it was read (compare-and-swap refused with 412)")]
    PreconditionFailed { key: String },

    #[error("object {key} does not exist")]
    NotFound { key: String },

    #[error("a concurrent conditional write to {key} was in progress (409); retry it")]
    Conflict { key: String },

    #[error("{op} on {key} failed transiently ({message}); retrying is safe")]
    Transient {
        op: &'static str,
        key: String,
        message: String,
    },

    /// The request may have taken effect and retrying it cannot tell (FsStore: the object was
    /// linked into place, then fsync of its folder failed, so it may not survive a crash).
    #[error("{op} on {key} may or may not have taken effect ({message})")]
    Indeterminate {
        op: &'static str,
        key: String,
        message: String,
    },

    #[error("object {key} is protected by Object Lock: {reason}")]
    ObjectLocked { key: String, reason: String },

    #[error("invalid object key {key:?}: {reason}")]
    InvalidKey { key: String, reason: String },

    #[error("{op} on {key} was refused: {message}")]
    Permanent {
        op: &'static str,
        key: String,
        message: String,
    },

    #[error("{what} is not supported by {store}")]
    Unsupported { what: String, store: String },

    /// An object the store did not write: a file planted (or replaced by another inode) in a
    /// directory store by something other than wormlog.
    #[error("object {key} was not written by wormlog: {reason}")]
    Foreign { key: String, reason: String },
}

/// What a caller decides on when a wormlog operation failed, whichever error type carries
/// it ([`StoreError::class`], and the `class` of the reader's, writer's and lease's errors):
/// the command line's exit codes and the Python package's exceptions are made from it, so
/// that both classify every error the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorClass {
    /// A newer epoch holds the log, another writer shares ours, or the lease was lost: stop;
    /// nothing more was written.
    Fenced,
    /// A conditional append found that another event came first: re-read and decide again.
    Conflict,
    /// The events may or may not be in the log (or the writer can take no more): a new
    /// writer, which reads the tail, finds out.
    OutcomeUnknown,
    /// The store does not enforce what safety rests on (create-only writes, compare-and-swap).
    UnsafeStore,
    /// The store failed: unreachable, denied, retries exhausted.
    Store,
    /// The log is damaged: a corrupt, missing or rewritten object.
    Integrity,
    /// Bad arguments or data; nothing was stored.
    InvalidInput,
}

/// What every store's refusal of bytes that do not match their SHA-256 says
/// ([`StoreError::is_digest_mismatch`]).
pub const DIGEST_MISMATCH: &str = "do not match the SHA-256 sent with them";

impl StoreError {
    /// Its [`ErrorClass`]: a key the store cannot take is the caller's input, anything else
    /// the store's failure.
    pub fn class(&self) -> ErrorClass {
        match self {
            StoreError::InvalidKey { .. } => ErrorClass::InvalidInput,
            _ => ErrorClass::Store,
        }
    }

    /// The variant's name, for metrics labels (`wormlog_s3_errors_total{kind}`).
    pub fn kind(&self) -> &'static str {
        match self {
            StoreError::AlreadyExists { .. } => "already_exists",
            StoreError::PreconditionFailed { .. } => "precondition_failed",
            StoreError::NotFound { .. } => "not_found",
            StoreError::Conflict { .. } => "conflict",
            StoreError::Transient { .. } => "transient",
            StoreError::Indeterminate { .. } => "indeterminate",
            StoreError::ObjectLocked { .. } => "object_locked",
            StoreError::InvalidKey { .. } => "invalid_key",
            StoreError::Permanent { .. } => "permanent",
            StoreError::Unsupported { .. } => "unsupported",
            StoreError::Foreign { .. } => "foreign",
        }
    }

    /// A put refused because its bytes do not match the SHA-256 sent with them (the local
    /// stores' BadDigest; S3's `BadDigest` and `XAmzContentSHA256Mismatch`): nothing stored.
    pub fn is_digest_mismatch(&self) -> bool {
        matches!(self, StoreError::Permanent { message, .. } if message.contains(DIGEST_MISMATCH))
    }

    /// True for failures after which the same request may be sent again: 409, 5xx, throttling,
    /// timeouts. The outcome of the failed request may be unknown (it may have committed).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StoreError::Conflict { .. } | StoreError::Transient { .. }
        )
    }

    /// Maps an I/O error of a local store into the store's classes: interruptions and full
    /// disks are transient, everything else is permanent.
    pub(crate) fn from_io(op: &'static str, key: &str, err: std::io::Error) -> StoreError {
        use std::io::ErrorKind::*;
        let message = err.to_string();
        match err.kind() {
            Interrupted | TimedOut | WouldBlock | StorageFull | QuotaExceeded | ResourceBusy => {
                StoreError::Transient {
                    op,
                    key: key.to_owned(),
                    message,
                }
            }
            NotFound => StoreError::NotFound {
                key: key.to_owned(),
            },
            NotADirectory | IsADirectory | InvalidFilename => StoreError::InvalidKey {
                key: key.to_owned(),
                reason: format!("it clashes with an existing object or folder ({message})"),
            },
            _ => StoreError::Permanent {
                op,
                key: key.to_owned(),
                message,
            },
        }
    }
}
