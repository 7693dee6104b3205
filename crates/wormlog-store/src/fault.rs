//! [`FaultStore`]: wraps any store and fails chosen requests, for tests of the writer's retry
//! and 412 rules (protocol.md, writer step 2).
//!
//! A [`Fault`] matches an operation and a key substring and fires a number of times, at one of
//! two points:
//! - [`FaultPoint::Before`]: the request never reaches the inner store (a refused connection,
//!   a 503 from a load balancer);
//! - [`FaultPoint::AfterCommit`]: the inner store commits the request, then the caller gets the
//!   error anyway (a lost response: aws-sdk-java-v2#6580).
//!
//! For simulations, [`FaultStore::set_chaos`] adds random faults drawn from one seeded
//! generator ([`ChaosRule`]: per operation and key substring, a latency, a rate of failures
//! before the store (500, 503 SlowDown, timeouts, 409) and a rate of lost responses), so a
//! seed replays the same faults in the same order.
//!
//! Every request is recorded ([`RecordedRequest`]), with the metadata of puts, so tests can
//! assert what was sent: that retries carried the same write id, or that a fenced writer sent
//! no further log PUT (I5). A hook may run before each request to let a test act between two
//! protocol steps (say, plant a segment after the writer listed the tail but before its PUT).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;

use crate::{
    DefaultRetention, DeleteOptions, GetResult, InitOptions, InitReport, ListPage, ObjectMeta,
    ObjectStore, PutOptions, PutResult, Retention, SeededRng, StoreError, StoreResult, UploadId,
    UploadedPart,
};

/// The store operations a fault can target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    PutIfAbsent,
    PutIfMatch,
    Get,
    Head,
    List,
    Delete,
    SetRetention,
    SetLegalHold,
    /// Every step of a multipart upload (start, part, complete, abort).
    Upload,
}

/// Where a fault strikes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultPoint {
    /// The request fails before it reaches the inner store.
    Before,
    /// The inner store applies the request; the caller still gets the error.
    AfterCommit,
}

/// One planned failure.
#[derive(Clone, Debug)]
pub struct Fault {
    pub op: Op,
    /// The fault matches keys that contain this text ("" matches all).
    pub key_contains: String,
    pub point: FaultPoint,
    pub error: StoreError,
    /// How many matching requests fail; `usize::MAX` for all of them.
    pub times: usize,
}

impl Fault {
    /// `times` failures of `op` on keys containing `key_contains`, before the store.
    pub fn before(op: Op, key_contains: &str, error: StoreError, times: usize) -> Fault {
        Fault {
            op,
            key_contains: key_contains.to_owned(),
            point: FaultPoint::Before,
            error,
            times,
        }
    }

    /// `times` lost responses of `op` on keys containing `key_contains`: committed, then failed.
    pub fn lost_response(op: Op, key_contains: &str, error: StoreError, times: usize) -> Fault {
        Fault {
            point: FaultPoint::AfterCommit,
            ..Fault::before(op, key_contains, error, times)
        }
    }

    /// A transient 503 for `key`.
    pub fn unavailable(op: Op, key: &str) -> StoreError {
        StoreError::Transient {
            op: op.name(),
            key: key.to_owned(),
            message: "503 Service Unavailable (injected)".into(),
        }
    }
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::PutIfAbsent => "put_if_absent",
            Op::PutIfMatch => "put_if_match",
            Op::Get => "get",
            Op::Head => "head",
            Op::List => "list",
            Op::Delete => "delete",
            Op::SetRetention => "set_retention",
            Op::SetLegalHold => "set_legal_hold",
            Op::Upload => "upload",
        }
    }
}

/// Random faults for requests of `op` on keys containing `key_contains`.
#[derive(Clone, Debug)]
pub struct ChaosRule {
    pub op: Op,
    pub key_contains: String,
    /// Chance (0 to 1) that a request fails before the store: 500, 503 SlowDown, a timeout,
    /// or (puts only) a 409 ConditionalRequestConflict.
    pub fail_before: f64,
    /// Chance that the store applies the request and the caller gets a timeout anyway.
    pub lose_response: f64,
    /// Chance that the request is refused for good before the store (403 AccessDenied): a
    /// definite failure, which a writer does not retry.
    pub refuse: f64,
    /// Each request first waits a uniform min_latency..=max_latency (tokio time).
    pub max_latency: std::time::Duration,
    /// The least wait (zero: any wait up to `max_latency`). A narrow range models a network
    /// whose round trips hardly vary, where the order of two racing writers' requests
    /// repeats from one slot to the next.
    pub min_latency: std::time::Duration,
}

struct Chaos {
    rng: SeededRng,
    rules: Vec<ChaosRule>,
}

impl Chaos {
    /// The latency and the fault (if any) for one request, drawn in a fixed order.
    fn draw(
        &mut self,
        op: Op,
        key: &str,
    ) -> Option<(std::time::Duration, Option<(FaultPoint, StoreError)>)> {
        let rule = self
            .rules
            .iter()
            .find(|r| r.op == op && key.contains(&r.key_contains))?;
        let (max_latency, fail_before, lose_response, refuse) = (
            rule.max_latency,
            rule.fail_before,
            rule.lose_response,
            rule.refuse,
        );
        let min_us = (rule.min_latency.min(max_latency)).as_micros() as u64;
        let latency_us = min_us + self.rng.below(max_latency.as_micros() as u64 - min_us + 1);
        let roll = self.rng.below(1_000_000) as f64 / 1_000_000.0;
        let kind = self.rng.below(4);
        let transient = |message: &str| StoreError::Transient {
            op: op.name(),
            key: key.to_owned(),
            message: format!("{message} (injected)"),
        };
        let fault = if roll < fail_before {
            let e = match kind {
                0 => transient("500 InternalError"),
                1 => transient("503 SlowDown"),
                2 if matches!(op, Op::PutIfAbsent | Op::PutIfMatch) => StoreError::Conflict {
                    key: key.to_owned(),
                },
                _ => transient("request timed out"),
            };
            Some((FaultPoint::Before, e))
        } else if roll < fail_before + lose_response {
            Some((
                FaultPoint::AfterCommit,
                transient("response lost: request timed out"),
            ))
        } else if roll < fail_before + lose_response + refuse {
            let e = StoreError::Permanent {
                op: op.name(),
                key: key.to_owned(),
                message: "403 AccessDenied (injected)".into(),
            };
            Some((FaultPoint::Before, e))
        } else {
            None
        };
        Some((std::time::Duration::from_micros(latency_us), fault))
    }
}

/// A request as the wrapper saw it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub op: Op,
    pub key: String,
    /// User metadata of puts (empty otherwise).
    pub metadata: BTreeMap<String, String>,
    /// Whether the inner store received it.
    pub reached_store: bool,
    /// What the caller got: `None` for success.
    pub error: Option<StoreError>,
}

type Hook = dyn Fn(Op, &str) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync;

/// A store wrapper that injects [`Fault`]s and records every request.
#[derive(Clone)]
pub struct FaultStore {
    inner: Arc<dyn ObjectStore>,
    faults: Arc<Mutex<Vec<Fault>>>,
    journal: Arc<Mutex<Vec<RecordedRequest>>>,
    hook: Arc<Mutex<Option<Arc<Hook>>>>,
    chaos: Arc<Mutex<Option<Chaos>>>,
    /// Report that conditional writes are not this project's own (as on S3), so writers
    /// probe the store first.
    remote: Arc<std::sync::atomic::AtomicBool>,
    /// Versions per listing page (0: no pages), as S3 pages by 1000.
    page: Arc<std::sync::atomic::AtomicUsize>,
}

impl std::fmt::Debug for FaultStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultStore")
            .field("inner", &self.inner)
            .field("faults", &self.faults.lock().len())
            .finish()
    }
}

impl FaultStore {
    pub fn new(inner: Arc<dyn ObjectStore>) -> FaultStore {
        FaultStore {
            inner,
            faults: Arc::default(),
            journal: Arc::default(),
            hook: Arc::default(),
            chaos: Arc::default(),
            remote: Arc::default(),
            page: Arc::default(),
        }
    }

    /// Makes writers treat this store like a remote one and run the capability probe on it.
    /// Pages version listings by `n` entries, as S3 pages by 1000: a first page
    /// ([`ObjectStore::list_versions_first`], [`ObjectStore::list_versions_page_after`])
    /// answers at most `n` entries, and a whole listing ([`ObjectStore::list_versions_after`])
    /// costs one request per page. Logs longer than a page are found by the HEAD gallop.
    /// The whole listing is read from the inner store at its first request; the further
    /// pages are requests that can fail or be held by a hook, but read nothing newer.
    pub fn page_versions_by(&self, n: usize) {
        self.page.store(n, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn probe_like_a_remote_store(&self) {
        self.remote
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Adds random faults from a generator seeded with `seed`; planned [`Fault`]s still come
    /// first. The first rule matching a request decides it.
    pub fn set_chaos(&self, seed: u64, rules: Vec<ChaosRule>) {
        *self.chaos.lock() = Some(Chaos {
            rng: SeededRng::new(seed),
            rules,
        });
    }

    /// Stops the random faults (say, to read the final state undisturbed).
    pub fn calm(&self) {
        *self.chaos.lock() = None;
    }

    /// The wrapped store, for setting up or inspecting state without faults.
    pub fn inner(&self) -> &Arc<dyn ObjectStore> {
        &self.inner
    }

    /// Plans a fault; faults are tried in the order they were added.
    pub fn inject(&self, fault: Fault) {
        self.faults.lock().push(fault);
    }

    /// Removes every planned fault.
    pub fn clear_faults(&self) {
        self.faults.lock().clear();
    }

    /// Runs `hook` before every request, before faults are decided.
    pub fn before_each<F, Fut>(&self, hook: F)
    where
        F: Fn(Op, &str) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let hook: Arc<Hook> = Arc::new(move |op, key| Box::pin(hook(op, key)));
        *self.hook.lock() = Some(hook);
    }

    /// Every request seen so far.
    pub fn journal(&self) -> Vec<RecordedRequest> {
        self.journal.lock().clone()
    }

    /// How many requests the journal holds.
    pub fn journal_len(&self) -> usize {
        self.journal.lock().len()
    }

    fn take_fault(&self, op: Op, key: &str) -> Option<(FaultPoint, StoreError)> {
        let mut faults = self.faults.lock();
        let i = faults
            .iter()
            .position(|f| f.op == op && key.contains(&f.key_contains) && f.times > 0)?;
        let f = &mut faults[i];
        if f.times != usize::MAX {
            f.times -= 1;
        }
        Some((f.point, f.error.clone()))
    }

    /// Runs one request through the hook, the planned faults and the journal.
    async fn run<T, Fut>(
        &self,
        op: Op,
        key: &str,
        metadata: Option<&BTreeMap<String, String>>,
        call: Fut,
    ) -> StoreResult<T>
    where
        Fut: Future<Output = StoreResult<T>>,
    {
        let hook = self.hook.lock().clone();
        if let Some(hook) = hook {
            hook(op, key).await;
        }
        let mut fault = self.take_fault(op, key);
        let mut answer_latency = std::time::Duration::ZERO;
        if fault.is_none() {
            let drawn = self.chaos.lock().as_mut().and_then(|c| c.draw(op, key));
            if let Some((latency, chaos_fault)) = drawn {
                // Half the latency on the way to the store, half on the way back: a caller
                // that stops (a crash) during the second half never learns what landed.
                answer_latency = latency / 2;
                tokio::time::sleep(latency - answer_latency).await;
                fault = chaos_fault;
            }
        }
        let (reached_store, result) = match fault {
            Some((FaultPoint::Before, e)) => (false, Err(e)),
            Some((FaultPoint::AfterCommit, e)) => (true, call.await.and(Err(e))),
            None => (true, call.await),
        };
        // Recorded when the store has acted, before the answer travels back.
        self.journal.lock().push(RecordedRequest {
            op,
            key: key.to_owned(),
            metadata: metadata.cloned().unwrap_or_default(),
            reached_store,
            error: result.as_ref().err().cloned(),
        });
        if reached_store && !answer_latency.is_zero() {
            tokio::time::sleep(answer_latency).await;
        }
        result
    }
}

#[async_trait]
impl ObjectStore for FaultStore {
    fn enforces_conditions_itself(&self) -> bool {
        !self.remote.load(std::sync::atomic::Ordering::Relaxed)
            && self.inner.enforces_conditions_itself()
    }

    fn request_stats(&self) -> Vec<crate::RequestStats> {
        self.inner.request_stats()
    }

    fn describe(&self) -> String {
        format!("faulty {}", self.inner.describe())
    }

    fn kept_sha256_stands_for_the_bytes(&self) -> bool {
        self.inner.kept_sha256_stands_for_the_bytes()
    }

    async fn put_if_absent(
        &self,
        key: &str,
        body: Bytes,
        opts: &PutOptions,
    ) -> StoreResult<PutResult> {
        let call = self.inner.put_if_absent(key, body, opts);
        self.run(Op::PutIfAbsent, key, Some(&opts.metadata), call)
            .await
    }

    async fn put_file_if_absent(
        &self,
        key: &str,
        path: &std::path::Path,
        opts: &PutOptions,
    ) -> StoreResult<PutResult> {
        let call = self.inner.put_file_if_absent(key, path, opts);
        self.run(Op::PutIfAbsent, key, Some(&opts.metadata), call)
            .await
    }

    async fn put_if_match(
        &self,
        key: &str,
        body: Bytes,
        etag: &str,
        opts: &PutOptions,
    ) -> StoreResult<PutResult> {
        let call = self.inner.put_if_match(key, body, etag, opts);
        self.run(Op::PutIfMatch, key, Some(&opts.metadata), call)
            .await
    }

    async fn get(&self, key: &str) -> StoreResult<GetResult> {
        self.run(Op::Get, key, None, self.inner.get(key)).await
    }

    async fn head(&self, key: &str) -> StoreResult<ObjectMeta> {
        self.run(Op::Head, key, None, self.inner.head(key)).await
    }

    async fn get_range(&self, key: &str, offset: u64, len: u64) -> StoreResult<Bytes> {
        let call = self.inner.get_range(key, offset, len);
        self.run(Op::Get, key, None, call).await
    }

    async fn start_upload(&self, key: &str, opts: &PutOptions) -> StoreResult<UploadId> {
        let call = self.inner.start_upload(key, opts);
        self.run(Op::Upload, key, Some(&opts.metadata), call).await
    }

    async fn upload_part(
        &self,
        key: &str,
        upload: &UploadId,
        number: u32,
        body: Bytes,
        sha256: [u8; 32],
    ) -> StoreResult<UploadedPart> {
        let call = self.inner.upload_part(key, upload, number, body, sha256);
        self.run(Op::Upload, key, None, call).await
    }

    async fn complete_upload(
        &self,
        key: &str,
        upload: &UploadId,
        parts: &[UploadedPart],
        sha256: [u8; 32],
    ) -> StoreResult<PutResult> {
        let call = self.inner.complete_upload(key, upload, parts, sha256);
        self.run(Op::Upload, key, None, call).await
    }

    async fn abort_upload(&self, key: &str, upload: &UploadId) -> StoreResult<()> {
        let call = self.inner.abort_upload(key, upload);
        self.run(Op::Upload, key, None, call).await
    }

    async fn list_after(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> StoreResult<ListPage> {
        let call = self.inner.list_after(prefix, start_after, limit);
        self.run(Op::List, prefix, None, call).await
    }

    async fn delete(&self, key: &str, opts: &DeleteOptions) -> StoreResult<()> {
        self.run(Op::Delete, key, None, self.inner.delete(key, opts))
            .await
    }

    async fn set_retention(
        &self,
        key: &str,
        retention: Retention,
        bypass_governance: bool,
    ) -> StoreResult<()> {
        let call = self.inner.set_retention(key, retention, bypass_governance);
        self.run(Op::SetRetention, key, None, call).await
    }

    async fn set_legal_hold(&self, key: &str, on: bool) -> StoreResult<()> {
        let call = self.inner.set_legal_hold(key, on);
        self.run(Op::SetLegalHold, key, None, call).await
    }

    async fn bucket_settings(&self) -> StoreResult<Option<crate::BucketSettings>> {
        self.inner.bucket_settings().await
    }

    async fn default_retention(&self) -> StoreResult<Option<DefaultRetention>> {
        self.inner.default_retention().await
    }

    async fn list_versions_after(
        &self,
        prefix: &str,
        start_after: Option<&str>,
    ) -> StoreResult<Vec<crate::VersionEntry>> {
        let call = self.inner.list_versions_after(prefix, start_after);
        let all = self.run(Op::List, prefix, None, call).await?;
        // Paged as S3 pages: one more request for each further page, each of which can fail.
        let cap = self.page.load(std::sync::atomic::Ordering::Relaxed);
        if cap > 0 {
            for _ in 1..all.len().div_ceil(cap) {
                self.run(Op::List, prefix, None, async { Ok(()) }).await?;
            }
        }
        Ok(all)
    }

    async fn list_versions_page_after(
        &self,
        prefix: &str,
        start_after: Option<&str>,
    ) -> StoreResult<(Vec<crate::VersionEntry>, bool)> {
        let cap = self.page.load(std::sync::atomic::Ordering::Relaxed);
        let call = async move {
            let (mut all, complete) = self
                .inner
                .list_versions_page_after(prefix, start_after)
                .await?;
            if cap > 0 && all.len() > cap {
                all.truncate(cap);
                return Ok((all, false));
            }
            Ok((all, complete))
        };
        self.run(Op::List, prefix, None, call).await
    }

    async fn list_folders(&self, prefix: &str) -> StoreResult<Vec<String>> {
        let call = self.inner.list_folders(prefix);
        self.run(Op::List, prefix, None, call).await
    }

    async fn init(&self, opts: &InitOptions) -> StoreResult<InitReport> {
        self.inner.init(opts).await
    }
}
