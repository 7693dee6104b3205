//! A bucket's configuration read with read-only requests, for `doctor --read-only`: what an
//! auditor with read-only credentials can check without the capability probe's writes.
//!
//! Each setting is read on its own; "not configured" answers (NoSuchBucketPolicy and the
//! like, which differ per setting) become `Ok(None)`, and any other refusal (AccessDenied,
//! NotImplemented on servers without the feature) is kept as the reason it is unknown, so
//! one denied call does not hide the rest.

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{BucketVersioningStatus, ObjectLockEnabled};
use wormlog_store::{BucketSettings, ObjectStore, Op, PublicAccessBlock, Setting, StoreResult};

use crate::classify::classify;
use crate::S3Store;

/// The error codes that mean "this setting is not configured", per AWS, RGW and moto.
const NOT_CONFIGURED: &[&str] = &[
    "NoSuchBucketPolicy",
    "NoSuchPublicAccessBlockConfiguration",
    "ServerSideEncryptionConfigurationNotFoundError",
    "ObjectLockConfigurationNotFoundError",
];

fn reason<E: ProvideErrorMetadata + std::error::Error>(e: &E) -> String {
    match (e.code(), e.message()) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.to_owned(),
        _ => {
            let full = aws_sdk_s3::error::DisplayErrorContext(e).to_string();
            match full.char_indices().nth(240) {
                Some((cut, _)) => format!("{}...", &full[..cut]),
                None => full,
            }
        }
    }
}

/// `<Status>X</Status>` from a versioning answer the SDK could not parse. moto 5.2.5 names
/// the root element `GetBucketVersioningResponse` instead of `VersioningConfiguration`,
/// which the SDK refuses; the status inside is right.
fn versioning_status_in(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("<Status>")? + "<Status>".len();
    let len = text[start..].find("</Status>")?;
    Some(text[start..start + len].to_owned())
}

/// `Ok(None)` for a not-configured answer, `Err(reason)` otherwise.
fn unset_or_unknown<T, E: ProvideErrorMetadata + std::error::Error>(e: E) -> Setting<T> {
    match e.code() {
        Some(c) if NOT_CONFIGURED.contains(&c) => Ok(None),
        _ => Err(reason(&e)),
    }
}

pub(crate) async fn read(store: &S3Store) -> StoreResult<Option<BucketSettings>> {
    let c = store.client();
    let b = &store.config().bucket;
    // A missing bucket is a store error (exit 4), not a finding.
    if let Err(e) = c.head_bucket().bucket(b).send().await {
        let status = e.raw_response().map(|r| r.status().as_u16());
        return Err(match status {
            Some(404) => wormlog_store::StoreError::NotFound { key: b.clone() },
            _ => classify(Op::Head, b, e),
        });
    }
    let versioning = match c.get_bucket_versioning().bucket(b).send().await {
        Ok(v) => Ok(v.status().map(|s| match s {
            BucketVersioningStatus::Enabled => "Enabled".to_owned(),
            BucketVersioningStatus::Suspended => "Suspended".to_owned(),
            other => other.as_str().to_owned(),
        })),
        Err(e) => match e
            .raw_response()
            .filter(|r| r.status().is_success())
            .and_then(|r| r.body().bytes())
        {
            Some(body) if body.windows(10).any(|w| w == b"Versioning") => {
                Ok(versioning_status_in(body))
            }
            _ => Err(reason(&e)),
        },
    };
    let object_lock = match c.get_object_lock_configuration().bucket(b).send().await {
        Ok(o) => Ok(Some(matches!(
            o.object_lock_configuration()
                .and_then(|c| c.object_lock_enabled()),
            Some(ObjectLockEnabled::Enabled)
        ))),
        Err(e) => unset_or_unknown(e).map(|_: Option<bool>| Some(false)),
    };
    let default_retention = store.default_retention().await.map_err(|e| e.to_string());
    let policy = match c.get_bucket_policy().bucket(b).send().await {
        Ok(p) => Ok(p.policy().map(str::to_owned)),
        Err(e) => unset_or_unknown(e),
    };
    let public_access_block = match c.get_public_access_block().bucket(b).send().await {
        Ok(p) => Ok(p
            .public_access_block_configuration()
            .map(|p| PublicAccessBlock {
                block_public_acls: p.block_public_acls().unwrap_or(false),
                ignore_public_acls: p.ignore_public_acls().unwrap_or(false),
                block_public_policy: p.block_public_policy().unwrap_or(false),
                restrict_public_buckets: p.restrict_public_buckets().unwrap_or(false),
            })),
        Err(e) => unset_or_unknown(e),
    };
    let encryption = match c.get_bucket_encryption().bucket(b).send().await {
        Ok(out) => Ok(out.server_side_encryption_configuration().map(|conf| {
            conf.rules()
                .iter()
                .filter_map(|r| r.apply_server_side_encryption_by_default())
                .map(|d| match d.kms_master_key_id() {
                    Some(k) => format!("{} ({k})", d.sse_algorithm().as_str()),
                    None => d.sse_algorithm().as_str().to_owned(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        })),
        Err(e) => unset_or_unknown(e),
    };
    Ok(Some(BucketSettings {
        versioning,
        object_lock,
        default_retention,
        policy,
        public_access_block,
        encryption,
    }))
}

#[cfg(test)]
mod tests {
    use super::versioning_status_in;

    #[test]
    fn the_status_is_read_from_motos_misnamed_versioning_answer() {
        let moto = b"<?xml version=\"1.0\"?>\n<GetBucketVersioningResponse xmlns=\"x\"><Status>Enabled</Status></GetBucketVersioningResponse>";
        assert_eq!(versioning_status_in(moto).as_deref(), Some("Enabled"));
        assert_eq!(versioning_status_in(b"<VersioningConfiguration/>"), None);
    }
}
