//! Why a lease call failed.

use wormlog_store::{ErrorClass, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeaseError {
    #[error("leadership was lost: the lease at {key} moved on (a renewal was refused with 412, or none succeeded within its duration)")]
    Lost { key: String },
    #[error("the lease at {key} is not valid JSON ({reason}); inspect or delete it")]
    Corrupt { key: String, reason: String },
    #[error("the lease at {key} is held by {holder}, not by {me}")]
    NotHolder {
        key: String,
        holder: String,
        me: String,
    },
    #[error("invalid lease configuration: {0}")]
    Config(String),
    #[error("the lease store failed: {0}")]
    Store(#[from] StoreError),
}

impl LeaseError {
    /// Its [`ErrorClass`]: what the caller decides on.
    pub fn class(&self) -> ErrorClass {
        match self {
            LeaseError::Config(_) | LeaseError::NotHolder { .. } => ErrorClass::InvalidInput,
            LeaseError::Lost { .. } => ErrorClass::Fenced,
            LeaseError::Corrupt { .. } => ErrorClass::Integrity,
            LeaseError::Store(e) => e.class(),
        }
    }
}
