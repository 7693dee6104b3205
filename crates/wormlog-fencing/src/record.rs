//! The lease object's contents: JSON at `P/lease`.

use serde::{Deserialize, Serialize};

/// `P/lease`: who holds the stream, at which epoch, for how long, and how often renewed.
/// Fields a newer wormlog adds are ignored when read, so a candidate never mistakes a newer
/// holder's record for an unreadable one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRecord {
    /// `None` once released: a successor may take it at once.
    pub holder: Option<String>,
    pub epoch: u64,
    pub duration_ms: u64,
    /// Grows with every renewal, so every renewal is a new ETag.
    pub renew_count: u64,
}

impl LeaseRecord {
    pub fn to_bytes(&self) -> bytes::Bytes {
        bytes::Bytes::from(serde_json::to_vec(self).expect("lease records serialise"))
    }

    pub fn from_bytes(key: &str, bytes: &[u8]) -> Result<LeaseRecord, crate::LeaseError> {
        serde_json::from_slice(bytes).map_err(|e| crate::LeaseError::Corrupt {
            key: key.to_owned(),
            reason: e.to_string(),
        })
    }
}
