//! Exit codes and the one-sentence errors behind them.

use std::process::ExitCode;

use wormlog::{ReadError, WriteError};
use wormlog_store::{ErrorClass, StoreError};

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

/// The exit code of an error of `class` (architecture.md): a conditional append's conflict
/// is the caller's to resolve (usage), and a writer whose appends' outcome is unknown, like
/// an unsafe store, leaves the caller to try again once the store is sorted out.
pub(crate) fn code_of(class: ErrorClass) -> u8 {
    match class {
        ErrorClass::Fenced => FENCED,
        ErrorClass::Conflict | ErrorClass::InvalidInput => USAGE,
        ErrorClass::Integrity => VIOLATION,
        ErrorClass::OutcomeUnknown | ErrorClass::UnsafeStore | ErrorClass::Store => STORE,
        _ => STORE,
    }
}

/// The library's errors, each with the exit code of its [`ErrorClass`] and its sentence.
macro_rules! classified {
    ($($error:ty),*) => {$(
        impl From<$error> for CliError {
            fn from(e: $error) -> CliError {
                CliError {
                    code: code_of(e.class()),
                    message: e.to_string(),
                }
            }
        }
    )*};
}

classified!(
    WriteError,
    ReadError,
    StoreError,
    wormlog_fencing::LeaseError,
    wormlog::reader::tlog::TlogError
);

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid_key() -> StoreError {
        StoreError::InvalidKey {
            key: "x/y".into(),
            reason: "it clashes with an existing object or folder".into(),
        }
    }

    /// The same store error means the same exit code whoever carries it: a key the store
    /// cannot take is bad input (2) from the reader too, not a store failure (4).
    #[test]
    fn a_store_error_keeps_its_exit_code_in_every_wrapper() {
        let codes = [
            CliError::from(invalid_key()).code,
            CliError::from(ReadError::Store(invalid_key())).code,
            CliError::from(WriteError::Store(invalid_key())).code,
            CliError::from(wormlog_fencing::LeaseError::Store(invalid_key())).code,
        ];
        assert_eq!(codes, [USAGE; 4]);
        let transient = StoreError::Transient {
            op: "get",
            key: "k".into(),
            message: "HTTP 503".into(),
        };
        assert_eq!(CliError::from(ReadError::Store(transient)).code, STORE);
    }

    #[test]
    fn each_class_has_its_documented_exit_code() {
        let lost = wormlog_fencing::LeaseError::Lost { key: "k".into() };
        assert_eq!(CliError::from(lost).code, FENCED);
        assert_eq!(CliError::from(WriteError::Closed).code, STORE);
        let bad = ReadError::Config("no stream".into());
        assert_eq!(CliError::from(bad).code, USAGE);
        let tampered = wormlog::reader::tlog::TlogError::Tampered("a forged checkpoint".into());
        assert_eq!(CliError::from(tampered).code, VIOLATION);
    }
}
