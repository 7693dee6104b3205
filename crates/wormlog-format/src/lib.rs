//! # wormlog-format: what a log object contains, and what its key is
//!
//! A stream lives under `P = <root prefix>/<stream>/` (a stream name may have `/`-separated
//! parts); slot `s` of its log is the object `P/log/<s, 20 digits>` ([`StreamKeys`]). Each
//! object is one segment, UTF-8 JSON Lines readable with `jq`:
//!
//! ```text
//! line 1      header   {"wormlog":3,"stream":..,"slot":..,"kind":"events","first_seq":..,
//!                        "count":n,"epoch":..,"writer":..,"write_id":..,"prev":..,"window":1,
//!                        "created_at":..,"crc32":..}
//! lines 2..   events   {"seq":..,"id":..,"type":..,"time":..,"data":<caller's JSON>,
//!                        "meta":{"fencing_token":{"epoch":..,"writer":..}}}
//!               or     {..,"payload":{"content_type":..,"bytes":..,"sha256":..,
//!                        "base64":.. | "attachment":"attachments/<sha256>"},"meta":..}
//! ```
//!
//! New segments are written in version 3 ([`FORMAT_VERSION`]); every version ever written is
//! read ([`READ_VERSIONS`]). `crc32` covers every byte after the header line. The decoder
//! ([`decode_segment`]) checks the version and exactly its fields, the CRC, the line count,
//! that seqs run `first_seq..first_seq+count`, that each event's fencing token matches the
//! header, and that an inline payload has the size and SHA-256 it claims; any failure is a
//! typed [`FormatError`], never a panic. The same facts are sent as object metadata
//! ([`SegmentSummary::to_metadata`]) so a HEAD answers "whose object is this?".
//!
//! Invariants this crate serves: I1 (a segment's bytes say exactly what was committed; the CRC
//! exposes any change), I7 (every event carries its id), I9 (malformed input is a typed error).

mod codec;
mod error;
mod event;
mod header;
mod keys;
mod purge;
mod summary;

pub use codec::{
    decode_segment, decode_segment_as, decode_segment_hashing, encode_purge, encode_segment,
    encoded_leaf_hashes, event_lines, leaf_hash, Decoding, Segment,
};
pub use error::FormatError;
pub use event::{
    attachment_key, hex_of, parse_hex32, sha256_hex, validate_content_type, Event, EventMeta,
    FencingToken, NewEvent, Payload, PayloadFacts,
};
pub use header::{
    decode_header, is_pending, lowest_pending, SegmentHeader, SegmentKind, SegmentSpec,
    FORMAT_VERSION, MAX_VOIDS_ABOVE_A_HOLE, MAX_WINDOW, READ_VERSIONS,
};
pub use keys::{validate_id, validate_stream_name, StreamKeys, RESERVED_PARTS, SLOT_DIGITS};
pub use purge::{PurgeRecord, PurgedSlot};
pub use summary::{Prev, SegmentSummary};
