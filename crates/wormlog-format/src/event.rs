//! Event lines: what a decoded event holds, and how an event to append is prepared.
//!
//! An event carries either `data`, the caller's JSON kept token for token, or (version 2) a
//! `payload`: raw bytes with their content type, size and SHA-256, inline as base64 or in an
//! attachment object of their own (`P/attachments/<sha256>`).

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::Digest;
use uuid::Uuid;

use crate::FormatError;

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

/// The raw payload of an event (version 2): exact bytes, not JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payload {
    /// A MIME type such as `application/xml`.
    pub content_type: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 of the bytes, 64 lowercase hex digits.
    pub sha256: String,
    /// The bytes, standard base64 with padding, for an inline payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base64: Option<String>,
    /// For an attached payload: its key under the stream's prefix, `attachments/<sha256>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<String>,
}

impl Payload {
    /// The inline bytes, decoded (`None` for an attachment).
    pub fn inline_bytes(&self) -> Option<Vec<u8>> {
        let text = self.base64.as_deref()?;
        base64_simd::STANDARD.decode_to_vec(text).ok()
    }

    /// Checks the payload's own fields: a content type, a SHA-256 in hex, exactly one of
    /// inline bytes (which must have that size and hash) and an attachment key (which must
    /// be `attachments/<sha256>`).
    pub(crate) fn check(&self) -> Result<(), String> {
        validate_content_type(&self.content_type)?;
        if !is_sha256_hex(&self.sha256) {
            return Err("its sha256 is not 64 lowercase hex digits".into());
        }
        match (&self.base64, &self.attachment) {
            (Some(_), None) => {
                let bytes = self
                    .inline_bytes()
                    .ok_or("its base64 does not decode".to_owned())?;
                if bytes.len() as u64 != self.bytes {
                    return Err(format!(
                        "it says {} bytes, its base64 holds {}",
                        self.bytes,
                        bytes.len()
                    ));
                }
                if sha256_hex(&bytes) != self.sha256 {
                    return Err("its bytes do not have its sha256".into());
                }
                Ok(())
            }
            (None, Some(key)) if *key == attachment_key(&self.sha256) => Ok(()),
            (None, Some(key)) => Err(format!(
                "its attachment key {key:?} is not attachments/<its sha256>"
            )),
            _ => Err("it must hold exactly one of base64 and attachment".into()),
        }
    }
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
    /// The caller's JSON, token for token (absent for a raw payload).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Box<RawValue>>,
    /// A raw payload (version 2; absent for JSON events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Payload>,
    pub meta: EventMeta,
    /// The RFC 9162 leaf hash of the event's line as stored, when the reader was asked for
    /// it ([`crate::decode_segment_hashing`]); never part of the stored event.
    #[serde(skip)]
    pub leaf_hash: Option<[u8; 32]>,
}

impl Event {
    /// The JSON data as stored, for a JSON event.
    pub fn json(&self) -> Option<&str> {
        self.data.as_deref().map(RawValue::get)
    }
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq
            && self.id == other.id
            && self.event_type == other.event_type
            && self.time == other.time
            && self.json() == other.json()
            && self.payload == other.payload
            && self.meta == other.meta
    }
}

/// What an appended raw payload is: its size, hash, and where its bytes live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayloadFacts {
    pub content_type: String,
    pub bytes: u64,
    pub sha256: String,
    /// `attachments/<sha256>` for an attached payload; `None` inline.
    pub attachment: Option<String>,
}

/// An event to append: everything but its seq and fencing token, which the commit assigns.
///
/// Its line is serialised once, here, by whoever creates it (`,"id":..,"type":..,"time":..,
/// "data":..` or `"payload":..`), so committing a batch only joins bytes: the writer's one
/// task, which also waits on every PUT, stays off the JSON work.
#[derive(Clone, Debug)]
pub struct NewEvent {
    id: Uuid,
    /// The line between `{"seq":N` and `,"meta":..`.
    middle: Box<str>,
    /// Where the payload object starts in `middle` (it ends it), for a raw event: its facts
    /// are read back from the line when asked for, so appending allocates none of them.
    payload_at: Option<usize>,
    /// Where the JSON data starts in `middle`, for a JSON event.
    data_at: Option<usize>,
}

/// The fields of an event line that do not depend on the segment, in line order.
#[derive(Serialize)]
struct MiddleRef<'a> {
    id: &'a Uuid,
    #[serde(rename = "type")]
    event_type: &'a str,
    time: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<&'a Payload>,
}

impl<'a> MiddleRef<'a> {
    fn new(
        id: &'a Uuid,
        event_type: &'a str,
        time: &'a str,
        data: Option<&'a RawValue>,
        payload: Option<&'a Payload>,
    ) -> MiddleRef<'a> {
        MiddleRef {
            id,
            event_type,
            time,
            data,
            payload,
        }
    }

    /// `,"id":..,"type":..,"time":..,"data":..` (or `"payload":..`), with room for `extra`
    /// more bytes.
    fn to_middle(&self, extra: usize) -> Vec<u8> {
        let mut middle = Vec::with_capacity(extra + self.event_type.len() + self.time.len() + 64);
        serde_json::to_writer(&mut middle, self).expect("event fields serialise");
        // `{"id":..,"data":..}` -> `,"id":..,"data":..` in place.
        middle[0] = b',';
        middle.pop();
        middle
    }
}

#[cfg(test)]
impl PayloadFacts {
    fn of(payload: &Payload) -> PayloadFacts {
        PayloadFacts {
            content_type: payload.content_type.clone(),
            bytes: payload.bytes,
            sha256: payload.sha256.clone(),
            attachment: payload.attachment.clone(),
        }
    }
}

impl NewEvent {
    /// A JSON event. `data_json` must be one JSON value; it is kept token for token (key
    /// order, number text, string escapes), and only the whitespace between tokens is
    /// removed when the value spans lines, so the event stays on one line. A one-line value
    /// is stored byte for byte.
    pub fn new(
        id: Uuid,
        event_type: impl Into<String>,
        time: impl Into<String>,
        data_json: &str,
    ) -> Result<NewEvent, FormatError> {
        let raw: Box<RawValue> =
            serde_json::from_str(data_json).map_err(|e| FormatError::EventData(e.to_string()))?;
        // JSON strings cannot hold raw newlines, so any is whitespace between tokens. A SIMD
        // scan: `str::contains` with a char set decoded UTF-8 char by char, 11% of an append.
        let data = if memchr::memchr2(b'\n', b'\r', raw.get().as_bytes()).is_some() {
            RawValue::from_string(compact_json(raw.get()))
                .map_err(|e| FormatError::EventData(e.to_string()))?
        } else {
            raw
        };
        Self::build(id, event_type.into(), time.into(), Some(&data), None)
    }

    /// A raw event whose bytes go inline, as base64 in the event line.
    pub fn inline(
        id: Uuid,
        event_type: impl Into<String>,
        time: impl Into<String>,
        content_type: &str,
        bytes: &[u8],
    ) -> Result<NewEvent, FormatError> {
        validate_content_type(content_type).map_err(FormatError::EventData)?;
        let sha256: [u8; 32] = sha2::Sha256::digest(bytes).into();
        let (event_type, time) = (event_type.into(), time.into());
        let extra = bytes.len().div_ceil(3) * 4 + content_type.len() + 160;
        let mut middle = MiddleRef::new(&id, &event_type, &time, None, None).to_middle(extra);
        let payload_at = middle.len() + b",\"payload\":".len();
        // `,"payload":{"content_type":..,"bytes":..,"sha256":"..","base64":".."}`, the line
        // serde writes for a `Payload`, written by hand: the hex and the base64 need no JSON
        // escaping, and the escaper, a `Payload` of owned strings, hashing once more and
        // decoding the base64 again to check were most of an inline event's cost.
        middle.extend_from_slice(b",\"payload\":{\"content_type\":");
        push_json_string(&mut middle, content_type);
        middle.extend_from_slice(b",\"bytes\":");
        middle.extend_from_slice(bytes.len().to_string().as_bytes());
        middle.extend_from_slice(b",\"sha256\":\"");
        push_hex(&mut middle, &sha256);
        middle.extend_from_slice(b"\",\"base64\":\"");
        base64_simd::STANDARD.encode_append(bytes, &mut middle);
        middle.extend_from_slice(b"\"}");
        let text = String::from_utf8(middle).expect("serde_json and base64 write UTF-8");
        Ok(NewEvent {
            id,
            middle: text.into_boxed_str(),
            payload_at: Some(payload_at),
            data_at: None,
        })
    }

    /// A raw event whose bytes are in the attachment object `attachments/<sha256>`, which the
    /// caller has stored (create-only, before this event's segment).
    pub fn attached(
        id: Uuid,
        event_type: impl Into<String>,
        time: impl Into<String>,
        content_type: &str,
        bytes: u64,
        sha256: &[u8; 32],
    ) -> Result<NewEvent, FormatError> {
        let hex = hex_of(sha256);
        let payload = Payload {
            content_type: content_type.to_owned(),
            bytes,
            attachment: Some(attachment_key(&hex)),
            sha256: hex,
            base64: None,
        };
        Self::raw(id, event_type.into(), time.into(), payload)
    }

    fn raw(
        id: Uuid,
        event_type: String,
        time: String,
        payload: Payload,
    ) -> Result<NewEvent, FormatError> {
        payload.check().map_err(FormatError::EventData)?;
        Self::build(id, event_type, time, None, Some(&payload))
    }

    fn build(
        id: Uuid,
        event_type: String,
        time: String,
        data: Option<&RawValue>,
        payload: Option<&Payload>,
    ) -> Result<NewEvent, FormatError> {
        let fields = MiddleRef::new(&id, &event_type, &time, data, payload);
        let extra = data.map_or(0, |d| d.get().len()) + payload.map_or(0, |_| 160);
        let middle = String::from_utf8(fields.to_middle(extra)).expect("serde_json writes UTF-8");
        // `"data"` is the last field written, so its value ends the middle.
        let data_at = data.map(|d| middle.len() - d.get().len());
        // `"payload"` is the last field too; no string holds `,"payload":` unescaped.
        let payload_at = payload.map(|_| {
            let field = ",\"payload\":";
            middle.rfind(field).expect("the payload was written") + field.len()
        });
        Ok(NewEvent {
            id,
            middle: middle.into_boxed_str(),
            payload_at,
            data_at,
        })
    }

    pub fn id(&self) -> Uuid {
        self.id
    }

    /// What the raw payload is, for a raw event (read back from its line).
    pub fn payload(&self) -> Option<PayloadFacts> {
        /// The payload object's fields but its bytes, borrowed where no escape was written.
        #[derive(Deserialize)]
        struct Fields<'a> {
            #[serde(borrow)]
            content_type: std::borrow::Cow<'a, str>,
            bytes: u64,
            sha256: &'a str,
            #[serde(default)]
            attachment: Option<&'a str>,
        }
        let at = self.payload_at?;
        let f: Fields = serde_json::from_str(&self.middle[at..]).expect("the line's own payload");
        Some(PayloadFacts {
            content_type: f.content_type.into_owned(),
            bytes: f.bytes,
            sha256: f.sha256.to_owned(),
            attachment: f.attachment.map(str::to_owned),
        })
    }

    /// The JSON data exactly as it will be stored, for a JSON event.
    pub fn stored_json(&self) -> Option<&str> {
        self.data_at.map(|at| &self.middle[at..])
    }

    /// Bytes this event adds to a segment, roughly (for batch sizing).
    pub fn approx_len(&self) -> usize {
        self.middle.len() + 90
    }

    pub(crate) fn middle(&self) -> &str {
        &self.middle
    }
}

/// `text`, one valid JSON value, without the whitespace between its tokens; every token is
/// kept byte for byte, strings (which cannot hold raw control characters) included.
fn compact_json(text: &str) -> String {
    let mut out = Vec::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for &b in text.as_bytes() {
        if in_string {
            out.push(b);
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            in_string = b == b'"';
            out.push(b);
        }
    }
    String::from_utf8(out).expect("only ASCII whitespace was removed from UTF-8")
}

/// The key of the attachment with this SHA-256 (hex), under the stream's prefix.
pub fn attachment_key(sha256_hex: &str) -> String {
    format!("attachments/{sha256_hex}")
}

/// SHA-256 of `bytes`, as 64 lowercase hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex_of(&sha2::Sha256::digest(bytes).into())
}

/// 32 bytes as 64 lowercase hex digits.
pub fn hex_of(digest: &[u8; 32]) -> String {
    let mut hex = Vec::with_capacity(64);
    push_hex(&mut hex, digest);
    String::from_utf8(hex).expect("hex digits are ASCII")
}

/// Appends 32 bytes as 64 lowercase hex digits: bytes first, one UTF-8 check by the caller
/// (pushing chars one by one was a tenth of the cost of an inline raw event).
fn push_hex(out: &mut Vec<u8>, digest: &[u8; 32]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.extend(
        digest
            .iter()
            .flat_map(|b| [DIGITS[(b >> 4) as usize], DIGITS[(b & 0xf) as usize]]),
    );
}

/// `text` as a JSON string: as it is between quotes when it needs no escaping (a checked
/// content type is printable ASCII, so only `"` and `\\` would), else through serde_json.
fn push_json_string(out: &mut Vec<u8>, text: &str) {
    if text.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        serde_json::to_writer(&mut *out, text).expect("a string serialises");
    } else {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    }
}

/// 64 hex digits (either case) as the 32 bytes they spell; `None` for anything else.
pub fn parse_hex32(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
        let digit = |c: u8| (c as char).to_digit(16);
        *byte = (digit(pair[0])? << 4 | digit(pair[1])?) as u8;
    }
    Some(out)
}

pub(crate) fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Content types: 1 to 255 printable ASCII characters with a `/`, such as `application/xml`
/// or `text/plain; charset=utf-8`.
pub fn validate_content_type(t: &str) -> Result<(), String> {
    if t.is_empty()
        || t.len() > 255
        || !t.contains('/')
        || !t.bytes().all(|b| (0x20..0x7f).contains(&b))
    {
        return Err(format!(
            "content type {t:?} is not a MIME type such as application/xml (1 to 255 printable ASCII characters with a /)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compacting_keeps_every_token_and_drops_only_whitespace_between_them() {
        let text = "{\n  \"b\" : [ 1 , 2 ],\r\n\t\"a\\\"\": \"x \\n y\" ,\n \"n\": -0\n}";
        assert_eq!(
            compact_json(text),
            "{\"b\":[1,2],\"a\\\"\":\"x \\n y\",\"n\":-0}"
        );
    }

    #[test]
    fn json_is_kept_token_for_token() {
        for (given, stored) in [
            ("12345678901234567890123", "12345678901234567890123"),
            ("{\"z\":1,\"a\":2,\"z\":3}", "{\"z\":1,\"a\":2,\"z\":3}"),
            (
                "[-0, 1E2, 1.50, \"\\u00e9\"]",
                "[-0, 1E2, 1.50, \"\\u00e9\"]",
            ),
            (
                "{\n \"big\": 12345678901234567890123,\n \"e\": 1E2\n}",
                "{\"big\":12345678901234567890123,\"e\":1E2}",
            ),
        ] {
            let e = NewEvent::new(Uuid::nil(), "t", "now", given).unwrap();
            assert!(
                e.middle().ends_with(&format!(",\"data\":{stored}")),
                "{given:?} -> {}",
                e.middle()
            );
            assert_eq!(e.stored_json(), Some(stored));
        }
    }

    #[test]
    fn an_inline_payload_records_its_size_hash_and_bytes() {
        let e = NewEvent::inline(Uuid::nil(), "doc", "now", "application/xml", b"<a/>").unwrap();
        let facts = e.payload().unwrap();
        assert_eq!(facts.bytes, 4);
        assert_eq!(facts.sha256, sha256_hex(b"<a/>"));
        assert!(
            e.middle().contains("\"base64\":\"PGEvPg==\""),
            "{}",
            e.middle()
        );
        assert!(
            NewEvent::inline(Uuid::nil(), "d", "n", "xml", b"x").is_err(),
            "not a MIME type"
        );
    }

    /// The inline line is written by hand around the base64: it must be the line serde
    /// writes, and pass the checks a reader makes.
    #[test]
    fn an_inline_line_is_what_serde_would_write() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        for content_type in [
            "text/plain",
            "text/x\"q",
            "a/b\\c; charset=\"utf-8\"",
            "x/ ",
        ] {
            let e =
                NewEvent::inline(Uuid::from_u128(7), "d\"q", "now", content_type, &bytes).unwrap();
            let payload = Payload {
                content_type: content_type.into(),
                bytes: 1000,
                sha256: sha256_hex(&bytes),
                base64: Some(base64_simd::STANDARD.encode_to_string(&bytes)),
                attachment: None,
            };
            let id = Uuid::from_u128(7);
            let fields = MiddleRef::new(&id, "d\"q", "now", None, Some(&payload));
            let expected = String::from_utf8(fields.to_middle(0)).unwrap();
            assert_eq!(e.middle(), expected, "{content_type}");
            assert_eq!(e.payload(), Some(PayloadFacts::of(&payload)));
            payload.check().unwrap();
        }
    }

    #[test]
    fn hex_round_trips_and_refuses_what_is_not_64_digits() {
        let digest: [u8; 32] = std::array::from_fn(|i| (i * 37 + 5) as u8);
        assert_eq!(parse_hex32(&hex_of(&digest)), Some(digest));
        assert_eq!(parse_hex32(&hex_of(&digest).to_uppercase()), Some(digest));
        for bad in [
            "",
            "ab",
            &"g".repeat(64),
            &"a".repeat(63),
            &"a".repeat(65),
            &"é".repeat(32),
            &"+f".repeat(32),
        ] {
            assert_eq!(parse_hex32(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn sha256_is_lowercase_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
