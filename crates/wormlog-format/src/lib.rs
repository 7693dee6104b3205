//! # wormlog-format: what a log object contains, and what its key is
//!
//! A stream lives under `P = <root prefix>/<stream>/`; slot `s` of its log is the object
//! `P/log/<s, 20 digits>` ([`StreamKeys`]). Each object is one segment, UTF-8 JSON Lines
//! readable with `jq`:
//!
//! ```text
//! line 1      header   {"wormlog":1,"stream":..,"slot":..,"kind":"events","first_seq":..,
//!                        "count":n,"epoch":..,"writer":..,"write_id":..,"created_at":..,"crc32":..}
//! lines 2..   events   {"seq":..,"id":..,"type":..,"time":..,"data":<caller's JSON>,
//!                        "meta":{"fencing_token":{"epoch":..,"writer":..}}}
//! ```
//!
//! `crc32` covers every byte after the header line. The decoder ([`decode_segment`]) checks the
//! version, the CRC, the line count, that seqs run `first_seq..first_seq+count`, and that each
//! event's fencing token matches the header; any failure is a typed [`FormatError`], never a
//! panic. The same facts are sent as object metadata ([`SegmentSummary::to_metadata`]) so a
//! HEAD answers "whose object is this?" (protocol step 2).
//!
//! Invariants this crate serves: I1 (a segment's bytes say exactly what was committed; the CRC
//! exposes any change), I7 (every event carries its id), I9 (malformed input is a typed error).

mod codec;
mod error;
mod keys;
mod summary;

pub use codec::{
    decode_header, decode_segment, encode_purge, encode_segment, Event, EventMeta, FencingToken,
    NewEvent, PurgeRecord, PurgedSlot, Segment, SegmentHeader, SegmentKind, SegmentSpec,
    FORMAT_VERSION,
};
pub use error::FormatError;
pub use keys::{validate_id, validate_stream_name, StreamKeys, SLOT_DIGITS};
pub use summary::SegmentSummary;
