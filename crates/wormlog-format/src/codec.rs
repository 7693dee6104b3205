//! Encoding (always the current version) and decoding (every version in
//! [`crate::READ_VERSIONS`]) of whole segments.

use bytes::Bytes;
use serde::Serialize;

use crate::header::split_header;
use crate::{
    Event, FormatError, NewEvent, PurgeRecord, SegmentHeader, SegmentKind, SegmentSpec,
    FORMAT_VERSION,
};

/// A decoded, checked segment.
#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    pub header: SegmentHeader,
    pub events: Vec<Event>,
    /// The record of a [`SegmentKind::Purge`] segment; `None` for every other kind.
    pub purge: Option<PurgeRecord>,
    /// The leaf hashes of its event lines, in seq order, when decoded as
    /// [`Decoding::LeavesOnly`] (then `events` is empty); empty otherwise.
    pub leaves: Vec<[u8; 32]>,
}

/// How much of a segment's events [`decode_segment_as`] decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoding {
    /// Every event, parsed and checked against the header.
    Events,
    /// Every event, and each one's [`Event::leaf_hash`].
    EventsHashed,
    /// The header, the CRC, the line count and each line's leaf hash; no event is parsed.
    /// For a pass over a log whose events another pass checks (an audit after `verify`).
    LeavesOnly,
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
        .map(|e| e.middle().len() + tail.len() + 30)
        .sum();
    let mut body = body_buffer(len);
    let mut seq = itoa::Buffer::new();
    for (i, e) in events.iter().enumerate() {
        body.extend_from_slice(b"{\"seq\":");
        body.extend_from_slice(seq.format(spec.first_seq + i as u64).as_bytes());
        body.extend_from_slice(e.middle().as_bytes());
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
const HEADER_ROOM: usize = 600;

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
        prev: spec.prev,
        window: Some(spec.window.max(1)),
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

/// The event lines of the segment `bytes` exactly as stored, without their newlines, in seq
/// order (none for a control record). The segment is decoded, and so checked, first.
pub fn event_lines(bytes: &[u8]) -> Result<Vec<&[u8]>, FormatError> {
    let segment = decode_segment(bytes)?;
    if segment.header.kind != SegmentKind::Events {
        return Ok(Vec::new());
    }
    let (_, body) = split_header(bytes)?;
    Ok(body
        .strip_suffix(b"\n")
        .map(|b| b.split(|&c| c == b'\n').collect())
        .unwrap_or_default())
}

/// The leaf hashes ([`leaf_hash`]) of the event lines of a segment [`encode_segment`] just
/// made, without decoding it: for a writer that keeps the tree of what it commits. The
/// segment is trusted to be well formed (a stored one goes through [`event_lines`]).
pub fn encoded_leaf_hashes(encoded: &[u8]) -> Vec<[u8; 32]> {
    let mut ends = memchr::memchr_iter(b'\n', encoded);
    let Some(header_end) = ends.next() else {
        return Vec::new();
    };
    let mut start = header_end + 1;
    ends.map(|end| {
        let line = &encoded[start..end];
        start = end + 1;
        leaf_hash(line)
    })
    .collect()
}

/// The RFC 9162 leaf hash of an event line: SHA-256 of `0x00` followed by the line.
pub fn leaf_hash(line: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    let mut hash = sha2::Sha256::new();
    hash.update([0u8]);
    hash.update(line);
    hash.finalize().into()
}

/// Decodes and checks a whole segment of any version readers accept.
pub fn decode_segment(bytes: &[u8]) -> Result<Segment, FormatError> {
    decode_segment_hashing(bytes, false)
}

/// [`decode_segment`], and with `leaves` each event's [`Event::leaf_hash`] too (the
/// tamper-evident tree's leaves: SHA-256 of `0x00` and the line exactly as stored).
pub fn decode_segment_hashing(bytes: &[u8], leaves: bool) -> Result<Segment, FormatError> {
    let how = match leaves {
        true => Decoding::EventsHashed,
        false => Decoding::Events,
    };
    decode_segment_as(bytes, how)
}

/// Decodes and checks a segment as far as `how` says (the header, CRC and line count always).
pub fn decode_segment_as(bytes: &[u8], how: Decoding) -> Result<Segment, FormatError> {
    let (header, body) = split_header(bytes)?;
    let computed = crc32fast::hash(body);
    if computed != header.crc32 {
        return Err(FormatError::CrcMismatch {
            stored: header.crc32,
            computed,
        });
    }
    match header.kind {
        SegmentKind::Purge => {
            let purge = decode_purge_body(&header, body)?;
            return Ok(Segment {
                header,
                events: Vec::new(),
                purge: Some(purge),
                leaves: Vec::new(),
            });
        }
        SegmentKind::Void if !body.is_empty() => {
            return Err(FormatError::Control {
                reason: "a void record has no body".into(),
            })
        }
        _ => {}
    }
    let lines: Vec<&[u8]> = match body.strip_suffix(b"\n") {
        Some(b) => lines_of(b),
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
    if how == Decoding::LeavesOnly {
        return Ok(Segment {
            header,
            events: Vec::new(),
            purge: None,
            leaves: lines.into_iter().map(leaf_hash).collect(),
        });
    }
    let leaves = how == Decoding::EventsHashed;
    let mut events = Vec::with_capacity(lines.len());
    for (i, line) in lines.into_iter().enumerate() {
        let n = i as u64 + 1;
        let mut event: Event =
            serde_json::from_slice(line).map_err(|e| FormatError::EventLine {
                line: n,
                reason: e.to_string(),
            })?;
        check_event(&header, i as u64, &event)?;
        if leaves {
            event.leaf_hash = Some(leaf_hash(line));
        }
        events.push(event);
    }
    Ok(Segment {
        header,
        events,
        purge: None,
        leaves: Vec::new(),
    })
}

/// The lines of `body` (its last newline stripped), split at each newline.
fn lines_of(body: &[u8]) -> Vec<&[u8]> {
    let mut lines = Vec::new();
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', body) {
        lines.push(&body[start..end]);
        start = end + 1;
    }
    lines.push(&body[start..]);
    lines
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
    if header.wormlog < 2 && !record.attachments.is_empty() {
        return Err(bad("a version 1 purge record names no attachments".into()));
    }
    if header.wormlog < 3 && record.purged.iter().any(|p| p.prev.is_some()) {
        return Err(bad(format!(
            "a version {} purge record keeps no purged segment's prev",
            header.wormlog
        )));
    }
    record.check(header.slot).map_err(bad)?;
    Ok(record)
}

/// An event line against its header: its seq, its fencing token, and its content (JSON
/// `data`, or from version 2 on exactly one of `data` and a well-formed `payload`).
fn check_event(header: &SegmentHeader, index: u64, event: &Event) -> Result<(), FormatError> {
    let line = index + 1;
    let inconsistent = |reason: String| FormatError::Inconsistent { line, reason };
    let want_seq = header
        .first_seq
        .checked_add(index)
        .ok_or_else(|| inconsistent("seq overflows".into()))?;
    if event.seq != want_seq {
        return Err(inconsistent(format!(
            "seq is {}, expected {want_seq}",
            event.seq
        )));
    }
    let token = &event.meta.fencing_token;
    if token.epoch != header.epoch || token.writer != header.writer {
        return Err(inconsistent(format!(
            "fencing token is epoch {} writer {:?}, header says epoch {} writer {:?}",
            token.epoch, token.writer, header.epoch, header.writer
        )));
    }
    let bad_line = |reason: String| FormatError::EventLine { line, reason };
    match (&event.data, &event.payload, header.wormlog) {
        (Some(_), None, _) => Ok(()),
        (None, Some(_), 1) => Err(bad_line("a version 1 event has no payload".into())),
        (None, Some(p), _) => p
            .check()
            .map_err(|why| bad_line(format!("its payload: {why}"))),
        _ => Err(bad_line(
            "an event holds exactly one of data and payload".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::value::RawValue;
    use uuid::Uuid;

    use super::*;
    use crate::PurgedSlot;

    fn spec(kind: SegmentKind) -> SegmentSpec {
        SegmentSpec {
            stream: "orders".into(),
            slot: 3,
            kind,
            first_seq: 10,
            epoch: 2,
            writer: "w-a".into(),
            write_id: Uuid::from_u128(7),
            prev: Some(Uuid::from_u128(6)),
            window: 1,
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
        assert_eq!((header.wormlog, header.window), (3, Some(1)));
        assert_eq!(header.prev, Some(Uuid::from_u128(6)));
        assert_eq!(seg.header.count, 2);
        assert_eq!(seg.events[0].seq, 10);
        assert_eq!(seg.events[1].seq, 11);
        assert_eq!(seg.events[0].json(), Some(r#"{"b": 2, "a": [1,2]}"#));
        assert_eq!(seg.events[1].meta.fencing_token.epoch, 2);
        assert_eq!(crate::decode_header(&bytes).unwrap(), header);
        assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 3);
    }

    #[test]
    fn encoded_leaf_hashes_are_the_stored_lines_hashes() {
        let events = [event(1, r#"{"b": 2}"#), event(2, "\"x\""), event(3, "[]")];
        let (bytes, _) = encode_segment(&spec(SegmentKind::Events), &events);
        let decoded: Vec<_> = decode_segment_hashing(&bytes, true)
            .unwrap()
            .events
            .iter()
            .map(|e| e.leaf_hash.unwrap())
            .collect();
        assert_eq!(encoded_leaf_hashes(&bytes), decoded);
        assert_eq!(decoded.len(), 3);
        let leaves_only = decode_segment_as(&bytes, Decoding::LeavesOnly).unwrap();
        assert_eq!((leaves_only.leaves, leaves_only.events.len()), (decoded, 0));
        let mut flipped = bytes.to_vec();
        *flipped.last_mut().unwrap() = b' ';
        assert!(
            decode_segment_as(&flipped, Decoding::LeavesOnly).is_err(),
            "the CRC is checked"
        );
        let (control, _) = encode_segment(&spec(SegmentKind::EpochStart), &[]);
        assert!(encoded_leaf_hashes(&control).is_empty());
    }

    #[test]
    fn a_raw_payload_round_trips_inline_and_attached() {
        let inline =
            NewEvent::inline(Uuid::from_u128(1), "doc", "now", "text/xml", b"<i/>").unwrap();
        let digest: [u8; 32] =
            sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(b"big")).into();
        let attached = NewEvent::attached(
            Uuid::from_u128(2),
            "doc",
            "now",
            "application/pdf",
            3,
            &digest,
        )
        .unwrap();
        let (bytes, _) = encode_segment(&spec(SegmentKind::Events), &[inline, attached]);
        let seg = decode_segment(&bytes).unwrap();
        let p = seg.events[0].payload.as_ref().unwrap();
        assert_eq!(p.inline_bytes().unwrap(), b"<i/>");
        assert!(seg.events[0].data.is_none());
        let a = seg.events[1].payload.as_ref().unwrap();
        assert_eq!(
            a.attachment.as_deref(),
            Some(&*crate::attachment_key(&a.sha256))
        );
        assert_eq!(a.bytes, 3);
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
        s.stream = "s".repeat(255);
        let (bytes, header) = encode_segment(&s, &[event(1, "1")]);
        assert!(bytes.iter().position(|&b| b == b'\n').unwrap() > HEADER_ROOM);
        let seg = decode_segment(&bytes).unwrap();
        assert_eq!((seg.header, seg.events.len()), (header, 1));
    }

    #[test]
    fn multi_line_data_is_folded_onto_one_line_token_for_token() {
        let e = event(
            1,
            "{\n  \"a\": \"x\\ny\",\n  \"n\": 12345678901234567890123\n}",
        );
        let (bytes, _) = encode_segment(&spec(SegmentKind::Events), &[e]);
        let seg = decode_segment(&bytes).unwrap();
        assert_eq!(
            seg.events[0].json(),
            Some(r#"{"a":"x\ny","n":12345678901234567890123}"#)
        );
    }

    #[test]
    fn control_records_have_no_events() {
        for kind in [SegmentKind::EpochStart, SegmentKind::Void] {
            let (bytes, h) = encode_segment(&spec(kind), &[]);
            assert_eq!(h.count, 0);
            assert!(decode_segment(&bytes).unwrap().events.is_empty());
            assert!(bytes.ends_with(b"\n"));
        }
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
                    leaf_hashes: Vec::new(),
                    prev: None,
                })
                .collect(),
            attachments: Vec::new(),
        }
    }

    #[test]
    fn a_purge_record_round_trips_and_is_checked_against_its_slot() {
        let record = PurgeRecord {
            attachments: vec![crate::attachment_key(&"a".repeat(64))],
            ..purge(&[0, 2])
        };
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
        bad.push(PurgeRecord {
            attachments: vec!["segments/x".into()],
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

    /// Fields of one version are refused in another: a header or line either is exactly a
    /// version's or it is reported.
    #[test]
    fn each_version_has_exactly_its_fields() {
        let (bytes, _) = encode_segment(&spec(SegmentKind::Events), &[event(1, "1")]);
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        let as_v1 = text.replacen("\"wormlog\":3", "\"wormlog\":1", 1);
        assert!(
            matches!(
                decode_segment(as_v1.as_bytes()),
                Err(FormatError::Header(_))
            ),
            "a version 1 header with a window"
        );
        let no_window = text.replacen(",\"window\":1", "", 1);
        assert!(matches!(
            decode_header(no_window.as_bytes()),
            Err(FormatError::Header(_))
        ));
        let wide = text.replacen(",\"window\":1", ",\"window\":17", 1);
        assert!(
            matches!(decode_header(wide.as_bytes()), Err(FormatError::Header(_))),
            "a window above MAX_WINDOW"
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

    use crate::decode_header;

    proptest::proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = decode_segment(&bytes);
        }

        #[test]
        fn decoding_mutated_segments_never_panics(pos in 0usize..600, byte in proptest::num::u8::ANY) {
            let raw = NewEvent::inline(Uuid::from_u128(3), "d", "n", "text/plain", b"hi").unwrap();
            let (bytes, _) = encode_segment(&spec(SegmentKind::Events), &[event(1, "{\"k\":[1,2,3]}"), event(2, "null"), raw]);
            let mut bytes = bytes.to_vec();
            let pos = pos % bytes.len();
            bytes[pos] = byte;
            let _ = decode_segment(&bytes);
        }
    }
}
