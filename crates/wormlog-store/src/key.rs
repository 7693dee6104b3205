//! Object keys: what every store accepts, so that a key valid on one store is valid on all.

use crate::{StoreError, StoreResult};

/// The longest key, in bytes, as on S3.
pub const MAX_KEY_BYTES: usize = 1024;

/// Refuses keys that could escape a directory store or that S3 would treat differently:
/// empty, longer than 1024 bytes, absolute, with an empty, `.` or `..` segment, a backslash,
/// or a control character (NUL included). Keys are `&str`, so invalid UTF-8 cannot reach a store.
pub fn validate_key(key: &str) -> StoreResult<()> {
    let refuse = |reason: &str| {
        Err(StoreError::InvalidKey {
            key: key.to_owned(),
            reason: reason.to_owned(),
        })
    };
    if key.is_empty() {
        return refuse("it is empty");
    }
    if key.len() > MAX_KEY_BYTES {
        return refuse("it is longer than 1024 bytes");
    }
    if key.starts_with('/') {
        return refuse("it is an absolute path; keys are relative to the store");
    }
    if key.chars().any(|c| c.is_control()) {
        return refuse("it contains a control character such as NUL");
    }
    if key.contains('\\') {
        return refuse("it contains a backslash");
    }
    for segment in key.split('/') {
        match segment {
            "" => return refuse("it has an empty path segment (`//` or a trailing `/`)"),
            "." | ".." => return refuse("it has a `.` or `..` path segment"),
            _ => {}
        }
    }
    Ok(())
}

/// Strips the double quotes S3 puts around ETags. Ceph RGW 16.2 answers 412 to a quoted
/// `If-Match` even when it matches, so every store compares and sends ETags unquoted.
pub fn strip_etag_quotes(etag: &str) -> &str {
    let etag = etag.strip_prefix("W/").unwrap_or(etag);
    etag.trim_matches('"')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_log_keys() {
        validate_key("orders/log/00000000000000000042").unwrap();
        validate_key("a").unwrap();
    }

    #[test]
    fn refuses_escaping_or_odd_keys() {
        for bad in [
            "",
            "/etc/passwd",
            "a/../b",
            "..",
            "a//b",
            "a/",
            "./a",
            "a\0b",
            "a\\b",
        ] {
            assert!(
                matches!(validate_key(bad), Err(StoreError::InvalidKey { .. })),
                "{bad:?} accepted"
            );
        }
        assert!(validate_key(&"k".repeat(1025)).is_err());
    }

    #[test]
    fn etag_quotes_are_stripped() {
        assert_eq!(strip_etag_quotes("\"abc\""), "abc");
        assert_eq!(strip_etag_quotes("abc"), "abc");
        assert_eq!(strip_etag_quotes("W/\"abc\""), "abc");
    }
}
