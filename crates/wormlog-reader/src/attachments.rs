//! `verify`'s audit of attachments: every attachment a valid event refers to exists, with the
//! size and SHA-256 the event records (the store's kept checksum where it stands for the bytes,
//! AWS S3 itself; else by reading them), and with `--require-lock` a lock no weaker than its
//! segment's.
//!
//! ```text
//!  each referenced attachment ─► HEAD ─┬─ missing ─────────────► attachment-missing {seq}
//!                                      ├─ other size / SHA-256 ─► attachment-changed {seq}
//!                                      └─ weaker lock ──────────► attachment-unlocked {seq}
//!  LIST P/attachments/ ─┬─ referenced ─────────────────► checked above
//!                       ├─ not referenced, not purged ─► unreferenced (reported, not a
//!                       │                                violation: an upload whose
//!                       │                                segment never committed)
//!                       └─ not referenced, purged ─────► purged-attachment-present
//! ```

use std::collections::{BTreeMap, BTreeSet};

use sha2::Digest;
use wormlog_format::{Payload, StreamKeys};
use wormlog_store::{ObjectStore, StoreError};

use crate::documents::check_read;
use crate::fetch::{head_with_retries, list_all_with_retries};
use crate::verify::{Finding, SegmentLock, VerifyReport};
use crate::ReadError;

/// An attachment a valid event refers to, with where.
#[derive(Clone, Debug)]
pub(crate) struct Reference {
    pub seq: u64,
    pub slot: u64,
    pub payload: Payload,
}

/// Checks every referenced attachment, and lists the ones nothing refers to.
pub(crate) async fn audit(
    store: &dyn ObjectStore,
    keys: &StreamKeys,
    refs: &[Reference],
    purged: &BTreeSet<String>,
    require_lock: bool,
    report: &mut VerifyReport,
) -> Result<(), ReadError> {
    let locks: BTreeMap<u64, SegmentLock> =
        report.locks.iter().map(|l| (l.slot, l.clone())).collect();
    let mut checked: BTreeSet<String> = BTreeSet::new();
    for r in refs {
        let name = r.payload.attachment.clone().unwrap_or_default();
        if !checked.insert(name.clone()) {
            continue;
        }
        report.attachments += 1;
        let key = keys.attachment(&name);
        let meta = match head_with_retries(store, &key).await {
            Ok(m) => m,
            Err(StoreError::NotFound { .. }) => {
                report
                    .findings
                    .push(Finding::AttachmentMissing { seq: r.seq, key });
                continue;
            }
            Err(e) => return Err(ReadError::Store(e)),
        };
        if let Err(why) = content_matches(store, &key, &meta, r).await? {
            report.findings.push(Finding::AttachmentChanged {
                seq: r.seq,
                key: key.clone(),
                error: why,
            });
        }
        if require_lock {
            if let Some(why) = weaker_lock(&meta.lock, locks.get(&r.slot)) {
                report.findings.push(Finding::AttachmentUnlocked {
                    seq: r.seq,
                    key,
                    error: why,
                });
            }
        }
    }
    let listed = list_all_with_retries(store, &keys.attachments_prefix(), None)
        .await
        .map_err(ReadError::Store)?;
    for e in listed {
        let name = e
            .key
            .strip_prefix(keys.prefix())
            .unwrap_or(&e.key)
            .to_owned();
        if checked.contains(&name) {
            // A valid event refers to it: checked above, even if a purge once deleted it
            // (the same document appended again afterwards is stored again, at the same key).
            continue;
        }
        if purged.contains(&name) {
            report
                .findings
                .push(Finding::PurgedAttachmentPresent { key: e.key });
        } else {
            report.unreferenced_attachments.push(e.key);
        }
    }
    Ok(())
}

/// The attachment's size and SHA-256 against the event: from the checksum the store kept,
/// where it stands for the bytes (`ObjectStore::kept_sha256_stands_for_the_bytes`: AWS),
/// else by reading the whole object (in ranges).
async fn content_matches(
    store: &dyn ObjectStore,
    key: &str,
    meta: &wormlog_store::ObjectMeta,
    r: &Reference,
) -> Result<Result<(), String>, ReadError> {
    let p = &r.payload;
    if meta.size != p.bytes {
        return Ok(Err(format!(
            "it has {} bytes, the event records {}",
            meta.size, p.bytes
        )));
    }
    if let Some(kept) = meta
        .sha256
        .as_ref()
        .filter(|_| store.kept_sha256_stands_for_the_bytes())
    {
        return Ok(match *kept == p.sha256 {
            true => Ok(()),
            false => Err("the SHA-256 the store kept is not the one the event records".into()),
        });
    }
    let mut hash = sha2::Sha256::new();
    let mut offset = 0u64;
    while offset < meta.size {
        let got = store
            .get_range(key, offset, 8 << 20)
            .await
            .map_err(ReadError::Store)?;
        if got.is_empty() {
            break;
        }
        hash.update(&got);
        offset += got.len() as u64;
    }
    // The finding names the seq and the key; of the reader's error, only what differs.
    Ok(
        check_read(r.seq, p, offset, hash.finalize().into()).map_err(|e| match e {
            ReadError::PayloadMismatch { what, .. } => what,
            other => other.to_string(),
        }),
    )
}

/// Why an attachment's lock is weaker than its segment's (`None` when it is not): a mode,
/// a retain-until more than a minute earlier, or no legal hold where the segment has one.
fn weaker_lock(lock: &wormlog_store::LockState, segment: Option<&SegmentLock>) -> Option<String> {
    let segment = segment?;
    let ours = lock.retention;
    match (segment.mode, ours) {
        (Some(_), None) => return Some("it has no Object Lock retention".into()),
        (Some(mode), Some(r)) if r.mode != mode => {
            return Some(format!(
                "it is retained in {} mode, its segment in {mode}",
                r.mode
            ))
        }
        _ => {}
    }
    let seg_until = segment
        .retain_until
        .as_deref()
        .and_then(wormlog_store::Timestamp::parse_rfc3339);
    if let (Some(until), Some(r)) = (seg_until, ours) {
        if r.retain_until.plus(std::time::Duration::from_secs(60)) < until {
            return Some(format!(
                "it is retained until {}, before its segment ({})",
                r.retain_until.to_rfc3339(),
                until.to_rfc3339()
            ));
        }
    }
    if segment.legal_hold && !lock.legal_hold {
        return Some("its segment is under a legal hold and it is not".into());
    }
    None
}
