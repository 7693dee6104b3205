//! The body of a `purge` control record: who deleted which segments, and why.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::SegmentHeader;

/// What a purge record says: who deleted which segments, and why. Each purged segment's
/// header facts are kept, so readers can account for its seqs and epoch without it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurgeRecord {
    /// The person or system that ran the purge.
    pub operator: String,
    pub reason: String,
    /// In slot order, each below the record's own slot.
    pub purged: Vec<PurgedSlot>,
    /// Version 2: the attachments deleted with the purged events (`attachments/<sha256>`
    /// keys under the stream): those no event outside the purge refers to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<String>,
}

/// One purged segment, as its header described it before the deletion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurgedSlot {
    pub slot: u64,
    pub first_seq: u64,
    pub count: u64,
    pub epoch: u64,
    pub writer: String,
    pub write_id: Uuid,
    /// Version 2: the leaf hash of each purged event in seq order (SHA-256 of `0x00` and
    /// its line as stored, hex; RFC 9162), so a Merkle tree over the log's events stays
    /// computable, and a purge visible, after the events are gone. Empty when not recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub leaf_hashes: Vec<String>,
    /// Version 3: the `prev` the purged segment named, when it was a version 3 segment
    /// (`null` for one naming none), so readers judge it exactly as they judged the segment:
    /// a purged orphan stays an orphan. Absent for older segments, whose `prev` never bound.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub prev: Option<Option<Uuid>>,
}

/// A field that is present, even as `null`: `Some(None)`, where a missing one is `None`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<Uuid>>, D::Error> {
    Option::<Uuid>::deserialize(d).map(Some)
}

impl PurgedSlot {
    /// The header facts only (no leaf hashes).
    pub fn of(header: &SegmentHeader) -> PurgedSlot {
        PurgedSlot {
            slot: header.slot,
            first_seq: header.first_seq,
            count: header.count,
            epoch: header.epoch,
            writer: header.writer.clone(),
            write_id: header.write_id,
            leaf_hashes: Vec::new(),
            prev: (header.wormlog >= 3).then_some(header.prev),
        }
    }

    /// The header facts and the leaf hash of every event of the segment `bytes` (checked as
    /// [`crate::decode_segment`] checks it).
    pub fn of_segment(bytes: &[u8]) -> Result<PurgedSlot, crate::FormatError> {
        let segment = crate::decode_segment(bytes)?;
        let mut purged = PurgedSlot::of(&segment.header);
        purged.leaf_hashes = crate::event_lines(bytes)?
            .into_iter()
            .map(|line| crate::hex_of(&crate::leaf_hash(line)))
            .collect();
        Ok(purged)
    }
}

impl PurgeRecord {
    /// Checks the record against the slot it is stored at: at least one purged slot, in
    /// increasing order, all below `record_slot`; an operator and a reason; attachment keys
    /// of the form `attachments/<sha256>`.
    pub fn check(&self, record_slot: u64) -> Result<(), String> {
        if self.purged.is_empty() {
            return Err("it names no purged slot".into());
        }
        crate::validate_id("its operator", &self.operator)?;
        if self.reason.trim().is_empty() {
            return Err("it gives no reason".into());
        }
        if self
            .purged
            .iter()
            .any(|p| p.first_seq.checked_add(p.count).is_none())
        {
            return Err("a purged slot's first_seq plus count overflows".into());
        }
        let slots: Vec<u64> = self.purged.iter().map(|p| p.slot).collect();
        if slots.windows(2).any(|w| w[0] >= w[1]) {
            return Err("its purged slots are not in increasing order".into());
        }
        if slots.last().is_some_and(|&s| s >= record_slot) {
            return Err(format!(
                "it names slot {}, which is not below its own slot {record_slot}",
                slots[slots.len() - 1]
            ));
        }
        if let Some(p) = self.purged.iter().find(|p| {
            !p.leaf_hashes.is_empty()
                && (p.leaf_hashes.len() as u64 != p.count
                    || !p.leaf_hashes.iter().all(|h| crate::event::is_sha256_hex(h)))
        }) {
            return Err(format!(
                "the leaf hashes of purged slot {} are not one SHA-256 per event",
                p.slot
            ));
        }
        let bad_key = |k: &String| {
            k.strip_prefix("attachments/")
                .is_none_or(|h| !crate::event::is_sha256_hex(h))
        };
        if let Some(k) = self.attachments.iter().find(|k| bad_key(k)) {
            return Err(format!("{k:?} is not an attachment key"));
        }
        Ok(())
    }
}
