//! The exception hierarchy. Each Rust error maps to the class a caller decides on, with the
//! command line's one-sentence message (the same classification as its exit codes):
//!
//! ```text
//!  WormlogError
//!  ├─ Fenced          a newer epoch holds the log, or the lease was lost: stop, nothing written
//!  ├─ Conflict        append_expected: another event came first; re-read and decide again
//!  ├─ OutcomeUnknown  the events may or may not be in the log; reopen the writer to find out
//!  ├─ UnsafeStore     the store does not enforce what safety rests on (run `wormlog doctor`)
//!  ├─ StoreError      the store failed: unreachable, denied, retries exhausted
//!  ├─ IntegrityError  the log is damaged: corrupt, missing or rewritten objects
//!  └─ InvalidInput    bad arguments or data; nothing was stored
//! ```

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use wormlog::store::StoreError as RustStoreError;
use wormlog::{ReadError, StoreUrlError, WriteError};
use wormlog_fencing::LeaseError;

create_exception!(
    wormlog,
    WormlogError,
    PyException,
    "Every wormlog error derives from this."
);
create_exception!(
    wormlog,
    Fenced,
    WormlogError,
    "A newer epoch holds the log (or the lease was lost): this writer stopped; nothing more was written."
);
create_exception!(
    wormlog,
    Conflict,
    WormlogError,
    "A conditional append found that another event came first; re-read and decide again."
);
create_exception!(
    wormlog,
    OutcomeUnknown,
    WormlogError,
    "The events may or may not be in the log; open a new writer, which reads the tail, to find out."
);
create_exception!(
    wormlog,
    UnsafeStore,
    WormlogError,
    "The store does not enforce create-only writes or compare-and-swap; run `wormlog doctor`."
);
create_exception!(
    wormlog,
    StoreError,
    WormlogError,
    "The store failed: unreachable, access denied, or retries exhausted."
);
create_exception!(
    wormlog,
    IntegrityError,
    WormlogError,
    "The log is damaged: a corrupt, missing or rewritten object."
);
create_exception!(
    wormlog,
    InvalidInput,
    WormlogError,
    "Bad arguments or data; nothing was stored."
);

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("WormlogError", py.get_type::<WormlogError>())?;
    m.add("Fenced", py.get_type::<Fenced>())?;
    m.add("Conflict", py.get_type::<Conflict>())?;
    m.add("OutcomeUnknown", py.get_type::<OutcomeUnknown>())?;
    m.add("UnsafeStore", py.get_type::<UnsafeStore>())?;
    m.add("StoreError", py.get_type::<StoreError>())?;
    m.add("IntegrityError", py.get_type::<IntegrityError>())?;
    m.add("InvalidInput", py.get_type::<InvalidInput>())?;
    Ok(())
}

/// `InvalidInput` with this sentence.
pub(crate) fn invalid(message: impl Into<String>) -> PyErr {
    InvalidInput::new_err(message.into())
}

pub(crate) fn from_write(e: WriteError) -> PyErr {
    let message = e.to_string();
    match e {
        WriteError::Fenced { .. }
        | WriteError::EpochConflict { .. }
        | WriteError::LeadershipLost { .. } => Fenced::new_err(message),
        WriteError::Conflict { .. } => Conflict::new_err(message),
        WriteError::InvalidEvent(_)
        | WriteError::Config(_)
        | WriteError::EpochTooFarAhead { .. }
        | WriteError::File { .. }
        | WriteError::Store(RustStoreError::InvalidKey { .. }) => InvalidInput::new_err(message),
        WriteError::Corrupt { .. }
        | WriteError::Vanished { .. }
        | WriteError::Gap { .. }
        | WriteError::SlotDeleted { .. } => IntegrityError::new_err(message),
        WriteError::OutcomeUnknown { .. } | WriteError::Poisoned { .. } | WriteError::Closed => {
            OutcomeUnknown::new_err(message)
        }
        WriteError::UnsafeStore { .. } => UnsafeStore::new_err(message),
        WriteError::Store(_) | WriteError::Full { .. } => StoreError::new_err(message),
    }
}

pub(crate) fn from_read(e: ReadError) -> PyErr {
    let message = e.to_string();
    match e {
        ReadError::Corrupt { .. }
        | ReadError::SlotDeleted { .. }
        | ReadError::Gap { .. }
        | ReadError::Discontinuity { .. }
        | ReadError::AttachmentMissing { .. }
        | ReadError::PayloadMismatch { .. } => IntegrityError::new_err(message),
        ReadError::Config(_) => InvalidInput::new_err(message),
        ReadError::Store(RustStoreError::InvalidKey { .. }) => InvalidInput::new_err(message),
        ReadError::Store(_) | ReadError::Output(_) | ReadError::Pending { .. } => {
            StoreError::new_err(message)
        }
    }
}

pub(crate) fn from_lease(e: LeaseError) -> PyErr {
    let message = e.to_string();
    match e {
        LeaseError::Config(_) | LeaseError::NotHolder { .. } => InvalidInput::new_err(message),
        LeaseError::Lost { .. } => Fenced::new_err(message),
        LeaseError::Corrupt { .. } => IntegrityError::new_err(message),
        LeaseError::Store(s) => from_store(s),
    }
}

pub(crate) fn from_store(e: RustStoreError) -> PyErr {
    let message = e.to_string();
    match e {
        RustStoreError::InvalidKey { .. } => InvalidInput::new_err(message),
        _ => StoreError::new_err(message),
    }
}

pub(crate) fn from_url(e: StoreUrlError) -> PyErr {
    InvalidInput::new_err(e.to_string())
}
