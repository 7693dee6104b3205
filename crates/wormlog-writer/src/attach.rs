//! Raw payloads: bytes kept exactly, inline in the event line up to a threshold
//! ([`crate::WriterConfig::attach_above`]), else in an attachment object of their own.
//!
//! ```text
//!  bytes or a file ─┬─ size <= attach_above ─► inline event (base64 in its line)
//!                   └─ larger ─► SHA-256 (while the bucket's default lock is read)
//!                        ─► HEAD P/attachments/<sha256>
//!                             ├─ there, same size ─► reuse it (one copy per document)
//!                             └─ absent ─► create-only PUT with x-amz-checksum-sha256,
//!                                          streamed from the file; above parts_above
//!                                          (1 GiB) a multipart upload of 8 MiB parts,
//!                                          3 in flight, each part's SHA-256 checked,
//!                                          and the parts' bytes against the file's
//!                        ─► attached event, queued only once the object is there
//! ```
//!
//! An attachment is written before the segment that names it, with the writer's Object Lock
//! (or the bucket default) made explicit and one hour longer, so it never expires before the
//! segment that refers to it. Memory stays bounded whatever the size: a file is read twice
//! (hash, then upload) in 1 MiB reads, and a multipart upload holds at most 3 parts at once.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::{self, StreamExt, TryStreamExt};
use sha2::Digest;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use wormlog_format::{attachment_key, validate_content_type, NewEvent};
use wormlog_store::{
    LockRequest, ObjectStore, PutOptions, PutResult, Retention, StoreError, UploadId, UploadedPart,
};

use crate::{LogWriter, WriteError};

/// The size of each part of a multipart attachment.
pub const PART_SIZE: u64 = 8 << 20;
/// Parts in flight at once.
const PARTS_IN_FLIGHT: usize = 3;
/// How much longer than the writer's retention an attachment is kept.
const ATTACHMENT_HEADROOM: Duration = Duration::from_secs(3600);
/// Attempts for each request of an attachment upload.
const ATTEMPTS: u32 = 5;

impl LogWriter {
    /// A raw event of `bytes`: inline if small, else an attachment stored first.
    pub async fn raw_event(
        &self,
        event_type: &str,
        content_type: &str,
        bytes: Bytes,
    ) -> Result<NewEvent, WriteError> {
        let id = self.ids.lock().uuid();
        let time = self.clock.now().to_rfc3339();
        if bytes.len() as u64 <= self.attach_above {
            // `inline` checks the content type itself.
            return NewEvent::inline(id, event_type, time, content_type, &bytes)
                .map_err(WriteError::InvalidEvent);
        }
        validate_content_type(content_type).map_err(invalid)?;
        let len = bytes.len() as u64;
        let hashed = {
            let bytes = bytes.clone();
            async move { Ok(on_blocking_thread(move || sha2::Sha256::digest(&bytes).into()).await) }
        };
        let (digest, lock) = tokio::try_join!(hashed, self.attachment_lock())?;
        if !self.attachment_present(&digest, len).await? {
            let opts = attachment_options(lock, Some(digest));
            let key = self.attachment_store_key(&digest);
            let put = || self.store.put_if_absent(&key, bytes.clone(), &opts);
            self.put_attachment(&digest, len, put).await?;
        }
        NewEvent::attached(id, event_type, time, content_type, len, &digest)
            .map_err(WriteError::InvalidEvent)
    }

    /// A raw event of the file at `path`, read with bounded memory.
    pub async fn file_event(
        &self,
        event_type: &str,
        content_type: &str,
        path: &Path,
    ) -> Result<NewEvent, WriteError> {
        validate_content_type(content_type).map_err(invalid)?;
        let file_error = |e: std::io::Error| WriteError::File {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let len = tokio::fs::metadata(path).await.map_err(file_error)?.len();
        if len <= self.attach_above {
            let bytes = Bytes::from(tokio::fs::read(path).await.map_err(file_error)?);
            return self.raw_event(event_type, content_type, bytes).await;
        }
        let hashed = async {
            let started = self.clock.monotonic();
            let (digest, read) = sha256_of_file(path).await.map_err(file_error)?;
            let elapsed = self.clock.monotonic().saturating_sub(started);
            tracing::debug!(
                bytes = read,
                elapsed_us = elapsed.as_micros() as u64,
                "hashed the file"
            );
            if read != len {
                return Err(file_error(std::io::Error::other(
                    "it changed size while it was read; append it again once it is complete",
                )));
            }
            Ok(digest)
        };
        let (digest, lock) = tokio::try_join!(hashed, self.attachment_lock())?;
        if !self.attachment_present(&digest, len).await? {
            if len <= self.parts_above {
                let opts = attachment_options(lock, Some(digest));
                let key = self.attachment_store_key(&digest);
                let put = || self.store.put_file_if_absent(&key, path, &opts);
                self.put_attachment(&digest, len, put).await?;
            } else {
                self.upload_file(path, len, &digest, attachment_options(lock, None))
                    .await?;
            }
        }
        let (id, time) = (self.ids.lock().uuid(), self.clock.now().to_rfc3339());
        NewEvent::attached(id, event_type, time, content_type, len, &digest)
            .map_err(WriteError::InvalidEvent)
    }

    /// Appends `bytes` as one raw event and waits for its acknowledgement.
    pub async fn append_bytes(
        &self,
        event_type: &str,
        content_type: &str,
        bytes: Bytes,
    ) -> Result<crate::Appended, WriteError> {
        let event = self.raw_event(event_type, content_type, bytes).await?;
        self.append_event(event).await
    }

    fn attachment_store_key(&self, digest: &[u8; 32]) -> String {
        self.keys
            .attachment(&attachment_key(&wormlog_format::hex_of(digest)))
    }

    /// True when the attachment is stored already (the same document appended before). One
    /// at that key with another size is not this document: refused.
    async fn attachment_present(&self, digest: &[u8; 32], len: u64) -> Result<bool, WriteError> {
        let key = self.attachment_store_key(digest);
        match retrying(|| self.store.head(&key)).await {
            Ok(meta) if meta.size == len => Ok(true),
            Ok(meta) => Err(WriteError::Store(StoreError::Permanent {
                op: "check attachment",
                key,
                message: format!(
                    "it holds {} bytes, but the document with this SHA-256 has {len}; the store was changed outside wormlog (run `wormlog verify`)",
                    meta.size
                ),
            })),
            Err(StoreError::NotFound { .. }) => Ok(false),
            Err(e) => Err(WriteError::Store(e)),
        }
    }

    /// An attachment's lock: at least as long as its segment's, made explicit.
    async fn attachment_lock(&self) -> Result<LockRequest, WriteError> {
        let now = self.clock.now();
        let retention = match self.lock {
            Some(policy) => Some(Retention {
                mode: policy.mode,
                retain_until: now.plus(policy.retain_for + ATTACHMENT_HEADROOM),
            }),
            None => match retrying(|| self.store.default_retention()).await {
                Ok(default) => default.map(|d| d.from_now(now.plus(ATTACHMENT_HEADROOM))),
                Err(e) => return Err(WriteError::Store(e)),
            },
        };
        Ok(LockRequest {
            retention,
            legal_hold: self.legal_hold,
        })
    }

    /// One create-only PUT (`put`, sent again after a transient failure). A 412 means the
    /// same document is there already (content addressed): a racing writer, or our own
    /// earlier attempt whose answer was lost.
    async fn put_attachment<F, Fut>(
        &self,
        digest: &[u8; 32],
        len: u64,
        put: F,
    ) -> Result<(), WriteError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<PutResult, StoreError>>,
    {
        match retrying(put).await {
            Ok(_) => Ok(()),
            Err(_) if self.planted_bug == Some(crate::PlantedBug::AttachmentFailureIgnored) => {
                Ok(())
            }
            Err(StoreError::AlreadyExists { key }) => {
                match self.attachment_present(digest, len).await? {
                    true => Ok(()),
                    false => Err(WriteError::Store(StoreError::NotFound { key })),
                }
            }
            Err(e) => Err(WriteError::Store(e)),
        }
    }

    /// A multipart upload of the file, `PART_SIZE` at a time, a few parts in flight.
    async fn upload_file(
        &self,
        path: &Path,
        len: u64,
        digest: &[u8; 32],
        opts: PutOptions,
    ) -> Result<(), WriteError> {
        let key = self.attachment_store_key(digest);
        let store: &dyn ObjectStore = &*self.store;
        let upload = retrying(|| store.start_upload(&key, &opts))
            .await
            .map_err(WriteError::Store)?;
        let uploaded = self.upload_parts(path, &key, &upload, len, digest).await;
        let uploaded = match uploaded {
            Ok(parts) => parts,
            Err(e) => {
                let _ = store.abort_upload(&key, &upload).await;
                return Err(e);
            }
        };
        match retrying(|| store.complete_upload(&key, &upload, &uploaded, *digest)).await {
            Ok(_) => Ok(()),
            Err(StoreError::AlreadyExists { .. }) => {
                let _ = store.abort_upload(&key, &upload).await;
                match self.attachment_present(digest, len).await? {
                    true => Ok(()),
                    false => Err(WriteError::Store(StoreError::NotFound { key })),
                }
            }
            Err(e) => {
                let _ = store.abort_upload(&key, &upload).await;
                Err(WriteError::Store(e))
            }
        }
    }

    /// Sends the file's parts, a few in flight, and checks that the bytes they carried, in
    /// order, are the file that was hashed: each part's own SHA-256 is of the bytes read for
    /// it, and a store completes an upload from its parts whatever the whole's SHA-256 (S3
    /// has no such check), so a file rewritten after its hash would otherwise be stored under
    /// the first version's name.
    ///
    /// The sending and the running hash go side by side (hashing a part does not hold up the
    /// parts already in flight), and a part's bytes are held from its read until they are
    /// hashed under one of `PARTS_IN_FLIGHT` permits, so memory stays bounded: part k+3 is
    /// read once part k is hashed.
    async fn upload_parts(
        &self,
        path: &Path,
        key: &str,
        upload: &UploadId,
        len: u64,
        digest: &[u8; 32],
    ) -> Result<Vec<UploadedPart>, WriteError> {
        let count = len.div_ceil(PART_SIZE) as u32;
        let held = Arc::new(Semaphore::new(PARTS_IN_FLIGHT));
        let (to_hash, mut sent_bytes) = mpsc::unbounded_channel::<(Bytes, OwnedSemaphorePermit)>();
        let send = async move {
            let mut sent = stream::iter(1..=count)
                .map(|n| self.upload_one_part(path, key, upload, n, len, Arc::clone(&held)))
                .buffered(PARTS_IN_FLIGHT);
            let mut parts = Vec::with_capacity(count as usize);
            while let Some((part, bytes, permit)) = sent.try_next().await? {
                parts.push(part);
                let _ = to_hash.send((bytes, permit));
            }
            Ok::<_, WriteError>(parts)
        };
        let hash = async {
            let mut whole = sha2::Sha256::new();
            while let Some((bytes, permit)) = sent_bytes.recv().await {
                whole = on_blocking_thread(move || {
                    whole.update(&bytes);
                    drop(permit);
                    whole
                })
                .await;
            }
            <[u8; 32]>::from(whole.finalize())
        };
        let (parts, whole) = tokio::join!(send, hash);
        let parts = parts?;
        if whole != *digest {
            return Err(WriteError::File {
                path: path.display().to_string(),
                reason: "it changed while it was uploaded; append it again once it is complete"
                    .into(),
            });
        }
        Ok(parts)
    }

    /// Reads part `number` (once a permit is free) and sends it with its SHA-256; returns
    /// the part, its bytes and the permit, held until the bytes are hashed into the whole.
    async fn upload_one_part(
        &self,
        path: &Path,
        key: &str,
        upload: &UploadId,
        number: u32,
        len: u64,
        held: Arc<Semaphore>,
    ) -> Result<(UploadedPart, Bytes, OwnedSemaphorePermit), WriteError> {
        let permit = held
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let offset = u64::from(number - 1) * PART_SIZE;
        let size = PART_SIZE.min(len - offset) as usize;
        let read = async {
            let mut f = tokio::fs::File::open(path).await?;
            f.seek(std::io::SeekFrom::Start(offset)).await?;
            let mut buf = vec![0u8; size];
            f.read_exact(&mut buf).await?;
            Ok::<_, std::io::Error>(buf)
        };
        let buf = read.await.map_err(|e| WriteError::File {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let (sha, body) = on_blocking_thread(move || {
            let sha: [u8; 32] = sha2::Sha256::digest(&buf).into();
            (sha, Bytes::from(buf))
        })
        .await;
        let part = retrying(|| {
            self.store
                .upload_part(key, upload, number, body.clone(), sha)
        })
        .await
        .map_err(WriteError::Store)?;
        Ok((part, body, permit))
    }
}

/// The options of an attachment object: its lock, its SHA-256 (for a single PUT; a
/// multipart upload checks each part's instead), and a marker for people browsing the bucket.
fn attachment_options(lock: LockRequest, sha256: Option<[u8; 32]>) -> PutOptions {
    PutOptions {
        metadata: [("wormlog-attachment".to_owned(), "1".to_owned())].into(),
        lock,
        sha256,
        ..PutOptions::default()
    }
}

fn invalid(reason: String) -> WriteError {
    WriteError::InvalidEvent(wormlog_format::FormatError::EventData(reason))
}

/// The SHA-256 of a file and how many bytes it had, on blocking threads: one reads the next
/// MiB while the other hashes the last (hashing is most of the time, reading the rest: side
/// by side, a 100 MB file is hashed in the time the hashing alone takes). Three 1 MiB buffers
/// go round between them.
pub async fn sha256_of_file(path: &Path) -> std::io::Result<([u8; 32], u64)> {
    let path = path.to_owned();
    on_blocking_thread(move || {
        let mut file = std::fs::File::open(&path)?;
        let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<(Vec<u8>, usize)>(2);
        let (empty_tx, empty_rx) = std::sync::mpsc::channel::<Vec<u8>>();
        for _ in 0..3 {
            let _ = empty_tx.send(vec![0u8; 1 << 20]);
        }
        std::thread::scope(|scope| {
            let reader = scope.spawn(move || -> std::io::Result<()> {
                while let Ok(mut buf) = empty_rx.recv() {
                    let n = std::io::Read::read(&mut file, &mut buf)?;
                    if n == 0 || full_tx.send((buf, n)).is_err() {
                        return Ok(());
                    }
                }
                Ok(())
            });
            let mut hash = sha2::Sha256::new();
            let mut read = 0u64;
            while let Ok((buf, n)) = full_rx.recv() {
                hash.update(&buf[..n]);
                read += n as u64;
                let _ = empty_tx.send(buf);
            }
            drop(empty_tx);
            match reader.join() {
                Ok(done) => done.map(|()| (hash.finalize().into(), read)),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    })
    .await
}

/// Runs CPU or file work off the async threads; a panic in it goes on in the caller.
async fn on_blocking_thread<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// Runs a request again after a transient failure (a few attempts, growing pauses). Each
/// attachment request is idempotent: a content-addressed create meeting itself is a 412
/// that [`LogWriter::attachment_present`] then confirms.
async fn retrying<T, F, Fut>(mut call: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut attempt = 0;
    loop {
        match call().await {
            Err(e) if e.is_transient() && attempt + 1 < ATTEMPTS => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
            }
            other => return other,
        }
    }
}
