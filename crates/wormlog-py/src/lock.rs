//! Object Lock settings from Python: `lock_mode="compliance"|"governance"` with
//! `retain_days=N` (retention for every object written, from the moment of its put), and
//! `legal_hold=True`, as the command line's `--lock-mode`, `--retain-days`, `--legal-hold`.
//! Neither given leaves the bucket's default retention in force.

use pyo3::prelude::*;
use wormlog::store::{Clock, LockRequest, RetentionMode, SystemClock};
use wormlog_writer::{LockPolicy, MAX_RETAIN_DAYS};

use crate::errors::invalid;

/// The retention asked for; `None` when neither setting is given.
pub(crate) fn policy(mode: Option<&str>, retain_days: Option<u32>) -> PyResult<Option<LockPolicy>> {
    let mode = match mode.map(str::to_ascii_lowercase).as_deref() {
        None => None,
        Some("compliance") => Some(RetentionMode::Compliance),
        Some("governance") => Some(RetentionMode::Governance),
        Some(other) => {
            return Err(invalid(format!(
            "lock_mode {other:?} is not an Object Lock mode; use \"compliance\" or \"governance\""
        )))
        }
    };
    match (mode, retain_days) {
        (None, None) => Ok(None),
        (Some(mode), Some(days)) => Ok(Some(LockPolicy::days(mode, days))),
        _ => Err(invalid(
            "lock_mode and retain_days go together: give both, or neither for the bucket's default retention",
        )),
    }
}

/// `retain_days` as a whole number of days in range.
pub(crate) fn days(value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<u32>> {
    let days = crate::whole(value, "retain_days", 1, u64::from(MAX_RETAIN_DAYS))?;
    Ok(days.map(|d| d as u32))
}

/// The lock of one object put now under `policy` and `legal_hold`.
pub(crate) fn request(policy: Option<LockPolicy>, legal_hold: bool) -> LockRequest {
    LockPolicy::request(policy, legal_hold, SystemClock::new().now())
}
