//! Encoding and decoding of segments.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::FormatError;

/// The segment format version written in every header (`"wormlog": 1`).
pub const FORMAT_VERSION: u32 = 1;

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
    /// Its one body line is a [`PurgeRecord`] (covered by the CRC); readers pass the named
    /// slots as documented instead of stopping at a gap.
    Purge,
}

impl SegmentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SegmentKind::Events => "events",
            SegmentKind::EpochStart => "epoch-start",
            SegmentKind::Purge => "purge",
        }
    }

    pub fn parse(s: &str) -> Option<SegmentKind> {
        match s {
            "events" => Some(SegmentKind::Events),
            "epoch-start" => Some(SegmentKind::EpochStart),
            "purge" => Some(SegmentKind::Purge),
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
    /// Format version ([`FORMAT_VERSION`]).
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
    /// Writer's wall clock, RFC 3339; informational only.
    pub created_at: String,
    /// CRC-32 (IEEE) of every byte after the header line.
    pub crc32: u32,
}

/// The fencing token stamped on every event (`meta.fencing_token`), so a plain S3 client can
/// see epoch transitions without wormlog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FencingToken {
    pub epoch: u64,
    pub writer: String,
}

/// The `meta` object of an event line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventMeta {
    pub fencing_token: FencingToken,
}

/// A decoded event.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    pub seq: u64,
    pub id: Uuid,
    #[serde(rename = "type")]
    pub event_type: String,
    /// Writer's wall clock when the event was appended, RFC 3339.
    pub time: String,
    /// The caller's JSON, as given.
    pub data: Box<RawValue>,
    pub meta: EventMeta,
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq
            && self.id == other.id
            && self.event_type == other.event_type
            && self.time == other.time
            && self.data.get() == other.data.get()
            && self.meta == other.meta
    }
}

/// An event to append: everything but its seq and fencing token, which the commit assigns.
///
/// Its line is serialised once, here, by whoever creates it (`,"id":..,"type":..,"time":..,
/// "data":..`), so committing a batch only joins bytes: the writer's one task, which also
/// waits on every PUT, stays off the JSON work.
#[derive(Clone, Debug)]
pub struct NewEvent {
    id: Uuid,
    /// The line between `{"seq":N` and `,"meta":..`: `,"id":..,"type":..,"time":..,"data":..`
    middle: Box<str>,
}

impl NewEvent {
    /// Validates `data_json` as one JSON value. Whitespace newlines are removed so the event
    /// stays on one line; everything else is kept as given.
    pub fn new(
        id: Uuid,
        event_type: impl Into<String>,
        time: impl Into<String>,
        data_json: &str,
    ) -> Result<NewEvent, FormatError> {
        let raw: Box<RawValue> =
            serde_json::from_str(data_json).map_err(|e| FormatError::EventData(e.to_string()))?;
        // JSON strings cannot hold raw newlines, so any is whitespace to fold. A SIMD scan:
        // `str::contains` with a char set decoded UTF-8 char by char, 11% of an append.
        let data = if memchr::memchr2(b'\n', b'\r', raw.get().as_bytes()).is_some() {
            let value: serde_json::Value = serde_json::from_str(raw.get())
                .map_err(|e| FormatError::EventData(e.to_string()))?;
            serde_json::value::to_raw_value(&value).expect("a Value serialises")
        } else {
            raw
        };
        let (event_type, time) = (event_type.into(), time.into());
        let fields = MiddleRef {
            id: &id,
            event_type: &event_type,
            time: &time,
            data: &data,
        };
        let mut middle = Vec::with_capacity(data.get().len() + event_type.len() + time.len() + 64);
        serde_json::to_writer(&mut middle, &fields).expect("event fields serialise");
        // `{"id":..,"data":..}` -> `,"id":..,"data":..` in place.
        middle[0] = b',';
        middle.pop();
        let middle = String::from_utf8(middle).expect("serde_json writes UTF-8");
        Ok(NewEvent {
            id,
            middle: middle.into_boxed_str(),
        })
    }

    pub fn id(&self) -> Uuid {
        self.id
    }

    /// Bytes this event adds to a segment, roughly (for batch sizing).
    pub fn approx_len(&self) -> usize {
        self.middle.len() + 90
    }
}

/// The fields of an event line that do not depend on the segment, in line order.
#[derive(Serialize)]
struct MiddleRef<'a> {
    id: &'a Uuid,
    #[serde(rename = "type")]
    event_type: &'a str,
    time: &'a str,
    data: &'a RawValue,
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
    pub created_at: String,
}

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
}

impl PurgedSlot {
    pub fn of(header: &SegmentHeader) -> PurgedSlot {
        PurgedSlot {
            slot: header.slot,
            first_seq: header.first_seq,
            count: header.count,
            epoch: header.epoch,
            writer: header.writer.clone(),
            write_id: header.write_id,
        }
    }
}

impl PurgeRecord {
    /// Checks the record against the slot it is stored at: at least one purged slot, in
    /// increasing order, all below `record_slot`; an operator and a reason.
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
        Ok(())
    }
}

/// A decoded, checked segment.
#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    pub header: SegmentHeader,
    pub events: Vec<Event>,
    /// The record of a [`SegmentKind::Purge`] segment; `None` for every other kind.
    pub purge: Option<PurgeRecord>,
}

#[derive(Serialize)]
struct MetaRef<'a> {
    fencing_token: TokenRef<'a>,
}

#[derive(Serialize)]
struct TokenRef<'a> {
    epoch: u64,
    writer: &'a str,
}

/// Encodes a segment: the events get seqs `spec.first_seq..` and the spec's fencing token.
/// Returns the bytes and the header written.
pub fn encode_segment(spec: &SegmentSpec, events: &[NewEvent]) -> (Bytes, SegmentHeader) {
    // `,"meta":{"fencing_token":{"epoch":E,"writer":W}}}`: the same for every line.
    let meta = serde_json::to_string(&MetaRef {
        fencing_token: TokenRef {
            epoch: spec.epoch,
            writer: &spec.writer,
        },
    })
    .expect("fencing tokens serialise");
    let tail = format!(",\"meta\":{meta}}}\n");
    let len: usize = events
        .iter()
        .map(|e| e.middle.len() + tail.len() + 30)
        .sum();
    let mut body = body_buffer(len);
    let mut seq = itoa::Buffer::new();
    for (i, e) in events.iter().enumerate() {
        body.extend_from_slice(b"{\"seq\":");
        body.extend_from_slice(seq.format(spec.first_seq + i as u64).as_bytes());
        body.extend_from_slice(e.middle.as_bytes());
        body.extend_from_slice(tail.as_bytes());
    }
    assemble(spec, spec.kind, events.len() as u64, body)
}

/// Encodes a purge record at `spec.slot` (the spec's kind is ignored: the kind is `purge`).
pub fn encode_purge(spec: &SegmentSpec, record: &PurgeRecord) -> (Bytes, SegmentHeader) {
    let mut body = body_buffer(256);
    serde_json::to_writer(&mut body, record).expect("purge records serialise");
    body.push(b'\n');
    assemble(spec, SegmentKind::Purge, 0, body)
}

/// Bytes kept free in front of the body for the header line, so the header is written in
/// place instead of copying a segment of up to megabytes behind it. Longer headers (long,
/// heavily escaped writer ids) fall back to that copy.
const HEADER_ROOM: usize = 512;

/// A buffer for a body of about `len` bytes, starting after [`HEADER_ROOM`].
fn body_buffer(len: usize) -> Vec<u8> {
    let mut buf = Vec::with_capacity(HEADER_ROOM + len);
    buf.resize(HEADER_ROOM, 0);
    buf
}

/// Writes the header line (with the CRC of the body) in front of the body in `buf`, which
/// starts after [`HEADER_ROOM`] bytes (see [`body_buffer`]).
fn assemble(
    spec: &SegmentSpec,
    kind: SegmentKind,
    count: u64,
    mut buf: Vec<u8>,
) -> (Bytes, SegmentHeader) {
    let body = &buf[HEADER_ROOM..];
    let header = SegmentHeader {
        wormlog: FORMAT_VERSION,
        stream: spec.stream.clone(),
        slot: spec.slot,
        kind,
        first_seq: spec.first_seq,
        count,
        epoch: spec.epoch,
        writer: spec.writer.clone(),
        write_id: spec.write_id,
        created_at: spec.created_at.clone(),
        crc32: crc32fast::hash(body),
    };
    let mut line = serde_json::to_vec(&header).expect("headers serialise");
    line.push(b'\n');
    let Some(start) = HEADER_ROOM.checked_sub(line.len()) else {
        line.extend_from_slice(&buf[HEADER_ROOM..]);
        return (Bytes::from(line), header);
    };
    buf[start..HEADER_ROOM].copy_from_slice(&line);
    (Bytes::from(buf).slice(start..), header)
}

/// Splits off and parses the header line; returns the header and the bytes after it.
fn split_header(bytes: &[u8]) -> Result<(SegmentHeader, &[u8]), FormatError> {
    if bytes.is_empty() {
        return Err(FormatError::Empty);
    }
    let nl = bytes
        .iter()
        .position(|&b| b == b'\n')
        .ok_or(FormatError::NoHeaderLine)?;
    let (line, rest) = (&bytes[..nl], &bytes[nl + 1..]);
    // Read the version first, so a newer format is reported as such, not as a bad header.
    #[derive(Deserialize)]
    struct Version {
        wormlog: u32,
    }
    let version: Version =
        serde_json::from_slice(line).map_err(|e| FormatError::Header(e.to_string()))?;
    if version.wormlog != FORMAT_VERSION {
        return Err(FormatError::UnsupportedVersion(version.wormlog));
    }
    let header: SegmentHeader =
        serde_json::from_slice(line).map_err(|e| FormatError::Header(e.to_string()))?;
    if header.first_seq.checked_add(header.count).is_none() {
        return Err(FormatError::Header(format!(
            "first_seq {} plus count {} overflows",
            header.first_seq, header.count
        )));
    }
    if header.kind.is_control() && header.count != 0 {
        return Err(FormatError::Header(format!(
            "a {} record must hold no events, it says {}",
            header.kind.as_str(),
            header.count
        )));
    }
    Ok((header, rest))
}

/// Decodes only the header line (no CRC check of the body): for quick scans of many segments.
pub fn decode_header(bytes: &[u8]) -> Result<SegmentHeader, FormatError> {
    split_header(bytes).map(|(h, _)| h)
}

/// Decodes and checks a whole segment.
pub fn decode_segment(bytes: &[u8]) -> Result<Segment, FormatError> {
    let (header, body) = split_header(bytes)?;
    let computed = crc32fast::hash(body);
    if computed != header.crc32 {
        return Err(FormatError::CrcMismatch {
            stored: header.crc32,
            computed,
        });
    }
    if header.kind == SegmentKind::Purge {
        let purge = decode_purge_body(&header, body)?;
        return Ok(Segment {
            header,
            events: Vec::new(),
            purge: Some(purge),
        });
    }
    let lines: Vec<&[u8]> = match body.strip_suffix(b"\n") {
        Some(b) => b.split(|&c| c == b'\n').collect(),
        None if body.is_empty() => Vec::new(),
        None => {
            return Err(FormatError::EventLine {
                line: header.count,
                reason: "the last event line has no newline (truncated?)".into(),
            })
        }
    };
    if lines.len() as u64 != header.count {
        return Err(FormatError::CountMismatch {
            expected: header.count,
            found: lines.len() as u64,
        });
    }
    let mut events = Vec::with_capacity(lines.len());
    for (i, line) in lines.into_iter().enumerate() {
        let n = i as u64 + 1;
        let event: Event = serde_json::from_slice(line).map_err(|e| FormatError::EventLine {
            line: n,
            reason: e.to_string(),
        })?;
        check_event(&header, i as u64, &event)?;
        events.push(event);
    }
    Ok(Segment {
        header,
        events,
        purge: None,
    })
}

/// A purge record's body: exactly one line, a [`PurgeRecord`] that fits its slot.
fn decode_purge_body(header: &SegmentHeader, body: &[u8]) -> Result<PurgeRecord, FormatError> {
    let bad = |reason: String| FormatError::Control { reason };
    let line = body
        .strip_suffix(b"\n")
        .filter(|l| !l.contains(&b'\n'))
        .ok_or_else(|| bad("a purge record must have exactly one body line".into()))?;
    let record: PurgeRecord =
        serde_json::from_slice(line).map_err(|e| bad(format!("its body line: {e}")))?;
    record.check(header.slot).map_err(bad)?;
    Ok(record)
}

fn check_event(header: &SegmentHeader, index: u64, event: &Event) -> Result<(), FormatError> {
    let line = index + 1;
    let want_seq = header
        .first_seq
        .checked_add(index)
        .ok_or(FormatError::Inconsistent {
            line,
            reason: "seq overflows".into(),
        })?;
    if event.seq != want_seq {
        return Err(FormatError::Inconsistent {
            line,
            reason: format!("seq is {}, expected {want_seq}", event.seq),
        });
    }
    let token = &event.meta.fencing_token;
    if token.epoch != header.epoch || token.writer != header.writer {
        return Err(FormatError::Inconsistent {
            line,
            reason: format!(
                "fencing token is epoch {} writer {:?}, header says epoch {} writer {:?}",
                token.epoch, token.writer, header.epoch, header.writer
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: SegmentKind) -> SegmentSpec {
        SegmentSpec {
            stream: "orders".into(),
            slot: 3,
            kind,
            first_seq: 10,
            epoch: 2,
            writer: "w-a".into(),
            write_id: Uuid::from_u128(7),
            created_at: "2026-11-22T05:00:00.000Z".into(),
        }
    }

    fn event(i: u128, data: &str) -> NewEvent {
        NewEvent::new(
            Uuid::from_u128(i),
            "created",
            "2026-11-22T05:00:00.000Z",
            data,
        )
        .unwrap()
    }

    #[test]
    fn round_trip_keeps_data_as_given() {
        let events = [event(1, r#"{"b": 2, "a": [1,2]}"#), event(2, "\"x\"")];
        let (bytes, header) = encode_segment(&spec(SegmentKind::Events), &events);
        let seg = decode_segment(&bytes).unwrap();
        assert_eq!(seg.header, header);
        assert_eq!(seg.header.count, 2);
        assert_eq!(seg.events[0].seq, 10);
        assert_eq!(seg.events[1].seq, 11);
        assert_eq!(seg.events[0].data.get(), r#"{"b": 2, "a": [1,2]}"#);
        assert_eq!(seg.events[1].meta.fencing_token.epoch, 2);
        assert_eq!(decode_header(&bytes).unwrap(), header);
        assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 3);
    }

    /// The line-joining encoder writes exactly what serialising each whole line would.
    #[test]
    fn joined_lines_equal_whole_line_serialisation() {
        #[derive(Serialize)]
        struct Line<'a> {
            seq: u64,
            id: &'a Uuid,
            #[serde(rename = "type")]
            event_type: &'a str,
            time: &'a str,
            data: &'a RawValue,
            meta: MetaRef<'a>,
        }
        let inputs = [
            (
                Uuid::from_u128(1),
                "t\"q\u{7}é",
                "now\\",
                r#"{"b": [1, "x\n"]}"#,
            ),
            (
                Uuid::from_u128(2),
                "created",
                "2026-11-22T05:00:00.000Z",
                "\"x\"",
            ),
        ];
        let events: Vec<NewEvent> = inputs
            .iter()
            .map(|(id, t, time, data)| NewEvent::new(*id, *t, *time, data).unwrap())
            .collect();
        let mut s = spec(SegmentKind::Events);
        s.writer = "w \"quoted\" ü".into();
        let (bytes, _) = encode_segment(&s, &events);
        let mut expected = Vec::new();
        for (i, (id, event_type, time, data)) in inputs.iter().enumerate() {
            let data: &RawValue = serde_json::from_str(data).unwrap();
            let line = Line {
                seq: s.first_seq + i as u64,
                id,
                event_type,
                time,
                data,
                meta: MetaRef {
                    fencing_token: TokenRef {
                        epoch: s.epoch,
                        writer: &s.writer,
                    },
                },
            };
            serde_json::to_writer(&mut expected, &line).unwrap();
            expected.push(b'\n');
        }
        let body = &bytes[bytes.iter().position(|&b| b == b'\n').unwrap() + 1..];
        assert_eq!(
            String::from_utf8_lossy(body),
            String::from_utf8_lossy(&expected)
        );
        assert_eq!(
            decode_segment(&bytes).unwrap().events[0].event_type,
            "t\"q\u{7}é"
        );
    }

    /// A header longer than the room kept for it (a long, escaped writer id) still lands in
    /// front of its body.
    #[test]
    fn a_header_longer_than_its_room_still_encodes() {
        let mut s = spec(SegmentKind::Events);
        s.writer = "\"".repeat(128);
        s.stream = "s".repeat(128);
        let (bytes, header) = encode_segment(&s, &[event(1, "1")]);
        assert!(bytes.iter().position(|&b| b == b'\n').unwrap() > HEADER_ROOM);
        let seg = decode_segment(&bytes).unwrap();
        assert_eq!((seg.header, seg.events.len()), (header, 1));
    }

    #[test]
    fn multi_line_data_is_folded_onto_one_line() {
        let e = event(1, "{\n  \"a\": \"x\\ny\"\n}");
        let (bytes, _) = encode_segment(&spec(SegmentKind::Events), &[e]);
        let seg = decode_segment(&bytes).unwrap();
        assert_eq!(seg.events[0].data.get(), r#"{"a":"x\ny"}"#);
    }

    #[test]
    fn control_record_has_no_events() {
        let (bytes, h) = encode_segment(&spec(SegmentKind::EpochStart), &[]);
        assert_eq!(h.count, 0);
        assert!(decode_segment(&bytes).unwrap().events.is_empty());
        assert!(bytes.ends_with(b"\n"));
    }

    fn purge(slots: &[u64]) -> PurgeRecord {
        PurgeRecord {
            operator: "alice".into(),
            reason: "GDPR erasure request 42".into(),
            purged: slots
                .iter()
                .map(|&slot| PurgedSlot {
                    slot,
                    first_seq: slot * 10,
                    count: 10,
                    epoch: 1,
                    writer: "w".into(),
                    write_id: Uuid::from_u128(slot.into()),
                })
                .collect(),
        }
    }

    #[test]
    fn a_purge_record_round_trips_and_is_checked_against_its_slot() {
        let record = purge(&[0, 2]);
        let (bytes, h) = encode_purge(&spec(SegmentKind::Events), &record);
        assert_eq!((h.kind, h.count), (SegmentKind::Purge, 0));
        let seg = decode_segment(&bytes).unwrap();
        assert_eq!(seg.purge, Some(record));
        assert!(seg.events.is_empty());

        // The record sits at slot 3: it may only name slots below 3, in order, with a reason.
        let mut bad = vec![purge(&[3]), purge(&[2, 1]), purge(&[])];
        bad.push(PurgeRecord {
            reason: " ".into(),
            ..purge(&[1])
        });
        for record in bad {
            let (bytes, _) = encode_purge(&spec(SegmentKind::Events), &record);
            assert!(
                matches!(decode_segment(&bytes), Err(FormatError::Control { .. })),
                "{record:?} accepted"
            );
        }
    }

    #[test]
    fn a_purge_record_body_is_covered_by_the_crc() {
        let (bytes, _) = encode_purge(&spec(SegmentKind::Events), &purge(&[1]));
        let text = String::from_utf8(bytes.to_vec())
            .unwrap()
            .replace("alice", "mallo");
        assert!(matches!(
            decode_segment(text.as_bytes()),
            Err(FormatError::CrcMismatch { .. })
        ));
    }

    #[test]
    fn a_flipped_byte_is_a_crc_mismatch() {
        let (bytes, _) = encode_segment(&spec(SegmentKind::Events), &[event(1, "1")]);
        let mut bytes = bytes.to_vec();
        let last = bytes.len() - 5;
        bytes[last] ^= 0x01;
        assert!(matches!(
            decode_segment(&bytes),
            Err(FormatError::CrcMismatch { .. })
        ));
    }

    #[test]
    fn truncation_and_garbage_are_typed_errors() {
        let (bytes, _) =
            encode_segment(&spec(SegmentKind::Events), &[event(1, "1"), event(2, "2")]);
        for cut in 0..bytes.len() {
            assert!(
                decode_segment(&bytes[..cut]).is_err(),
                "cut at {cut} accepted"
            );
        }
        assert_eq!(decode_segment(b""), Err(FormatError::Empty));
        assert_eq!(decode_segment(b"{}"), Err(FormatError::NoHeaderLine));
        assert!(matches!(
            decode_segment(b"not json\n"),
            Err(FormatError::Header(_))
        ));
        assert_eq!(
            decode_segment(b"{\"wormlog\":99}\n"),
            Err(FormatError::UnsupportedVersion(99))
        );
    }

    #[test]
    fn a_forged_token_or_seq_is_inconsistent() {
        let (bytes, _) = encode_segment(&spec(SegmentKind::Events), &[event(1, "1")]);
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        let (head, body) = text.split_once('\n').unwrap();
        for forged in [
            body.replace("\"epoch\":2", "\"epoch\":3"),
            body.replace("\"seq\":10", "\"seq\":11"),
        ] {
            let mut h: SegmentHeader = serde_json::from_str(head).unwrap();
            h.crc32 = crc32fast::hash(forged.as_bytes());
            let seg = format!("{}\n{forged}", serde_json::to_string(&h).unwrap());
            assert!(matches!(
                decode_segment(seg.as_bytes()),
                Err(FormatError::Inconsistent { .. })
            ));
        }
    }

    #[test]
    fn invalid_event_data_is_refused() {
        for bad in ["", "{", "nope", "{\"a\":1} trailing"] {
            assert!(
                NewEvent::new(Uuid::nil(), "t", "now", bad).is_err(),
                "{bad:?}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = decode_segment(&bytes);
        }

        #[test]
        fn decoding_mutated_segments_never_panics(pos in 0usize..400, byte in proptest::num::u8::ANY) {
            let (bytes, _) = encode_segment(&spec(SegmentKind::Events), &[event(1, "{\"k\":[1,2,3]}"), event(2, "null")]);
            let mut bytes = bytes.to_vec();
            let pos = pos % bytes.len();
            bytes[pos] = byte;
            let _ = decode_segment(&bytes);
        }
    }
}
