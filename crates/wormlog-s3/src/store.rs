//! [`S3Store`]: the [`ObjectStore`] calls as S3 requests.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::signing::SignedPayload;
use async_trait::async_trait;
use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::meta::credentials::CredentialsProviderChain;
use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_sdk_s3::config::{
    Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{
    BucketLocationConstraint, ChecksumAlgorithm, ChecksumMode, CreateBucketConfiguration,
    ObjectLockConfiguration, ObjectLockEnabled, ObjectLockLegalHold, ObjectLockLegalHoldStatus,
    ObjectLockMode, ObjectLockRetention, ObjectLockRetentionMode, ObjectLockRule,
    ServerSideEncryption,
};
use aws_sdk_s3::Client;
use aws_smithy_runtime_api::http::Response;
use bytes::Bytes;
use wormlog_store::{
    check_retention_change, source_file_error, strip_etag_quotes, validate_key, Clock,
    DefaultRetention, DeleteOptions, GetResult, InitOptions, InitReport, ListEntry, ListPage,
    LockState, ObjectMeta, ObjectStore, Op, PutOptions, PutResult, Retention, RetentionMode,
    StoreError, StoreResult, SystemClock, Timestamp, UploadId, UploadedPart, VersionEntry,
    MAX_LIST_PAGE,
};

use crate::classify::classify;
use crate::{S3Config, S3Stats, Sse};

/// Adds an object's Object Lock (retention, legal hold) and server-side encryption to a
/// PutObject or CreateMultipartUpload request (the two builders have the same setters).
macro_rules! with_lock_and_sse {
    ($req:expr, $opts:expr, $config:expr) => {{
        let mut req = $req;
        if let Some(r) = $opts.lock.retention {
            req = req
                .object_lock_mode(match r.mode {
                    RetentionMode::Compliance => ObjectLockMode::Compliance,
                    RetentionMode::Governance => ObjectLockMode::Governance,
                })
                .object_lock_retain_until_date(to_datetime(r.retain_until));
        }
        if $opts.lock.legal_hold {
            req = req.object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On);
        }
        if !$opts.tags.is_empty() {
            req = req.tagging($crate::store::tagging_header(&$opts.tags));
        }
        match &$config.sse {
            Some(Sse::S3) => req.server_side_encryption(ServerSideEncryption::Aes256),
            Some(Sse::Kms { key_id }) => req
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_key_id(key_id),
            None => req,
        }
    }};
}
pub(crate) use with_lock_and_sse;

/// The `x-amz-tagging` value: tags as an URL query (`key=value&...`), percent-encoded.
pub(crate) fn tagging_header(tags: &std::collections::BTreeMap<String, String>) -> String {
    fn encode(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    char::from(b).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }
    tags.iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A bucket on S3 or an S3-compatible server.
#[derive(Clone)]
pub struct S3Store {
    client: Client,
    config: S3Config,
    /// The client talks to AWS S3 itself: no endpoint in the URL, and none from the
    /// environment or a profile either (see [`endpoint_from_outside`]).
    on_aws: bool,
    stats: Arc<S3Stats>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Store")
            .field("bucket", &self.config.bucket)
            .field("endpoint", &self.config.endpoint)
            .finish()
    }
}

/// The HTTP client for an `http://` endpoint (a local Ceph RGW, MinIO or moto): one whose
/// TLS trust store is empty, since no connection uses TLS. The default client reads and
/// parses every system root certificate at its first connection (146 files on Debian), about
/// 4 ms of a one-shot command's 20 (measured with `perf stat`).
fn plain_http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls;
    let context = tls::TlsContext::builder()
        .with_trust_store(tls::TrustStore::empty())
        .build()
        .expect("an empty trust store is a valid TLS context");
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ))
        .tls_context(context)
        .build_https()
}

/// Whether the SDK was pointed at another server than AWS without `endpoint=` in the URL:
/// `AWS_ENDPOINT_URL` or a profile's `endpoint_url` (the shared config's endpoint), or
/// `AWS_ENDPOINT_URL_S3` or the profile's `[services]` entry for S3 (what aws-sdk-s3 reads
/// for itself from the shared config).
fn endpoint_from_outside(shared: &aws_config::SdkConfig) -> bool {
    let s3_key = aws_types::service_config::ServiceConfigKey::builder()
        .service_id("S3")
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build()
        .expect("the key names a service, a variable and a profile setting");
    shared.endpoint_url().is_some()
        || shared
            .service_config()
            .and_then(|c| c.load_config(s3_key))
            .is_some()
}

impl S3Store {
    /// Builds the client: credentials from the config or the standard AWS chain, operation and
    /// attempt timeouts, SDK retries for 5xx and throttling, path-style addressing if asked,
    /// and request checksums only where an operation requires one.
    pub async fn connect(config: S3Config) -> S3Store {
        let mut loader = aws_config::defaults(BehaviorVersion::v2026_01_12())
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(config.operation_timeout)
                    .operation_attempt_timeout(config.attempt_timeout)
                    .connect_timeout(config.connect_timeout)
                    .build(),
            )
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(config.max_attempts)
                    .with_initial_backoff(Duration::from_millis(50)),
            );
        // A non-AWS endpoint (RGW, MinIO, moto) has no instance metadata service: resolve
        // region and credentials locally only, so nothing is sent to 169.254.169.254.
        // An endpoint from the environment counts too (one from a profile is known only
        // once the profile is loaded, below).
        let local_only = config.endpoint.is_some()
            || ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"]
                .iter()
                .any(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()));
        match (&config.region, local_only) {
            (Some(region), _) => loader = loader.region(Region::new(region.clone())),
            (None, true) => loader = loader.region(Region::new("us-east-1")),
            (None, false) => {}
        }
        match (&config.credentials, local_only) {
            (Some((key, secret)), _) => {
                loader = loader.credentials_provider(Credentials::new(
                    key,
                    secret,
                    None,
                    None,
                    "wormlog-static",
                ))
            }
            (None, true) => {
                let chain = CredentialsProviderChain::first_try(
                    "environment",
                    EnvironmentVariableCredentialsProvider::new(),
                )
                .or_else("profile", ProfileFileCredentialsProvider::builder().build());
                loader = loader.credentials_provider(chain);
            }
            (None, false) => {}
        }
        if config
            .endpoint
            .as_deref()
            .is_some_and(|e| e.starts_with("http://"))
        {
            loader = loader.http_client(plain_http_client());
        }
        let shared = loader.load().await;
        let on_aws = config.endpoint.is_none() && !endpoint_from_outside(&shared);
        let mut s3 = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(config.path_style)
            // aws-sdk-s3 >= 1.69 adds CRC checksums (as aws-chunked trailers) to every upload by
            // default; several S3-compatible servers reject that. wormlog sends its own
            // x-amz-checksum-crc32 on segment puts instead.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if shared.region().is_none() {
            s3 = s3.region(Region::new("us-east-1"));
        }
        if let Some(endpoint) = &config.endpoint {
            s3 = s3.endpoint_url(endpoint);
        }
        S3Store {
            client: Client::from_conf(s3.build()),
            config,
            on_aws,
            stats: Arc::new(S3Stats::default()),
            clock: SystemClock::shared(),
        }
    }

    /// Uses `clock` for the Object Lock dates this store checks itself.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> S3Store {
        self.clock = clock;
        self
    }

    /// The bucket and prefix this store was configured with.
    pub fn config(&self) -> &S3Config {
        &self.config
    }

    /// The SDK client, for what wormlog does not wrap (and for tests that play an outside
    /// client, such as one adding a delete marker).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Request, error and latency counters per operation.
    pub fn stats(&self) -> &S3Stats {
        &self.stats
    }

    /// Runs one request, counting it and classifying its failure.
    pub(crate) async fn call<T, E, F>(&self, op: Op, key: &str, request: F) -> StoreResult<T>
    where
        F: Future<Output = Result<T, SdkError<E, Response>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        self.call_unless(op, key, request, |_| None).await
    }

    /// [`S3Store::call`], where `expected` turns a failure the caller expects (a server's
    /// NotImplemented for a feature it lacks) into an answer, counted as a request answered.
    pub(crate) async fn call_unless<T, E, F>(
        &self,
        op: Op,
        key: &str,
        request: F,
        expected: impl FnOnce(&SdkError<E, Response>) -> Option<T>,
    ) -> StoreResult<T>
    where
        F: Future<Output = Result<T, SdkError<E, Response>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let started = tokio::time::Instant::now();
        let answer = request.await;
        let latency = started.elapsed();
        let result = match answer {
            Ok(answer) => Ok(answer),
            Err(e) => expected(&e).ok_or_else(|| classify(op, key, e)),
        };
        self.stats.record(op, latency, result.is_err());
        // Metrics (a no-op without an exporter): every request by operation, its latency,
        // and failures by kind (a 412 on a create-only PUT is `already_exists`).
        metrics::counter!("wormlog_s3_requests_total", "op" => op.name()).increment(1);
        metrics::histogram!("wormlog_s3_request_seconds", "op" => op.name())
            .record(latency.as_secs_f64());
        if let Err(e) = &result {
            metrics::counter!("wormlog_s3_errors_total", "op" => op.name(), "kind" => e.kind())
                .increment(1);
        }
        tracing::debug!(
            op = op.name(),
            key,
            latency_us = latency.as_micros() as u64,
            ok = result.is_ok(),
            "s3 request"
        );
        result
    }

    /// Object Lock, encryption, metadata and the CRC-32 of the body on a put.
    /// A plain PutObject: no condition, no metadata, no checksum, no Object Lock. The raw
    /// ceiling `wormlog bench --mode raw-put` measures the log against; the log never uses it.
    pub async fn put_unconditional(&self, key: &str, body: Bytes) -> StoreResult<()> {
        validate_key(key)?;
        let req = self
            .client
            .put_object()
            .bucket(&self.config.bucket)
            .key(key)
            .body(ByteStream::from(body));
        req.send()
            .await
            .map(|_| ())
            .map_err(|e| classify(Op::PutIfAbsent, key, e))
    }

    /// [`S3Store::put_unconditional`] of a file, streamed as the log streams attachments:
    /// the baseline of `wormlog bench --mode document-put`.
    pub async fn put_file_unconditional(&self, key: &str, path: &Path) -> StoreResult<()> {
        validate_key(key)?;
        let body = file_body(key, path).await?;
        let req = self
            .client
            .put_object()
            .bucket(&self.config.bucket)
            .key(key)
            .body(body);
        req.send()
            .await
            .map(|_| ())
            .map_err(|e| classify(Op::PutIfAbsent, key, e))
    }

    fn put_request(
        &self,
        key: &str,
        body: ByteStream,
        checksum: BodyChecksum,
        opts: &PutOptions,
    ) -> aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder {
        // AWS verifies the bytes against this (Ceph RGW 16.2 and moto ignore it: RGW checks
        // the signed payload hash, moto nothing); AWS also requires a checksum on every
        // put that carries Object Lock headers or lands in a bucket with default retention,
        // and moto 5.2.5 (like AWS) wants the algorithm named (x-amz-sdk-checksum-algorithm).
        // The value is given, so the SDK sends it as a header, not as an aws-chunked trailer.
        let req = self
            .client
            .put_object()
            .bucket(&self.config.bucket)
            .key(key)
            .set_metadata(Some(
                opts.metadata.clone().into_iter().collect::<HashMap<_, _>>(),
            ));
        let req = match checksum {
            BodyChecksum::Sha256(digest) => req
                .checksum_algorithm(ChecksumAlgorithm::Sha256)
                .checksum_sha256(aws_smithy_types::base64::encode(digest)),
            BodyChecksum::Crc32(crc) => req
                .checksum_algorithm(ChecksumAlgorithm::Crc32)
                .checksum_crc32(aws_smithy_types::base64::encode(crc.to_be_bytes())),
        }
        .body(body);
        with_lock_and_sse!(req, opts, self.config)
    }

    /// A create-only PUT of `body` (sent once, never retried inside the SDK: if an attempt
    /// landed and its answer was lost, an SDK retry would get 412 or a 403 (expired
    /// credentials) and hide that the first one landed; the caller retries, and only it can
    /// tell, protocol step 2).
    async fn create_only(
        &self,
        key: &str,
        body: ByteStream,
        checksum: BodyChecksum,
        opts: &PutOptions,
    ) -> StoreResult<PutResult> {
        let req = self
            .put_request(key, body, checksum, opts)
            .if_none_match("*")
            .customize()
            .config_override(aws_sdk_s3::Config::builder().retry_config(RetryConfig::disabled()))
            .interceptor(checksum.signing());
        let out = self.call(Op::PutIfAbsent, key, req.send()).await?;
        Ok(PutResult {
            etag: etag(out.e_tag()),
        })
    }

    /// The current version id of `key` (`None` on an unversioned bucket), or NotFound.
    async fn version_of(&self, key: &str) -> StoreResult<Option<String>> {
        let head = self
            .call(
                Op::Head,
                key,
                self.client
                    .head_object()
                    .bucket(&self.config.bucket)
                    .key(key)
                    .send(),
            )
            .await?;
        Ok(head
            .version_id()
            .filter(|v| *v != "null")
            .map(str::to_owned))
    }
}

/// A file as a request body, read 1 MiB at a time as it is sent.
async fn file_body(key: &str, path: &Path) -> StoreResult<ByteStream> {
    ByteStream::read_from()
        .path(path)
        .buffer_size(1 << 20)
        .build()
        .await
        .map_err(|e| source_file_error(key, path, std::io::Error::other(e.to_string())))
}

/// The one checksum a put carries.
#[derive(Clone, Copy)]
enum BodyChecksum {
    Sha256([u8; 32]),
    Crc32(u32),
}

impl BodyChecksum {
    /// A caller's SHA-256 (attachments) replaces the CRC-32: one checksum per request
    /// (Cloudflare R2 refuses two), and the server keeps it for audits.
    fn of(body: &[u8], opts: &PutOptions) -> BodyChecksum {
        match opts.sha256 {
            Some(digest) => BodyChecksum::Sha256(digest),
            None => BodyChecksum::Crc32(crc32fast::hash(body)),
        }
    }

    /// How the request is signed: with the caller's SHA-256, or the SDK's own hash.
    fn signing(self) -> SignedPayload {
        match self {
            BodyChecksum::Sha256(digest) => SignedPayload::with_sha256(&digest),
            BodyChecksum::Crc32(_) => SignedPayload::sdk_default(),
        }
    }
}

/// [`ObjectMeta`] from a GetObject or HeadObject output (same accessors, different types).
macro_rules! object_meta {
    ($key:expr, $out:expr) => {
        ObjectMeta {
            key: $key.to_owned(),
            size: $out.content_length().unwrap_or(0).max(0) as u64,
            etag: etag($out.e_tag()),
            metadata: metadata($out.metadata()),
            lock: lock_state(
                $out.object_lock_mode(),
                $out.object_lock_retain_until_date(),
                $out.object_lock_legal_hold_status(),
            ),
            sha256: whole_sha256($out.checksum_sha256(), $out.e_tag()),
        }
    };
}

/// The whole object's SHA-256 from `x-amz-checksum-sha256` (base64), as hex. A multipart
/// object's checksum covers its parts, not the object: `None`. AWS marks it (`<base64>-N`);
/// moto 5.2.5 does not, so a multipart ETag (`<md5>-N`, every server) is the sign.
fn whole_sha256(b64: Option<&str>, etag: Option<&str>) -> Option<String> {
    if etag.is_some_and(|e| e.contains('-')) {
        return None;
    }
    let bytes = aws_smithy_types::base64::decode(b64.filter(|v| !v.contains('-'))?).ok()?;
    let digest: [u8; 32] = bytes.try_into().ok()?;
    Some(wormlog_store::hex_sha256(&digest))
}

pub(crate) fn to_datetime(t: Timestamp) -> DateTime {
    DateTime::from_millis(t.as_millis() as i64)
}

fn from_datetime(d: &DateTime) -> Timestamp {
    Timestamp::from_millis(d.to_millis().unwrap_or(0).max(0) as u64)
}

fn lock_state(
    mode: Option<&ObjectLockMode>,
    until: Option<&DateTime>,
    hold: Option<&ObjectLockLegalHoldStatus>,
) -> LockState {
    let retention = match (mode, until) {
        (Some(m), Some(u)) => Some(Retention {
            mode: match m {
                ObjectLockMode::Compliance => RetentionMode::Compliance,
                _ => RetentionMode::Governance,
            },
            retain_until: from_datetime(u),
        }),
        _ => None,
    };
    LockState {
        retention,
        legal_hold: matches!(hold, Some(ObjectLockLegalHoldStatus::On)),
    }
}

fn metadata(m: Option<&HashMap<String, String>>) -> BTreeMap<String, String> {
    m.map(|m| {
        m.iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect()
    })
    .unwrap_or_default()
}

fn etag(e: Option<&str>) -> String {
    strip_etag_quotes(e.unwrap_or_default()).to_owned()
}

#[async_trait]
impl ObjectStore for S3Store {
    fn request_stats(&self) -> Vec<wormlog_store::RequestStats> {
        self.stats.snapshot()
    }

    fn describe(&self) -> String {
        match &self.config.endpoint {
            Some(e) => format!("s3://{} at {e}", self.config.bucket),
            None => format!("s3://{}", self.config.bucket),
        }
    }

    /// AWS checks `x-amz-checksum-sha256` before it stores the bytes and keeps it with the
    /// object version. Another endpoint may not: moto 5.2.5 keeps whatever was sent,
    /// unchecked (Ceph RGW 16.2 keeps none), so an audit there reads the bytes.
    fn kept_sha256_stands_for_the_bytes(&self) -> bool {
        self.on_aws
    }

    async fn put_if_absent(
        &self,
        key: &str,
        body: Bytes,
        opts: &PutOptions,
    ) -> StoreResult<PutResult> {
        validate_key(key)?;
        let checksum = BodyChecksum::of(&body, opts);
        self.create_only(key, ByteStream::from(body), checksum, opts)
            .await
    }

    /// Streams the file (1 MiB reads, so memory stays bounded) with the SHA-256 the caller
    /// computed, in a header and as the signed payload hash: AWS checks and keeps it, Ceph
    /// RGW 16.2 checks the signed hash and keeps nothing, moto keeps it unchecked. Without one, the file is
    /// read whole and sent with its CRC-32 like any put.
    async fn put_file_if_absent(
        &self,
        key: &str,
        path: &Path,
        opts: &PutOptions,
    ) -> StoreResult<PutResult> {
        validate_key(key)?;
        let Some(digest) = opts.sha256 else {
            return wormlog_store::put_file_read_whole(self, key, path, opts).await;
        };
        let body = file_body(key, path).await?;
        self.create_only(key, body, BodyChecksum::Sha256(digest), opts)
            .await
    }

    async fn put_if_match(
        &self,
        key: &str,
        body: Bytes,
        etag_now: &str,
        opts: &PutOptions,
    ) -> StoreResult<PutResult> {
        validate_key(key)?;
        // Ceph RGW 16.2 answers 412 to a quoted If-Match even when it matches: send it bare
        // (AWS and MinIO accept both).
        let checksum = BodyChecksum::of(&body, opts);
        let req = self
            .put_request(key, ByteStream::from(body), checksum, opts)
            .if_match(strip_etag_quotes(etag_now))
            .customize()
            .interceptor(checksum.signing());
        let out = self.call(Op::PutIfMatch, key, req.send()).await?;
        Ok(PutResult {
            etag: etag(out.e_tag()),
        })
    }

    async fn get(&self, key: &str) -> StoreResult<GetResult> {
        validate_key(key)?;
        let req = self
            .client
            .get_object()
            .bucket(&self.config.bucket)
            .key(key)
            .send();
        let out = self.call(Op::Get, key, req).await?;
        let meta = object_meta!(key, out);
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| StoreError::Transient {
                op: Op::Get.name(),
                key: key.to_owned(),
                message: format!("reading the body failed: {e}"),
            })?;
        Ok(GetResult {
            body: body.into_bytes(),
            meta,
        })
    }

    // moto 5.2.5 answers GetObjectRetention with 500, so lock state is always read from HEAD,
    // which every server fills in.
    async fn head(&self, key: &str) -> StoreResult<ObjectMeta> {
        validate_key(key)?;
        // Ask for the checksum the server kept (x-amz-checksum-mode: ENABLED); servers that
        // keep none (Ceph RGW 16.2) ignore it.
        let req = self
            .client
            .head_object()
            .bucket(&self.config.bucket)
            .key(key)
            .checksum_mode(ChecksumMode::Enabled)
            .send();
        let out = self.call(Op::Head, key, req).await?;
        Ok(object_meta!(key, out))
    }

    async fn get_range(&self, key: &str, offset: u64, len: u64) -> StoreResult<Bytes> {
        validate_key(key)?;
        if len == 0 {
            return Ok(Bytes::new());
        }
        let range = format!("bytes={offset}-{}", offset.saturating_add(len - 1));
        let req = self
            .client
            .get_object()
            .bucket(&self.config.bucket)
            .key(key)
            .range(range)
            .send();
        let out = match self.call(Op::Get, key, req).await {
            Ok(out) => out,
            // 416: the range starts past the end of the object.
            Err(StoreError::Permanent { message, .. }) if message.contains("416") => {
                return Ok(Bytes::new())
            }
            Err(e) => return Err(e),
        };
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| StoreError::Transient {
                op: Op::Get.name(),
                key: key.to_owned(),
                message: format!("reading the body failed: {e}"),
            })?;
        Ok(body.into_bytes())
    }

    async fn start_upload(&self, key: &str, opts: &PutOptions) -> StoreResult<UploadId> {
        crate::multipart::start(self, key, opts).await
    }

    async fn upload_part(
        &self,
        key: &str,
        upload: &UploadId,
        number: u32,
        body: Bytes,
        sha256: [u8; 32],
    ) -> StoreResult<UploadedPart> {
        crate::multipart::part(self, key, upload, number, body, sha256).await
    }

    async fn complete_upload(
        &self,
        key: &str,
        upload: &UploadId,
        parts: &[UploadedPart],
        _sha256: [u8; 32],
    ) -> StoreResult<PutResult> {
        crate::multipart::complete(self, key, upload, parts).await
    }

    async fn abort_upload(&self, key: &str, upload: &UploadId) -> StoreResult<()> {
        crate::multipart::abort(self, key, upload).await
    }

    async fn list_after(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> StoreResult<ListPage> {
        let limit = limit.clamp(1, MAX_LIST_PAGE);
        let req = self
            .client
            .list_objects_v2()
            .bucket(&self.config.bucket)
            .prefix(prefix)
            .set_start_after(start_after.map(str::to_owned))
            .max_keys(limit as i32)
            .send();
        let out = self.call(Op::List, prefix, req).await?;
        let entries: Vec<ListEntry> = out
            .contents()
            .iter()
            .filter_map(|o| {
                Some(ListEntry {
                    key: o.key()?.to_owned(),
                    size: o.size().unwrap_or(0).max(0) as u64,
                })
            })
            .collect();
        Ok(ListPage {
            truncated: out.is_truncated().unwrap_or(false) && !entries.is_empty(),
            entries,
        })
    }

    async fn list_folders(&self, prefix: &str) -> StoreResult<Vec<String>> {
        let mut folders = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let req = self
                .client
                .list_objects_v2()
                .bucket(&self.config.bucket)
                .prefix(prefix)
                .delimiter("/")
                .set_continuation_token(token.take())
                .send();
            let out = self.call(Op::List, prefix, req).await?;
            folders.extend(
                out.common_prefixes()
                    .iter()
                    .filter_map(|p| p.prefix().map(str::to_owned)),
            );
            match out.next_continuation_token() {
                Some(t) if out.is_truncated().unwrap_or(false) => token = Some(t.to_owned()),
                _ => return Ok(folders),
            }
        }
    }

    /// Deletes the object's current version by id, so Object Lock applies on versioned
    /// buckets (a DELETE without a version there only adds a delete marker and "succeeds").
    async fn delete(&self, key: &str, opts: &DeleteOptions) -> StoreResult<()> {
        validate_key(key)?;
        let version = match self.version_of(key).await {
            Ok(v) => v,
            Err(StoreError::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(e),
        };
        let req = self
            .client
            .delete_object()
            .bucket(&self.config.bucket)
            .key(key)
            .set_version_id(version)
            .set_bypass_governance_retention(opts.bypass_governance.then_some(true))
            .send();
        match self.call(Op::Delete, key, req).await {
            Ok(_) | Err(StoreError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn set_retention(
        &self,
        key: &str,
        retention: Retention,
        bypass_governance: bool,
    ) -> StoreResult<()> {
        validate_key(key)?;
        // moto 5.2.5 accepts shortening COMPLIANCE retention (AWS and Ceph RGW refuse it):
        // check the rule here too, so wormlog never asks for it on any server.
        let current = self.head(key).await?;
        check_retention_change(
            key,
            &current.lock,
            &retention,
            self.clock.now(),
            bypass_governance,
        )?;
        let mode = match retention.mode {
            RetentionMode::Compliance => ObjectLockRetentionMode::Compliance,
            RetentionMode::Governance => ObjectLockRetentionMode::Governance,
        };
        let req = self
            .client
            .put_object_retention()
            .bucket(&self.config.bucket)
            .key(key)
            .retention(
                ObjectLockRetention::builder()
                    .mode(mode)
                    .retain_until_date(to_datetime(retention.retain_until))
                    .build(),
            )
            .set_bypass_governance_retention(bypass_governance.then_some(true))
            .send();
        self.call(Op::SetRetention, key, req).await.map(|_| ())
    }

    async fn set_legal_hold(&self, key: &str, on: bool) -> StoreResult<()> {
        validate_key(key)?;
        let status = if on {
            ObjectLockLegalHoldStatus::On
        } else {
            ObjectLockLegalHoldStatus::Off
        };
        let req = self
            .client
            .put_object_legal_hold()
            .bucket(&self.config.bucket)
            .key(key)
            .legal_hold(ObjectLockLegalHold::builder().status(status).build())
            .send();
        self.call(Op::SetLegalHold, key, req).await.map(|_| ())
    }

    async fn list_versions_after(
        &self,
        prefix: &str,
        start_after: Option<&str>,
    ) -> StoreResult<Vec<VersionEntry>> {
        let mut out = Vec::new();
        // A key marker without a version id marker starts after that key, as start-after does
        // for a LIST.
        let mut marker = VersionsMarker {
            key: start_after.map(str::to_owned),
            version: None,
        };
        loop {
            let Some((entries, next)) = self.versions_page(prefix, marker).await? else {
                return wormlog_store::list_versions_of_current(self, prefix, start_after).await;
            };
            out.extend(entries);
            match next {
                Next::Page(next) => marker = next,
                Next::End => break,
                Next::Unknown => {
                    return Err(StoreError::Permanent {
                        op: Op::List.name(),
                        key: prefix.to_owned(),
                        message: "the server's version listing says neither that it is complete nor where it goes on; it cannot be trusted to show every slot".into(),
                    })
                }
            }
        }
        sort_versions(&mut out);
        Ok(out)
    }

    async fn list_versions_page_after(
        &self,
        prefix: &str,
        start_after: Option<&str>,
    ) -> StoreResult<(Vec<VersionEntry>, bool)> {
        let first = VersionsMarker {
            key: start_after.map(str::to_owned),
            version: None,
        };
        let Some((mut entries, next)) = self.versions_page(prefix, first).await? else {
            // No versioning at all (R2): one page of the plain listing, not all of them.
            let page = self
                .list_after(prefix, start_after, wormlog_store::MAX_LIST_PAGE)
                .await?;
            let current = page.entries.into_iter().map(VersionEntry::from).collect();
            return Ok((current, !page.truncated));
        };
        sort_versions(&mut entries);
        Ok((entries, matches!(next, Next::End)))
    }

    async fn bucket_settings(&self) -> StoreResult<Option<wormlog_store::BucketSettings>> {
        crate::settings::read(self).await
    }

    async fn default_retention(&self) -> StoreResult<Option<DefaultRetention>> {
        let req = self
            .client
            .get_object_lock_configuration()
            .bucket(&self.config.bucket)
            .send();
        // No configuration is no default; no bucket is NotFound, as for bucket_settings (a
        // bucket `wormlog init` is about to create has no default to weaken).
        let expected = |e: &SdkError<_, Response>| match e.code() {
            Some("ObjectLockConfigurationNotFoundError") => Some(Ok(None)),
            Some("NoSuchBucket") => Some(Err(StoreError::NotFound {
                key: self.config.bucket.clone(),
            })),
            _ => None,
        };
        let answer = async { req.await.map(|out| Ok(Some(out))) };
        let Some(out) = self
            .call_unless(Op::Get, &self.config.bucket, answer, expected)
            .await??
        else {
            return Ok(None);
        };
        let rule = out
            .object_lock_configuration()
            .and_then(|c| c.rule())
            .and_then(|r| r.default_retention());
        Ok(rule.and_then(|d| {
            let days = d
                .days()
                .map(|d| d as u32)
                .or(d.years().map(|y| y as u32 * 365))?;
            let mode = match d.mode()? {
                ObjectLockRetentionMode::Compliance => RetentionMode::Compliance,
                _ => RetentionMode::Governance,
            };
            Some(DefaultRetention { mode, days })
        }))
    }

    /// Creates the bucket (with Object Lock when a default retention is asked for) and sets the
    /// default retention. An existing bucket is kept; if it cannot take the retention asked
    /// for, the error says what it lacks.
    async fn init(&self, opts: &InitOptions) -> StoreResult<InitReport> {
        let bucket = &self.config.bucket;
        let exists = match self.client.head_bucket().bucket(bucket).send().await {
            Ok(_) => true,
            Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(404) => false,
            Err(e) => return Err(classify(Op::Head, bucket, e)),
        };
        if !exists {
            let mut req = self.client.create_bucket().bucket(bucket);
            let region = self.client.config().region().map(|r| r.to_string());
            if let Some(r) = region.filter(|r| r != "us-east-1") {
                req = req.create_bucket_configuration(
                    CreateBucketConfiguration::builder()
                        .location_constraint(BucketLocationConstraint::from(r.as_str()))
                        .build(),
                );
            }
            if opts.object_lock || opts.default_retention.is_some() {
                req = req.object_lock_enabled_for_bucket(true);
            }
            self.call(Op::PutIfAbsent, bucket, req.send()).await?;
        }
        if let Some(d) = opts.default_retention {
            let mode = match d.mode {
                RetentionMode::Compliance => ObjectLockRetentionMode::Compliance,
                RetentionMode::Governance => ObjectLockRetentionMode::Governance,
            };
            let config = ObjectLockConfiguration::builder()
                .object_lock_enabled(ObjectLockEnabled::Enabled)
                .rule(
                    ObjectLockRule::builder()
                        .default_retention(
                            aws_sdk_s3::types::DefaultRetention::builder()
                                .mode(mode)
                                .days(d.days as i32)
                                .build(),
                        )
                        .build(),
                )
                .build();
            let req = self
                .client
                .put_object_lock_configuration()
                .bucket(bucket)
                .object_lock_configuration(config)
                .send();
            // On a bucket created without Object Lock, AWS answers 400 and Ceph RGW 409
            // (InvalidBucketState): either way, say what the bucket lacks.
            self.call(Op::PutIfMatch, bucket, req).await.map_err(|e| match e {
                e @ (StoreError::Permanent { .. } | StoreError::Conflict { .. }) if exists => {
                    StoreError::Unsupported {
                        what: format!(
                            "default retention on the existing bucket {bucket} ({e}); Object Lock \
                             needs a versioned bucket created with Object Lock: pick a new bucket name for \
                             `wormlog init --object-lock`"
                        ),
                        store: self.describe(),
                    }
                }
                other => other,
            })?;
        }
        Ok(InitReport {
            created: !exists,
            default_retention: self.default_retention().await?,
        })
    }
}

/// What follows a ListObjectVersions page.
enum Next {
    End,
    Page(VersionsMarker),
    /// The answer did not say (no IsTruncated, or truncated without a next marker).
    Unknown,
}

/// Where a ListObjectVersions page starts.
struct VersionsMarker {
    key: Option<String>,
    version: Option<String>,
}

/// Key order, and within a key the latest first (markers and versions come in two lists).
fn sort_versions(out: &mut [VersionEntry]) {
    out.sort_by(|a, b| a.key.cmp(&b.key).then(b.is_latest.cmp(&a.is_latest)));
}

impl S3Store {
    /// One ListObjectVersions page and where the next starts (`None`: it was the last), or
    /// `None` on a store without versioning at all (Cloudflare R2 answers NotImplemented: it
    /// can hold neither delete markers nor old versions).
    async fn versions_page(
        &self,
        prefix: &str,
        marker: VersionsMarker,
    ) -> StoreResult<Option<(Vec<VersionEntry>, Next)>> {
        let req = self
            .client
            .list_object_versions()
            .bucket(&self.config.bucket)
            .prefix(prefix)
            .set_key_marker(marker.key)
            .set_version_id_marker(marker.version)
            .send();
        let not_implemented =
            |e: &SdkError<_, Response>| (e.code() == Some("NotImplemented")).then_some(None);
        let answer = async { req.await.map(Some) };
        let Some(page) = self
            .call_unless(Op::List, prefix, answer, not_implemented)
            .await?
        else {
            return Ok(None);
        };
        let version = |v: Option<&str>| v.filter(|v| *v != "null").map(str::to_owned);
        let mut out = Vec::new();
        for v in page.versions() {
            out.push(VersionEntry {
                key: v.key().unwrap_or_default().to_owned(),
                version_id: version(v.version_id()),
                // A server that leaves IsLatest out (AWS always sends it) must not make every
                // slot look absent to readers: two versions of one key are flagged all the same.
                is_latest: v.is_latest().unwrap_or(true),
                delete_marker: false,
                size: v.size().unwrap_or(0).max(0) as u64,
            });
        }
        for m in page.delete_markers() {
            out.push(VersionEntry {
                key: m.key().unwrap_or_default().to_owned(),
                version_id: version(m.version_id()),
                is_latest: m.is_latest().unwrap_or(true),
                delete_marker: true,
                size: 0,
            });
        }
        // Only an explicit IsTruncated=false says the listing is whole: a server that leaves
        // it out (or a next marker) must not make a first page pass for the whole log.
        let next = match (page.is_truncated(), page.next_key_marker()) {
            (Some(false), _) => Next::End,
            (Some(true), Some(key)) => Next::Page(VersionsMarker {
                key: Some(key.to_owned()),
                version: page.next_version_id_marker().map(str::to_owned),
            }),
            _ => Next::Unknown,
        };
        Ok(Some((out, next)))
    }
}
