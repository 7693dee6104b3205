//! Documented purges: how readers pass slots an operator deleted under a GOVERNANCE bypass.
//!
//! A purge first commits a `purge` control record at the log's tail, naming each deleted
//! slot with its header facts, then writes the index key `P/purges/<record slot>`, and only
//! then deletes the segments. The deleted slots lie *below* the record, so a reader meets
//! the gap before the record that explains it; the index lets it learn of every purge with
//! one LIST:
//!
//! ```text
//!  gap at slots a..=b ─► LIST P/purges/ ─► GET each named record from the log (CRC-checked)
//!                          │
//!        every slot of a..=b named by a valid record ──► Purged{slot} items, seqs accounted
//!        any slot not named ───────────────────────────► Err(Gap): deletion or tampering
//! ```
//!
//! The index is only a pointer: a slot counts as purged only when a purge record stored in
//! the log itself (create-only, under the writer's Object Lock) names it. Forging an index
//! key without such a record documents nothing.

use std::collections::BTreeMap;

use wormlog_format::{decode_segment, PurgedSlot, StreamKeys};
use wormlog_store::{ObjectStore, StoreError};

use crate::fetch::{get_with_retries, list_all_with_retries};
use crate::ReadError;

/// A deleted slot, and the purge record that documents it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentedPurge {
    /// The slot of the purge record that names this slot.
    pub record_slot: u64,
    pub operator: String,
    pub reason: String,
    /// The deleted segment's header facts, as the record keeps them.
    pub purged: PurgedSlot,
}

/// Every purge the index points to, by purged slot. Index entries whose record is missing
/// or is not a valid purge record of this stream come back in `invalid`, with why.
#[derive(Clone, Debug, Default)]
pub struct PurgeIndex {
    pub by_slot: BTreeMap<u64, DocumentedPurge>,
    /// Attachments (`attachments/<sha256>`) the records say were deleted with their events.
    pub attachments: std::collections::BTreeSet<String>,
    pub invalid: Vec<(u64, String)>,
}

impl PurgeIndex {
    /// Lists `P/purges/` and reads each record it points to.
    pub async fn load(store: &dyn ObjectStore, keys: &StreamKeys) -> Result<PurgeIndex, ReadError> {
        let listed = list_all_with_retries(store, &keys.purges_prefix(), None)
            .await
            .map_err(ReadError::Store)?;
        let mut index = PurgeIndex::default();
        for record_slot in listed.iter().filter_map(|e| keys.parse_purge_index(&e.key)) {
            match read_record(store, keys, record_slot).await? {
                Ok((found, attachments)) => {
                    for d in found {
                        index.by_slot.entry(d.purged.slot).or_insert(d);
                    }
                    index.attachments.extend(attachments);
                }
                Err(why) => index.invalid.push((record_slot, why)),
            }
        }
        Ok(index)
    }

    /// True when every slot of `first..=last` is documented.
    pub fn covers(&self, first: u64, last: u64) -> bool {
        (first..=last).all(|s| self.by_slot.contains_key(&s))
    }
}

/// The purges the record at `record_slot` documents, or why it documents none.
async fn read_record(
    store: &dyn ObjectStore,
    keys: &StreamKeys,
    record_slot: u64,
) -> Result<Result<(Vec<DocumentedPurge>, Vec<String>), String>, ReadError> {
    let got = match get_with_retries(store, &keys.segment(record_slot)).await {
        Ok(g) => g,
        Err(StoreError::NotFound { .. }) => {
            return Ok(Err(format!(
                "the index names slot {record_slot}, which is missing"
            )))
        }
        Err(e) => return Err(ReadError::Store(e)),
    };
    let segment = match decode_segment(&got.body) {
        Ok(s) => s,
        Err(e) => return Ok(Err(format!("slot {record_slot} does not decode: {e}"))),
    };
    let h = &segment.header;
    let record = match segment.purge {
        // The decoder gives a record only for a `purge` segment.
        Some(r) if h.slot == record_slot && h.stream == keys.stream() => r,
        _ => {
            return Ok(Err(format!(
                "slot {record_slot} is not a purge record of stream {}",
                keys.stream()
            )))
        }
    };
    let purged = record
        .purged
        .iter()
        .map(|p| DocumentedPurge {
            record_slot,
            operator: record.operator.clone(),
            reason: record.reason.clone(),
            purged: p.clone(),
        })
        .collect();
    Ok(Ok((purged, record.attachments.clone())))
}
