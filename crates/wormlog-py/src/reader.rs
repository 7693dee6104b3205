//! `Reader`: replay a stream (`events`), tail it (`follow`), fetch a document (`content`),
//! and `verify`, the audit. Readers deliver the valid events only, in seq order, and stop
//! with `IntegrityError` at a corrupt or missing segment rather than skip it.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use tokio::sync::mpsc;
use wormlog::reader::FollowPolicy;
use wormlog::{LogReader, ReadError, ScanItem};

use crate::block;
use crate::errors::{from_read, invalid};
use crate::events::Event;
use crate::store::Store;

/// Reads one stream.
#[pyclass(frozen, module = "wormlog")]
pub(crate) struct Reader {
    reader: Arc<LogReader>,
}

#[pymethods]
impl Reader {
    #[new]
    fn new(store: &Store, stream: &str) -> PyResult<Reader> {
        let reader = LogReader::new(Arc::clone(&store.store), &store.root_prefix, stream)
            .map_err(from_read)?;
        Ok(Reader {
            reader: Arc::new(reader),
        })
    }

    /// The events from `from_seq` to `to_seq` (inclusive; None: the end of the log as it is
    /// when `events()` is called), as an iterator.
    #[pyo3(signature = (from_seq = 0, to_seq = None))]
    fn events(&self, py: Python<'_>, from_seq: u64, to_seq: Option<u64>) -> PyResult<Events> {
        let scan = block(py, self.reader.scan(from_seq)).map_err(from_read)?;
        Ok(Events {
            replay: tokio::sync::Mutex::new(Replay::Scanning(scan)),
            to_seq,
        })
    }

    /// The events from `from_seq`, then new ones as they are committed, as an iterator that
    /// ends once `close()`d. With `timeout`, a wait longer than that raises `TimeoutError`
    /// (call `next()` again to go on). Ctrl-C interrupts a wait.
    #[pyo3(signature = (from_seq = 0, timeout = None))]
    fn follow(&self, py: Python<'_>, from_seq: u64, timeout: Option<f64>) -> PyResult<Follow> {
        let timeout = timeout.map(crate::seconds).transpose()?;
        let reader = Arc::clone(&self.reader);
        let (follow, stop) = block(py, async move {
            reader.follow(from_seq, FollowPolicy::default()).await
        })
        .map_err(from_read)?;
        // The follow runs as a task and hands events over a bounded channel: an iteration
        // interrupted by Ctrl-C loses nothing, and a slow consumer holds the task back.
        let (tx, rx) = mpsc::channel(256);
        crate::runtime().spawn(async move {
            let mut follow = follow;
            loop {
                let item = follow.next().await;
                let item = match item {
                    Ok(Some(ScanItem::Event(e))) => Ok(e),
                    Ok(Some(_)) => continue,
                    Ok(None) => return,
                    Err(e) => Err(e),
                };
                let failed = item.is_err();
                if tx.send(item).await.is_err() || failed {
                    return;
                }
            }
        });
        Ok(Follow {
            events: Arc::new(tokio::sync::Mutex::new(rx)),
            closed: std::sync::atomic::AtomicBool::new(false),
            stop,
            timeout,
        })
    }

    /// The event with this seq, or None if the log has none.
    fn get(&self, py: Python<'_>, seq: u64) -> PyResult<Option<Event>> {
        let reader = Arc::clone(&self.reader);
        let found = block(py, async move {
            reader.find(wormlog::reader::EventKey::Seq(seq)).await
        })
        .map_err(from_read)?;
        Ok(found.map(|(inner, _)| Event { inner }))
    }

    /// The event's content as bytes: the exact bytes of a raw payload (an attachment is read
    /// from the store), checked against the SHA-256 its event records, or the JSON text of a
    /// JSON event. A mismatch raises `IntegrityError`.
    fn content<'py>(&self, py: Python<'py>, event: &Event) -> PyResult<Bound<'py, PyBytes>> {
        let reader = Arc::clone(&self.reader);
        let event = event.inner.clone();
        // Not `block`: the copy's future holds a `&mut dyn Write`, so it runs where it is
        // made, still with the GIL released.
        let bytes = py
            .detach(move || {
                crate::runtime().block_on(async move {
                    let mut out = Vec::new();
                    reader.copy_content(&event, &mut out).await.map(|_| out)
                })
            })
            .map_err(from_read)?;
        Ok(PyBytes::new(py, &bytes))
    }
}

/// Where a replay stands: scanning, ended, or stopped by an error (raised again by every
/// later `next()`, so a caught error never looks like the end of the log).
enum Replay {
    Scanning(wormlog::reader::Scan),
    Ended,
    Failed(ReadError),
}

/// The events of a replay, in seq order.
#[pyclass(module = "wormlog")]
pub(crate) struct Events {
    replay: tokio::sync::Mutex<Replay>,
    to_seq: Option<u64>,
}

#[pymethods]
impl Events {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Event>> {
        let to_seq = self.to_seq;
        let next = block(py, async {
            let mut replay = self.replay.lock().await;
            let scan = match &mut *replay {
                Replay::Scanning(scan) => scan,
                Replay::Ended => return Ok(None),
                Replay::Failed(e) => return Err(e.clone()),
            };
            loop {
                match scan.next().await {
                    Ok(Some(ScanItem::Event(e))) if to_seq.is_none_or(|t| e.seq <= t) => {
                        return Ok(Some(e))
                    }
                    Ok(Some(ScanItem::Event(_)) | None) => {
                        *replay = Replay::Ended;
                        return Ok(None);
                    }
                    Ok(Some(_)) => {}
                    Err(e) => {
                        *replay = Replay::Failed(e.clone());
                        return Err(e);
                    }
                }
            }
        });
        Ok(next.map_err(from_read)?.map(|inner| Event { inner }))
    }
}

/// New events as they come; `close()` ends it.
#[pyclass(frozen, module = "wormlog")]
pub(crate) struct Follow {
    events: Arc<tokio::sync::Mutex<mpsc::Receiver<Result<wormlog::Event, ReadError>>>>,
    /// Set by `close()`: events still in the channel are not delivered.
    closed: std::sync::atomic::AtomicBool,
    stop: wormlog::reader::FollowStop,
    timeout: Option<std::time::Duration>,
}

#[pymethods]
impl Follow {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Event>> {
        // `recv` under a timeout, not a task: an event already taken off the channel is
        // never lost to a timeout or a Ctrl-C.
        let mut waited = std::time::Duration::ZERO;
        loop {
            if self.closed.load(std::sync::atomic::Ordering::Relaxed) {
                return Ok(None);
            }
            let step = match self.timeout {
                Some(t) => t.saturating_sub(waited).min(crate::TICK),
                None => crate::TICK,
            };
            let got = block(py, async {
                let mut events = self.events.lock().await;
                tokio::time::timeout(step, events.recv()).await
            });
            match got {
                Ok(Some(Ok(inner))) => return Ok(Some(Event { inner })),
                Ok(Some(Err(e))) => return Err(from_read(e)),
                Ok(None) => return Ok(None),
                Err(_) => {}
            }
            waited += step;
            py.check_signals()?;
            if self.timeout.is_some_and(|t| waited >= t) {
                return Err(pyo3::exceptions::PyTimeoutError::new_err(
                    "no new event within the follow's timeout; call next() again to go on waiting",
                ));
            }
        }
    }

    /// Stops following; the iteration ends (events not yet delivered are dropped).
    fn close(&self) {
        self.closed
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.stop.stop();
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, _exc: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.close();
        false
    }
}

impl Drop for Follow {
    fn drop(&mut self) {
        self.stop.stop();
    }
}

/// Audits `stream`: every slot, every referenced attachment, and with `require_lock` every
/// object's Object Lock. Returns the report as a dict (as `wormlog verify --json`), with
/// `clean` True when it found no violation. With `keys` (verifier keys' text: every key
/// that signed, after a rotation) the Merkle tree is recomputed and every checkpoint
/// checked against it, and `trusted_checkpoint` (a note obtained out of band) too: the
/// report gains `merkle_tree`, and its violations are the report's.
#[pyfunction]
#[pyo3(signature = (store, stream, require_lock = false, *, keys = Vec::new(), trusted_checkpoint = None))]
pub(crate) fn verify<'py>(
    py: Python<'py>,
    store: &Store,
    stream: &str,
    require_lock: bool,
    keys: Vec<String>,
    trusted_checkpoint: Option<String>,
) -> PyResult<Bound<'py, PyAny>> {
    if keys.is_empty() && trusted_checkpoint.is_some() {
        return Err(invalid(
            "trusted_checkpoint needs the keys that may have signed it (keys=[...])",
        ));
    }
    if stream.is_empty() {
        return Err(invalid("the stream name is empty"));
    }
    let report = block(
        py,
        wormlog::reader::verify(
            Arc::clone(&store.store),
            &store.root_prefix,
            stream,
            require_lock,
        ),
    )
    .map_err(from_read)?;
    let tree = if keys.is_empty() {
        None
    } else {
        let trusted = trusted_checkpoint.as_deref();
        Some(crate::tlog::audit(py, store, stream, &keys, trusted)?)
    };
    let mut doc = serde_json::to_value(&report).expect("reports serialise");
    let mut violations: Vec<String> = report.findings.iter().map(|f| f.describe()).collect();
    if let Some(tree) = &tree {
        violations.extend(tree.violations.iter().cloned());
        doc["merkle_tree"] = serde_json::to_value(tree).expect("reports serialise");
    }
    // The report's findings and the tree's violations: clean when there are none.
    doc["clean"] = serde_json::Value::Bool(violations.is_empty());
    doc["violations"] = serde_json::to_value(&violations).expect("strings serialise");
    crate::json::from_json(py, &doc.to_string())
}
