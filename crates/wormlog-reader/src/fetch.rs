//! Reads with retries. Reads change nothing, so a transient failure (5xx, throttling, a
//! timeout) is simply read again after a growing pause; only what is left after the retries
//! reaches the caller.

use std::time::Duration;

use wormlog_store::{GetResult, ListPage};
use wormlog_store::{ListEntry, ObjectMeta, ObjectStore, StoreError, MAX_LIST_PAGE};

/// Attempts per read before a transient error is returned.
const ATTEMPTS: u32 = 6;

/// Runs `read` until it succeeds, fails for good, or has failed transiently [`ATTEMPTS`] times.
async fn retrying<T, F, Fut>(mut read: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut attempt = 0u32;
    loop {
        match read().await {
            Err(e) if e.is_transient() && attempt + 1 < ATTEMPTS => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(25 << attempt)).await;
            }
            other => return other,
        }
    }
}

pub(crate) async fn get_with_retries(
    store: &dyn ObjectStore,
    key: &str,
) -> Result<GetResult, StoreError> {
    retrying(|| store.get(key)).await
}

pub(crate) async fn head_with_retries(
    store: &dyn ObjectStore,
    key: &str,
) -> Result<ObjectMeta, StoreError> {
    retrying(|| store.head(key)).await
}

pub(crate) async fn list_page_with_retries(
    store: &dyn ObjectStore,
    prefix: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<ListPage, StoreError> {
    retrying(|| store.list_after(prefix, after, limit)).await
}

/// Every version and delete marker of the keys under `prefix` after `start_after`, with
/// retries.
pub(crate) async fn list_versions_with_retries(
    store: &dyn ObjectStore,
    prefix: &str,
    start_after: Option<&str>,
) -> Result<Vec<wormlog_store::VersionEntry>, StoreError> {
    retrying(|| store.list_versions_after(prefix, start_after)).await
}

/// Every key under `prefix` after `start_after`, page by page, each page read with retries.
pub(crate) async fn list_all_with_retries(
    store: &dyn ObjectStore,
    prefix: &str,
    start_after: Option<&str>,
) -> Result<Vec<ListEntry>, StoreError> {
    let mut out = Vec::new();
    let mut after = start_after.map(str::to_owned);
    loop {
        let page = list_page_with_retries(store, prefix, after.as_deref(), MAX_LIST_PAGE).await?;
        if let Some(last) = page.entries.last() {
            after = Some(last.key.clone());
        }
        let truncated = page.truncated;
        out.extend(page.entries);
        if !truncated {
            return Ok(out);
        }
    }
}
