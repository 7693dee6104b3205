//! Getting documents back: one event by seq or by id, and its exact bytes.
//!
//! ```text
//!  by seq ─► seek (HEADs below it) ─► its segment ─┐
//!  by id  ─► scan the log (ids are not indexed) ───┴─► the event
//!        └─► JSON data as stored | inline payload (base64) | attachment, read in 8 MiB
//!            ranges; size and SHA-256 checked against the event before it counts as read
//! ```

use std::io::Write;

use sha2::Digest;
use uuid::Uuid;
use wormlog_format::{Event, Payload};
use wormlog_store::StoreError;

use crate::{LogReader, ReadError, ScanItem};

/// Which event to fetch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKey {
    Seq(u64),
    Id(Uuid),
}

/// An attachment is read in ranges of this size, so memory stays bounded.
const RANGE: u64 = 8 << 20;

impl LogReader {
    /// The event with this seq or id (and the slot of its segment), as every reader sees it;
    /// `None` if the log has no such event.
    pub async fn find(&self, key: EventKey) -> Result<Option<(Event, u64)>, ReadError> {
        let from = match key {
            EventKey::Seq(seq) => seq,
            EventKey::Id(_) => 0,
        };
        let mut scan = self.scan(from).await?;
        while let Some(item) = scan.next().await? {
            let ScanItem::Event(e) = item else { continue };
            let hit = match key {
                EventKey::Seq(seq) if e.seq > seq => return Ok(None),
                EventKey::Seq(seq) => e.seq == seq,
                EventKey::Id(id) => e.id == id,
            };
            if hit {
                return Ok(Some((e, scan.current_slot())));
            }
        }
        Ok(None)
    }

    /// Writes the event's content to `out`: the JSON data of a JSON event, or the exact bytes
    /// of a raw one (its attachment read in ranges), checked against the size and SHA-256 the
    /// event records. Returns how many bytes were written. On a mismatch the bytes written so
    /// far must not be trusted: [`ReadError::PayloadMismatch`].
    pub async fn copy_content(&self, event: &Event, out: &mut dyn Write) -> Result<u64, ReadError> {
        let write_failed = |e: std::io::Error| ReadError::Output(e.to_string());
        if let Some(json) = event.json() {
            out.write_all(json.as_bytes()).map_err(write_failed)?;
            return Ok(json.len() as u64);
        }
        let p = event
            .payload
            .as_ref()
            .expect("an event holds data or a payload");
        if let Some(bytes) = p.inline_bytes() {
            // The decoder checked an inline payload's size and hash already.
            out.write_all(&bytes).map_err(write_failed)?;
            return Ok(bytes.len() as u64);
        }
        let key = self
            .keys
            .attachment(p.attachment.as_deref().unwrap_or_default());
        let mut hash = sha2::Sha256::new();
        let mut offset = 0u64;
        loop {
            let got = match self.store.get_range(&key, offset, RANGE).await {
                Ok(g) => g,
                Err(StoreError::NotFound { .. }) => {
                    return Err(ReadError::AttachmentMissing {
                        seq: event.seq,
                        key,
                    })
                }
                Err(e) => return Err(ReadError::Store(e)),
            };
            if got.is_empty() {
                break;
            }
            hash.update(&got);
            out.write_all(&got).map_err(write_failed)?;
            offset += got.len() as u64;
            if offset > p.bytes {
                break;
            }
        }
        check_read(event.seq, p, offset, hash.finalize().into())?;
        Ok(offset)
    }
}

/// What was read against what the event records.
pub(crate) fn check_read(
    seq: u64,
    p: &Payload,
    bytes: u64,
    sha256: [u8; 32],
) -> Result<(), ReadError> {
    if bytes != p.bytes {
        return Err(ReadError::PayloadMismatch {
            seq,
            what: format!("it has {bytes} bytes, the event records {}", p.bytes),
        });
    }
    if wormlog_format::hex_of(&sha256) != p.sha256 {
        return Err(ReadError::PayloadMismatch {
            seq,
            what: "its SHA-256 is not the one the event records".into(),
        });
    }
    Ok(())
}
