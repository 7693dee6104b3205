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
// From version 3 on, where `prev` binds (absent from older segments' metadata).
const VERSION: &str = "wormlog-version";
const PREV: &str = "wormlog-prev";
const WINDOW: &str = "wormlog-window";
/// `wormlog-prev` of a segment with no valid segment below it.
const NO_PREV: &str = "none";

/// What a segment says lies just below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prev {
    /// Versions 1 and 2: their `prev`, if any, was informational; validity is by epoch and
    /// seq alone.
    Unbound,
    /// Version 3: the write id of the valid segment just below (`None`: there is none, as at
    /// slot 0). An events or purge segment is valid only if it names exactly that one.
    Bound(Option<Uuid>),
}

/// Who wrote a segment and what it covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentSummary {
    pub kind: SegmentKind,
    pub epoch: u64,
    pub writer: String,
    pub write_id: Uuid,
    pub first_seq: u64,
    pub count: u64,
    /// The predecessor it names, and whether that binds.
    pub prev: Prev,
    /// Version 3: the header's `window`, the writer's window of unsettled slots, or for a
    /// void how far into its round of claims it lies. 1 for older versions, whose metadata
    /// does not carry it (a version 2 void's is in its header only).
    pub window: u32,
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
            prev: match header.wormlog {
                1 | 2 => Prev::Unbound,
                _ => Prev::Bound(header.prev),
            },
            window: match header.wormlog {
                1 | 2 => 1,
                _ => header.window.unwrap_or(1).max(1),
            },
        }
    }

    /// The object metadata sent with the segment.
    /// Version 3 adds its version, `prev` and `window`; an older segment's summary gives the
    /// metadata its writer sent.
    pub fn to_metadata(&self) -> BTreeMap<String, String> {
        let mut meta = BTreeMap::from([
            (WRITE_ID.to_owned(), self.write_id.to_string()),
            (EPOCH.to_owned(), self.epoch.to_string()),
            (WRITER.to_owned(), self.writer.clone()),
            (FIRST_SEQ.to_owned(), self.first_seq.to_string()),
            (COUNT.to_owned(), self.count.to_string()),
            (KIND.to_owned(), self.kind.as_str().to_owned()),
        ]);
        if let Prev::Bound(prev) = self.prev {
            meta.insert(VERSION.to_owned(), "3".to_owned());
            let prev = prev.map_or(NO_PREV.to_owned(), |p| p.to_string());
            meta.insert(PREV.to_owned(), prev);
            meta.insert(WINDOW.to_owned(), self.window.to_string());
        }
        meta
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
            prev: match meta.get(VERSION) {
                None => Prev::Unbound,
                Some(v) if v == "3" => Prev::Bound(match meta.get(PREV)?.as_str() {
                    NO_PREV => None,
                    id => Some(id.parse().ok()?),
                }),
                // A version this reader does not know: read the header, which says so.
                Some(_) => return None,
            },
            window: match meta.get(WINDOW) {
                Some(w) => w.parse().ok().filter(|&w| w >= 1)?,
                None => 1,
            },
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
            prev: Prev::Unbound,
            window: 1,
        };
        let mut m = s.to_metadata();
        assert_eq!(SegmentSummary::from_metadata(&m), Some(s));
        m.remove(EPOCH);
        assert_eq!(SegmentSummary::from_metadata(&m), None);
    }

    #[test]
    fn a_version_3_summary_carries_its_bound_prev_and_window() {
        for prev in [None, Some(Uuid::from_u128(7))] {
            let s = SegmentSummary {
                kind: SegmentKind::Events,
                epoch: 2,
                writer: "w".into(),
                write_id: Uuid::from_u128(9),
                first_seq: 3,
                count: 2,
                prev: Prev::Bound(prev),
                window: 8,
            };
            let mut m = s.to_metadata();
            assert_eq!(SegmentSummary::from_metadata(&m), Some(s));
            m.remove(PREV);
            assert_eq!(
                SegmentSummary::from_metadata(&m),
                None,
                "a bound prev is needed"
            );
            m.insert(PREV.into(), NO_PREV.into());
            m.insert(VERSION.into(), "4".into());
            assert_eq!(
                SegmentSummary::from_metadata(&m),
                None,
                "a later version: read the header"
            );
        }
    }
}
