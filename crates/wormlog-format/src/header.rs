//! Line 1 of a segment: the header, and the format versions readers accept.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::FormatError;

/// The segment format version written in every new header (`"wormlog": 3`).
pub const FORMAT_VERSION: u32 = 3;

/// Every format version readers accept. Logs are kept for years: a version once written is
/// read forever.
///
/// | version | what it added |
/// |---|---|
/// | 1 | the original segment: header, JSON events, `epoch-start` and `purge` records |
/// | 2 | `prev` and `window` in the header; the `void` kind; raw payloads (`payload`, inline or attached) in event lines; attachments named in purge records |
/// | 3 | `prev` binds: an events or purge segment is valid only if it names the valid segment below it (else an orphan), so a writer may keep several slots in flight; its version, `prev` and `window` also in the object metadata |
///
/// Version 3 is a version of its own, not version 2 with a new rule, because readers of
/// version 2 ignore `prev`: given a pipelined log they would deliver its orphans. They refuse
/// version 3 instead.
pub const READ_VERSIONS: [u32; 3] = [1, 2, 3];

/// The largest window a writer may keep (slots in flight at once): a missing slot more than
/// this far below a segment is no slot its writer may still be sending.
pub const MAX_WINDOW: u32 = 16;

/// The most void records a writer leaves above a slot it has not filled yet (a new leader's
/// claims, fencing ahead): readers take a missing slot with at most this many voids above it,
/// and nothing else, for a pending hole rather than a gap; writers claim fewer at once.
pub const MAX_VOIDS_ABOVE_A_HOLE: usize = 64;

/// The lowest slot that a segment at `slot` can have left pending below it. Its header's
/// `window` says how many slots its writer had unsettled when it sent this one, itself
/// included: for a pipelined batch, the batches in flight below it; for a void, how far into
/// its writer's round of claims it lies (1: the round's first slot). Every slot below
/// `slot - window + 1` was settled by then, so a missing one is no unfinished write of
/// that writer's but a gap (deleted).
pub fn lowest_pending(slot: u64, window: u32) -> u64 {
    slot.saturating_sub(u64::from(window.max(1)) - 1)
}

/// Whether the missing slots `first..=last` are pending rather than a gap, given every slot
/// present above them, ascending, each with its floor ([`lowest_pending`]) if it is a
/// version 3 segment or a void, and `None` otherwise (a version 1 or 2 batch, or one that
/// could not be read whole). Pending when at least one and at most
/// [`MAX_VOIDS_ABOVE_A_HOLE`] slots lie above, every one with a floor, and every missing run
/// from `first` up (this one and each between the slots above) starts at or above the floor
/// of every slot above it: each of their writers may still have been sending it. One rule
/// for the writer's walk, the scan and `verify`.
pub fn is_pending(first: u64, last: u64, above: &[(u64, Option<u64>)]) -> bool {
    if above.is_empty() || above.len() > MAX_VOIDS_ABOVE_A_HOLE || last < first {
        return false;
    }
    let Some(floors) = above.iter().map(|(_, f)| *f).collect::<Option<Vec<u64>>>() else {
        return false; // a batch that says nothing of the slots below it: a gap
    };
    // The missing runs: first..=last, then the gaps between consecutive slots above.
    let mut runs = vec![first];
    runs.extend(
        above
            .windows(2)
            .filter(|w| w[1].0 > w[0].0 + 1)
            .map(|w| w[0].0 + 1),
    );
    runs.iter().all(|&run_first| {
        above
            .iter()
            .zip(&floors)
            .filter(|((slot, _), _)| *slot > run_first)
            .all(|(_, &floor)| run_first >= floor)
    })
}

/// What a segment holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SegmentKind {
    /// A batch of events.
    Events,
    /// A control record: a writer with a new epoch starts here (protocol step 1).
    /// Holds no events; not delivered to readers, visible to audit tools.
    EpochStart,
    /// A control record: an operator deleted the segments it names under a GOVERNANCE bypass.
    /// Its one body line is a [`crate::PurgeRecord`] (covered by the CRC); readers pass the
    /// named slots as documented instead of stopping at a gap.
    Purge,
    /// A control record (version 2) filling a slot that a writer never managed to write: it is
    /// never valid, and it only tells readers the slot is dead.
    Void,
}

impl SegmentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SegmentKind::Events => "events",
            SegmentKind::EpochStart => "epoch-start",
            SegmentKind::Purge => "purge",
            SegmentKind::Void => "void",
        }
    }

    pub fn parse(s: &str) -> Option<SegmentKind> {
        match s {
            "events" => Some(SegmentKind::Events),
            "epoch-start" => Some(SegmentKind::EpochStart),
            "purge" => Some(SegmentKind::Purge),
            "void" => Some(SegmentKind::Void),
            _ => None,
        }
    }

    /// True for control records, which are never delivered as events.
    pub fn is_control(self) -> bool {
        !matches!(self, SegmentKind::Events)
    }
}

/// Line 1 of a segment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentHeader {
    /// Format version (one of [`READ_VERSIONS`]).
    pub wormlog: u32,
    pub stream: String,
    pub slot: u64,
    pub kind: SegmentKind,
    /// Seq of the first event; for a control record, the seq the next event will get.
    pub first_seq: u64,
    pub count: u64,
    /// The writer's fencing token.
    pub epoch: u64,
    pub writer: String,
    /// Fresh per commit attempt series; a 412 on our own write id means our write landed.
    pub write_id: Uuid,
    /// Version 2: the write id of the segment the writer took for the valid one just below
    /// (`null` at slot 0), informational. Version 3: the same, and binding (an events or
    /// purge segment naming another is an orphan). Absent in version 1.
    #[serde(default)]
    pub prev: Option<Uuid>,
    /// Version 2: how many unsettled slots the writer allowed itself (1: one at a time).
    /// Absent in version 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<u32>,
    /// Writer's wall clock, RFC 3339; informational only.
    pub created_at: String,
    /// CRC-32 (IEEE) of every byte after the header line.
    pub crc32: u32,
}

/// Everything about a segment except its events and CRC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentSpec {
    pub stream: String,
    pub slot: u64,
    pub kind: SegmentKind,
    pub first_seq: u64,
    pub epoch: u64,
    pub writer: String,
    pub write_id: Uuid,
    /// The write id of the valid segment just below, as the writer believes it.
    pub prev: Option<Uuid>,
    /// The writer's window of unsettled slots.
    pub window: u32,
    pub created_at: String,
}

/// Splits off and parses the header line; returns the header and the bytes after it.
pub(crate) fn split_header(bytes: &[u8]) -> Result<(SegmentHeader, &[u8]), FormatError> {
    if bytes.is_empty() {
        return Err(FormatError::Empty);
    }
    let nl = memchr::memchr(b'\n', bytes).ok_or(FormatError::NoHeaderLine)?;
    let (line, rest) = (&bytes[..nl], &bytes[nl + 1..]);
    // Read the version first, so a newer format is reported as such, not as a bad header.
    #[derive(Deserialize)]
    struct Version {
        wormlog: u32,
    }
    let version: Version =
        serde_json::from_slice(line).map_err(|e| FormatError::Header(e.to_string()))?;
    if !READ_VERSIONS.contains(&version.wormlog) {
        return Err(FormatError::UnsupportedVersion(version.wormlog));
    }
    let header: SegmentHeader =
        serde_json::from_slice(line).map_err(|e| FormatError::Header(e.to_string()))?;
    check_header(&header)?;
    Ok((header, rest))
}

/// What a header must say of itself, whatever follows it.
fn check_header(h: &SegmentHeader) -> Result<(), FormatError> {
    let bad = |reason: String| Err(FormatError::Header(reason));
    if h.first_seq.checked_add(h.count).is_none() {
        return bad(format!(
            "first_seq {} plus count {} overflows",
            h.first_seq, h.count
        ));
    }
    if h.kind.is_control() && h.count != 0 {
        return bad(format!(
            "a {} record must hold no events, it says {}",
            h.kind.as_str(),
            h.count
        ));
    }
    match (h.wormlog, h.window) {
        (1, Some(_)) => bad("a version 1 header has no window".into()),
        (1, None) if h.prev.is_some() => bad("a version 1 header has no prev".into()),
        (1, None) if h.kind == SegmentKind::Void => {
            bad("void records exist from version 2 on".into())
        }
        (2 | 3, None) => bad(format!(
            "a version {} header names the writer's window",
            h.wormlog
        )),
        (2 | 3, Some(0)) => bad("the writer's window is at least 1".into()),
        (3, Some(w)) if w > MAX_WINDOW && h.kind != SegmentKind::Void => bad(format!(
            "a writer's window is at most {MAX_WINDOW}, this header says {w}"
        )),
        _ => Ok(()),
    }
}

/// Decodes only the header line (no CRC check of the body): for quick scans of many segments.
pub fn decode_header(bytes: &[u8]) -> Result<SegmentHeader, FormatError> {
    split_header(bytes).map(|(h, _)| h)
}

#[cfg(test)]
mod pending_tests {
    use super::*;

    #[test]
    fn a_hole_within_a_round_is_pending_and_one_below_it_is_not() {
        // A round from slot 10: claims landed at 11 (window 2) and 13 (window 4).
        let above = [
            (11, Some(lowest_pending(11, 2))),
            (13, Some(lowest_pending(13, 4))),
        ];
        assert!(is_pending(10, 10, &above));
        assert!(!is_pending(9, 10, &above), "below the round's first slot");
        assert!(
            !is_pending(10, 10, &[(11, Some(10)), (12, None)]),
            "not a void above"
        );
        assert!(!is_pending(10, 10, &[]), "nothing above: beyond the log");
    }

    #[test]
    fn every_missing_run_above_is_judged_too() {
        // 12 is missing under the void at 13, whose round began at 13: a gap, so the run at
        // 10 is not pending either (readers, verify and the walk all say so).
        assert!(!is_pending(10, 10, &[(11, Some(10)), (13, Some(13))]));
        assert!(is_pending(10, 10, &[(11, Some(10)), (13, Some(10))]));
    }

    #[test]
    fn a_hole_below_a_slot_sent_with_it_settled_is_a_gap() {
        // 13 was sent when everything below 12 had settled: 10 cannot still be on its way,
        // whatever 11 says.
        assert!(!is_pending(10, 10, &[(11, Some(10)), (13, Some(12))]));
        // A pipelined writer's batches above a hole, each sent with it unsettled.
        assert!(is_pending(
            10,
            10,
            &[(11, Some(10)), (12, Some(9)), (13, Some(10))]
        ));
        assert!(
            !is_pending(10, 10, &[(11, Some(11))]),
            "sent after 10 settled"
        );
    }
}
