//! Stores named by URL (architecture.md): `file:///abs/path` or a plain path, `mem://`, and
//! `s3://bucket/prefix?...` once the S3 backend is built in.

use std::path::PathBuf;
use std::sync::Arc;

use wormlog_store::{FsStore, MemoryStore, ObjectStore};

/// The embedded default store: a directory in the working directory.
pub const DEFAULT_STORE: &str = "./wormlog-data";

/// A store and the key prefix streams live under.
#[derive(Debug, Clone)]
pub struct OpenedStore {
    pub store: Arc<dyn ObjectStore>,
    pub root_prefix: String,
}

/// A store URL that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreUrlError {
    #[error("the store URL is empty; pass --store file:///path, a directory path, or mem://")]
    Empty,
    #[error("{0:?} needs the S3 backend, which this build of wormlog does not include yet; use a directory path or mem://")]
    S3NotBuilt(String),
    #[error("unknown store URL scheme in {0:?}; use file:///path, a directory path, or mem://")]
    UnknownScheme(String),
    #[error("file:// store URLs need an absolute path, as in file:///var/lib/wormlog (got {0:?})")]
    RelativeFileUrl(String),
}

/// Opens the store named by `url`.
pub fn open_store(url: &str) -> Result<OpenedStore, StoreUrlError> {
    let url = url.trim();
    let fs = |path: PathBuf| OpenedStore {
        store: Arc::new(FsStore::open(path)),
        root_prefix: String::new(),
    };
    if url.is_empty() {
        return Err(StoreUrlError::Empty);
    }
    if url == "mem://" || url == "mem:" {
        return Ok(OpenedStore {
            store: Arc::new(MemoryStore::new()),
            root_prefix: String::new(),
        });
    }
    if let Some(path) = url.strip_prefix("file://") {
        if !path.starts_with('/') {
            return Err(StoreUrlError::RelativeFileUrl(url.to_owned()));
        }
        return Ok(fs(PathBuf::from(path)));
    }
    if url.starts_with("s3://") {
        return Err(StoreUrlError::S3NotBuilt(url.to_owned()));
    }
    if url.contains("://") {
        return Err(StoreUrlError::UnknownScheme(url.to_owned()));
    }
    // A plain path: made absolute so messages name the directory unambiguously.
    let path = PathBuf::from(url);
    Ok(fs(std::path::absolute(&path).unwrap_or(path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_stores() {
        assert!(open_store("mem://")
            .unwrap()
            .store
            .describe()
            .starts_with("mem://"));
        assert_eq!(
            open_store("file:///tmp/x").unwrap().store.describe(),
            "file:///tmp/x"
        );
        assert!(open_store("data")
            .unwrap()
            .store
            .describe()
            .ends_with("/data"));
        assert!(matches!(open_store(""), Err(StoreUrlError::Empty)));
        assert!(matches!(
            open_store("file://rel"),
            Err(StoreUrlError::RelativeFileUrl(_))
        ));
        assert!(matches!(
            open_store("s3://b/p"),
            Err(StoreUrlError::S3NotBuilt(_))
        ));
        assert!(matches!(
            open_store("gs://b"),
            Err(StoreUrlError::UnknownScheme(_))
        ));
    }
}
