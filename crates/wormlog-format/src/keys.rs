//! Key names of a stream's objects.

use crate::FormatError;

/// Slots are zero-padded to this many digits so LIST order is slot order.
pub const SLOT_DIGITS: usize = 20;

/// Names a stream's own objects use under its prefix: no part of a stream name after the
/// first may be one of them, or one stream's keys would fall inside another's (`a/log` and
/// stream `a`'s log). A first part may (a stream named `log` collides with nothing).
pub const RESERVED_PARTS: [&str; 8] = [
    "log",
    "lease",
    "snapshots",
    "purges",
    "attachments",
    "checkpoints",
    "tiles",
    "hints",
];

/// Stream names: one or more parts separated by `/` (`evidence/acme/2026/11`), 255 bytes at
/// most; each part 1 to 128 of `A-Z a-z 0-9 . _ -`, not starting with `.` or `-`, and none
/// after the first one of [`RESERVED_PARTS`].
pub fn validate_stream_name(name: &str) -> Result<(), FormatError> {
    let refuse = |reason: String| {
        Err(FormatError::StreamName {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() || name.len() > 255 {
        return refuse("it must be 1 to 255 characters long".into());
    }
    for (i, part) in name.split('/').enumerate() {
        if part.is_empty() || part.len() > 128 {
            return refuse(
                "each `/`-separated part must be 1 to 128 characters long (no leading, trailing or double `/`)"
                    .into(),
            );
        }
        if part.starts_with('.') || part.starts_with('-') {
            return refuse("no part may start with `.` or `-`".into());
        }
        if !part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return refuse("use only letters, digits, `.`, `_`, `-` and `/` between parts".into());
        }
        if i > 0 && RESERVED_PARTS.contains(&part) {
            return refuse(format!(
                "{part:?} names a stream's own objects and cannot follow another part of a stream name"
            ));
        }
    }
    Ok(())
}

/// Writer ids, lease holders and event types: 1 to 128 printable characters. On failure the
/// message names `what` (such as "--writer-id" or "the holder id").
pub fn validate_id(what: &str, id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > 128 || id.chars().any(char::is_control) {
        return Err(format!("{what} must be 1 to 128 printable characters"));
    }
    Ok(())
}

/// The keys of one stream: `P/log/<slot>`, `P/lease`, `P/snapshots/<seq>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamKeys {
    stream: String,
    prefix: String,
}

impl StreamKeys {
    /// Keys of `stream` under `root_prefix` (may be empty; a trailing `/` is optional).
    pub fn new(root_prefix: &str, stream: &str) -> Result<StreamKeys, FormatError> {
        validate_stream_name(stream)?;
        let root = root_prefix.trim_matches('/');
        let prefix = if root.is_empty() {
            format!("{stream}/")
        } else {
            format!("{root}/{stream}/")
        };
        Ok(StreamKeys {
            stream: stream.to_owned(),
            prefix,
        })
    }

    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// `P/`
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `P/log/`
    pub fn log_prefix(&self) -> String {
        format!("{}log/", self.prefix)
    }

    /// `P/log/<slot, 20 digits>`
    pub fn segment(&self, slot: u64) -> String {
        format!("{}log/{slot:0width$}", self.prefix, width = SLOT_DIGITS)
    }

    /// The slot of a segment key of this stream, or `None` for any other key.
    pub fn parse_slot(&self, key: &str) -> Option<u64> {
        self.parse_numbered(key, "log/")
    }

    /// `P/lease`
    pub fn lease(&self) -> String {
        format!("{}lease", self.prefix)
    }

    /// `P/snapshots/`
    pub fn snapshots_prefix(&self) -> String {
        format!("{}snapshots/", self.prefix)
    }

    /// `P/attachments/`: the raw payloads too large to go inline, one object per SHA-256.
    pub fn attachments_prefix(&self) -> String {
        format!("{}attachments/", self.prefix)
    }

    /// The key of the object an event's `payload.attachment` (`attachments/<sha256>`) names.
    pub fn attachment(&self, relative: &str) -> String {
        format!("{}{relative}", self.prefix)
    }

    /// `P/checkpoints/`: signed checkpoints of the log's Merkle tree, one per tree size.
    pub fn checkpoints_prefix(&self) -> String {
        format!("{}checkpoints/", self.prefix)
    }

    /// `P/checkpoints/<tree size, 20 digits>`
    pub fn checkpoint(&self, size: u64) -> String {
        format!(
            "{}checkpoints/{size:0width$}",
            self.prefix,
            width = SLOT_DIGITS
        )
    }

    /// The tree size a checkpoint key of this stream names, or `None`.
    pub fn parse_checkpoint(&self, key: &str) -> Option<u64> {
        self.parse_numbered(key, "checkpoints/")
    }

    /// `P/tiles/<path>`: a tile of the Merkle tree (`<level>/<index>[.p/<width>]`).
    pub fn tile(&self, path: &str) -> String {
        format!("{}tiles/{path}", self.prefix)
    }

    /// `P/purges/`: the index of purge records, so readers learn of a purge before they
    /// reach the slots it deleted (which lie below the record).
    pub fn purges_prefix(&self) -> String {
        format!("{}purges/", self.prefix)
    }

    /// `P/purges/<slot of the purge record, 20 digits>`
    pub fn purge_index(&self, record_slot: u64) -> String {
        format!(
            "{}purges/{record_slot:0width$}",
            self.prefix,
            width = SLOT_DIGITS
        )
    }

    /// The record slot named by a purge index key of this stream, or `None`.
    pub fn parse_purge_index(&self, key: &str) -> Option<u64> {
        self.parse_numbered(key, "purges/")
    }

    /// The number a key `P/<dir><20 digits>` of this stream names, or `None`.
    fn parse_numbered(&self, key: &str, dir: &str) -> Option<u64> {
        let digits = key.strip_prefix(&self.prefix)?.strip_prefix(dir)?;
        if digits.len() != SLOT_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_keys_sort_in_slot_order_and_parse_back() {
        let k = StreamKeys::new("root/", "orders").unwrap();
        assert_eq!(k.segment(42), "root/orders/log/00000000000000000042");
        assert!(k.segment(9) < k.segment(10));
        assert_eq!(k.parse_slot(&k.segment(u64::MAX)), Some(u64::MAX));
        assert_eq!(k.parse_slot("root/orders/log/42"), None);
        assert_eq!(k.parse_slot("root/other/log/00000000000000000042"), None);
        assert_eq!(k.parse_purge_index(&k.purge_index(7)), Some(7));
        assert_eq!(k.parse_purge_index(&k.segment(7)), None);
        assert_eq!(
            StreamKeys::new("", "s").unwrap().segment(0),
            "s/log/00000000000000000000"
        );
    }

    #[test]
    fn bad_stream_names_are_refused() {
        for bad in [
            "",
            "a//b",
            "/a",
            "a/",
            "..",
            ".hidden",
            "a/.x",
            "-x",
            "a b",
            "é",
            "a/log",
            "x/lease",
            "x/attachments/y",
        ] {
            assert!(validate_stream_name(bad).is_err(), "{bad:?}");
        }
        validate_stream_name("orders-2026.v1_a").unwrap();
        validate_stream_name("evidence/acme/2026/11").unwrap();
        validate_stream_name("lease").unwrap(); // version 1 allowed it; it collides with nothing
        assert!(validate_stream_name(&"a/".repeat(128)).is_err(), "too long");
    }

    #[test]
    fn a_hierarchical_stream_lives_under_its_parts() {
        let k = StreamKeys::new("root", "evidence/acme/2026/11").unwrap();
        assert_eq!(
            k.segment(1),
            "root/evidence/acme/2026/11/log/00000000000000000001"
        );
        assert_eq!(
            k.attachment("attachments/ab"),
            "root/evidence/acme/2026/11/attachments/ab"
        );
    }
}
