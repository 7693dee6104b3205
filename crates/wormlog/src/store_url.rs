//! Stores named by URL (architecture.md): `file:///abs/path` or a plain path, `mem://`, and
//! `s3://bucket/prefix?endpoint=..&region=..&path_style=true` (credentials from the standard
//! AWS chain: environment, profile, instance metadata).

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
    /// The same store as an `S3Store`, for `s3://` URLs (benchmark baselines use it).
    pub s3: Option<Arc<wormlog_s3::S3Store>>,
    /// The directory of a directory store.
    pub directory: Option<PathBuf>,
}

/// A store URL that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreUrlError {
    #[error("the store URL is empty; pass --store file:///path, a directory path, or mem://")]
    Empty,
    #[error(transparent)]
    S3(#[from] wormlog_s3::S3UrlError),
    #[error("unknown store URL scheme in {0:?}; use file:///path, a directory path, mem://, or s3://bucket/prefix")]
    UnknownScheme(String),
    #[error("file:// store URLs need an absolute path, as in file:///var/lib/wormlog (got {0:?})")]
    RelativeFileUrl(String),
    #[error("{0:?} looks like a store URL but is not one; use s3://bucket/prefix, file:///abs/path or mem:// (a directory whose name has a colon: ./{0})")]
    Malformed(String),
}

/// `scheme:` at the start, as in `s3:/bucket` or `file:/x`: a URL with its slashes wrong, which
/// must not silently become a local directory of that name.
fn looks_like_a_url(url: &str) -> bool {
    match url.split_once(':') {
        Some((scheme, _)) => {
            scheme.len() > 1
                && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'))
        }
        None => false,
    }
}

/// Opens the store named by `url`. For `s3://` this builds the client (no request is sent).
pub async fn open_store(url: &str) -> Result<OpenedStore, StoreUrlError> {
    let url = url.trim();
    let fs = |path: PathBuf| OpenedStore {
        store: Arc::new(FsStore::open(path.clone())),
        root_prefix: String::new(),
        s3: None,
        directory: Some(path),
    };
    if url.is_empty() {
        return Err(StoreUrlError::Empty);
    }
    if url == "mem://" || url == "mem:" {
        return Ok(OpenedStore {
            store: Arc::new(MemoryStore::new()),
            root_prefix: String::new(),
            s3: None,
            directory: None,
        });
    }
    if let Some(path) = url.strip_prefix("file://") {
        if !path.starts_with('/') {
            return Err(StoreUrlError::RelativeFileUrl(url.to_owned()));
        }
        return Ok(fs(PathBuf::from(path)));
    }
    if url.starts_with("s3://") {
        let config = wormlog_s3::S3Config::from_url(url)?;
        let root_prefix = config.prefix.clone();
        let store = Arc::new(wormlog_s3::S3Store::connect(config).await);
        return Ok(OpenedStore {
            store: Arc::clone(&store) as Arc<dyn ObjectStore>,
            root_prefix,
            s3: Some(store),
            directory: None,
        });
    }
    if url.contains("://") {
        return Err(StoreUrlError::UnknownScheme(url.to_owned()));
    }
    if looks_like_a_url(url) {
        return Err(StoreUrlError::Malformed(url.to_owned()));
    }
    // A plain path: made absolute so messages name the directory unambiguously.
    let path = PathBuf::from(url);
    Ok(fs(std::path::absolute(&path).unwrap_or(path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn urls_name_stores() {
        let describe = |o: OpenedStore| o.store.describe();
        assert!(describe(open_store("mem://").await.unwrap()).starts_with("mem://"));
        assert_eq!(
            describe(open_store("file:///tmp/x").await.unwrap()),
            "file:///tmp/x"
        );
        assert!(describe(open_store("data").await.unwrap()).ends_with("/data"));
        assert!(matches!(open_store("").await, Err(StoreUrlError::Empty)));
        for typo in ["s3:/bucket", "s3:bucket", "file:/var/lib/x", "S3:/b"] {
            assert!(
                matches!(open_store(typo).await, Err(StoreUrlError::Malformed(_))),
                "{typo}"
            );
        }
        for dir in ["./s3:bucket", "data", "/tmp/a:b", "c:"] {
            assert!(open_store(dir).await.is_ok(), "{dir}");
        }
        assert!(matches!(
            open_store("file://rel").await,
            Err(StoreUrlError::RelativeFileUrl(_))
        ));
        let s3 = open_store("s3://b/p/q?endpoint=http://127.0.0.1:1&path_style=true")
            .await
            .unwrap();
        assert_eq!(s3.root_prefix, "p/q");
        assert_eq!(describe(s3), "s3://b at http://127.0.0.1:1");
        assert!(matches!(
            open_store("s3://b?x=y").await,
            Err(StoreUrlError::S3(_))
        ));
        assert!(matches!(
            open_store("gs://b").await,
            Err(StoreUrlError::UnknownScheme(_))
        ));
    }
}
