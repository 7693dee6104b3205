//! # wormlog-store: the object store that every wormlog log lives in
//!
//! wormlog keeps a log as objects in a bucket. This crate is the only place that knows how to
//! talk to a bucket; it knows nothing of the log protocol. It offers:
//!
//! - [`ObjectStore`]: create-only put (`If-None-Match: *`), compare-and-swap put (`If-Match`),
//!   get, head with user metadata, ordered paginated list-after, delete, and the Object Lock
//!   calls (per-object retention and legal hold, bucket default retention).
//! - [`MemoryStore`]: in memory, for tests, the demo and benchmarks.
//! - [`FsStore`]: a local directory, the embedded default (`./wormlog-data`).
//! - [`FaultStore`]: a wrapper that fails chosen requests before they reach the inner store or
//!   after the inner store committed them (the lost-response case).
//! - [`Clock`] and [`SeededRng`]: time and randomness are injected, never read ambiently
//!   (`clippy.toml` enforces it outside `clock.rs` and `rng.rs`).
//!
//! ```text
//!   writer / reader / lease ──► ObjectStore ──► MemoryStore | FsStore | S3Store (wormlog-s3)
//!                                    ▲
//!                         FaultStore wraps any of them in tests
//! ```
//!
//! ## What the protocol relies on (checked by the conformance suite, `conformance` feature)
//!
//! - A create-only put on an existing key fails with [`StoreError::AlreadyExists`] and changes
//!   nothing: this is what makes I1 (one object per slot, never replaced) hold.
//! - A compare-and-swap put with a stale ETag fails with [`StoreError::PreconditionFailed`].
//! - A successful put is visible to every later get, head and list (read-after-write).
//! - List returns keys in byte order, after `start_after`, in pages.
//! - An object under retention or legal hold cannot be deleted or overwritten, and its retention
//!   cannot be shortened (COMPLIANCE) or shortened without bypass (GOVERNANCE).

mod checksum;
mod clock;
#[cfg(feature = "conformance")]
pub mod conformance;
mod error;
mod fault;
mod fs;
mod key;
mod lock_rules;
mod memory;
pub mod probe;
mod rng;
mod types;

use std::path::Path;

use async_trait::async_trait;
use bytes::Bytes;

pub use checksum::hex as hex_sha256;
pub use clock::{Clock, ManualClock, SystemClock, Timestamp, TokioClock};
pub use error::{ErrorClass, StoreError, StoreResult, DIGEST_MISMATCH};
pub use fault::{ChaosRule, Fault, FaultPoint, FaultStore, Op, RecordedRequest};
pub use fs::{FsStep, FsStore};
pub use key::{strip_etag_quotes, validate_key};
pub use lock_rules::check_retention_change;
pub use memory::MemoryStore;
pub use rng::SeededRng;
pub use types::{
    BucketSettings, DefaultRetention, DeleteOptions, GetResult, InitOptions, InitReport, ListEntry,
    ListPage, LockRequest, LockState, ObjectMeta, PublicAccessBlock, PutOptions, PutResult,
    RequestStats, Retention, RetentionMode, Setting, UploadId, UploadedPart, VersionEntry,
    HOUSEKEEPING_RETENTION, HOUSEKEEPING_TAG,
};

/// A failure to read the local file given to [`ObjectStore::put_file_if_absent`]: not the
/// store's fault, and never retried.
pub fn source_file_error(key: &str, path: &Path, err: std::io::Error) -> StoreError {
    StoreError::Permanent {
        op: "read the file to put",
        key: key.to_owned(),
        message: format!("cannot read {}: {err}", path.display()),
    }
}

/// [`ObjectStore::put_file_if_absent`] by reading the file into memory: for stores that keep
/// objects in memory, and for a put the store cannot stream.
pub async fn put_file_read_whole<S: ObjectStore + ?Sized>(
    store: &S,
    key: &str,
    path: &Path,
    opts: &PutOptions,
) -> StoreResult<PutResult> {
    let body = tokio::fs::read(path)
        .await
        .map_err(|e| source_file_error(key, path, e))?;
    store.put_if_absent(key, Bytes::from(body), opts).await
}

/// The current objects as their only versions: [`ObjectStore::list_versions_after`] for
/// stores that keep no versions.
pub async fn list_versions_of_current<S: ObjectStore + ?Sized>(
    store: &S,
    prefix: &str,
    start_after: Option<&str>,
) -> StoreResult<Vec<VersionEntry>> {
    Ok(list_all(store, prefix, start_after)
        .await?
        .into_iter()
        .map(VersionEntry::from)
        .collect())
}

/// Keys of `versions` that hide something: a delete marker, or more than one version. On a
/// create-only log neither happens without tampering (a plain DELETE on a versioned bucket,
/// or an object written again over the marker it left).
pub fn shadowed_keys(versions: &[VersionEntry]) -> std::collections::BTreeSet<String> {
    // Counted by distinct version id: a listing page boundary that repeats an entry (a
    // server treating the version-id marker as inclusive) is not a second version.
    let mut seen =
        std::collections::BTreeMap::<&str, std::collections::BTreeSet<Option<&str>>>::new();
    let mut shadowed = std::collections::BTreeSet::new();
    for v in versions {
        let ids = seen.entry(&v.key).or_default();
        ids.insert(v.version_id.as_deref());
        if v.delete_marker || ids.len() > 1 {
            shadowed.insert(v.key.clone());
        }
    }
    shadowed
}

/// The largest page [`ObjectStore::list_after`] returns, as on S3.
pub const MAX_LIST_PAGE: usize = 1000;

/// A bucket (or a directory) of objects, with the conditional writes wormlog's safety rests on.
///
/// Every method names the object it failed on in its error. Implementations classify failures
/// into [`StoreError`] so callers can decide once: retry ([`StoreError::is_transient`]), resolve a
/// conflict (`AlreadyExists`, `PreconditionFailed`), or give up.
#[async_trait]
pub trait ObjectStore: Send + Sync + std::fmt::Debug + 'static {
    /// A short description for messages, such as `file:///var/lib/wormlog` or `mem://`.
    fn describe(&self) -> String;

    /// Whether the SHA-256 this store reports for an object ([`ObjectMeta::sha256`]) stands
    /// for its bytes, so an audit may compare it instead of reading them: the store checked
    /// the bytes against it when they were written, and nobody can change them without the
    /// store knowing. Not so by default (the audit reads the bytes): a directory store's
    /// files can be edited in place under its kept checksum, and moto keeps a checksum it
    /// never checked.
    fn kept_sha256_stands_for_the_bytes(&self) -> bool {
        false
    }

    /// Creates `key` only if it does not exist (`If-None-Match: *`).
    /// An existing key gives [`StoreError::AlreadyExists`] and leaves it untouched.
    ///
    /// Sent once: implementations never retry it themselves, because a retry after a lost
    /// response would hide whether the first attempt landed. Callers retry transient errors
    /// and, having sent it more than once, treat a 412 as possibly their own.
    async fn put_if_absent(
        &self,
        key: &str,
        body: Bytes,
        opts: &PutOptions,
    ) -> StoreResult<PutResult>;

    /// Creates `key` from the file at `path`, create-only like [`ObjectStore::put_if_absent`]
    /// (sent once, never retried inside), streaming it so memory stays bounded whatever its
    /// size. `opts.sha256`, when given, is checked by the store against the bytes it receives
    /// (by every store but moto).
    /// The default reads the file whole, for stores that keep objects in memory anyway.
    async fn put_file_if_absent(
        &self,
        key: &str,
        path: &Path,
        opts: &PutOptions,
    ) -> StoreResult<PutResult> {
        put_file_read_whole(self, key, path, opts).await
    }

    /// Replaces `key` only if its current ETag is `etag` (`If-Match`; quotes are ignored).
    /// A different ETag gives [`StoreError::PreconditionFailed`]; a missing key gives
    /// [`StoreError::NotFound`].
    async fn put_if_match(
        &self,
        key: &str,
        body: Bytes,
        etag: &str,
        opts: &PutOptions,
    ) -> StoreResult<PutResult>;

    /// Reads the whole object with its metadata.
    async fn get(&self, key: &str) -> StoreResult<GetResult>;

    /// Reads only the metadata: size, ETag, user metadata, lock state and kept SHA-256.
    async fn head(&self, key: &str) -> StoreResult<ObjectMeta>;

    /// Reads `len` bytes of `key` from `offset` (fewer at the end of the object): large
    /// objects are read in pieces, so memory stays bounded.
    async fn get_range(&self, key: &str, offset: u64, len: u64) -> StoreResult<Bytes>;

    /// Starts a multipart upload of `key` (for objects larger than one PUT should carry),
    /// with the options of the object it will become.
    async fn start_upload(&self, key: &str, opts: &PutOptions) -> StoreResult<UploadId>;

    /// Uploads part `number` (1-based, in any order). The store verifies `sha256` (every
    /// store but moto). Nothing ties the parts to the whole: the caller checks they make it.
    async fn upload_part(
        &self,
        key: &str,
        upload: &UploadId,
        number: u32,
        body: Bytes,
        sha256: [u8; 32],
    ) -> StoreResult<UploadedPart>;

    /// Completes the upload from `parts`, in part order, create-only (`If-None-Match: *`)
    /// where the store supports it: an existing key gives [`StoreError::AlreadyExists`].
    /// `sha256` is the whole object's; the local stores check it, S3 cannot (its checksum of
    /// a multipart object covers the parts), so callers check the parts' bytes themselves.
    async fn complete_upload(
        &self,
        key: &str,
        upload: &UploadId,
        parts: &[UploadedPart],
        sha256: [u8; 32],
    ) -> StoreResult<PutResult>;

    /// Abandons an upload and frees its parts.
    async fn abort_upload(&self, key: &str, upload: &UploadId) -> StoreResult<()>;

    /// Lists keys that start with `prefix` and sort after `start_after`, in byte order, at most
    /// `limit` (capped at [`MAX_LIST_PAGE`]) per call.
    async fn list_after(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> StoreResult<ListPage>;

    /// Deletes `key`. A missing key is not an error (as on S3). Refused with
    /// [`StoreError::ObjectLocked`] while retention or a legal hold protects it.
    async fn delete(&self, key: &str, opts: &DeleteOptions) -> StoreResult<()>;

    /// Sets or extends the retention of `key`. Shortening COMPLIANCE retention is refused;
    /// shortening GOVERNANCE retention needs `bypass_governance`.
    async fn set_retention(
        &self,
        key: &str,
        retention: Retention,
        bypass_governance: bool,
    ) -> StoreResult<()>;

    /// Turns the legal hold of `key` on or off.
    async fn set_legal_hold(&self, key: &str, on: bool) -> StoreResult<()>;

    /// The folders directly under `prefix` (which ends in `/` or is empty): the distinct
    /// next path components of its keys, each as `prefix + name + "/"`, in byte order (a LIST
    /// with delimiter `/` on S3).
    async fn list_folders(&self, prefix: &str) -> StoreResult<Vec<String>> {
        let mut folders = std::collections::BTreeSet::new();
        for e in list_all(self, prefix, None).await? {
            if let Some((name, _)) = e.key[prefix.len()..].split_once('/') {
                folders.insert(format!("{prefix}{name}/"));
            }
        }
        Ok(folders.into_iter().collect())
    }

    /// Every version and delete marker of the keys under `prefix`, in key order (newest
    /// version first within a key). Unversioned stores list each object as its one version.
    async fn list_versions(&self, prefix: &str) -> StoreResult<Vec<VersionEntry>> {
        self.list_versions_after(prefix, None).await
    }

    /// [`ObjectStore::list_versions`] of the keys that sort after `start_after`: one listing
    /// that shows both the current objects and what hides behind them (older versions, delete
    /// markers).
    async fn list_versions_after(
        &self,
        prefix: &str,
        start_after: Option<&str>,
    ) -> StoreResult<Vec<VersionEntry>> {
        list_versions_of_current(self, prefix, start_after).await
    }

    /// The first page of [`ObjectStore::list_versions`] of `prefix` (on S3 one request, up to
    /// 1000 entries) and whether it holds everything: a writer finds the tail of a log that
    /// fits in one page from this alone. Stores without pages answer with everything.
    /// A store with pages overrides [`ObjectStore::list_versions_page_after`], not this: both
    /// then page alike, and wrappers (such as [`crate::FaultStore`]) see every first page.
    async fn list_versions_first(&self, prefix: &str) -> StoreResult<(Vec<VersionEntry>, bool)> {
        self.list_versions_page_after(prefix, None).await
    }

    /// The first page of [`ObjectStore::list_versions_after`] (on S3 one request) and whether
    /// it holds everything after `start_after`: what a writer reads from a guessed tail, where
    /// the whole listing could be many pages long. Stores without pages answer with everything.
    async fn list_versions_page_after(
        &self,
        prefix: &str,
        start_after: Option<&str>,
    ) -> StoreResult<(Vec<VersionEntry>, bool)> {
        Ok((self.list_versions_after(prefix, start_after).await?, true))
    }

    /// The bucket's default retention, applied to new objects that ask for none. A bucket
    /// that does not exist is [`StoreError::NotFound`].
    async fn default_retention(&self) -> StoreResult<Option<DefaultRetention>>;

    /// The bucket's configuration, read without writing anything; `None` for stores that
    /// are not S3 buckets. A bucket that does not exist is [`StoreError::NotFound`].
    async fn bucket_settings(&self) -> StoreResult<Option<BucketSettings>> {
        Ok(None)
    }

    /// Creates the bucket (or directory) if needed and sets its default retention.
    async fn init(&self, opts: &InitOptions) -> StoreResult<InitReport>;

    /// True for stores whose conditional writes this project implements itself and the
    /// conformance suite verifies (memory, directory): writers skip the capability probe.
    fn enforces_conditions_itself(&self) -> bool {
        false
    }

    /// Requests sent so far, per operation, for stores that count them (S3); empty otherwise.
    fn request_stats(&self) -> Vec<RequestStats> {
        Vec::new()
    }
}

/// Reads every key under `prefix` after `start_after`, page by page.
pub async fn list_all<S: ObjectStore + ?Sized>(
    store: &S,
    prefix: &str,
    start_after: Option<&str>,
) -> StoreResult<Vec<ListEntry>> {
    let mut out = Vec::new();
    let mut after = start_after.map(str::to_owned);
    loop {
        let page = store
            .list_after(prefix, after.as_deref(), MAX_LIST_PAGE)
            .await?;
        let truncated = page.truncated;
        if let Some(last) = page.entries.last() {
            after = Some(last.key.clone());
        }
        out.extend(page.entries);
        if !truncated {
            return Ok(out);
        }
    }
}
