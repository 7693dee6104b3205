//! [`MemoryStore`]: objects in a `BTreeMap` behind one lock. Conditional writes are decided
//! under that lock, so they are linearizable; Object Lock rules are those of `lock_rules`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;

use crate::checksum;
use crate::lock_rules::{check_delete, check_retention_change, initial_lock, keeps_old_version};
use crate::{
    strip_etag_quotes, validate_key, Clock, DefaultRetention, DeleteOptions, GetResult,
    InitOptions, InitReport, ListEntry, ListPage, LockState, ObjectMeta, ObjectStore, PutOptions,
    PutResult, Retention, StoreError, StoreResult, SystemClock, UploadId, UploadedPart,
    VersionEntry, MAX_LIST_PAGE,
};

#[derive(Debug, Clone)]
struct Object {
    body: Bytes,
    etag: String,
    metadata: BTreeMap<String, String>,
    lock: LockState,
    sha256: Option<String>,
}

/// A multipart upload: the object's options, and its parts so far.
#[derive(Debug)]
struct Upload {
    key: String,
    opts: PutOptions,
    parts: BTreeMap<u32, Bytes>,
}

#[derive(Debug, Default)]
struct Bucket {
    objects: BTreeMap<String, Object>,
    /// Versions replaced while still protected, oldest first (see `keeps_old_version`).
    noncurrent: BTreeMap<String, Vec<Object>>,
    uploads: BTreeMap<String, Upload>,
    default_retention: Option<DefaultRetention>,
}

/// An in-memory bucket. Cloning shares the same objects.
#[derive(Debug, Clone)]
pub struct MemoryStore {
    bucket: Arc<Mutex<Bucket>>,
    clock: Arc<dyn Clock>,
    next_etag: Arc<AtomicU64>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new()
    }
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::with_clock(SystemClock::shared())
    }

    /// A store whose Object Lock dates follow `clock`.
    pub fn with_clock(clock: Arc<dyn Clock>) -> MemoryStore {
        MemoryStore {
            bucket: Arc::new(Mutex::new(Bucket::default())),
            clock,
            next_etag: Arc::new(AtomicU64::new(1)),
        }
    }

    /// Every ETag is new, so a compare-and-swap can never be fooled by equal contents (no ABA).
    fn fresh_etag(&self) -> String {
        format!("m{:016x}", self.next_etag.fetch_add(1, Ordering::Relaxed))
    }

    fn meta(key: &str, o: &Object) -> ObjectMeta {
        ObjectMeta {
            key: key.to_owned(),
            size: o.body.len() as u64,
            etag: o.etag.clone(),
            metadata: o.metadata.clone(),
            lock: o.lock,
            sha256: o.sha256.clone(),
        }
    }

    /// Creates `key` if absent: the create-only commit point, under the bucket's lock.
    fn create(
        &self,
        key: &str,
        body: Bytes,
        opts: &PutOptions,
        sha256: Option<String>,
    ) -> StoreResult<PutResult> {
        let now = self.clock.now();
        let etag = self.fresh_etag();
        let mut bucket = self.bucket.lock();
        if bucket.objects.contains_key(key) {
            return Err(StoreError::AlreadyExists {
                key: key.to_owned(),
            });
        }
        let lock = initial_lock(&opts.lock, bucket.default_retention, now);
        bucket.objects.insert(
            key.to_owned(),
            Object {
                body,
                etag: etag.clone(),
                metadata: opts.metadata.clone(),
                lock,
                sha256,
            },
        );
        Ok(PutResult { etag })
    }

    fn upload_of<'a>(
        bucket: &'a mut Bucket,
        key: &str,
        upload: &UploadId,
    ) -> StoreResult<&'a mut Upload> {
        bucket
            .uploads
            .get_mut(&upload.0)
            .filter(|u| u.key == key)
            .ok_or_else(|| StoreError::NotFound {
                key: format!("{key} (upload {})", upload.0),
            })
    }

    fn with_object<T>(
        &self,
        key: &str,
        f: impl FnOnce(&mut Object) -> StoreResult<T>,
    ) -> StoreResult<T> {
        validate_key(key)?;
        let mut bucket = self.bucket.lock();
        match bucket.objects.get_mut(key) {
            Some(o) => f(o),
            None => Err(StoreError::NotFound {
                key: key.to_owned(),
            }),
        }
    }
}

#[async_trait]
impl ObjectStore for MemoryStore {
    fn enforces_conditions_itself(&self) -> bool {
        true
    }

    fn describe(&self) -> String {
        "mem://".to_owned()
    }

    /// Objects live in this process; only the store's own calls change them.
    fn kept_sha256_stands_for_the_bytes(&self) -> bool {
        true
    }

    async fn put_if_absent(
        &self,
        key: &str,
        body: Bytes,
        opts: &PutOptions,
    ) -> StoreResult<PutResult> {
        validate_key(key)?;
        let sha256 = checksum::verified(key, &body, opts.sha256)?;
        self.create(key, body, opts, sha256)
    }

    async fn put_if_match(
        &self,
        key: &str,
        body: Bytes,
        etag: &str,
        opts: &PutOptions,
    ) -> StoreResult<PutResult> {
        let now = self.clock.now();
        let new_etag = self.fresh_etag();
        let default = self.bucket.lock().default_retention;
        let sha256 = checksum::verified(key, &body, opts.sha256)?;
        validate_key(key)?;
        let mut bucket = self.bucket.lock();
        let Some(o) = bucket.objects.get_mut(key) else {
            return Err(StoreError::NotFound {
                key: key.to_owned(),
            });
        };
        if o.etag != strip_etag_quotes(etag) {
            return Err(StoreError::PreconditionFailed {
                key: key.to_owned(),
            });
        }
        let old = std::mem::replace(
            o,
            Object {
                body,
                etag: new_etag.clone(),
                metadata: opts.metadata.clone(),
                lock: initial_lock(&opts.lock, default, now),
                sha256,
            },
        );
        let kept = bucket.noncurrent.entry(key.to_owned()).or_default();
        kept.retain(|v| keeps_old_version(&v.lock, now));
        if keeps_old_version(&old.lock, now) {
            kept.push(old);
        }
        if kept.is_empty() {
            bucket.noncurrent.remove(key);
        }
        Ok(PutResult { etag: new_etag })
    }

    async fn get(&self, key: &str) -> StoreResult<GetResult> {
        self.with_object(key, |o| {
            Ok(GetResult {
                body: o.body.clone(),
                meta: Self::meta(key, o),
            })
        })
    }

    async fn head(&self, key: &str) -> StoreResult<ObjectMeta> {
        self.with_object(key, |o| Ok(Self::meta(key, o)))
    }

    async fn get_range(&self, key: &str, offset: u64, len: u64) -> StoreResult<Bytes> {
        self.with_object(key, |o| {
            let start = (offset as usize).min(o.body.len());
            let end = start.saturating_add(len as usize).min(o.body.len());
            Ok(o.body.slice(start..end))
        })
    }

    async fn start_upload(&self, key: &str, opts: &PutOptions) -> StoreResult<UploadId> {
        validate_key(key)?;
        let id = UploadId(self.fresh_etag());
        self.bucket.lock().uploads.insert(
            id.0.clone(),
            Upload {
                key: key.to_owned(),
                opts: opts.clone(),
                parts: BTreeMap::new(),
            },
        );
        Ok(id)
    }

    async fn upload_part(
        &self,
        key: &str,
        upload: &UploadId,
        number: u32,
        body: Bytes,
        sha256: [u8; 32],
    ) -> StoreResult<UploadedPart> {
        checksum::verified(key, &body, Some(sha256))?;
        let mut bucket = self.bucket.lock();
        Self::upload_of(&mut bucket, key, upload)?
            .parts
            .insert(number, body);
        Ok(UploadedPart {
            number,
            etag: format!("part-{number}"),
            sha256,
        })
    }

    async fn complete_upload(
        &self,
        key: &str,
        upload: &UploadId,
        parts: &[UploadedPart],
        sha256: [u8; 32],
    ) -> StoreResult<PutResult> {
        let (body, opts) = {
            let mut bucket = self.bucket.lock();
            let u = Self::upload_of(&mut bucket, key, upload)?;
            let mut body = Vec::new();
            for p in parts {
                let part = u
                    .parts
                    .get(&p.number)
                    .ok_or_else(|| StoreError::Permanent {
                        op: "complete upload",
                        key: key.to_owned(),
                        message: format!("part {} was never uploaded", p.number),
                    })?;
                body.extend_from_slice(part);
            }
            let opts = u.opts.clone();
            bucket.uploads.remove(&upload.0);
            (Bytes::from(body), opts)
        };
        let kept = checksum::verified(key, &body, Some(sha256))?;
        self.create(key, body, &opts, kept)
    }

    async fn abort_upload(&self, key: &str, upload: &UploadId) -> StoreResult<()> {
        let mut bucket = self.bucket.lock();
        if bucket.uploads.get(&upload.0).is_some_and(|u| u.key == key) {
            bucket.uploads.remove(&upload.0);
        }
        Ok(())
    }

    async fn list_after(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> StoreResult<ListPage> {
        let limit = limit.clamp(1, MAX_LIST_PAGE);
        let bucket = self.bucket.lock();
        let lower = match start_after {
            Some(after) if after >= prefix => std::ops::Bound::Excluded(after.to_owned()),
            _ => std::ops::Bound::Included(prefix.to_owned()),
        };
        let mut entries = Vec::with_capacity(limit.min(64));
        let mut truncated = false;
        for (key, o) in bucket
            .objects
            .range((lower, std::ops::Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
        {
            if entries.len() == limit {
                truncated = true;
                break;
            }
            entries.push(ListEntry {
                key: key.clone(),
                size: o.body.len() as u64,
            });
        }
        Ok(ListPage { entries, truncated })
    }

    async fn list_versions_after(
        &self,
        prefix: &str,
        start_after: Option<&str>,
    ) -> StoreResult<Vec<VersionEntry>> {
        let bucket = self.bucket.lock();
        let wanted = |k: &str| k.starts_with(prefix) && start_after.is_none_or(|a| k > a);
        let mut keys: Vec<&String> = bucket
            .objects
            .keys()
            .chain(bucket.noncurrent.keys())
            .filter(|k| wanted(k))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let mut out = Vec::new();
        for key in keys {
            if let Some(o) = bucket.objects.get(key) {
                out.push(VersionEntry {
                    key: key.clone(),
                    version_id: Some(o.etag.clone()),
                    is_latest: true,
                    delete_marker: false,
                    size: o.body.len() as u64,
                });
            }
            for o in bucket.noncurrent.get(key).into_iter().flatten().rev() {
                out.push(VersionEntry {
                    key: key.clone(),
                    version_id: Some(o.etag.clone()),
                    is_latest: false,
                    delete_marker: false,
                    size: o.body.len() as u64,
                });
            }
        }
        Ok(out)
    }

    async fn delete(&self, key: &str, opts: &DeleteOptions) -> StoreResult<()> {
        validate_key(key)?;
        let now = self.clock.now();
        let mut bucket = self.bucket.lock();
        if let Some(o) = bucket.objects.get(key) {
            check_delete(key, &o.lock, now, opts.bypass_governance)?;
            bucket.objects.remove(key);
        }
        Ok(())
    }

    async fn set_retention(
        &self,
        key: &str,
        retention: Retention,
        bypass_governance: bool,
    ) -> StoreResult<()> {
        let now = self.clock.now();
        self.with_object(key, |o| {
            check_retention_change(key, &o.lock, &retention, now, bypass_governance)?;
            o.lock.retention = Some(retention);
            Ok(())
        })
    }

    async fn set_legal_hold(&self, key: &str, on: bool) -> StoreResult<()> {
        self.with_object(key, |o| {
            o.lock.legal_hold = on;
            Ok(())
        })
    }

    async fn default_retention(&self) -> StoreResult<Option<DefaultRetention>> {
        Ok(self.bucket.lock().default_retention)
    }

    async fn init(&self, opts: &InitOptions) -> StoreResult<InitReport> {
        let mut bucket = self.bucket.lock();
        if opts.default_retention.is_some() {
            bucket.default_retention = opts.default_retention;
        }
        Ok(InitReport {
            created: false,
            default_retention: bucket.default_retention,
        })
    }
}
