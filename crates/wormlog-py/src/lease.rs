//! The stream's lease: `LeaseOptions` for a writer that leads by lease, `Lease` for one
//! acquisition step at a time, and `LeaderElector`, which campaigns and renews in the
//! background (wormlog-fencing; the lease gives liveness, the log's 412 gives safety).

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use pyo3::prelude::*;
use wormlog_fencing::{Acquire, ElectorConfig, LeaseConfig};
use wormlog_store::SystemClock;

use crate::errors::{from_lease, invalid};
use crate::store::Store;
use crate::{block, block_interruptible, seconds};

/// The lease settings of a `Writer(..., lease=LeaseOptions(...))`: who holds it, how long a
/// record stays valid without renewal, and how long to wait for it (None: as long as it
/// takes), counted from the start, the requests that take it included.
#[pyclass(frozen, module = "wormlog", get_all)]
pub(crate) struct LeaseOptions {
    pub(crate) holder: Option<String>,
    pub(crate) duration: f64,
    pub(crate) wait: Option<f64>,
}

#[pymethods]
impl LeaseOptions {
    #[new]
    #[pyo3(signature = (holder = None, duration = 10.0, wait = None))]
    fn new(holder: Option<String>, duration: f64, wait: Option<f64>) -> PyResult<LeaseOptions> {
        seconds(duration)?;
        if let Some(w) = wait {
            seconds(w)?;
        }
        Ok(LeaseOptions {
            holder,
            duration,
            wait,
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "LeaseOptions(holder={:?}, duration={}, wait={:?})",
            self.holder, self.duration, self.wait
        )
    }
}

/// The lease configuration of `stream` in `store` for `holder` (default: this process's id).
pub(crate) fn lease_config(
    store: &Store,
    stream: &str,
    holder: Option<String>,
    duration: f64,
) -> PyResult<LeaseConfig> {
    let duration = seconds(duration)?;
    let holder = holder.unwrap_or_else(|| wormlog_fencing::default_process_id("wormlog-py"));
    let mut cfg = LeaseConfig::new(stream, holder, duration, SystemClock::shared());
    cfg.root_prefix = store.root_prefix.clone();
    Ok(cfg)
}

/// One candidate's view of a stream's lease, driven step by step.
#[pyclass(frozen, module = "wormlog")]
pub(crate) struct Lease {
    lease: Arc<tokio::sync::Mutex<wormlog_fencing::Lease>>,
    holder: String,
}

#[pymethods]
impl Lease {
    #[new]
    #[pyo3(signature = (store, stream, holder = None, duration = 10.0))]
    fn new(store: &Store, stream: &str, holder: Option<String>, duration: f64) -> PyResult<Lease> {
        let cfg = lease_config(store, stream, holder, duration)?;
        let holder = cfg.holder.clone();
        let lease =
            wormlog_fencing::Lease::new(Arc::clone(&store.store), cfg).map_err(from_lease)?;
        Ok(Lease {
            lease: Arc::new(tokio::sync::Mutex::new(lease)),
            holder,
        })
    }

    /// One step: the epoch if this candidate now holds the lease, else None (another holder
    /// is live; it is taken over once that holder's record stays unchanged for a duration).
    fn try_acquire(&self, py: Python<'_>) -> PyResult<Option<u64>> {
        let lease = Arc::clone(&self.lease);
        match block(py, async move { lease.lock().await.try_acquire().await }) {
            Ok(Acquire::Acquired(token)) => Ok(Some(token.epoch)),
            Ok(Acquire::Waiting { .. }) => Ok(None),
            Err(e) => Err(from_lease(e)),
        }
    }

    /// Acquires the lease, waiting while another holder is live (at most `timeout` seconds,
    /// then `TimeoutError`), and returns the epoch.
    #[pyo3(signature = (timeout = None))]
    fn acquire(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<u64> {
        let timeout = timeout.map(seconds).transpose()?;
        let lease = Arc::clone(&self.lease);
        let acquired = async move {
            loop {
                // Locked for one step at a time: `epoch`, `renew` or `release` from another
                // thread is not held up for the whole wait.
                let step = lease.lock().await.try_acquire().await?;
                match step {
                    Acquire::Acquired(token) => return Ok(token.epoch),
                    Acquire::Waiting { remaining, .. } => {
                        let pause =
                            remaining.clamp(Duration::from_millis(20), Duration::from_secs(1));
                        tokio::time::sleep(pause).await;
                    }
                }
            }
        };
        match block_interruptible(py, acquired, timeout)? {
            Some(r) => r.map_err(from_lease),
            None => Err(pyo3::exceptions::PyTimeoutError::new_err(format!(
                "the lease was not acquired within {} s: another holder is live",
                timeout.unwrap_or_default().as_secs_f64()
            ))),
        }
    }

    /// Renews the lease this candidate holds; raises `Fenced` if it moved on.
    fn renew(&self, py: Python<'_>) -> PyResult<()> {
        let lease = Arc::clone(&self.lease);
        block(py, async move { lease.lock().await.renew().await }).map_err(from_lease)
    }

    /// Hands the lease back, so the next candidate takes over at once.
    fn release(&self, py: Python<'_>) -> PyResult<()> {
        let lease = Arc::clone(&self.lease);
        block(py, async move { lease.lock().await.release().await }).map_err(from_lease)
    }

    /// The epoch while this candidate holds the lease, else None.
    #[getter]
    fn epoch(&self, py: Python<'_>) -> Option<u64> {
        let lease = Arc::clone(&self.lease);
        block(
            py,
            async move { lease.lock().await.token().map(|t| t.epoch) },
        )
    }

    #[getter]
    fn holder(&self) -> &str {
        &self.holder
    }
}

/// Campaigns for a stream's lease in the background and renews it while leading; steps down
/// when a renewal is refused or its deadline passes. Use it as a context manager, or call
/// `stop()` (which releases the lease).
#[pyclass(frozen, module = "wormlog")]
pub(crate) struct LeaderElector {
    elector: Mutex<Option<wormlog_fencing::LeaderElector>>,
    holder: String,
    /// The process that started it (its task does not survive a fork).
    pid: u32,
}

#[pymethods]
impl LeaderElector {
    #[new]
    #[pyo3(signature = (store, stream, holder = None, duration = 10.0))]
    fn new(store: &Store, stream: &str, holder: Option<String>, duration: f64) -> PyResult<Self> {
        let lease = lease_config(store, stream, holder, duration)?;
        let holder = lease.holder.clone();
        let _entered = crate::runtime().enter();
        let elector = wormlog_fencing::LeaderElector::start(
            Arc::clone(&store.store),
            ElectorConfig { lease },
        )
        .map_err(from_lease)?;
        Ok(LeaderElector {
            elector: Mutex::new(Some(elector)),
            holder,
            pid: std::process::id(),
        })
    }

    /// The epoch while leading, else None.
    fn current(&self) -> PyResult<Option<u64>> {
        crate::same_process(self.pid, "LeaderElector")?;
        Ok(self
            .elector
            .lock()
            .as_ref()
            .and_then(|e| e.current())
            .map(|t| t.epoch))
    }

    /// Waits until this candidate leads (at most `timeout` seconds, then None) and returns
    /// the epoch.
    #[pyo3(signature = (timeout = None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<u64>> {
        let timeout = timeout.map(seconds).transpose()?;
        crate::same_process(self.pid, "LeaderElector")?;
        let Some(mut watch) = self.elector.lock().as_ref().map(|e| e.watch()) else {
            return Err(invalid(
                "the elector was stopped; start a new LeaderElector",
            ));
        };
        let leading = async move {
            loop {
                if let Some(t) = watch.borrow_and_update().clone() {
                    return Some(t.epoch);
                }
                watch.changed().await.ok()?;
            }
        };
        Ok(block_interruptible(py, leading, timeout)?.flatten())
    }

    /// Stops campaigning and releases the lease if held. Idempotent.
    fn stop(&self, py: Python<'_>) {
        if let Some(e) = self.elector.lock().take() {
            block(py, e.stop());
        }
    }

    #[getter]
    fn holder(&self) -> &str {
        &self.holder
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.stop(py);
        false
    }
}
