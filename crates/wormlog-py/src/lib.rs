//! # wormlog for Python: the Rust library behind a `wormlog` module
//!
//! Every protocol decision stays in the Rust crates; this crate only converts. The flow of
//! one call:
//!
//! ```text
//!  Python thread ── convert arguments (GIL held) ──► detach (GIL released) ──► block on the
//!  shared tokio runtime (two workers) ──► attach ──► convert the result or raise
//! ```
//!
//! - The GIL is released for every store request, so a Python thread appending in a loop
//!   does not hold up the others, and two threads' appends share segments (group commit).
//! - Errors are one exception hierarchy ([`errors`]) whose messages are the command line's
//!   one-sentence messages.
//! - Waits that can last long (a lease held by another, following the log, a pending
//!   append's result, closing) wake every 100 ms to let Ctrl-C through; one append, one
//!   open or one read is bounded by the store's retries instead.

use std::future::Future;

use pyo3::prelude::*;

mod errors;
mod events;
mod json;
mod lease;
mod lock;
mod reader;
mod store;
mod tlog;
mod writer;

/// The runtime every call runs on: two workers, made at the first call in this process and
/// never shut down. A child forked after wormlog was used gets a runtime of its own (the
/// parent's worker threads do not survive a fork); what the parent opened cannot be used
/// there ([`same_process`]).
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: parking_lot::Mutex<Option<(u32, &'static tokio::runtime::Runtime)>> =
        parking_lot::Mutex::new(None);
    let pid = std::process::id();
    let mut slot = RUNTIME.lock();
    match *slot {
        Some((owner, rt)) if owner == pid => rt,
        _ => {
            let rt: &'static tokio::runtime::Runtime = Box::leak(Box::new(
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("wormlog")
                    .enable_all()
                    .build()
                    .expect("the tokio runtime starts"),
            ));
            *slot = Some((pid, rt));
            rt
        }
    }
}

/// `InvalidInput` unless this is the process `opened_in`: an object whose background task
/// ran in a parent process never answers in a forked child.
fn same_process(opened_in: u32, what: &str) -> PyResult<()> {
    if opened_in == std::process::id() {
        return Ok(());
    }
    Err(errors::invalid(format!(
        "this {what} was opened in process {opened_in}, before a fork; open a new one in this process (or start children with multiprocessing's \"spawn\")"
    )))
}

/// Seconds from Python as a duration; `InvalidInput` for negative or not finite.
fn seconds(s: f64) -> PyResult<std::time::Duration> {
    std::time::Duration::try_from_secs_f64(s)
        .map_err(|_| errors::invalid(format!("{s} is not a duration in seconds (0 or more)")))
}

/// A whole-number argument from `min` to `max` (a bool is not one), or `InvalidInput` naming
/// it: Python's own OverflowError for a negative or huge value is no `WormlogError`.
fn whole(
    value: Option<&Bound<'_, PyAny>>,
    name: &str,
    min: u64,
    max: u64,
) -> PyResult<Option<u64>> {
    let Some(value) = value else {
        return Ok(None);
    };
    let n = (!value.is_instance_of::<pyo3::types::PyBool>())
        .then(|| value.extract::<u64>().ok())
        .flatten()
        .filter(|n| (min..=max).contains(n));
    n.map(Some).ok_or_else(|| {
        errors::invalid(format!(
            "{name} must be a whole number from {min} to {max} (got {value})"
        ))
    })
}

/// Runs `f` to completion with the GIL released.
fn block<F>(py: Python<'_>, f: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    py.detach(|| runtime().block_on(f))
}

/// How often a long wait wakes to let a signal (Ctrl-C) raise in Python.
const TICK: std::time::Duration = std::time::Duration::from_millis(100);

/// Waits for `f` with the GIL released, waking every [`TICK`] to let a signal raise in
/// Python. `None` after `timeout`. Either way `f` is cancelled, unless it finished in the
/// meantime (then its value is returned on a timeout); callers keep nothing in `f` that a
/// cancellation could lose (state lives in the objects it works on).
fn block_interruptible<T: Send + 'static>(
    py: Python<'_>,
    f: impl Future<Output = T> + Send + 'static,
    timeout: Option<std::time::Duration>,
) -> PyResult<Option<T>> {
    let mut task = runtime().spawn(f);
    let mut waited = std::time::Duration::ZERO;
    loop {
        let step = match timeout {
            Some(t) => t.saturating_sub(waited).min(TICK),
            None => TICK,
        };
        let done = block(py, async { tokio::time::timeout(step, &mut task).await });
        match done {
            Ok(Ok(value)) => return Ok(Some(value)),
            Ok(Err(join)) => {
                return Err(pyo3::exceptions::PyRuntimeError::new_err(format!(
                    "a wormlog task failed: {join}"
                )))
            }
            Err(_) => {}
        }
        waited += step;
        if let Err(e) = py.check_signals() {
            task.abort();
            return Err(e);
        }
        if timeout.is_some_and(|t| waited >= t) {
            task.abort();
            return Ok(block(py, task).ok());
        }
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    m.add_function(wrap_pyfunction!(store::open_store, m)?)?;
    m.add_function(wrap_pyfunction!(reader::verify, m)?)?;
    m.add_function(wrap_pyfunction!(tlog::keygen, m)?)?;
    m.add_function(wrap_pyfunction!(tlog::checkpoint, m)?)?;
    m.add_class::<store::Store>()?;
    m.add_class::<writer::Writer>()?;
    m.add_class::<writer::Appended>()?;
    m.add_class::<writer::Pending>()?;
    m.add_class::<lease::LeaseOptions>()?;
    m.add_class::<lease::Lease>()?;
    m.add_class::<lease::LeaderElector>()?;
    m.add_class::<events::Event>()?;
    m.add_class::<reader::Reader>()?;
    m.add_class::<reader::Events>()?;
    m.add_class::<reader::Follow>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
