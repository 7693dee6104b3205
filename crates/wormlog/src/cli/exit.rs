//! Exit codes and the one-sentence errors behind them.

use std::process::ExitCode;

use wormlog::{ReadError, WriteError};
use wormlog_store::StoreError;

pub(crate) const OK: u8 = 0;
/// A corrupt or missing segment, or any integrity violation.
pub(crate) const VIOLATION: u8 = 1;
/// Bad usage or bad input; nothing was stored.
pub(crate) const USAGE: u8 = 2;
/// A newer epoch holds the log (or another writer shares ours).
pub(crate) const FENCED: u8 = 3;
/// The store failed: unreachable, denied, retries exhausted.
pub(crate) const STORE: u8 = 4;

/// A failed command: its exit code and the sentence for stderr.
#[derive(Debug)]
pub(crate) struct CliError {
    pub code: u8,
    pub message: String,
}

pub(crate) type CliResult<T> = Result<T, CliError>;

impl CliError {
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError {
            code: USAGE,
            message: message.into(),
        }
    }

    pub fn store(message: impl Into<String>) -> CliError {
        CliError {
            code: STORE,
            message: message.into(),
        }
    }

    pub fn violation(message: impl Into<String>) -> CliError {
        CliError {
            code: VIOLATION,
            message: message.into(),
        }
    }

    pub fn report(self) -> ExitCode {
        eprintln!("wormlog: {}", self.message);
        ExitCode::from(self.code)
    }
}

impl From<WriteError> for CliError {
    fn from(e: WriteError) -> CliError {
        let code = match &e {
            WriteError::Fenced { .. }
            | WriteError::EpochConflict { .. }
            | WriteError::LeadershipLost { .. } => FENCED,
            WriteError::Conflict { .. }
            | WriteError::InvalidEvent(_)
            | WriteError::Config(_)
            | WriteError::EpochTooFarAhead { .. }
            | WriteError::File { .. } => USAGE,
            WriteError::Corrupt { .. }
            | WriteError::Vanished { .. }
            | WriteError::Gap { .. }
            | WriteError::SlotDeleted { .. } => VIOLATION,
            WriteError::Store(StoreError::InvalidKey { .. }) => USAGE,
            WriteError::OutcomeUnknown { .. }
            | WriteError::UnsafeStore { .. }
            | WriteError::Poisoned { .. }
            | WriteError::Store(_)
            | WriteError::Full { .. }
            | WriteError::Closed => STORE,
        };
        CliError {
            code,
            message: e.to_string(),
        }
    }
}

impl From<ReadError> for CliError {
    fn from(e: ReadError) -> CliError {
        let code = match &e {
            ReadError::Corrupt { .. }
            | ReadError::SlotDeleted { .. }
            | ReadError::Gap { .. }
            | ReadError::Discontinuity { .. }
            | ReadError::AttachmentMissing { .. }
            | ReadError::PayloadMismatch { .. } => VIOLATION,
            ReadError::Config(_) => USAGE,
            // A writer is still filling the slots: try again, as after a store failure.
            ReadError::Store(_) | ReadError::Output(_) | ReadError::Pending { .. } => STORE,
        };
        CliError {
            code,
            message: e.to_string(),
        }
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> CliError {
        match e {
            StoreError::InvalidKey { .. } => CliError::usage(e.to_string()),
            e => CliError::store(e.to_string()),
        }
    }
}
