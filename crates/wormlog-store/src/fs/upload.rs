//! Ranged reads and multipart uploads on the directory store, with bounded memory.
//!
//! ```text
//!  start   tmp/upload-<id>/                       (the options are kept in memory)
//!  part n  tmp/upload-<id>/part-<n>               (its SHA-256 checked)
//!  done    parts concatenated into one tmp file, fsynced, whole SHA-256 checked,
//!          sidecar, link(2) into place: the same create-only commit as any put
//! ```

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use sha2::Digest;

use super::{Inner, TMP};
use crate::{checksum, validate_key, PutOptions, PutResult, StoreError, StoreResult};
use crate::{UploadId, UploadedPart};

/// An upload in progress.
#[derive(Debug)]
pub(super) struct Upload {
    key: String,
    opts: PutOptions,
    dir: PathBuf,
}

impl Inner {
    pub(super) fn read_range(&self, key: &str, offset: u64, len: u64) -> StoreResult<Vec<u8>> {
        validate_key(key)?;
        // Through read_object, so a file without its sidecar is refused as it is by get.
        self.read_object(key, false)?;
        let mut f = File::open(self.object_path(key)).map_err(self.io("get", key))?;
        f.seek(SeekFrom::Start(offset))
            .map_err(self.io("get", key))?;
        let mut buf = Vec::with_capacity(len.min(64 << 20) as usize);
        f.take(len)
            .read_to_end(&mut buf)
            .map_err(self.io("get", key))?;
        Ok(buf)
    }

    pub(super) fn start_upload(&self, key: &str, opts: PutOptions) -> StoreResult<UploadId> {
        self.prepare_key(key)?;
        let id = self.new_etag();
        let dir = self.root.join(TMP).join(format!("upload-{id}"));
        self.create_folders(&dir)
            .map_err(self.io("start upload", key))?;
        self.uploads.lock().insert(
            id.clone(),
            Upload {
                key: key.to_owned(),
                opts,
                dir,
            },
        );
        Ok(UploadId(id))
    }

    fn upload_dir(&self, key: &str, upload: &UploadId) -> StoreResult<PathBuf> {
        self.uploads
            .lock()
            .get(&upload.0)
            .filter(|u| u.key == key)
            .map(|u| u.dir.clone())
            .ok_or_else(|| StoreError::NotFound {
                key: format!("{key} (upload {})", upload.0),
            })
    }

    pub(super) fn upload_part(
        &self,
        key: &str,
        upload: &UploadId,
        number: u32,
        body: &[u8],
        sha256: [u8; 32],
    ) -> StoreResult<UploadedPart> {
        checksum::verified(key, body, Some(sha256))?;
        let dir = self.upload_dir(key, upload)?;
        let path = dir.join(format!("part-{number:05}"));
        fs::write(&path, body).map_err(self.io("upload part", key))?;
        Ok(UploadedPart {
            number,
            etag: format!("part-{number}"),
            sha256,
        })
    }

    pub(super) fn complete_upload(
        &self,
        key: &str,
        upload: &UploadId,
        parts: &[UploadedPart],
        sha256: [u8; 32],
    ) -> StoreResult<PutResult> {
        let dir = self.upload_dir(key, upload)?;
        let opts = self.uploads.lock().get(&upload.0).map(|u| u.opts.clone());
        let opts = opts.unwrap_or_default();
        let sources: Vec<PathBuf> = parts
            .iter()
            .map(|p| dir.join(format!("part-{:05}", p.number)))
            .collect();
        let (tmp, ino) = self.copy_into_temp(key, &sources, Some(sha256))?;
        let staged = self.stage_written(key, tmp, ino, &opts, Some(checksum::hex(&sha256)))?;
        let done = self.link_into_place(key, staged);
        self.abort_upload(key, upload)?;
        done
    }

    /// A create-only put of a local file, copied 1 MiB at a time (its SHA-256 checked on the
    /// way when one is given): the same commit as any put.
    pub(super) fn put_file_if_absent(
        &self,
        key: &str,
        path: &Path,
        opts: &PutOptions,
    ) -> StoreResult<PutResult> {
        self.prepare_key(key)?;
        let (tmp, ino) = self.copy_into_temp(key, &[path.to_owned()], opts.sha256)?;
        let sha256 = opts.sha256.map(|d| checksum::hex(&d));
        let staged = self.stage_written(key, tmp, ino, opts, sha256)?;
        self.link_into_place(key, staged)
    }

    /// Concatenates `sources` into a new fsynced file under `tmp/`, checking the SHA-256 of
    /// the whole when one is given; nothing is left behind on failure.
    fn copy_into_temp(
        &self,
        key: &str,
        sources: &[PathBuf],
        sha256: Option<[u8; 32]>,
    ) -> StoreResult<(PathBuf, u64)> {
        let dir = self.root.join(TMP);
        self.create_folders(&dir).map_err(self.io("put", key))?;
        let tmp = dir.join(self.rng.lock().uuid().simple().to_string());
        let mut hash = sha2::Sha256::new();
        let mut concat = || -> Result<u64, (Option<&PathBuf>, std::io::Error)> {
            let mut out = File::create_new(&tmp).map_err(|e| (None, e))?;
            let mut buf = vec![0u8; 1 << 20];
            for source in sources {
                let mut part = File::open(source).map_err(|e| (Some(source), e))?;
                loop {
                    let n = part.read(&mut buf).map_err(|e| (Some(source), e))?;
                    if n == 0 {
                        break;
                    }
                    hash.update(&buf[..n]);
                    out.write_all(&buf[..n]).map_err(|e| (None, e))?;
                }
            }
            out.sync_all().map_err(|e| (None, e))?;
            Ok(out.metadata().map_err(|e| (None, e))?.ino())
        };
        let ino = match concat() {
            Ok(ino) => ino,
            Err((source, e)) => {
                let _ = fs::remove_file(&tmp);
                return Err(match source {
                    Some(path) => crate::source_file_error(key, path, e),
                    None => StoreError::from_io("copy into place", key, e),
                });
            }
        };
        let whole: [u8; 32] = hash.finalize().into();
        if sha256.is_some_and(|expected| expected != whole) {
            let _ = fs::remove_file(&tmp);
            return Err(checksum::bad_digest(key));
        }
        Ok((tmp, ino))
    }

    pub(super) fn abort_upload(&self, key: &str, upload: &UploadId) -> StoreResult<()> {
        let gone = {
            let mut uploads = self.uploads.lock();
            match uploads.get(&upload.0) {
                Some(u) if u.key == key => uploads.remove(&upload.0),
                _ => None,
            }
        };
        if let Some(u) = gone {
            let _ = fs::remove_dir_all(&u.dir);
        }
        Ok(())
    }
}
