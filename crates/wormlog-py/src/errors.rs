//! The exception hierarchy: one exception per [`ErrorClass`] of the library (the classes
//! the command line's exit codes come from), with the command line's one-sentence message:
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
use wormlog::store::ErrorClass;
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

/// The exception of an error of `class`: one per class, so Python and the command line
/// (whose exit codes come from the same classes) never disagree.
fn raise(class: ErrorClass, message: String) -> PyErr {
    match class {
        ErrorClass::Fenced => Fenced::new_err(message),
        ErrorClass::Conflict => Conflict::new_err(message),
        ErrorClass::OutcomeUnknown => OutcomeUnknown::new_err(message),
        ErrorClass::UnsafeStore => UnsafeStore::new_err(message),
        ErrorClass::Integrity => IntegrityError::new_err(message),
        ErrorClass::InvalidInput => InvalidInput::new_err(message),
        _ => StoreError::new_err(message),
    }
}

pub(crate) fn from_write(e: WriteError) -> PyErr {
    raise(e.class(), e.to_string())
}

pub(crate) fn from_read(e: ReadError) -> PyErr {
    raise(e.class(), e.to_string())
}

pub(crate) fn from_lease(e: LeaseError) -> PyErr {
    raise(e.class(), e.to_string())
}

pub(crate) fn from_tlog(e: wormlog::reader::tlog::TlogError) -> PyErr {
    raise(e.class(), e.to_string())
}

pub(crate) fn from_url(e: StoreUrlError) -> PyErr {
    InvalidInput::new_err(e.to_string())
}
