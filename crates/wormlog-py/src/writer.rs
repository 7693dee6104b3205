//! `Writer`: a `LogWriter` under an epoch or a lease, as a context manager.
//!
//! - `append(data)` waits for the event's segment to commit and returns its `Appended`;
//!   `append(data, wait=False)` returns a `Pending` once the writer has taken the event in
//!   (its budget of unanswered bytes bounds memory), so a loop of appends shares segments.
//! - Appends commit in call order; after a fenced, conflicting or unknown outcome the writer
//!   refuses the rest (the Rust writer's rules, I5/I6), and the exception says which.
//! - `close()` answers what was taken in, then releases the lease, unless the log fenced
//!   this writer (then the lease is not ours to touch).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::{FutureExt, Shared};
use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyMemoryView};
use wormlog::format::NewEvent;
use wormlog::writer::AppendFuture;
use wormlog::{LeaderElector, LogWriter, WriteError, WriterConfig};
use wormlog_fencing::ElectorConfig;

use crate::errors::{from_write, invalid, Fenced};
use crate::lease::{lease_config, LeaseOptions};
use crate::store::Store;
use crate::{block, block_interruptible, seconds};

/// An acknowledged event: it is in the log at `seq`, inside the segment at `slot`.
#[pyclass(frozen, module = "wormlog", eq, get_all)]
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Appended {
    seq: u64,
    id: String,
    slot: u64,
}

impl From<wormlog::Appended> for Appended {
    fn from(a: wormlog::Appended) -> Appended {
        Appended {
            seq: a.seq,
            id: a.id.to_string(),
            slot: a.slot,
        }
    }
}

#[pymethods]
impl Appended {
    fn __repr__(&self) -> String {
        format!(
            "Appended(seq={}, id='{}', slot={})",
            self.seq, self.id, self.slot
        )
    }
}

type SharedAppend = Shared<AppendFuture>;

/// An append taken in by the writer, not yet answered: `result()` waits for it.
#[pyclass(frozen, module = "wormlog")]
pub(crate) struct Pending {
    append: SharedAppend,
    fenced: Arc<AtomicBool>,
}

#[pymethods]
impl Pending {
    /// Waits for the append's segment to commit (at most `timeout` seconds, then
    /// `TimeoutError`) and returns its `Appended`, or raises why it did not.
    #[pyo3(signature = (timeout = None))]
    fn result(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Appended> {
        let timeout = timeout.map(seconds).transpose()?;
        match block_interruptible(py, self.append.clone(), timeout)? {
            Some(r) => answer(r, &self.fenced),
            None => Err(pyo3::exceptions::PyTimeoutError::new_err(
                "the append was not answered in time; it is still in flight (call result() again)",
            )),
        }
    }

    /// True once the append is answered (committed or failed).
    fn done(&self) -> bool {
        self.answer().is_some()
    }

    /// Calls `callback()` (from a wormlog thread) once the append is answered; then
    /// `result()` returns at once. The asyncio twin uses this.
    fn add_done_callback(&self, callback: Py<PyAny>) {
        let append = self.append.clone();
        crate::runtime().spawn(async move {
            let _ = append.await;
            // On a blocking thread: waiting for the GIL must not hold up a runtime worker,
            // which the writer's own task may need meanwhile.
            tokio::task::spawn_blocking(move || {
                Python::attach(|py| {
                    if let Err(e) = callback.call0(py) {
                        e.print(py);
                    }
                })
            });
        });
    }

    fn __repr__(&self) -> String {
        match self.answer() {
            None => "<wormlog.Pending in flight>".into(),
            Some(Ok(a)) => format!("<wormlog.Pending committed seq={}>", a.seq),
            Some(Err(_)) => "<wormlog.Pending failed>".into(),
        }
    }
}

impl Pending {
    /// The answer if there is one yet, without waiting (a clone that was never polled has
    /// its answer waiting in the writer's reply; one poll takes it).
    fn answer(&self) -> Option<Result<wormlog::Appended, WriteError>> {
        self.append.clone().now_or_never()
    }
}

/// The writer and what is needed to shut it down well.
struct Open {
    writer: Arc<LogWriter>,
    elector: Option<LeaderElector>,
}

/// Appends events to one stream under one fencing token. Use it as a context manager.
#[pyclass(frozen, module = "wormlog")]
pub(crate) struct Writer {
    open: Mutex<Option<Open>>,
    /// Appends taken in without waiting and not yet seen answered, oldest first (they are
    /// answered in order, so the answered ones are dropped from the front): `flush()` waits
    /// for every one and raises the first failure.
    unanswered: Mutex<std::collections::VecDeque<SharedAppend>>,
    /// The process that opened it (a forked child cannot use it).
    pid: u32,
    /// Set once an append met a newer epoch: the lease is then not released at close.
    fenced: Arc<AtomicBool>,
    stream: String,
    epoch: u64,
    /// With `checkpoint_key`: what the checkpointer left when the writer closed.
    closed_checkpoints: Mutex<Option<wormlog::writer::CheckpointStatus>>,
}

/// A result for Python, noting a fence.
fn answer(r: Result<wormlog::Appended, WriteError>, fenced: &AtomicBool) -> PyResult<Appended> {
    r.map(Appended::from).map_err(|e| {
        if e.is_fenced() || matches!(e, WriteError::LeadershipLost { .. }) {
            fenced.store(true, Ordering::Relaxed);
        }
        from_write(e)
    })
}

/// What the caller asked for: a JSON value, or the bytes of a raw payload.
enum Data {
    Json(String),
    Raw(Bytes),
}

fn data_of(value: &Bound<'_, PyAny>) -> PyResult<Data> {
    if let Ok(b) = value.cast::<PyBytes>() {
        return Ok(Data::Raw(Bytes::copy_from_slice(b.as_bytes())));
    }
    if let Ok(b) = value.cast::<PyByteArray>() {
        return Ok(Data::Raw(Bytes::from(b.to_vec())));
    }
    if value.is_instance_of::<PyMemoryView>() {
        let b: Vec<u8> = value.call_method0("tobytes")?.extract()?;
        return Ok(Data::Raw(Bytes::from(b)));
    }
    crate::json::to_json(value).map(Data::Json)
}

#[pymethods]
impl Writer {
    /// Opens a writer on `stream`: under `epoch` (a fencing token no lower than the log's
    /// current one, unique to this writer), or under the stream's lease (`lease=`), which it
    /// keeps renewed and releases at close. Raises `Fenced` if a newer epoch holds the log.
    #[new]
    #[pyo3(signature = (store, stream, *, epoch = None, lease = None, writer_id = None, in_flight = None, allow_epoch_jump = false, attach_above = None, one_per_segment = false, lock_mode = None, retain_days = None, legal_hold = false, checkpoint_key = None, checkpoint_segments = None, checkpoint_seconds = None, checkpoint_rotated_from = Vec::new()))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        store: &Store,
        stream: &str,
        epoch: Option<&Bound<'_, PyAny>>,
        lease: Option<PyRef<'_, LeaseOptions>>,
        writer_id: Option<String>,
        in_flight: Option<u32>,
        allow_epoch_jump: bool,
        attach_above: Option<u64>,
        one_per_segment: bool,
        lock_mode: Option<String>,
        retain_days: Option<&Bound<'_, PyAny>>,
        legal_hold: bool,
        checkpoint_key: Option<String>,
        checkpoint_segments: Option<&Bound<'_, PyAny>>,
        checkpoint_seconds: Option<f64>,
        checkpoint_rotated_from: Vec<String>,
    ) -> PyResult<Writer> {
        let lock = crate::lock::policy(lock_mode.as_deref(), crate::lock::days(retain_days)?)?;
        let checkpoint_segments =
            crate::whole(checkpoint_segments, "checkpoint_segments", 1, u64::MAX)?;
        let checkpoints = crate::tlog::policy(
            checkpoint_key.as_deref(),
            checkpoint_segments,
            checkpoint_seconds,
            &checkpoint_rotated_from,
        )?;
        // Once the arguments are checked, before anything is written (a lease included).
        let check_checkpoints = |py: Python<'_>| match &checkpoints {
            Some(policy) => crate::tlog::check_before_writing(py, store, stream, policy),
            None => Ok(()),
        };
        let tune = |cfg: &mut WriterConfig| {
            cfg.checkpoints = checkpoints.clone();
            cfg.lock = lock;
            cfg.legal_hold = legal_hold;
            cfg.root_prefix = store.root_prefix.clone();
            if let Some(n) = in_flight {
                cfg.in_flight = n;
            }
            if allow_epoch_jump {
                cfg.max_epoch_jump = None;
            }
            if let Some(n) = attach_above {
                cfg.attach_above = n;
            }
            cfg.one_per_segment = one_per_segment;
        };
        let (cfg, elector) = match (epoch, lease) {
            (Some(epoch), None) => {
                let epoch = epoch
                    .extract::<u64>()
                    .ok()
                    .filter(|e| *e >= 1)
                    .ok_or_else(|| {
                        invalid(format!(
                            "epoch must be a whole number from 1 to 2**64-1 (got {epoch})"
                        ))
                    })?;
                let id =
                    writer_id.unwrap_or_else(|| wormlog_fencing::default_process_id("wormlog-py"));
                let mut cfg = WriterConfig::new(stream, epoch, id);
                tune(&mut cfg);
                cfg.validate()
                    .map_err(|e| from_write(WriteError::Config(e)))?;
                check_checkpoints(py)?;
                (cfg, None)
            }
            (None, Some(lease)) => {
                if writer_id.is_some() {
                    return Err(invalid(
                        "writer_id and lease cannot be combined: under a lease the writer is the lease's holder (LeaseOptions(holder=...))",
                    ));
                }
                let lease_cfg = lease_config(store, stream, lease.holder.clone(), lease.duration)?;
                // The writer's own settings are checked before the lease is taken: a bad one
                // must not cost an epoch.
                let mut settings = WriterConfig::new(stream, 1, lease_cfg.holder.clone());
                tune(&mut settings);
                settings
                    .validate()
                    .map_err(|e| from_write(WriteError::Config(e)))?;
                check_checkpoints(py)?;
                let elector = {
                    let _entered = crate::runtime().enter();
                    LeaderElector::start(
                        Arc::clone(&store.store),
                        ElectorConfig { lease: lease_cfg },
                    )
                    .map_err(crate::errors::from_lease)?
                };
                let mut watch = elector.watch();
                let leading = async move {
                    loop {
                        if watch.borrow_and_update().is_some() {
                            return true;
                        }
                        if watch.changed().await.is_err() {
                            return false;
                        }
                    }
                };
                let wait = lease.wait.map(seconds).transpose()?;
                let leads = match block_interruptible(py, leading, wait) {
                    Ok(leads) => leads,
                    Err(interrupted) => {
                        block(py, elector.stop());
                        return Err(interrupted);
                    }
                };
                let cfg = match leads {
                    Some(true) => WriterConfig::from_leadership(stream, elector.watch()).ok_or_else(|| {
                        crate::errors::StoreError::new_err(
                            "the lease was lost right after it was acquired; nothing was written; try again",
                        )
                    }),
                    Some(false) => Err(crate::errors::StoreError::new_err(format!(
                        "the lease of stream {stream} could not be taken: its elector stopped before it led; nothing was written; try again"
                    ))),
                    None => Err(Fenced::new_err(format!(
                        "the lease of stream {stream} was not acquired within {} s: another holder is live; nothing was written",
                        lease.wait.unwrap_or_default()
                    ))),
                };
                let mut cfg = match cfg {
                    Ok(cfg) => cfg,
                    Err(refused) => {
                        block(py, elector.stop());
                        return Err(refused);
                    }
                };
                tune(&mut cfg);
                (cfg, Some(elector))
            }
            _ => {
                return Err(invalid(
                    "give exactly one of epoch=N (a fencing token) and lease=LeaseOptions(...)",
                ))
            }
        };
        let epoch = cfg.epoch;
        let opened = block(py, LogWriter::open(Arc::clone(&store.store), cfg));
        let writer = match opened {
            Ok(w) => w,
            Err(e) => {
                if let Some(elector) = elector {
                    // The lease is ours and nothing will use it: hand it back at once.
                    block(py, elector.stop());
                }
                return Err(from_write(e));
            }
        };
        Ok(Writer {
            open: Mutex::new(Some(Open {
                writer: Arc::new(writer),
                elector,
            })),
            unanswered: Mutex::new(std::collections::VecDeque::new()),
            pid: std::process::id(),
            fenced: Arc::new(AtomicBool::new(false)),
            stream: stream.to_owned(),
            epoch,
            closed_checkpoints: Mutex::new(None),
        })
    }

    /// With `checkpoint_key`: what the writer's checkpointer has done (a dict: `written`,
    /// `latest`, `failures`, `error`, `tampered`, `unsigned`, `passed_over`), final once the
    /// writer is closed; `None` without checkpoints.
    #[getter]
    fn checkpoints<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let status = match &*self.open.lock() {
            Some(open) => open.writer.checkpoints(),
            None => self.closed_checkpoints.lock().clone(),
        };
        status.map(|s| crate::tlog::status_dict(py, &s)).transpose()
    }

    /// Appends one event: `data` is a JSON value (dict, list, str, number, bool, None) or
    /// bytes (a raw payload, stored exactly, with `content_type`). Waits for its segment to
    /// commit and returns its `Appended`; with `wait=False`, returns a `Pending` once the
    /// writer has taken it in.
    #[pyo3(signature = (data, r#type = "event", *, content_type = None, wait = true))]
    fn append(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        r#type: &str,
        content_type: Option<&str>,
        wait: bool,
    ) -> PyResult<Py<PyAny>> {
        let writer = self.writer()?;
        let event = event_of(py, &writer, data, r#type, content_type)?;
        if wait {
            let r = block(py, writer.append_event(event));
            return Ok(answer(r, &self.fenced)?
                .into_pyobject(py)?
                .into_any()
                .unbind());
        }
        let taken = block(py, writer.queue(event)).map_err(from_write)?;
        Ok(self.pending(taken).into_pyobject(py)?.into_any().unbind())
    }

    /// `append(data, wait=False)` for JSON data that never waits for room: None when the
    /// writer's budget of unanswered bytes is spent (nothing queued). The asyncio twin uses
    /// it so that an event loop is held up only when the writer is full.
    #[pyo3(signature = (data, r#type = "event"))]
    fn try_append(&self, data: &Bound<'_, PyAny>, r#type: &str) -> PyResult<Option<Pending>> {
        let writer = self.writer()?;
        let json = crate::json::to_json(data)?;
        match writer.try_append(r#type, &json) {
            Ok(taken) => Ok(Some(self.pending(taken))),
            Err(WriteError::Full { .. }) => Ok(None),
            Err(e) => Err(from_write(e)),
        }
    }

    /// Appends the JSON text `text` as written (key order, duplicate keys, number text and
    /// escapes kept; a value that spans lines loses the whitespace between its tokens, one
    /// on one line is kept byte for byte). Waits for it to commit.
    #[pyo3(signature = (text, r#type = "event"))]
    fn append_json(&self, py: Python<'_>, text: &str, r#type: &str) -> PyResult<Appended> {
        let writer = self.writer()?;
        let event = writer.event(r#type, text).map_err(from_write)?;
        answer(block(py, writer.append_event(event)), &self.fenced)
    }

    /// Appends every item of `items` (each as `append` takes it), in order, sharing
    /// segments, and waits for all. On a failure the exception's `appended` attribute lists
    /// the events that did commit (always a prefix of `items`).
    #[pyo3(signature = (items, r#type = "event", *, content_type = None))]
    fn append_many(
        &self,
        py: Python<'_>,
        items: &Bound<'_, PyAny>,
        r#type: &str,
        content_type: Option<&str>,
    ) -> PyResult<Vec<Appended>> {
        let writer = self.writer()?;
        let events = events_of(py, &writer, items, r#type, content_type)?;
        let results = block(py, async {
            let mut taken = Vec::with_capacity(events.len());
            for event in events {
                match writer.queue(event).await {
                    Ok(f) => taken.push(f),
                    Err(e) => {
                        let mut done = in_order(taken).await;
                        done.push(Err(e));
                        return done;
                    }
                }
            }
            in_order(taken).await
        });
        let mut acks = Vec::with_capacity(results.len());
        for r in results {
            match answer(r, &self.fenced) {
                Ok(a) => acks.push(a),
                Err(e) => return Err(with_appended(py, e, acks)),
            }
        }
        Ok(acks)
    }

    /// Appends `items` in one segment only if the log's next seq is `expected_seq`: no other
    /// event came since the caller read the log. Raises `Conflict` otherwise (nothing written).
    #[pyo3(signature = (items, expected_seq, r#type = "event"))]
    fn append_expected(
        &self,
        py: Python<'_>,
        items: &Bound<'_, PyAny>,
        expected_seq: u64,
        r#type: &str,
    ) -> PyResult<Vec<Appended>> {
        let writer = self.writer()?;
        let events = events_of(py, &writer, items, r#type, None)?;
        let r = block(py, writer.append_expected(events, expected_seq));
        match r {
            Ok(acks) => Ok(acks.into_iter().map(Appended::from).collect()),
            Err(e) => Err(answer(Err(e), &self.fenced).expect_err("an error")),
        }
    }

    /// Waits until every append taken in with `wait=False` (or by `try_append`) is
    /// answered; raises the first failure among them.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        let waiting: Vec<SharedAppend> = self.unanswered.lock().drain(..).collect();
        let all = async move {
            let mut first_error = None;
            for append in waiting {
                if let Err(e) = append.await {
                    first_error.get_or_insert(e);
                }
            }
            first_error
        };
        match block_interruptible(py, all, None)?.expect("no timeout") {
            Some(e) => answer(Err(e), &self.fenced).map(|_| ()),
            None => Ok(()),
        }
    }

    /// The writer's counters: appends, segments, bytes, conflicts (412s) and retries.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.writer()?.stats();
        let d = PyDict::new(py);
        d.set_item("appends", s.appends)?;
        d.set_item("segments", s.segments)?;
        d.set_item("bytes", s.bytes)?;
        d.set_item("conflicts", s.conflicts)?;
        d.set_item("retries", s.retries)?;
        Ok(d)
    }

    /// The seq the next event will get, unless another writer's segment intervenes.
    #[getter]
    fn next_seq(&self) -> PyResult<u64> {
        Ok(self.writer()?.position().next_seq)
    }

    /// The fencing token this writer writes with.
    #[getter]
    fn epoch(&self) -> u64 {
        self.epoch
    }

    #[getter]
    fn stream(&self) -> &str {
        &self.stream
    }

    /// Answers everything taken in, then releases the lease (if any, and not fenced).
    /// Idempotent. With checkpoints: a last one is signed first; if it could not be stored,
    /// a `UserWarning` says how many events no checkpoint covers (the events are in the log;
    /// `wormlog.checkpoint` signs them), and a checkpointer stopped by checkpoints that
    /// contradict the log or the key raises `IntegrityError` (after the writer closed).
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let Some(open) = self.open.lock().take() else {
            return Ok(());
        };
        let fenced = self.fenced.load(Ordering::Relaxed);
        let closing = async move {
            let mut writer = open.writer;
            // Another thread may be inside a call with its own handle: it ends once its
            // append is answered, which the writer does without us.
            let writer = loop {
                match Arc::try_unwrap(writer) {
                    Ok(w) => break w,
                    Err(shared) => {
                        writer = shared;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
            };
            let checkpoints = writer.close().await;
            if let Some(elector) = open.elector {
                if fenced {
                    elector.abandon();
                } else {
                    elector.stop().await;
                }
            }
            checkpoints
        };
        // Interruptible: another thread's call in progress may keep the writer shared.
        let Some(status) = block_interruptible(py, closing, None)?.flatten() else {
            return Ok(());
        };
        *self.closed_checkpoints.lock() = Some(status.clone());
        checkpoints_closed(py, &status)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        format!(
            "<wormlog.Writer stream={:?} epoch={}{}>",
            self.stream,
            self.epoch,
            if self.open.lock().is_none() {
                " closed"
            } else {
                ""
            }
        )
    }
}

impl Writer {
    /// The `Pending` of an append the writer took in; `flush()` waits for the latest.
    fn pending(&self, taken: AppendFuture) -> Pending {
        let append = taken.shared();
        let mut unanswered = self.unanswered.lock();
        while unanswered
            .front()
            .is_some_and(|a| a.clone().now_or_never().is_some_and(|r| r.is_ok()))
        {
            unanswered.pop_front();
        }
        unanswered.push_back(append.clone());
        drop(unanswered);
        Pending {
            append,
            fenced: Arc::clone(&self.fenced),
        }
    }

    fn writer(&self) -> PyResult<Arc<LogWriter>> {
        crate::same_process(self.pid, "Writer")?;
        self.open
            .lock()
            .as_ref()
            .map(|o| Arc::clone(&o.writer))
            .ok_or_else(|| {
                invalid(format!(
                    "the writer of stream {} is closed; nothing was appended; open a new Writer",
                    self.stream
                ))
            })
    }
}

/// The event `append` makes of `data`.
fn event_of(
    py: Python<'_>,
    writer: &LogWriter,
    data: &Bound<'_, PyAny>,
    event_type: &str,
    content_type: Option<&str>,
) -> PyResult<NewEvent> {
    match data_of(data)? {
        Data::Json(json) => {
            if content_type.is_some() {
                return Err(invalid(
                    "content_type applies to raw payloads only; pass the data as bytes",
                ));
            }
            writer.event(event_type, &json).map_err(from_write)
        }
        Data::Raw(bytes) => {
            let content_type = content_type.unwrap_or("application/octet-stream");
            block(py, writer.raw_event(event_type, content_type, bytes)).map_err(from_write)
        }
    }
}

/// The events of every item, all made before any is appended (a bad item stores nothing).
fn events_of(
    py: Python<'_>,
    writer: &LogWriter,
    items: &Bound<'_, PyAny>,
    event_type: &str,
    content_type: Option<&str>,
) -> PyResult<Vec<NewEvent>> {
    let mut events = Vec::new();
    for item in items.try_iter()? {
        events.push(event_of(py, writer, &item?, event_type, content_type)?);
    }
    Ok(events)
}

/// `e` with the acknowledgements of the events that did commit, as `e.appended`.
fn with_appended(py: Python<'_>, e: PyErr, acks: Vec<Appended>) -> PyErr {
    let value = e.value(py);
    if let Ok(list) = PyList::new(py, acks) {
        let _ = value.setattr("appended", list);
    }
    e
}

/// What a closed writer's checkpointer left, as the command line reports it: the events are
/// in the log either way, so a last checkpoint that could not be stored is a warning, and a
/// contradiction between the checkpoints and the log an `IntegrityError`.
fn checkpoints_closed(py: Python<'_>, status: &wormlog::writer::CheckpointStatus) -> PyResult<()> {
    match &status.error {
        Some(why) if status.tampered => {
            return Err(crate::errors::IntegrityError::new_err(format!(
                "the events were appended, but the checkpointer stopped: {why}"
            )))
        }
        Some(why) => warn(
            py,
            &format!("the events were appended, but the checkpointer stopped: {why}"),
        )?,
        None => {}
    }
    if status.unsigned > 0 {
        warn(
            py,
            &format!(
                "the events were appended, but the last checkpoint could not be stored ({} of them unsigned); run wormlog.checkpoint",
                status.unsigned
            ),
        )?;
    }
    Ok(())
}

fn warn(py: Python<'_>, message: &str) -> PyResult<()> {
    let category = py.get_type::<pyo3::exceptions::PyUserWarning>();
    let message = std::ffi::CString::new(message).expect("no NUL in a message");
    PyErr::warn(py, &category, &message, 1)
}

/// The answers of `taken`, awaited one after another in append order.
///
/// The writer answers them in that order on its own (an [`AppendFuture`] needs nobody to
/// poll it for the writer to make progress), so each await after the first finds its answer
/// there. `join_all` gave the same answers but, over a few hundred thousand futures, spent
/// about 8% of an `append_many` reordering them through a binary heap (perf, one core).
async fn in_order(taken: Vec<AppendFuture>) -> Vec<<AppendFuture as std::future::Future>::Output> {
    let mut done = Vec::with_capacity(taken.len());
    for f in taken {
        done.push(f.await);
    }
    done
}
