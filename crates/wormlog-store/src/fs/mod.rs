//! [`FsStore`]: a bucket in a local directory, the embedded default store.
//!
//! ```text
//! <root>/wormlog-store.json      bucket settings (default retention), written by `init`
//! <root>/objects/<key>           the object's bytes, exactly (a segment opens with `jq`)
//! <root>/meta/<key>@<inode>      sidecar: ETag, user metadata, lock state of that file
//! <root>/versions/<key>@<inode>  an overwritten object kept while still protected (noncurrent)
//! <root>/tmp/                    files being written; never visible as objects
//! <root>/lock                    flock(2) serialising compare-and-swap and lock changes
//! ```
//!
//! Create-only put (what I1 rests on):
//! 1. write the bytes to `tmp/<uuid>` and fsync; read-only if the object will be locked;
//! 2. write the sidecar for that file's inode (`meta/<key>@<inode>`), fsync it and its folder;
//! 3. `link(tmp, objects/<key>)`: the commit point. The kernel refuses the link if the key
//!    exists (EEXIST -> [`StoreError::AlreadyExists`]), so two racing creators, in one process
//!    or many, get exactly one success. fsync the folder, drop the temp name.
//!
//! Every folder created on the way (a stream's first segment creates `objects/<stream>/log/`
//! and `meta/<stream>/log/`) has its entry fsynced in its parent before anything is put in
//! it. If the fsync after the link fails, the object is visible but may not survive a crash:
//! the put fails with [`StoreError::Indeterminate`], never a definite error, so a writer
//! reports the slot's outcome as unknown instead of calling a landed segment failed.
//!
//! A crash before step 3 leaves only garbage under `tmp/` and `meta/` (an orphan sidecar names
//! an inode that is no object); after step 3 the object is whole, with its sidecar already
//! durable. No reader ever sees a partial object. Because the sidecar is named by inode, a
//! reader pairs an object with exactly the metadata written for those bytes.
//!
//! Compare-and-swap put, delete, retention and legal-hold changes hold an exclusive flock on
//! `<root>/lock` (processes die -> the kernel releases it), check the ETag and lock rules,
//! write the new file and sidecar, then `rename` over the old file. Objects under retention or
//! legal hold are made read-only (0444) as a second line of defence; the store itself refuses
//! to delete them until retain-until. Replacing a protected object (the lease renewing on a
//! bucket with default retention) works as on a versioned S3 bucket: the old file is linked to
//! `versions/<key>@<inode>` with its sidecar, a noncurrent version, and dropped at a later
//! overwrite of the key once its retention has ended.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::checksum;
use crate::lock_rules::{check_delete, check_retention_change, initial_lock, keeps_old_version};
use crate::{
    strip_etag_quotes, validate_key, Clock, DefaultRetention, DeleteOptions, GetResult,
    InitOptions, InitReport, ListEntry, ListPage, LockState, ObjectMeta, ObjectStore, PutOptions,
    PutResult, Retention, SeededRng, StoreError, StoreResult, SystemClock, UploadId, UploadedPart,
    VersionEntry, MAX_LIST_PAGE,
};

mod upload;

const OBJECTS: &str = "objects";
const META: &str = "meta";
const TMP: &str = "tmp";
const VERSIONS: &str = "versions";
const LOCK_FILE: &str = "lock";
const CONFIG: &str = "wormlog-store.json";

/// What the store keeps beside each object.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Sidecar {
    etag: String,
    metadata: BTreeMap<String, String>,
    lock: LockState,
    /// The SHA-256 the bytes were checked against when written (hex), if one was sent.
    #[serde(default)]
    sha256: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct BucketConfig {
    default_retention: Option<DefaultRetention>,
}

/// A bucket in a local directory. Cloning shares the same directory.
#[derive(Debug, Clone)]
pub struct FsStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    clock: Arc<dyn Clock>,
    rng: Mutex<SeededRng>,
    /// The bucket settings, read once from `wormlog-store.json` (`None` until read).
    config: Mutex<Option<Option<DefaultRetention>>>,
    /// Folders known to exist durably (see [`Inner::create_folders`]).
    durable_folders: Mutex<std::collections::HashSet<PathBuf>>,
    /// Multipart uploads in progress: id -> (key, options, folder of its parts).
    uploads: Mutex<std::collections::HashMap<String, upload::Upload>>,
    /// Fault points and observations for tests (see [`FsStore::fail_folder_syncs`]).
    faults: FsFaults,
}

/// Test hooks on the directory store's durability steps: folder fsyncs that fail, and a
/// record of the folders fsynced.
#[derive(Debug, Default)]
struct FsFaults {
    failing: Mutex<Vec<(FsStep, usize)>>,
    synced_folders: Mutex<Option<Vec<PathBuf>>>,
}

/// The folder fsyncs of the directory store, as fault points for tests.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsStep {
    /// The sidecar's folder, before the object is linked into place.
    Sidecar,
    /// The object's folder, after the object was linked, renamed or removed there.
    Commit,
    /// A parent folder, after a new folder was created in it.
    NewFolder,
}

impl FsStore {
    /// A store rooted at `root`. Nothing is created until the first write or `init`.
    pub fn open(root: impl Into<PathBuf>) -> FsStore {
        FsStore::with_clock(root, SystemClock::shared())
    }

    /// A store whose Object Lock dates follow `clock`.
    pub fn with_clock(root: impl Into<PathBuf>, clock: Arc<dyn Clock>) -> FsStore {
        FsStore {
            inner: Arc::new(Inner {
                root: root.into(),
                clock,
                rng: Mutex::new(SeededRng::from_entropy()),
                config: Mutex::new(None),
                durable_folders: Mutex::default(),
                uploads: Mutex::default(),
                faults: FsFaults::default(),
            }),
        }
    }

    /// The directory this store lives in.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Where the bytes of `key` are kept (for tools and tests that inspect the directory).
    pub fn object_path(&self, key: &str) -> StoreResult<PathBuf> {
        validate_key(key)?;
        Ok(self.inner.object_path(key))
    }

    /// Makes the next `n` folder fsyncs at `step` fail (EIO), as a failing disk would: for
    /// tests of what a writer concludes when a put became visible but may not be durable.
    #[doc(hidden)]
    pub fn fail_folder_syncs(&self, step: FsStep, n: usize) {
        self.inner.faults.failing.lock().push((step, n));
    }

    /// Starts recording every folder this store fsyncs; returns those recorded so far.
    #[doc(hidden)]
    pub fn synced_folders(&self) -> Vec<PathBuf> {
        self.inner
            .faults
            .synced_folders
            .lock()
            .get_or_insert_with(Vec::new)
            .clone()
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Inner) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| StoreError::Transient {
                op: "filesystem task",
                key: String::new(),
                message: e.to_string(),
            })?
    }
}

/// An object as read: its bytes (if asked for), metadata, and the inode naming its sidecar.
struct Stored {
    body: Option<Vec<u8>>,
    meta: ObjectMeta,
    ino: u64,
}

/// A new file written and fsynced under `tmp/`, with its sidecar in place.
struct Staged {
    tmp: PathBuf,
    ino: u64,
    etag: String,
}

/// Holds the store-wide exclusive flock until dropped.
struct ExclusiveLock(File);

impl Drop for ExclusiveLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

impl Inner {
    /// fsyncs `dir`, so the entries just created or removed in it survive a crash.
    fn sync_folder(&self, dir: &Path, step: FsStep) -> std::io::Result<()> {
        if let Some((_, n)) = self
            .faults
            .failing
            .lock()
            .iter_mut()
            .find(|(s, n)| *s == step && *n > 0)
        {
            *n -= 1;
            return Err(std::io::Error::other("fsync failed: I/O error (injected)"));
        }
        File::open(dir)?.sync_all()?;
        if let Some(synced) = self.faults.synced_folders.lock().as_mut() {
            synced.push(dir.to_owned());
        }
        Ok(())
    }

    /// Makes `dir` and every folder between it and the store root exist durably: each is
    /// created if missing, and its entry is fsynced in its parent, once per folder and store
    /// instance. A folder found existing is fsynced in its parent too: the process that
    /// created it may have died before doing so, and a crash would then take the folder, and
    /// every segment put in it since, with it.
    fn create_folders(&self, dir: &Path) -> std::io::Result<()> {
        if self.durable_folders.lock().contains(dir) {
            return Ok(());
        }
        let mut chain = Vec::new();
        let mut at = dir;
        loop {
            chain.push(at);
            match at.parent() {
                Some(p) if at != self.root && at.starts_with(&self.root) => at = p,
                _ => break,
            }
        }
        if let Some(above) = self.root.parent() {
            fs::create_dir_all(above)?;
        }
        for folder in chain.into_iter().rev() {
            if self.durable_folders.lock().contains(folder) {
                continue;
            }
            match fs::create_dir(folder) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
            if let Some(parent) = folder.parent() {
                self.sync_folder(parent, FsStep::NewFolder)?;
            }
            self.durable_folders.lock().insert(folder.to_owned());
        }
        Ok(())
    }

    fn object_path(&self, key: &str) -> PathBuf {
        self.root.join(OBJECTS).join(key)
    }

    fn sidecar_path(&self, key: &str, ino: u64) -> PathBuf {
        self.root.join(META).join(format!("{key}@{ino}"))
    }

    fn io(&self, op: &'static str, key: &str) -> impl Fn(std::io::Error) -> StoreError + '_ {
        let key = key.to_owned();
        move |e| StoreError::from_io(op, &key, e)
    }

    fn exclusive(&self, key: &str) -> StoreResult<ExclusiveLock> {
        fs::create_dir_all(&self.root).map_err(self.io("lock store", key))?;
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.root.join(LOCK_FILE))
            .map_err(self.io("lock store", key))?;
        f.lock().map_err(self.io("lock store", key))?;
        Ok(ExclusiveLock(f))
    }

    fn default_retention(&self) -> StoreResult<Option<DefaultRetention>> {
        let mut cached = self.config.lock();
        if let Some(c) = *cached {
            return Ok(c);
        }
        let path = self.root.join(CONFIG);
        let config = match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice::<BucketConfig>(&bytes).map_err(|e| {
                StoreError::Permanent {
                    op: "read bucket settings",
                    key: CONFIG.into(),
                    message: format!("{} is not valid ({e}); fix or remove it", path.display()),
                }
            })?,
            Err(e) if e.kind() == ErrorKind::NotFound => BucketConfig::default(),
            Err(e) => return Err(StoreError::from_io("read bucket settings", CONFIG, e)),
        };
        *cached = Some(config.default_retention);
        Ok(config.default_retention)
    }

    /// Writes `body` to a fresh file under `tmp/`, fsynced; returns its path and inode.
    fn write_temp(&self, key: &str, body: &[u8]) -> StoreResult<(PathBuf, u64)> {
        let dir = self.root.join(TMP);
        self.create_folders(&dir).map_err(self.io("put", key))?;
        let name = self.rng.lock().uuid().simple().to_string();
        let path = dir.join(name);
        let write = || -> std::io::Result<u64> {
            let mut f = File::create_new(&path)?;
            f.write_all(body)?;
            f.sync_all()?;
            Ok(f.metadata()?.ino())
        };
        match write() {
            Ok(ino) => Ok((path, ino)),
            Err(e) => {
                let _ = fs::remove_file(&path);
                Err(StoreError::from_io("put", key, e))
            }
        }
    }

    /// Durably writes the sidecar of `key`'s file with inode `ino` (atomic replace).
    fn write_sidecar(&self, key: &str, ino: u64, sidecar: &Sidecar) -> StoreResult<()> {
        let path = self.sidecar_path(key, ino);
        let dir = path.parent().expect("sidecar has a parent");
        self.create_folders(dir)
            .map_err(self.io("write metadata", key))?;
        let json = serde_json::to_vec(sidecar).expect("sidecar serialises");
        let (tmp, _) = self.write_temp(key, &json)?;
        fs::rename(&tmp, &path)
            .and_then(|_| self.sync_folder(dir, FsStep::Sidecar))
            .map_err(|e| {
                let _ = fs::remove_file(&tmp);
                StoreError::from_io("write metadata", key, e)
            })
    }

    fn read_sidecar(&self, key: &str, ino: u64) -> StoreResult<Option<Sidecar>> {
        match fs::read(self.sidecar_path(key, ino)) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| StoreError::Permanent {
                        op: "read metadata",
                        key: key.to_owned(),
                        message: format!("its metadata sidecar is not valid JSON ({e})"),
                    })
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::from_io("read metadata", key, e)),
        }
    }

    fn new_etag(&self) -> String {
        self.rng.lock().uuid().simple().to_string()
    }

    /// Reads the object file of `key` with its sidecar, and the file's inode (which names the
    /// sidecar). A compare-and-swap may replace the file between the two reads; the sidecar is
    /// named by inode, so a mismatch is seen and retried.
    fn read_object(&self, key: &str, with_body: bool) -> StoreResult<Stored> {
        validate_key(key)?;
        let path = self.object_path(key);
        for _ in 0..5 {
            let mut file = match File::open(&path) {
                Ok(f) => f,
                Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                    return Err(StoreError::NotFound {
                        key: key.to_owned(),
                    })
                }
                Err(e) => return Err(StoreError::from_io("get", key, e)),
            };
            let md = file.metadata().map_err(self.io("get", key))?;
            if md.is_dir() {
                return Err(StoreError::NotFound {
                    key: key.to_owned(),
                });
            }
            let Some(sidecar) = self.read_sidecar(key, md.ino())? else {
                continue;
            };
            let body = if with_body {
                let mut buf = Vec::with_capacity(md.len() as usize);
                file.read_to_end(&mut buf).map_err(self.io("get", key))?;
                Some(buf)
            } else {
                None
            };
            let meta = ObjectMeta {
                key: key.to_owned(),
                size: md.len(),
                etag: sidecar.etag,
                metadata: sidecar.metadata,
                lock: sidecar.lock,
                sha256: sidecar.sha256,
            };
            return Ok(Stored {
                body,
                meta,
                ino: md.ino(),
            });
        }
        Err(StoreError::Foreign {
            key: key.to_owned(),
            reason: format!(
                "its metadata sidecar under {} is missing; the file was placed or replaced outside wormlog",
                self.root.join(META).display()
            ),
        })
    }

    /// Steps 1 and 2 of every put: the new bytes in a fsynced temp file and, already durable,
    /// the sidecar for its inode. Nothing is visible as an object until the caller links or
    /// renames the temp file into place.
    fn stage(&self, key: &str, body: &[u8], opts: &PutOptions) -> StoreResult<Staged> {
        let sha256 = checksum::verified(key, body, opts.sha256)?;
        let (tmp, ino) = self.write_temp(key, body)?;
        self.stage_written(key, tmp, ino, opts, sha256)
    }

    /// Step 2 for a file already written and fsynced under `tmp/`: made read-only if it will
    /// be locked, and its sidecar written, durably.
    fn stage_written(
        &self,
        key: &str,
        tmp: PathBuf,
        ino: u64,
        opts: &PutOptions,
        sha256: Option<String>,
    ) -> StoreResult<Staged> {
        let now = self.clock.now();
        let lock = initial_lock(&opts.lock, self.default_retention()?, now);
        let staged = Staged {
            tmp,
            ino,
            etag: self.new_etag(),
        };
        if lock.is_protected(now) {
            if let Err(e) = fs::set_permissions(&staged.tmp, fs::Permissions::from_mode(0o444)) {
                self.discard(key, &staged);
                return Err(StoreError::from_io("put", key, e));
            }
        }
        let sidecar = Sidecar {
            etag: staged.etag.clone(),
            metadata: opts.metadata.clone(),
            lock,
            sha256,
        };
        if let Err(e) = self.write_sidecar(key, ino, &sidecar) {
            self.discard(key, &staged);
            return Err(e);
        }
        Ok(staged)
    }

    /// Removes a staged file and its sidecar that did not become the object.
    fn discard(&self, key: &str, staged: &Staged) {
        let _ = fs::remove_file(&staged.tmp);
        let _ = fs::remove_file(self.sidecar_path(key, staged.ino));
    }

    fn put_if_absent(&self, key: &str, body: &[u8], opts: &PutOptions) -> StoreResult<PutResult> {
        self.prepare_key(key)?;
        let staged = self.stage(key, body, opts)?;
        self.link_into_place(key, staged)
    }

    /// The folders of `key`, made durable; refuses a key that is a folder of other objects.
    fn prepare_key(&self, key: &str) -> StoreResult<()> {
        validate_key(key)?;
        let data = self.object_path(key);
        let dir = data.parent().expect("object has a parent");
        self.create_folders(dir).map_err(self.io("put", key))?;
        if data.is_dir() {
            return Err(StoreError::InvalidKey {
                key: key.to_owned(),
                reason: "a folder of other objects has this name in a directory store".into(),
            });
        }
        Ok(())
    }

    /// Step 3 of a create-only put: link the staged file into place.
    fn link_into_place(&self, key: &str, staged: Staged) -> StoreResult<PutResult> {
        let data = self.object_path(key);
        let dir = data.parent().expect("object has a parent");
        // The commit point: link(2) fails with EEXIST if the key exists.
        match fs::hard_link(&staged.tmp, &data) {
            Ok(()) => {
                let _ = fs::remove_file(&staged.tmp);
                self.sync_folder(dir, FsStep::Commit)
                    .map_err(|e| visible_not_durable("put", key, e))?;
                Ok(PutResult { etag: staged.etag })
            }
            Err(e) => {
                self.discard(key, &staged);
                Err(match e.kind() {
                    ErrorKind::AlreadyExists => StoreError::AlreadyExists {
                        key: key.to_owned(),
                    },
                    _ => StoreError::from_io("put", key, e),
                })
            }
        }
    }

    fn put_if_match(
        &self,
        key: &str,
        body: &[u8],
        etag: &str,
        opts: &PutOptions,
    ) -> StoreResult<PutResult> {
        validate_key(key)?;
        let _guard = self.exclusive(key)?;
        let Stored {
            meta: current,
            ino: old_ino,
            ..
        } = self.read_object(key, false)?;
        if current.etag != strip_etag_quotes(etag) {
            return Err(StoreError::PreconditionFailed {
                key: key.to_owned(),
            });
        }
        let now = self.clock.now();
        self.prune_versions(key, old_ino, now)?;
        let keep_old = keeps_old_version(&current.lock, now);
        if keep_old {
            self.keep_as_noncurrent(key, old_ino)?;
        }
        let staged = self.stage(key, body, opts)?;
        let data = self.object_path(key);
        if let Err(e) = fs::rename(&staged.tmp, &data) {
            self.discard(key, &staged);
            return Err(StoreError::from_io("put", key, e));
        }
        // From here the new file is the object: keep its sidecar whatever happens next. The
        // old file's sidecar goes only once the rename is durable: a crash before that may
        // bring the old file back, and it must still find its metadata.
        self.sync_folder(data.parent().expect("object has a parent"), FsStep::Commit)
            .map_err(|e| visible_not_durable("put", key, e))?;
        if !keep_old {
            let _ = fs::remove_file(self.sidecar_path(key, old_ino));
        }
        Ok(PutResult { etag: staged.etag })
    }

    fn version_path(&self, key: &str, ino: u64) -> PathBuf {
        self.root.join(VERSIONS).join(format!("{key}@{ino}"))
    }

    /// Links the protected file of `key` (inode `ino`) under `versions/`, durably, before it
    /// is replaced: its sidecar stays where it is, named by the same inode.
    fn keep_as_noncurrent(&self, key: &str, ino: u64) -> StoreResult<()> {
        let kept = self.version_path(key, ino);
        let dir = kept.parent().expect("version has a parent");
        self.create_folders(dir).map_err(self.io("put", key))?;
        match fs::hard_link(self.object_path(key), &kept) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => return Err(StoreError::from_io("put", key, e)),
        }
        self.sync_folder(dir, FsStep::Commit)
            .map_err(self.io("put", key))
    }

    /// The noncurrent versions of keys under `prefix`: `(key, inode)`.
    fn noncurrent_versions(&self, prefix: &str) -> StoreResult<Vec<(String, u64)>> {
        let dir_part = &prefix[..prefix.rfind('/').map_or(0, |i| i + 1)];
        let mut files = Vec::new();
        walk(&self.root.join(VERSIONS), dir_part, &mut files).map_err(self.io("list", prefix))?;
        Ok(files
            .into_iter()
            .filter_map(|(name, _)| {
                let (key, ino) = name.rsplit_once('@')?;
                Some((key.to_owned(), ino.parse().ok()?))
            })
            .filter(|(key, _)| key.starts_with(prefix))
            .collect())
    }

    /// Drops the noncurrent versions of `key` that are no longer protected at `now`. A link
    /// to the current file (`current_ino`: a crash came between keeping it and replacing it)
    /// is only a name: removing it must not take the current file's sidecar.
    fn prune_versions(
        &self,
        key: &str,
        current_ino: u64,
        now: crate::Timestamp,
    ) -> StoreResult<()> {
        for (k, ino) in self.noncurrent_versions(key)? {
            if k != key {
                continue;
            }
            if ino == current_ino {
                let _ = fs::remove_file(self.version_path(key, ino));
                continue;
            }
            let protected = self
                .read_sidecar(key, ino)?
                .is_some_and(|s| keeps_old_version(&s.lock, now));
            if !protected {
                let _ = fs::remove_file(self.version_path(key, ino));
                let _ = fs::remove_file(self.sidecar_path(key, ino));
            }
        }
        Ok(())
    }

    /// Current objects and noncurrent versions under `prefix` after `start_after`, in key order,
    /// the current version first.
    fn list_versions_after(
        &self,
        prefix: &str,
        start_after: Option<&str>,
    ) -> StoreResult<Vec<VersionEntry>> {
        let objects = self.root.join(OBJECTS);
        let dir_part = &prefix[..prefix.rfind('/').map_or(0, |i| i + 1)];
        let mut current = Vec::new();
        walk(&objects, dir_part, &mut current).map_err(self.io("list", prefix))?;
        let wanted = |k: &str| k.starts_with(prefix) && start_after.is_none_or(|a| k > a);
        let mut out: Vec<VersionEntry> = current
            .into_iter()
            .filter(|(k, _)| wanted(k))
            .map(|(key, size)| VersionEntry {
                key,
                version_id: None,
                is_latest: true,
                delete_marker: false,
                size,
            })
            .collect();
        for (key, ino) in self.noncurrent_versions(prefix)? {
            if wanted(&key) {
                let size = fs::metadata(self.version_path(&key, ino)).map_or(0, |m| m.len());
                out.push(VersionEntry {
                    key,
                    version_id: Some(ino.to_string()),
                    is_latest: false,
                    delete_marker: false,
                    size,
                });
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key).then(b.is_latest.cmp(&a.is_latest)));
        Ok(out)
    }

    /// Applies `change` to the lock state of `key` under the store lock, then sets the file's
    /// permissions to match.
    fn change_lock(
        &self,
        key: &str,
        change: impl FnOnce(&mut LockState, crate::Timestamp) -> StoreResult<()>,
    ) -> StoreResult<()> {
        validate_key(key)?;
        let _guard = self.exclusive(key)?;
        let Stored { meta, ino, .. } = self.read_object(key, false)?;
        let mut sidecar = Sidecar {
            etag: meta.etag,
            metadata: meta.metadata,
            lock: meta.lock,
            sha256: meta.sha256,
        };
        let now = self.clock.now();
        change(&mut sidecar.lock, now)?;
        self.write_sidecar(key, ino, &sidecar)?;
        let mode = if sidecar.lock.is_protected(now) {
            0o444
        } else {
            0o644
        };
        fs::set_permissions(self.object_path(key), fs::Permissions::from_mode(mode))
            .map_err(self.io("set lock", key))
    }

    fn delete(&self, key: &str, opts: &DeleteOptions) -> StoreResult<()> {
        validate_key(key)?;
        let _guard = self.exclusive(key)?;
        let Stored { meta, ino, .. } = match self.read_object(key, false) {
            Err(StoreError::NotFound { .. }) => return Ok(()),
            other => other?,
        };
        check_delete(key, &meta.lock, self.clock.now(), opts.bypass_governance)?;
        let data = self.object_path(key);
        fs::remove_file(&data)
            .and_then(|_| {
                self.sync_folder(data.parent().expect("object has a parent"), FsStep::Commit)
            })
            .map_err(self.io("delete", key))?;
        let _ = fs::remove_file(self.sidecar_path(key, ino));
        Ok(())
    }

    fn list_after(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> StoreResult<ListPage> {
        let limit = limit.clamp(1, MAX_LIST_PAGE);
        let objects = self.root.join(OBJECTS);
        let dir_part = &prefix[..prefix.rfind('/').map_or(0, |i| i + 1)];
        let mut keys = Vec::new();
        walk(&objects, dir_part, &mut keys).map_err(self.io("list", prefix))?;
        keys.retain(|(k, _)| k.starts_with(prefix) && start_after.is_none_or(|a| k.as_str() > a));
        keys.sort_unstable();
        let truncated = keys.len() > limit;
        keys.truncate(limit);
        Ok(ListPage {
            entries: keys
                .into_iter()
                .map(|(key, size)| ListEntry { key, size })
                .collect(),
            truncated,
        })
    }

    fn init(&self, opts: &InitOptions) -> StoreResult<InitReport> {
        let created = !self.root.join(OBJECTS).exists();
        for d in [OBJECTS, META, TMP] {
            self.create_folders(&self.root.join(d))
                .map_err(self.io("init", d))?;
        }
        let _guard = self.exclusive(CONFIG)?;
        *self.config.lock() = None;
        let mut current = self.default_retention()?;
        if let Some(wanted) = opts.default_retention {
            let body = serde_json::to_vec_pretty(&BucketConfig {
                default_retention: Some(wanted),
            })
            .expect("config serialises");
            let (tmp, _) = self.write_temp(CONFIG, &body)?;
            fs::rename(&tmp, self.root.join(CONFIG))
                .and_then(|_| self.sync_folder(&self.root, FsStep::Commit))
                .map_err(self.io("init", CONFIG))?;
            *self.config.lock() = Some(Some(wanted));
            current = Some(wanted);
        }
        Ok(InitReport {
            created,
            default_retention: current,
        })
    }
}

/// A write that readers can already see failed its last durability step (the folder fsync
/// after the link or rename): it may or may not survive a crash. Not a definite failure.
fn visible_not_durable(op: &'static str, key: &str, e: std::io::Error) -> StoreError {
    StoreError::Indeterminate {
        op,
        key: key.to_owned(),
        message: format!("the object is in place but syncing its folder failed ({e}), so it may not survive a crash"),
    }
}

/// Collects `(key, size)` of every file under `objects/<dir_part>`, recursively.
fn walk(objects: &Path, dir_part: &str, out: &mut Vec<(String, u64)>) -> std::io::Result<()> {
    let dir = objects.join(dir_part);
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
            return Ok(())
        }
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            tracing::warn!(dir = %dir.display(), "skipping a file whose name is not UTF-8");
            continue;
        };
        let key = format!("{dir_part}{name}");
        let ft = entry.file_type()?;
        if ft.is_dir() {
            walk(objects, &format!("{key}/"), out)?;
        } else if ft.is_file() {
            out.push((key, entry.metadata()?.len()));
        }
    }
    Ok(())
}

#[async_trait]
impl ObjectStore for FsStore {
    fn enforces_conditions_itself(&self) -> bool {
        true
    }

    fn describe(&self) -> String {
        format!("file://{}", self.inner.root.display())
    }

    async fn put_if_absent(
        &self,
        key: &str,
        body: Bytes,
        opts: &PutOptions,
    ) -> StoreResult<PutResult> {
        let (key, opts) = (key.to_owned(), opts.clone());
        self.blocking(move |s| s.put_if_absent(&key, &body, &opts))
            .await
    }

    async fn put_file_if_absent(
        &self,
        key: &str,
        path: &std::path::Path,
        opts: &PutOptions,
    ) -> StoreResult<PutResult> {
        let (key, path, opts) = (key.to_owned(), path.to_owned(), opts.clone());
        self.blocking(move |s| s.put_file_if_absent(&key, &path, &opts))
            .await
    }

    async fn put_if_match(
        &self,
        key: &str,
        body: Bytes,
        etag: &str,
        opts: &PutOptions,
    ) -> StoreResult<PutResult> {
        let (key, etag, opts) = (key.to_owned(), etag.to_owned(), opts.clone());
        self.blocking(move |s| s.put_if_match(&key, &body, &etag, &opts))
            .await
    }

    async fn list_versions_after(
        &self,
        prefix: &str,
        start_after: Option<&str>,
    ) -> StoreResult<Vec<VersionEntry>> {
        let (prefix, start_after) = (prefix.to_owned(), start_after.map(str::to_owned));
        self.blocking(move |s| s.list_versions_after(&prefix, start_after.as_deref()))
            .await
    }

    async fn get(&self, key: &str) -> StoreResult<GetResult> {
        let key = key.to_owned();
        self.blocking(move |s| {
            let Stored { body, meta, .. } = s.read_object(&key, true)?;
            Ok(GetResult {
                body: Bytes::from(body.unwrap_or_default()),
                meta,
            })
        })
        .await
    }

    async fn head(&self, key: &str) -> StoreResult<ObjectMeta> {
        let key = key.to_owned();
        self.blocking(move |s| s.read_object(&key, false).map(|r| r.meta))
            .await
    }

    async fn get_range(&self, key: &str, offset: u64, len: u64) -> StoreResult<Bytes> {
        let key = key.to_owned();
        self.blocking(move |s| s.read_range(&key, offset, len).map(Bytes::from))
            .await
    }

    async fn start_upload(&self, key: &str, opts: &PutOptions) -> StoreResult<UploadId> {
        let (key, opts) = (key.to_owned(), opts.clone());
        self.blocking(move |s| s.start_upload(&key, opts)).await
    }

    async fn upload_part(
        &self,
        key: &str,
        upload: &UploadId,
        number: u32,
        body: Bytes,
        sha256: [u8; 32],
    ) -> StoreResult<UploadedPart> {
        let (key, upload) = (key.to_owned(), upload.clone());
        self.blocking(move |s| s.upload_part(&key, &upload, number, &body, sha256))
            .await
    }

    async fn complete_upload(
        &self,
        key: &str,
        upload: &UploadId,
        parts: &[UploadedPart],
        sha256: [u8; 32],
    ) -> StoreResult<PutResult> {
        let (key, upload, parts) = (key.to_owned(), upload.clone(), parts.to_vec());
        self.blocking(move |s| s.complete_upload(&key, &upload, &parts, sha256))
            .await
    }

    async fn abort_upload(&self, key: &str, upload: &UploadId) -> StoreResult<()> {
        let (key, upload) = (key.to_owned(), upload.clone());
        self.blocking(move |s| s.abort_upload(&key, &upload)).await
    }

    async fn list_folders(&self, prefix: &str) -> StoreResult<Vec<String>> {
        let prefix = prefix.to_owned();
        self.blocking(move |s| {
            let dir = s.root.join(OBJECTS).join(&prefix);
            let entries = match fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                    return Ok(Vec::new())
                }
                Err(e) => return Err(StoreError::from_io("list", &prefix, e)),
            };
            let mut out = Vec::new();
            for entry in entries {
                let entry = entry.map_err(s.io("list", &prefix))?;
                let is_dir = entry.file_type().map_err(s.io("list", &prefix))?.is_dir();
                if let (true, Ok(name)) = (is_dir, entry.file_name().into_string()) {
                    out.push(format!("{prefix}{name}/"));
                }
            }
            out.sort_unstable();
            Ok(out)
        })
        .await
    }

    async fn list_after(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> StoreResult<ListPage> {
        let (prefix, after) = (prefix.to_owned(), start_after.map(str::to_owned));
        self.blocking(move |s| s.list_after(&prefix, after.as_deref(), limit))
            .await
    }

    async fn delete(&self, key: &str, opts: &DeleteOptions) -> StoreResult<()> {
        let (key, opts) = (key.to_owned(), *opts);
        self.blocking(move |s| s.delete(&key, &opts)).await
    }

    async fn set_retention(
        &self,
        key: &str,
        retention: Retention,
        bypass_governance: bool,
    ) -> StoreResult<()> {
        let key = key.to_owned();
        self.blocking(move |s| {
            s.change_lock(&key, |lock, now| {
                check_retention_change(&key, lock, &retention, now, bypass_governance)?;
                lock.retention = Some(retention);
                Ok(())
            })
        })
        .await
    }

    async fn set_legal_hold(&self, key: &str, on: bool) -> StoreResult<()> {
        let key = key.to_owned();
        self.blocking(move |s| {
            s.change_lock(&key, |lock, _| {
                lock.legal_hold = on;
                Ok(())
            })
        })
        .await
    }

    async fn default_retention(&self) -> StoreResult<Option<DefaultRetention>> {
        self.blocking(|s| s.default_retention()).await
    }

    async fn init(&self, opts: &InitOptions) -> StoreResult<InitReport> {
        let opts = *opts;
        self.blocking(move |s| s.init(&opts)).await
    }
}
