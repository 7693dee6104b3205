//! Turning an aws-sdk-s3 error into a [`StoreError`]: one match, error code first, then HTTP
//! status, so callers decide once (retry, resolve a 412, or report).
//!
//! `PutObjectError` has no PreconditionFailed variant, so codes are read through
//! `ProvideErrorMetadata::code()`.

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::http::Response;
use wormlog_store::{Op, StoreError, DIGEST_MISMATCH};

/// Classifies a failed request on `key`.
pub(crate) fn classify<E>(op: Op, key: &str, err: SdkError<E, Response>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    let code = err.code().map(str::to_owned);
    let message = describe(&err, code.as_deref(), status);
    let key = key.to_owned();
    match (&err, code.as_deref(), status) {
        // No answer in time, or the connection failed: the outcome may be unknown.
        (SdkError::TimeoutError(_), _, _) => StoreError::Transient {
            op: op.name(),
            key,
            message,
        },
        // Not sent at all: no credentials, a bad endpoint or configuration. Retrying cannot
        // help, and nothing can have landed.
        (SdkError::DispatchFailure(d), _, _) if d.is_user() || never_sent(&message) => {
            StoreError::Permanent {
                op: op.name(),
                key,
                message: if message.contains("credential") {
                    format!("no AWS credentials were found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or an AWS profile ({message})")
                } else {
                    message
                },
            }
        }
        // Any other dispatch failure may have happened after the request was sent: hyper's
        // "connection closed before message completed" is `other`, not `io`, yet the server
        // may well have applied the PUT. Transient, so a writer settles the slot.
        (SdkError::DispatchFailure(_), _, _) => StoreError::Transient {
            op: op.name(),
            key,
            message,
        },
        // 412: on a create-only put the key exists; on If-Match the ETag moved on.
        // (Ceph RGW answers 412, not 404, to If-Match on a missing key.)
        (_, Some("PreconditionFailed"), _) | (_, _, Some(412)) => match op {
            Op::PutIfAbsent => StoreError::AlreadyExists { key },
            _ => StoreError::PreconditionFailed { key },
        },
        // 409: a racing conditional write (AWS); retry it.
        (_, Some("ConditionalRequestConflict" | "OperationAborted"), _) | (_, _, Some(409)) => {
            StoreError::Conflict { key }
        }
        // The body is not the one its SHA-256 names: `BadDigest` against
        // `x-amz-checksum-sha256` (AWS), `XAmzContentSHA256Mismatch` against the signed
        // payload hash (AWS, Ceph RGW). Nothing was stored.
        (_, Some(c @ ("BadDigest" | "XAmzContentSHA256Mismatch")), _) => StoreError::Permanent {
            op: op.name(),
            key,
            message: format!(
                "HTTP 400 {c}: the bytes the server received {DIGEST_MISMATCH} (was the file changed after it was hashed?); nothing was stored"
            ),
        },
        (_, Some("NoSuchBucket"), _) => StoreError::Permanent {
            op: op.name(),
            key,
            message: "the bucket does not exist; create it with `wormlog init`".into(),
        },
        (_, Some("NoSuchKey" | "NotFound" | "NoSuchVersion"), _) | (_, _, Some(404)) => {
            StoreError::NotFound { key }
        }
        (
            _,
            Some(
                "SlowDown" | "Throttling" | "RequestTimeout" | "InternalError"
                | "ServiceUnavailable",
            ),
            _,
        )
        | (_, _, Some(500..=599)) => StoreError::Transient {
            op: op.name(),
            key,
            message,
        },
        // Object Lock refusals come back as AccessDenied (AWS, RGW, moto) on exactly the
        // calls that Object Lock guards.
        (_, Some("AccessDenied"), _) if matches!(op, Op::Delete | Op::SetRetention) => {
            StoreError::ObjectLocked {
                key,
                reason: message,
            }
        }
        // Any other refusal for want of permission: name the permission to grant.
        (_, Some("AccessDenied"), _) => StoreError::Permanent {
            op: op.name(),
            key,
            message: format!(
                "{message}; grant {} on this bucket and prefix to these credentials (`wormlog policy --iam` prints what writers need)",
                permission(op)
            ),
        },
        // An answer we could not parse: treat like a dropped connection.
        (SdkError::ResponseError(_), _, _) => StoreError::Transient {
            op: op.name(),
            key,
            message,
        },
        _ => StoreError::Permanent {
            op: op.name(),
            key,
            message,
        },
    }
}

/// The IAM permission a request needs.
fn permission(op: Op) -> &'static str {
    match op {
        Op::PutIfAbsent | Op::PutIfMatch | Op::Upload => "s3:PutObject",
        Op::Get | Op::Head => "s3:GetObject",
        Op::List => "s3:ListBucket (and s3:ListBucketVersions)",
        Op::Delete => "s3:DeleteObject",
        Op::SetRetention => "s3:PutObjectRetention",
        Op::SetLegalHold => "s3:PutObjectLegalHold",
    }
}

/// Dispatch failures that happen before any byte is sent: resolving credentials or an
/// identity for signing.
fn never_sent(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    ["credential", "identity", "auth scheme", "no matching auth"]
        .iter()
        .any(|needle| m.contains(needle))
}

fn describe<E>(err: &SdkError<E, Response>, code: Option<&str>, status: Option<u16>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let detail = err.message().map(str::to_owned).unwrap_or_else(|| {
        let mut s = err.to_string();
        let mut source = std::error::Error::source(err);
        while let Some(e) = source {
            s = format!("{s}: {e}");
            source = e.source();
        }
        s
    });
    match (code, status) {
        (Some(c), Some(s)) => format!("HTTP {s} {c}: {detail}"),
        (None, Some(s)) => format!("HTTP {s}: {detail}"),
        (Some(c), None) => format!("{c}: {detail}"),
        (None, None) => detail,
    }
}
