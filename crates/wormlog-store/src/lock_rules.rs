//! Object Lock rules, decided once for every local store (memory and filesystem) the way S3
//! decides them, so the conformance suite holds the local stores to S3's behaviour.
//!
//! | request | refused when |
//! |---|---|
//! | delete | legal hold on; COMPLIANCE retention in force; GOVERNANCE in force without bypass |
//! | overwrite (compare-and-swap) | never for the lock: a protected object is kept as a noncurrent version, as on a versioned S3 bucket ([`keeps_old_version`]) |
//! | change retention | it would shorten COMPLIANCE or turn it into GOVERNANCE; shorten GOVERNANCE without bypass |

use crate::{LockState, Retention, RetentionMode, StoreError, StoreResult, Timestamp};

fn locked(key: &str, reason: String) -> StoreError {
    StoreError::ObjectLocked {
        key: key.to_owned(),
        reason,
    }
}

/// May `key` be deleted now?
pub(crate) fn check_delete(
    key: &str,
    lock: &LockState,
    now: Timestamp,
    bypass_governance: bool,
) -> StoreResult<()> {
    if lock.legal_hold {
        return Err(locked(key, "a legal hold is on; clear it first".into()));
    }
    match lock.retention {
        Some(r) if r.retain_until > now => match r.mode {
            RetentionMode::Compliance => Err(locked(
                key,
                format!(
                    "COMPLIANCE retention until {} cannot be bypassed",
                    r.retain_until
                ),
            )),
            RetentionMode::Governance if bypass_governance => Ok(()),
            RetentionMode::Governance => Err(locked(
                key,
                format!(
                    "GOVERNANCE retention until {}; deleting needs the governance bypass",
                    r.retain_until
                ),
            )),
        },
        _ => Ok(()),
    }
}

/// Must the object being replaced stay, as a noncurrent version? On S3 an Object Lock bucket
/// is versioned, so an overwrite (the lease's compare-and-swap) always succeeds and the old
/// version stays until its retention ends; the local stores do the same, and drop a
/// noncurrent version once it is no longer protected (what the lifecycle rule of
/// `wormlog policy --lifecycle` does on S3).
pub(crate) fn keeps_old_version(lock: &LockState, now: Timestamp) -> bool {
    lock.is_protected(now)
}

/// May the retention of `key` become `new`? Also used by stores in front of servers that do
/// not enforce this themselves (moto 5.2.5 lets COMPLIANCE retention be shortened).
pub fn check_retention_change(
    key: &str,
    lock: &LockState,
    new: &Retention,
    now: Timestamp,
    bypass_governance: bool,
) -> StoreResult<()> {
    let Some(cur) = lock.retention.filter(|r| r.retain_until > now) else {
        return Ok(());
    };
    let shortens = new.retain_until < cur.retain_until;
    match (cur.mode, new.mode) {
        (RetentionMode::Compliance, RetentionMode::Governance) => Err(locked(
            key,
            "COMPLIANCE retention cannot be turned into GOVERNANCE".into(),
        )),
        (RetentionMode::Compliance, RetentionMode::Compliance) if shortens => Err(locked(
            key,
            format!(
                "COMPLIANCE retention until {} can be extended, never shortened",
                cur.retain_until
            ),
        )),
        (RetentionMode::Governance, _) if shortens && !bypass_governance => Err(locked(
            key,
            format!(
                "shortening GOVERNANCE retention until {} needs the governance bypass",
                cur.retain_until
            ),
        )),
        _ => Ok(()),
    }
}

/// The lock an object gets when it is created: what the put asked for, else the bucket default.
pub(crate) fn initial_lock(
    req: &crate::LockRequest,
    default: Option<crate::DefaultRetention>,
    now: Timestamp,
) -> LockState {
    LockState {
        retention: req.retention.or_else(|| default.map(|d| d.from_now(now))),
        legal_hold: req.legal_hold,
    }
}
