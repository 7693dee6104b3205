//! [`SegmentSummary`]: the facts of a segment header that the writer's 412 resolution needs,
//! carried both in the header and as object metadata (`x-amz-meta-wormlog-*`).

use std::collections::BTreeMap;

use uuid::Uuid;

use crate::{SegmentHeader, SegmentKind};

const WRITE_ID: &str = "wormlog-write-id";
const EPOCH: &str = "wormlog-epoch";
const WRITER: &str = "wormlog-writer";
const FIRST_SEQ: &str = "wormlog-first-seq";
const COUNT: &str = "wormlog-count";
const KIND: &str = "wormlog-kind";

/// Who wrote a segment and what it covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentSummary {
    pub kind: SegmentKind,
    pub epoch: u64,
    pub writer: String,
    pub write_id: Uuid,
    pub first_seq: u64,
    pub count: u64,
}

impl SegmentSummary {
    pub fn of(header: &SegmentHeader) -> SegmentSummary {
        SegmentSummary {
            kind: header.kind,
            epoch: header.epoch,
            writer: header.writer.clone(),
            write_id: header.write_id,
            first_seq: header.first_seq,
            count: header.count,
        }
    }

    /// The object metadata sent with the segment.
    pub fn to_metadata(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (WRITE_ID.to_owned(), self.write_id.to_string()),
            (EPOCH.to_owned(), self.epoch.to_string()),
            (WRITER.to_owned(), self.writer.clone()),
            (FIRST_SEQ.to_owned(), self.first_seq.to_string()),
            (COUNT.to_owned(), self.count.to_string()),
            (KIND.to_owned(), self.kind.as_str().to_owned()),
        ])
    }

    /// Reads the summary back from object metadata; `None` when any field is missing or
    /// malformed (a store that drops metadata): then read the header with a GET instead.
    /// Metadata whose seqs overflow (`first_seq + count`) is malformed too.
    pub fn from_metadata(meta: &BTreeMap<String, String>) -> Option<SegmentSummary> {
        let s = SegmentSummary {
            kind: SegmentKind::parse(meta.get(KIND)?)?,
            epoch: meta.get(EPOCH)?.parse().ok()?,
            writer: meta.get(WRITER)?.clone(),
            write_id: meta.get(WRITE_ID)?.parse().ok()?,
            first_seq: meta.get(FIRST_SEQ)?.parse().ok()?,
            count: meta.get(COUNT)?.parse().ok()?,
        };
        s.first_seq.checked_add(s.count)?;
        Some(s)
    }

    /// The seq after this segment's events. Never overflows for a summary from a decoded
    /// header or from metadata, which both refuse seqs that would.
    pub fn next_seq(&self) -> u64 {
        self.first_seq.saturating_add(self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trips_and_missing_fields_give_none() {
        let s = SegmentSummary {
            kind: SegmentKind::EpochStart,
            epoch: 4,
            writer: "w".into(),
            write_id: Uuid::from_u128(9),
            first_seq: 100,
            count: 0,
        };
        let mut m = s.to_metadata();
        assert_eq!(SegmentSummary::from_metadata(&m), Some(s));
        m.remove(EPOCH);
        assert_eq!(SegmentSummary::from_metadata(&m), None);
    }
}
