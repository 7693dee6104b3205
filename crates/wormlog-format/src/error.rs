//! Why bytes are not a valid segment, or a name not a valid stream.

/// A segment or name that cannot be accepted. Every decoding failure is one of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("the segment is empty")]
    Empty,
    #[error("the segment has no complete header line (truncated?)")]
    NoHeaderLine,
    #[error("the segment header is not valid: {0}")]
    Header(String),
    #[error(
        "the segment has format version {0}, which this wormlog does not know; upgrade wormlog"
    )]
    UnsupportedVersion(u32),
    #[error("the segment's CRC-32 does not match (stored {stored:#010x}, computed {computed:#010x}): its bytes were changed")]
    CrcMismatch { stored: u32, computed: u32 },
    #[error(
        "the segment header says {expected} events but {found} event lines follow (truncated?)"
    )]
    CountMismatch { expected: u64, found: u64 },
    #[error("event line {line} is not valid: {reason}")]
    EventLine { line: u64, reason: String },
    #[error("event line {line} disagrees with the header: {reason}")]
    Inconsistent { line: u64, reason: String },
    #[error("the purge record is not valid: {reason}")]
    Control { reason: String },
    #[error("event data is not valid JSON: {0}")]
    EventData(String),
    #[error("invalid stream name {name:?}: {reason}")]
    StreamName { name: String, reason: String },
}
