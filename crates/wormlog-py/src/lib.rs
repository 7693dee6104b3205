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
//! - Waits that could last long (a lease held by another, following the log) wake every
//!   100 ms to let Ctrl-C through.

use std::future::Future;
use std::sync::OnceLock;

use pyo3::prelude::*;

mod errors;
mod events;
mod json;
mod lease;
mod reader;
mod store;
mod writer;

/// The runtime every call runs on: created at the first call, two workers, never shut down
/// (it lives as long as the interpreter).
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("wormlog")
            .enable_all()
            .build()
            .expect("the tokio runtime starts")
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

/// Waits for `f` with the GIL released, waking every 100 ms to let a signal (Ctrl-C) raise
/// in Python; `f` keeps running on the runtime if the wait is interrupted.
fn block_interruptible<T: Send + 'static>(
    py: Python<'_>,
    f: impl Future<Output = T> + Send + 'static,
    timeout: Option<std::time::Duration>,
) -> PyResult<Option<T>> {
    let mut task = runtime().spawn(f);
    let mut waited = std::time::Duration::ZERO;
    let tick = std::time::Duration::from_millis(100);
    loop {
        let step = match timeout {
            Some(t) if t.saturating_sub(waited) < tick => t.saturating_sub(waited),
            _ => tick,
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
            return Ok(None);
        }
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    m.add_function(wrap_pyfunction!(store::open_store, m)?)?;
    m.add_function(wrap_pyfunction!(reader::verify, m)?)?;
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
