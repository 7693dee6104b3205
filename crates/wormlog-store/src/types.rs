//! The values that cross the [`crate::ObjectStore`] boundary.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// Object Lock retention mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RetentionMode {
    /// Nobody can delete the object or shorten its retention, the account root included.
    Compliance,
    /// Deletion and shortening need the bypass permission and header.
    Governance,
}

impl RetentionMode {
    pub fn as_str(self) -> &'static str {
        match self {
            RetentionMode::Compliance => "COMPLIANCE",
            RetentionMode::Governance => "GOVERNANCE",
        }
    }
}

impl std::fmt::Display for RetentionMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for RetentionMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "compliance" => Ok(RetentionMode::Compliance),
            "governance" => Ok(RetentionMode::Governance),
            other => Err(format!(
                "unknown retention mode {other:?}; use compliance or governance"
            )),
        }
    }
}

/// Retention of one object: protected in `mode` until `retain_until`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    pub mode: RetentionMode,
    pub retain_until: Timestamp,
}

/// A bucket's default retention: new objects get `mode` for `days` days.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultRetention {
    pub mode: RetentionMode,
    pub days: u32,
}

impl std::fmt::Display for DefaultRetention {
    /// `COMPLIANCE for 30 days`, `GOVERNANCE for 1 day`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let unit = if self.days == 1 { "day" } else { "days" };
        write!(f, "{} for {} {unit}", self.mode, self.days)
    }
}

impl DefaultRetention {
    /// The retention an object created at `now` receives.
    pub fn from_now(&self, now: Timestamp) -> Retention {
        Retention {
            mode: self.mode,
            retain_until: now.plus(Duration::from_secs(u64::from(self.days) * 86_400)),
        }
    }
}

/// Lock state of an object as read back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockState {
    pub retention: Option<Retention>,
    pub legal_hold: bool,
}

impl LockState {
    /// True when retention is in force at `now` or a legal hold is on.
    pub fn is_protected(&self, now: Timestamp) -> bool {
        self.legal_hold || self.retention.is_some_and(|r| r.retain_until > now)
    }
}

/// Object Lock settings asked for on one put.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LockRequest {
    /// Retention for this object; `None` means the bucket default, if any.
    pub retention: Option<Retention>,
    pub legal_hold: bool,
}

/// Options of a put.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PutOptions {
    /// User metadata (`x-amz-meta-<name>` on S3). Names are lower-case ASCII.
    pub metadata: BTreeMap<String, String>,
    pub lock: LockRequest,
    /// The SHA-256 of the body. The store checks the bytes against it before it stores them
    /// (S3: `x-amz-checksum-sha256`, in place of the CRC-32 sent otherwise, and the signed
    /// payload hash; moto checks neither) and, where it can, keeps it, so an audit can compare
    /// without downloading ([`ObjectMeta::sha256`]).
    pub sha256: Option<[u8; 32]>,
    /// Object tags (`x-amz-tagging` on S3), which lifecycle rules can select on. Local stores
    /// keep none.
    pub tags: BTreeMap<String, String>,
}

/// The tag on every object wormlog writes for its own housekeeping (lease, capability probe):
/// the lifecycle rule of `wormlog policy --lifecycle` expires their old versions by it.
pub const HOUSEKEEPING_TAG: (&str, &str) = ("wormlog-housekeeping", "true");

/// How long a housekeeping object is retained on a bucket with default retention: long
/// enough that a client clock behind the server's still names a future date, short enough
/// that its old versions can be expired within a day instead of the bucket's years.
pub const HOUSEKEEPING_RETENTION: Duration = Duration::from_secs(3600);

impl PutOptions {
    /// Options for a housekeeping object (lease, probe): tagged [`HOUSEKEEPING_TAG`] and, on a
    /// bucket with default retention, GOVERNANCE retention for [`HOUSEKEEPING_RETENTION`]
    /// instead of the default, which is meant for the log and would keep every lease renewal
    /// for years.
    pub fn housekeeping(default: Option<DefaultRetention>, now: Timestamp) -> PutOptions {
        let mut opts = PutOptions {
            tags: BTreeMap::from([(HOUSEKEEPING_TAG.0.to_owned(), HOUSEKEEPING_TAG.1.to_owned())]),
            ..PutOptions::default()
        };
        if default.is_some() {
            opts.lock.retention = Some(Retention {
                mode: RetentionMode::Governance,
                retain_until: now.plus(HOUSEKEEPING_RETENTION),
            });
        }
        opts
    }
}

/// What a successful put returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutResult {
    /// The new ETag, without quotes.
    pub etag: String,
}

/// Metadata of one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectMeta {
    pub key: String,
    pub size: u64,
    /// Without quotes.
    pub etag: String,
    pub metadata: BTreeMap<String, String>,
    pub lock: LockState,
    /// The SHA-256 of the whole object the store kept when it was written (64 hex digits),
    /// where it keeps one: AWS checked it then; moto keeps whatever was sent, unchecked.
    /// `None` otherwise (no checksum was sent, a store that keeps none such as Ceph RGW 16.2,
    /// or a multipart upload, whose checksum on S3 covers its parts).
    pub sha256: Option<String>,
}

/// A multipart upload in progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadId(pub String);

/// One uploaded part of a multipart upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadedPart {
    /// 1-based.
    pub number: u32,
    pub etag: String,
    pub sha256: [u8; 32],
}

/// An object's bytes and metadata.
#[derive(Clone, Debug)]
pub struct GetResult {
    pub body: Bytes,
    pub meta: ObjectMeta,
}

/// One key of a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListEntry {
    pub key: String,
    pub size: u64,
}

/// One page of a listing; when `truncated`, continue after the last entry's key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListPage {
    pub entries: Vec<ListEntry>,
    pub truncated: bool,
}

/// Options of a delete.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeleteOptions {
    /// Send `x-amz-bypass-governance-retention: true`: may delete GOVERNANCE-retained objects.
    pub bypass_governance: bool,
}

/// Options of [`crate::ObjectStore::init`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InitOptions {
    /// Create the bucket with Object Lock (and versioning) turned on. Implied by a default
    /// retention. Local stores always support Object Lock.
    pub object_lock: bool,
    /// Give new objects this retention unless they ask for their own.
    pub default_retention: Option<DefaultRetention>,
}

/// What [`crate::ObjectStore::init`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitReport {
    /// False when the bucket already existed.
    pub created: bool,
    /// The default retention now in force.
    pub default_retention: Option<DefaultRetention>,
}

/// Requests of one kind a store has sent, for stores that count them (S3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RequestStats {
    /// The operation, such as `put_if_absent` or `head`.
    pub op: &'static str,
    pub requests: u64,
    pub errors: u64,
    /// Sum of all requests' latencies in microseconds, SDK retries included.
    pub total_latency_us: u64,
}

impl RequestStats {
    /// Mean latency per request, in microseconds.
    pub fn mean_latency_us(&self) -> u64 {
        self.total_latency_us
            .checked_div(self.requests)
            .unwrap_or(0)
    }
}

/// One version of a key, or a delete marker, as a versioned bucket keeps them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionEntry {
    pub key: String,
    /// `None` on unversioned stores.
    pub version_id: Option<String>,
    /// The version a plain GET returns (for a delete marker: the key reads as deleted).
    pub is_latest: bool,
    /// A delete marker: a plain DELETE on a versioned bucket. For a log, a tampering attempt.
    pub delete_marker: bool,
    pub size: u64,
}

impl From<ListEntry> for VersionEntry {
    /// A current object as its one version: for stores that keep no versions.
    fn from(e: ListEntry) -> VersionEntry {
        VersionEntry {
            key: e.key,
            version_id: None,
            is_latest: true,
            delete_marker: false,
            size: e.size,
        }
    }
}

/// A bucket setting as read without writing: `Ok(None)` when it is not configured, `Err`
/// with the reason when it could not be read (access denied, not implemented).
pub type Setting<T> = Result<Option<T>, String>;

/// The S3 Block Public Access flags of a bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    pub fn all_on(&self) -> bool {
        self.block_public_acls
            && self.ignore_public_acls
            && self.block_public_policy
            && self.restrict_public_buckets
    }
}

/// What a bucket's configuration says, read with read-only requests (`doctor --read-only`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketSettings {
    /// `Enabled` or `Suspended`; `None` if versioning was never turned on.
    pub versioning: Setting<String>,
    /// Object Lock enabled on the bucket.
    pub object_lock: Setting<bool>,
    pub default_retention: Setting<DefaultRetention>,
    /// The bucket policy document (JSON).
    pub policy: Setting<String>,
    pub public_access_block: Setting<PublicAccessBlock>,
    /// The default encryption's algorithms (`AES256`, `aws:kms` with its key).
    pub encryption: Setting<String>,
}
