//! Tamper evidence from Python: `keygen`, `checkpoint` (a signed checkpoint of the log as it
//! stands), and the keys `verify` audits the Merkle tree with. Keys travel as their text
//! encodings (a signing key `PRIVATE+KEY+NAME+HASH+BASE64`, a verifier `NAME+HASH+BASE64`,
//! as `wormlog keygen` writes them); they are never printed, logged or put in a message.

use std::sync::Arc;

use pyo3::prelude::*;
use wormlog::reader::tlog::{self, TreeAudit};
use wormlog_store::PutOptions;
use wormlog_tlog::{Signer, Verifier};

use crate::block;
use crate::errors::{from_tlog, invalid};
use crate::store::Store;

/// A new key pair named `name` (such as `example.com/invoices`): `(signing_key,
/// verifier_key)` as text. Keep the signing key secret; give auditors the verifier key.
#[pyfunction]
pub(crate) fn keygen(name: &str) -> PyResult<(String, String)> {
    let signer = Signer::generate(name).map_err(|e| invalid(format!("keygen: {e}")))?;
    Ok((signer.encode(), signer.verifier().encode()))
}

/// Signs a checkpoint of `stream` as it stands with `key` (a signing key's text), after
/// storing the tree's tiles: `(tree_size, note)`, or `None` when no event came since the
/// latest checkpoint. `rotated_from`: verifier keys the signing key replaced. The lock
/// settings are the `Writer`'s, for the checkpoint and its tiles.
#[pyfunction]
#[pyo3(signature = (store, stream, key, *, rotated_from = Vec::new(), lock_mode = None, retain_days = None, legal_hold = false))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn checkpoint(
    py: Python<'_>,
    store: &Store,
    stream: &str,
    key: &str,
    rotated_from: Vec<String>,
    lock_mode: Option<String>,
    retain_days: Option<&Bound<'_, PyAny>>,
    legal_hold: bool,
) -> PyResult<Option<(u64, String)>> {
    let lock = crate::lock::policy(lock_mode.as_deref(), crate::lock::days(retain_days)?)?;
    let opts = PutOptions {
        lock: crate::lock::request(lock, legal_hold),
        ..PutOptions::default()
    };
    let signer = signer(key)?;
    let previous = verifiers(&rotated_from)?;
    let written = block(
        py,
        tlog::write_checkpoint_rotated(
            Arc::clone(&store.store),
            &store.root_prefix,
            stream,
            &signer,
            &previous,
            &opts,
        ),
    )
    .map_err(from_tlog)?;
    Ok(written.map(|(cp, note)| (cp.size, note)))
}

/// The tree audit `verify` adds for `keys`: a log the tree cannot be recomputed over (a
/// corrupt or missing segment, which the report names too) is a violation of the tree, not
/// an exception, as on the command line.
pub(crate) fn audit(
    py: Python<'_>,
    store: &Store,
    stream: &str,
    keys: &[String],
    trusted: Option<&str>,
) -> PyResult<TreeAudit> {
    let verifiers = verifiers(keys)?;
    let audit = block(
        py,
        tlog::audit_tree(
            Arc::clone(&store.store),
            &store.root_prefix,
            stream,
            &verifiers,
            trusted,
        ),
    );
    match audit {
        Ok(audit) => Ok(audit),
        Err(e) if e.class() == wormlog_store::ErrorClass::Integrity => Ok(TreeAudit {
            violations: vec![format!("the Merkle tree cannot be recomputed: {e}")],
            ..TreeAudit::default()
        }),
        Err(e) => Err(from_tlog(e)),
    }
}

fn signer(text: &str) -> PyResult<Signer> {
    Signer::parse(text).map_err(|e| {
        invalid(format!(
            "the checkpoint key is not a signing key ({e}); pass the text of the private key from keygen"
        ))
    })
}

fn verifiers(texts: &[String]) -> PyResult<Vec<Verifier>> {
    texts.iter().map(|t| verifier(t)).collect()
}

fn verifier(text: &str) -> PyResult<Verifier> {
    // The text is never echoed: it may be a signing key passed by mistake.
    Verifier::parse(text).map_err(|e| {
        invalid(format!(
            "a key given is not a verifier key ({e}); pass the text of the .pub key from keygen"
        ))
    })
}

/// The checkpoint policy of a `Writer` given `checkpoint_key=`: signed every `segments` of
/// its segments and `secs` seconds after the last (the library's defaults otherwise), and at
/// close. `None` without a key; the other settings without a key are refused.
pub(crate) fn policy(
    key: Option<&str>,
    segments: Option<u64>,
    secs: Option<f64>,
    rotated_from: &[String],
) -> PyResult<Option<wormlog_writer::CheckpointPolicy>> {
    let Some(key) = key else {
        if segments.is_some() || secs.is_some() || !rotated_from.is_empty() {
            return Err(invalid(
                "checkpoint_segments, checkpoint_seconds and checkpoint_rotated_from need checkpoint_key",
            ));
        }
        return Ok(None);
    };
    let mut policy = wormlog_writer::CheckpointPolicy::new(signer(key)?);
    if let Some(n) = segments {
        policy.every_segments = n;
    }
    if let Some(s) = secs {
        // At most a year: the checkpointer adds it to a clock.
        if !(s > 0.0 && s <= 365.0 * 86_400.0) {
            return Err(invalid(format!(
                "checkpoint_seconds must be more than 0 and at most a year (got {s})"
            )));
        }
        policy.every = crate::seconds(s)?;
    }
    policy.previous = verifiers(rotated_from)?;
    Ok(Some(policy))
}

/// Before a writer with `policy` writes anything (before it takes a lease, too): the newest
/// checkpoint must be its key's own or a replaced key's, so that a wrong key stores nothing.
pub(crate) fn check_before_writing(
    py: Python<'_>,
    store: &Store,
    stream: &str,
    policy: &wormlog_writer::CheckpointPolicy,
) -> PyResult<()> {
    let keys =
        wormlog::StreamKeys::new(&store.root_prefix, stream).map_err(|e| invalid(e.to_string()))?;
    block(
        py,
        wormlog_writer::check_before_writing(&*store.store, keys, policy),
    )
    .map_err(from_tlog)
}

/// A writer's checkpoint status as a dict (`written`, `latest`, `failures`, `error`,
/// `tampered`, `unsigned`, `passed_over`).
pub(crate) fn status_dict<'py>(
    py: Python<'py>,
    status: &wormlog_writer::CheckpointStatus,
) -> PyResult<Bound<'py, PyAny>> {
    let json = serde_json::to_string(status).expect("statuses serialise");
    crate::json::from_json(py, &json)
}
