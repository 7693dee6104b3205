//! What a server does with `x-amz-checksum-sha256`, for the stores this project implements
//! itself: check the bytes against the SHA-256 the caller sent, and keep it for audits.

use sha2::Digest;

use crate::{StoreError, StoreResult, DIGEST_MISMATCH};

/// The SHA-256 of `body`.
pub(crate) fn sha256(body: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(body).into()
}

/// 32 bytes as 64 lowercase hex digits.
pub fn hex(digest: &[u8; 32]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks `body` against `expected` (when the caller sent one) and returns the hex digest to
/// keep; a mismatch is refused as S3 refuses it (400 BadDigest), and nothing is stored.
pub(crate) fn verified(
    key: &str,
    body: &[u8],
    expected: Option<[u8; 32]>,
) -> StoreResult<Option<String>> {
    let Some(expected) = expected else {
        return Ok(None);
    };
    if sha256(body) != expected {
        return Err(bad_digest(key));
    }
    Ok(Some(hex(&expected)))
}

pub(crate) fn bad_digest(key: &str) -> StoreError {
    StoreError::Permanent {
        op: "put",
        key: key.to_owned(),
        message: format!("HTTP 400 BadDigest: the bytes {DIGEST_MISMATCH}; nothing was stored"),
    }
}
