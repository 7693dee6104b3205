//! `Event`: one event as readers see it.

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::json::from_json;

/// One event of the log: its place (seq), identity, and data or raw payload.
#[pyclass(frozen, module = "wormlog")]
pub(crate) struct Event {
    pub(crate) inner: wormlog::Event,
}

#[pymethods]
impl Event {
    /// Its position in the log: 0, 1, 2, ... with no gaps.
    #[getter]
    fn seq(&self) -> u64 {
        self.inner.seq
    }

    /// Its unique id (a UUID, as a string).
    #[getter]
    fn id(&self) -> String {
        self.inner.id.to_string()
    }

    #[getter]
    fn r#type(&self) -> &str {
        &self.inner.event_type
    }

    /// The writer's wall clock when it was appended (RFC 3339).
    #[getter]
    fn time(&self) -> &str {
        &self.inner.time
    }

    /// The fencing token (epoch) it was written under.
    #[getter]
    fn epoch(&self) -> u64 {
        self.inner.meta.fencing_token.epoch
    }

    /// The id of the writer that wrote it.
    #[getter]
    fn writer(&self) -> &str {
        &self.inner.meta.fencing_token.writer
    }

    /// The JSON data as a Python value (`None` for a raw payload; see `data_json`).
    #[getter]
    fn data<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.inner
            .json()
            .map(|text| from_json(py, text))
            .transpose()
    }

    /// The JSON data exactly as stored (token for token), or `None` for a raw payload.
    #[getter]
    fn data_json(&self) -> Option<&str> {
        self.inner.json()
    }

    /// A raw payload's facts (`content_type`, `bytes`, `sha256`, `attachment` key or None),
    /// or `None` for a JSON event. Its bytes: `Reader.content(event)`.
    #[getter]
    fn payload<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(p) = &self.inner.payload else {
            return Ok(None);
        };
        let d = PyDict::new(py);
        d.set_item("content_type", &p.content_type)?;
        d.set_item("bytes", p.bytes)?;
        d.set_item("sha256", &p.sha256)?;
        d.set_item("attachment", p.attachment.as_deref())?;
        Ok(Some(d))
    }

    fn __repr__(&self) -> String {
        format!(
            "<wormlog.Event seq={} type={:?} epoch={} id={}>",
            self.inner.seq,
            self.inner.event_type,
            self.inner.meta.fencing_token.epoch,
            self.inner.id
        )
    }
}
