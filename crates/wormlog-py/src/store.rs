//! `open_store(url)` and the `Store` it returns; `Store.with_faults()` wraps a store in the
//! Rust fault store, for tests of lost responses and failed requests.

use std::sync::Arc;

use pyo3::prelude::*;
use wormlog::store::{Fault, FaultPoint, FaultStore, Op};
use wormlog::ObjectStore;

use crate::errors::{from_url, invalid};

/// A store and the key prefix its streams live under.
#[pyclass(frozen, module = "wormlog")]
pub(crate) struct Store {
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) root_prefix: String,
    /// Set for a store made by `with_faults`.
    faults: Option<FaultStore>,
}

impl Store {
    pub(crate) fn new(store: Arc<dyn ObjectStore>, root_prefix: String) -> Store {
        Store {
            store,
            root_prefix,
            faults: None,
        }
    }

    /// Plans `times` transient failures (503) of `op` on matching keys, at `point`.
    fn inject(
        &self,
        op: &str,
        key_contains: &str,
        times: usize,
        point: FaultPoint,
    ) -> PyResult<()> {
        let op = op_named(op)?;
        let error = Fault::unavailable(op, key_contains);
        self.faults()?.inject(Fault {
            point,
            ..Fault::before(op, key_contains, error, times)
        });
        Ok(())
    }

    fn faults(&self) -> PyResult<&FaultStore> {
        self.faults.as_ref().ok_or_else(|| {
            invalid("this store injects no faults; make one with store.with_faults()")
        })
    }
}

/// Opens the store named by `url`: a directory path or `file:///abs/path`, `mem://`, or
/// `s3://bucket/prefix?endpoint=...&region=...&path_style=true` (credentials from the AWS
/// chain). No request is sent until the store is used.
#[pyfunction]
pub(crate) fn open_store(py: Python<'_>, url: &str) -> PyResult<Store> {
    let opened = crate::block(py, wormlog::open_store(url)).map_err(from_url)?;
    Ok(Store::new(opened.store, opened.root_prefix))
}

fn op_named(op: &str) -> PyResult<Op> {
    Ok(match op {
        "put" | "put_if_absent" => Op::PutIfAbsent,
        "put_if_match" => Op::PutIfMatch,
        "get" => Op::Get,
        "head" => Op::Head,
        "list" => Op::List,
        "delete" => Op::Delete,
        other => {
            return Err(invalid(format!(
            "unknown store operation {other:?}; use put, put_if_match, get, head, list or delete"
        )))
        }
    })
}

#[pymethods]
impl Store {
    fn __repr__(&self) -> String {
        format!("<wormlog.Store {}>", self.store.describe())
    }

    /// The store's name, as in messages (`file:///...`, `mem://...`, `s3://...`).
    #[getter]
    fn url(&self) -> String {
        self.store.describe()
    }

    /// For tests: this store behind the Rust fault store, which fails chosen requests.
    /// Streams written through either are the same.
    fn with_faults(&self) -> Store {
        let faults = FaultStore::new(Arc::clone(&self.store));
        Store {
            store: Arc::new(faults.clone()),
            root_prefix: self.root_prefix.clone(),
            faults: Some(faults),
        }
    }

    /// For tests: the next `times` requests of `op` on keys containing `key_contains` reach
    /// the store and take effect, but the caller gets a transient error (a lost response).
    #[pyo3(signature = (op, key_contains = "", times = 1))]
    fn lose_responses(&self, op: &str, key_contains: &str, times: usize) -> PyResult<()> {
        self.inject(op, key_contains, times, FaultPoint::AfterCommit)
    }

    /// For tests: the next `times` requests of `op` on keys containing `key_contains` fail
    /// before they reach the store.
    #[pyo3(signature = (op, key_contains = "", times = 1))]
    fn fail_requests(&self, op: &str, key_contains: &str, times: usize) -> PyResult<()> {
        self.inject(op, key_contains, times, FaultPoint::Before)
    }

    /// For tests: how many requests of `op` on keys containing `key_contains` were sent.
    #[pyo3(signature = (op, key_contains = ""))]
    fn requests(&self, op: &str, key_contains: &str) -> PyResult<usize> {
        let op = op_named(op)?;
        Ok(self
            .faults()?
            .journal()
            .iter()
            .filter(|r| r.op == op && r.key.contains(key_contains))
            .count())
    }
}
