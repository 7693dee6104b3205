//! The store conformance suite: what the log protocol relies on, checked the same way on every
//! store (memory, filesystem, and S3 servers). Each check takes a store and a fresh key prefix
//! and panics with a message naming the broken promise.
//!
//! Use the macros to turn the checks into tests, one per check:
//!
//! ```ignore
//! wormlog_store::conformance_tests!(core, async { my_store().await });
//! wormlog_store::conformance_tests!(object_lock, async { my_locking_store().await });
//! ```
//!
//! The expression yields an `Arc<dyn ObjectStore>`-like value (anything that derefs to
//! `dyn ObjectStore`) or a [`Subject`]; `core` checks hold on every store, `object_lock` ones
//! only where Object Lock is enabled (local stores; S3 buckets created with Object Lock).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::{
    list_all, DeleteOptions, ObjectStore, PutOptions, Retention, RetentionMode, SeededRng,
    StoreError, SystemClock, Timestamp,
};

/// A store under test and whatever must live as long as it (a temporary directory, a server).
pub struct Subject {
    pub store: Arc<dyn ObjectStore>,
    pub guard: Box<dyn std::any::Any + Send>,
}

impl Subject {
    pub fn new(store: Arc<dyn ObjectStore>, guard: impl std::any::Any + Send) -> Subject {
        Subject {
            store,
            guard: Box::new(guard),
        }
    }
}

impl std::ops::Deref for Subject {
    type Target = dyn ObjectStore;
    fn deref(&self) -> &Self::Target {
        &*self.store
    }
}

/// A prefix no other test uses, so checks can share one bucket.
pub fn unique_prefix() -> String {
    format!("conformance/{}/", SeededRng::from_entropy().uuid().simple())
}

fn opts_with(meta: &[(&str, &str)]) -> PutOptions {
    PutOptions {
        metadata: meta
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        ..PutOptions::default()
    }
}

fn now() -> Timestamp {
    use crate::Clock;
    SystemClock::new().now()
}

/// I1: a create-only put on an existing key is refused and the object keeps its bytes.
pub async fn create_only_put_refuses_an_existing_key(store: &dyn ObjectStore, p: &str) {
    let key = format!("{p}log/00000000000000000000");
    let first = store
        .put_if_absent(&key, Bytes::from_static(b"first"), &PutOptions::default())
        .await
        .expect("the first create-only put succeeds");
    assert!(
        !first.etag.is_empty() && !first.etag.contains('"'),
        "ETag is unquoted"
    );
    let second = store
        .put_if_absent(&key, Bytes::from_static(b"second"), &PutOptions::default())
        .await;
    assert!(
        matches!(second, Err(StoreError::AlreadyExists { .. })),
        "a second create-only put must give AlreadyExists (412), got {second:?}"
    );
    let got = store.get(&key).await.unwrap();
    assert_eq!(
        &got.body[..],
        b"first",
        "the object must keep its first bytes (I1)"
    );
    assert_eq!(got.meta.etag, first.etag);
}

/// I1 under concurrency: of many racing create-only puts on one key exactly one wins.
pub async fn racing_create_only_puts_have_exactly_one_winner(store: &dyn ObjectStore, p: &str) {
    let key = format!("{p}race");
    let attempts = (0..16).map(|i| {
        let key = key.clone();
        async move {
            let body = Bytes::from(format!("writer {i}"));
            (
                i,
                store
                    .put_if_absent(&key, body, &PutOptions::default())
                    .await,
            )
        }
    });
    let results = futures::future::join_all(attempts).await;
    let winners: Vec<_> = results.iter().filter(|(_, r)| r.is_ok()).collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one racing create-only put wins: {results:?}"
    );
    for (_, r) in &results {
        if let Err(e) = r {
            assert!(
                matches!(e, StoreError::AlreadyExists { .. }),
                "losers get 412: {e:?}"
            );
        }
    }
    let got = store.get(&key).await.unwrap();
    assert_eq!(got.body, Bytes::from(format!("writer {}", winners[0].0)));
}

/// Get and head return the bytes, size, ETag and user metadata that the put stored.
pub async fn get_and_head_return_what_was_put(store: &dyn ObjectStore, p: &str) {
    let key = format!("{p}with-meta");
    let opts = opts_with(&[("wormlog-epoch", "7"), ("wormlog-write-id", "abc-123")]);
    let put = store
        .put_if_absent(&key, Bytes::from_static(b"{\"a\":1}\n"), &opts)
        .await
        .unwrap();
    let got = store.get(&key).await.unwrap();
    assert_eq!(&got.body[..], b"{\"a\":1}\n");
    assert_eq!(got.meta.size, 8);
    assert_eq!(got.meta.etag, put.etag);
    assert_eq!(
        got.meta.metadata, opts.metadata,
        "user metadata round-trips"
    );
    let head = store.head(&key).await.unwrap();
    assert_eq!(head, got.meta, "head agrees with get");
}

/// A zero-byte object is an object.
pub async fn empty_object_round_trips(store: &dyn ObjectStore, p: &str) {
    let key = format!("{p}empty");
    store
        .put_if_absent(&key, Bytes::new(), &PutOptions::default())
        .await
        .unwrap();
    let got = store.get(&key).await.unwrap();
    assert!(got.body.is_empty());
    assert_eq!(got.meta.size, 0);
}

/// A missing key is NotFound for get and head, and not an error for delete.
pub async fn missing_key_is_not_found(store: &dyn ObjectStore, p: &str) {
    let key = format!("{p}missing");
    assert!(matches!(
        store.get(&key).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.head(&key).await,
        Err(StoreError::NotFound { .. })
    ));
    store
        .delete(&key, &DeleteOptions::default())
        .await
        .expect("deleting a missing key succeeds, as on S3");
}

/// Compare-and-swap succeeds only with the current ETag (quoted or not) and issues a new one.
pub async fn compare_and_swap_needs_the_current_etag(store: &dyn ObjectStore, p: &str) {
    let key = format!("{p}lease");
    let v1 = store
        .put_if_absent(&key, Bytes::from_static(b"v1"), &PutOptions::default())
        .await
        .unwrap();
    let v2 = store
        .put_if_match(
            &key,
            Bytes::from_static(b"v2"),
            &format!("\"{}\"", v1.etag),
            &PutOptions::default(),
        )
        .await
        .expect("a quoted current ETag is accepted");
    assert_ne!(v1.etag, v2.etag, "a new version gets a new ETag");
    let stale = store
        .put_if_match(
            &key,
            Bytes::from_static(b"v3"),
            &v1.etag,
            &PutOptions::default(),
        )
        .await;
    assert!(
        matches!(stale, Err(StoreError::PreconditionFailed { .. })),
        "a stale ETag must give PreconditionFailed (412), got {stale:?}"
    );
    assert_eq!(&store.get(&key).await.unwrap().body[..], b"v2");
    let v3 = store
        .put_if_match(
            &key,
            Bytes::from_static(b"v3"),
            &v2.etag,
            &PutOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(store.head(&key).await.unwrap().etag, v3.etag);
}

/// Compare-and-swap on a missing key fails (AWS says 404, Ceph RGW 412).
pub async fn compare_and_swap_on_a_missing_key_fails(store: &dyn ObjectStore, p: &str) {
    let key = format!("{p}no-lease");
    let r = store
        .put_if_match(
            &key,
            Bytes::from_static(b"x"),
            "0123",
            &PutOptions::default(),
        )
        .await;
    assert!(
        matches!(
            r,
            Err(StoreError::NotFound { .. } | StoreError::PreconditionFailed { .. })
        ),
        "If-Match on a missing key must fail, got {r:?}"
    );
    assert!(matches!(
        store.head(&key).await,
        Err(StoreError::NotFound { .. })
    ));
}

/// Of racing compare-and-swaps from the same ETag exactly one wins (lease epochs are unique).
pub async fn racing_compare_and_swaps_have_exactly_one_winner(store: &dyn ObjectStore, p: &str) {
    let key = format!("{p}cas-race");
    let base = store
        .put_if_absent(&key, Bytes::from_static(b"base"), &PutOptions::default())
        .await
        .unwrap();
    let attempts = (0..8).map(|i| {
        let (key, etag) = (key.clone(), base.etag.clone());
        async move {
            let body = Bytes::from(format!("cas {i}"));
            store
                .put_if_match(&key, body, &etag, &PutOptions::default())
                .await
        }
    });
    let results = futures::future::join_all(attempts).await;
    let wins = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(
        wins, 1,
        "exactly one racing compare-and-swap wins: {results:?}"
    );
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(
            matches!(
                r,
                StoreError::PreconditionFailed { .. } | StoreError::Conflict { .. }
            ),
            "losers get 412 or 409: {r:?}"
        );
    }
}

/// Listing is in byte order, filtered by prefix, resumable after any key, and paginated.
pub async fn list_is_ordered_paginated_and_prefix_bound(store: &dyn ObjectStore, p: &str) {
    let mut slots: Vec<u64> = (0..25).map(|i| i * 7 % 25).collect();
    slots.rotate_left(3);
    for s in &slots {
        let key = format!("{p}log/{s:020}");
        store
            .put_if_absent(
                &key,
                Bytes::from(vec![b'x'; *s as usize]),
                &PutOptions::default(),
            )
            .await
            .unwrap();
    }
    store
        .put_if_absent(
            &format!("{p}log-sibling"),
            Bytes::new(),
            &PutOptions::default(),
        )
        .await
        .unwrap();
    store
        .put_if_absent(&format!("{p}lease"), Bytes::new(), &PutOptions::default())
        .await
        .unwrap();
    let prefix = format!("{p}log/");
    let first = store.list_after(&prefix, None, 10).await.unwrap();
    assert_eq!(first.entries.len(), 10);
    assert!(first.truncated, "a full page says there is more");
    let expected: Vec<String> = (0..25).map(|s| format!("{prefix}{s:020}")).collect();
    let keys: Vec<_> = first.entries.iter().map(|e| e.key.clone()).collect();
    assert_eq!(keys, expected[..10], "first page in byte order");
    assert_eq!(first.entries[3].size, 3, "sizes are listed");
    let rest = store
        .list_after(&prefix, Some(&expected[9]), 100)
        .await
        .unwrap();
    assert!(!rest.truncated);
    let keys: Vec<_> = rest.entries.iter().map(|e| e.key.clone()).collect();
    assert_eq!(keys, expected[10..], "resumes strictly after start_after");
    let all = list_all(store, &prefix, None).await.unwrap();
    assert_eq!(all.len(), 25, "the prefix excludes sibling keys");
    let from_mid = list_all(
        store,
        &prefix,
        Some(&format!("{prefix}00000000000000000019")),
    )
    .await
    .unwrap();
    assert_eq!(from_mid.len(), 5);
    // The version listing's first page, from the start and after a key.
    let (versions, complete) = store.list_versions_first(&prefix).await.unwrap();
    assert!(complete, "25 versions fit in a page");
    let keys: Vec<_> = versions.iter().map(|v| v.key.clone()).collect();
    assert_eq!(keys, expected, "every version of the prefix, in order");
    let (after, complete) = store
        .list_versions_page_after(&prefix, Some(&expected[19]))
        .await
        .unwrap();
    assert!(complete);
    let keys: Vec<_> = after.iter().map(|v| v.key.clone()).collect();
    assert_eq!(keys, expected[20..], "strictly after the key");
    let none = store
        .list_after(&format!("{p}nothing/"), None, 10)
        .await
        .unwrap();
    assert!(none.entries.is_empty() && !none.truncated);
}

/// Delete removes an unprotected object; it is then absent from get and list.
pub async fn delete_removes_an_unprotected_object(store: &dyn ObjectStore, p: &str) {
    let key = format!("{p}doomed");
    store
        .put_if_absent(&key, Bytes::from_static(b"x"), &PutOptions::default())
        .await
        .unwrap();
    store.delete(&key, &DeleteOptions::default()).await.unwrap();
    assert!(matches!(
        store.get(&key).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(list_all(store, p, None).await.unwrap().is_empty());
    store
        .put_if_absent(&key, Bytes::from_static(b"y"), &PutOptions::default())
        .await
        .expect("a deleted key can be created again");
}

/// Keys that could escape a directory or that S3 treats differently are refused up front.
pub async fn invalid_keys_are_refused(store: &dyn ObjectStore, p: &str) {
    for bad in [
        format!("{p}../escape"),
        "/etc/passwd".to_owned(),
        format!("{p}a\0b"),
        format!("{p}a//b"),
    ] {
        let r = store
            .put_if_absent(&bad, Bytes::from_static(b"x"), &PutOptions::default())
            .await;
        assert!(
            matches!(r, Err(StoreError::InvalidKey { .. })),
            "key {bad:?} must be refused, got {r:?}"
        );
    }
}

fn retention(mode: RetentionMode, days: u64) -> Retention {
    Retention {
        mode,
        retain_until: now().plus(Duration::from_secs(days * 86_400)),
    }
}

async fn put_locked(store: &dyn ObjectStore, key: &str, r: Option<Retention>, hold: bool) {
    let mut opts = PutOptions::default();
    opts.lock.retention = r;
    opts.lock.legal_hold = hold;
    store
        .put_if_absent(key, Bytes::from_static(b"locked"), &opts)
        .await
        .unwrap();
}

/// COMPLIANCE retention: read back by head; delete refused (even with bypass); extension
/// allowed; shortening and turning into GOVERNANCE refused.
pub async fn compliance_retention_refuses_delete_and_shortening(store: &dyn ObjectStore, p: &str) {
    let key = format!("{p}compliance");
    let r = retention(RetentionMode::Compliance, 1);
    put_locked(store, &key, Some(r), false).await;
    let head = store.head(&key).await.unwrap();
    let got = head.lock.retention.expect("head shows the retention");
    assert_eq!(got.mode, RetentionMode::Compliance);
    assert!(
        got.retain_until
            .as_millis()
            .abs_diff(r.retain_until.as_millis())
            < 1000
    );
    for bypass in [false, true] {
        let d = store
            .delete(
                &key,
                &DeleteOptions {
                    bypass_governance: bypass,
                },
            )
            .await;
        assert!(
            matches!(d, Err(StoreError::ObjectLocked { .. })),
            "COMPLIANCE delete (bypass {bypass}) must be refused, got {d:?}"
        );
    }
    let longer = retention(RetentionMode::Compliance, 2);
    store
        .set_retention(&key, longer, false)
        .await
        .expect("extension is allowed");
    let shorter = retention(RetentionMode::Compliance, 1);
    assert!(matches!(
        store.set_retention(&key, shorter, true).await,
        Err(StoreError::ObjectLocked { .. })
    ));
    let governance = retention(RetentionMode::Governance, 3);
    assert!(matches!(
        store.set_retention(&key, governance, true).await,
        Err(StoreError::ObjectLocked { .. })
    ));
    assert_eq!(&store.get(&key).await.unwrap().body[..], b"locked");
}

/// GOVERNANCE retention: delete refused without bypass, allowed with it.
pub async fn governance_delete_needs_the_bypass(store: &dyn ObjectStore, p: &str) {
    let key = format!("{p}governance");
    put_locked(
        store,
        &key,
        Some(retention(RetentionMode::Governance, 1)),
        false,
    )
    .await;
    assert!(matches!(
        store.delete(&key, &DeleteOptions::default()).await,
        Err(StoreError::ObjectLocked { .. })
    ));
    assert!(
        store.head(&key).await.is_ok(),
        "the refused delete changed nothing"
    );
    store
        .delete(
            &key,
            &DeleteOptions {
                bypass_governance: true,
            },
        )
        .await
        .expect("a GOVERNANCE delete with the bypass is allowed");
    assert!(matches!(
        store.head(&key).await,
        Err(StoreError::NotFound { .. })
    ));
}

/// A legal hold refuses delete until it is cleared; head reads it back.
pub async fn legal_hold_refuses_delete_until_cleared(store: &dyn ObjectStore, p: &str) {
    let key = format!("{p}held");
    put_locked(store, &key, None, false).await;
    store.set_legal_hold(&key, true).await.unwrap();
    assert!(store.head(&key).await.unwrap().lock.legal_hold);
    assert!(matches!(
        store
            .delete(
                &key,
                &DeleteOptions {
                    bypass_governance: true
                }
            )
            .await,
        Err(StoreError::ObjectLocked { .. })
    ));
    store.set_legal_hold(&key, false).await.unwrap();
    assert!(!store.head(&key).await.unwrap().lock.legal_hold);
    store.delete(&key, &DeleteOptions::default()).await.unwrap();
}

/// A legal hold asked for on the put itself is in force at once.
pub async fn legal_hold_on_put_is_in_force(store: &dyn ObjectStore, p: &str) {
    let key = format!("{p}held-on-put");
    put_locked(store, &key, None, true).await;
    assert!(store.head(&key).await.unwrap().lock.legal_hold);
    assert!(store.delete(&key, &DeleteOptions::default()).await.is_err());
}

/// Replacing a protected object (compare-and-swap) succeeds, as on a versioned S3 bucket, and
/// the old version is still there, listed as noncurrent: what lets the lease renew on a bucket
/// with default retention without destroying anything retained.
pub async fn overwriting_a_protected_object_keeps_the_old_version(
    store: &dyn ObjectStore,
    p: &str,
) {
    let key = format!("{p}renewed");
    put_locked(
        store,
        &key,
        Some(retention(RetentionMode::Governance, 1)),
        false,
    )
    .await;
    let etag = store.head(&key).await.unwrap().etag;
    store
        .put_if_match(
            &key,
            Bytes::from_static(b"second"),
            &etag,
            &PutOptions::default(),
        )
        .await
        .expect("a protected object can be replaced by a new version");
    assert_eq!(&store.get(&key).await.unwrap().body[..], b"second");
    let versions = store.list_versions(&key).await.unwrap();
    let current: Vec<bool> = versions.iter().map(|v| v.is_latest).collect();
    assert_eq!(
        current,
        [true, false],
        "the retained version stays: {versions:?}"
    );
    assert!(versions.iter().all(|v| !v.delete_marker));
}

/// A put that carries a SHA-256 (an attachment, from memory or streamed from a file) is
/// refused when the bytes the store receives do not match it, and nothing is stored: what
/// makes an attachment's recorded SHA-256 a fact the store checked, not a claim.
pub async fn a_put_whose_bytes_do_not_match_its_sha256_is_refused(
    store: &dyn ObjectStore,
    p: &str,
) {
    let wrong = PutOptions {
        sha256: Some(crate::checksum::sha256(b"the document as it was hashed")),
        ..PutOptions::default()
    };
    let key = format!("{p}from-memory");
    let refused = store
        .put_if_absent(
            &key,
            Bytes::from_static(b"the document as it was sent"),
            &wrong,
        )
        .await;
    assert!(
        refused_for_its_digest(&refused),
        "bytes that do not match their SHA-256 are refused: {refused:?}"
    );
    assert!(
        matches!(store.head(&key).await, Err(StoreError::NotFound { .. })),
        "a refused put stores nothing"
    );

    let file = std::env::temp_dir().join(format!(
        "wormlog-conformance-{}",
        SeededRng::from_entropy().uuid().simple()
    ));
    std::fs::write(&file, b"the document, changed after it was hashed").unwrap();
    let key = format!("{p}from-a-file");
    let refused = store.put_file_if_absent(&key, &file, &wrong).await;
    let _ = std::fs::remove_file(&file);
    assert!(
        refused_for_its_digest(&refused),
        "a streamed file that does not match its SHA-256 is refused: {refused:?}"
    );
    assert!(
        matches!(store.head(&key).await, Err(StoreError::NotFound { .. })),
        "a refused streamed put stores nothing"
    );

    let right = PutOptions {
        sha256: Some(crate::checksum::sha256(b"the document as it was sent")),
        ..PutOptions::default()
    };
    store
        .put_if_absent(
            &key,
            Bytes::from_static(b"the document as it was sent"),
            &right,
        )
        .await
        .expect("bytes that match their SHA-256 are stored");
}

/// A refusal for the bytes' SHA-256, not for any other reason (a permission, a bucket).
fn refused_for_its_digest(result: &crate::StoreResult<crate::PutResult>) -> bool {
    matches!(result, Err(e) if e.is_digest_mismatch())
}

/// Generates one `#[tokio::test]` per check. `core` checks hold on every store; `object_lock`
/// ones need a store with Object Lock; `versioned_overwrite` also compare-and-swap there. `$make` is an async expression giving the store.
#[macro_export]
macro_rules! conformance_tests {
    (core, $make:expr) => {
        $crate::conformance_tests!(@each $make;
            create_only_put_refuses_an_existing_key,
            racing_create_only_puts_have_exactly_one_winner,
            get_and_head_return_what_was_put,
            empty_object_round_trips,
            missing_key_is_not_found,
            compare_and_swap_needs_the_current_etag,
            compare_and_swap_on_a_missing_key_fails,
            racing_compare_and_swaps_have_exactly_one_winner,
            list_is_ordered_paginated_and_prefix_bound,
            delete_removes_an_unprotected_object,
            invalid_keys_are_refused,
        );
    };
    (object_lock, $make:expr) => {
        $crate::conformance_tests!(@each $make;
            compliance_retention_refuses_delete_and_shortening,
            governance_delete_needs_the_bypass,
            legal_hold_refuses_delete_until_cleared,
            legal_hold_on_put_is_in_force,
        );
    };
    // The store checks a put's SHA-256 against the bytes it receives: not on moto 5.2.5,
    // which checks neither `x-amz-checksum-sha256` nor the signed payload hash.
    (verified_sha256, $make:expr) => {
        $crate::conformance_tests!(@each $make;
            a_put_whose_bytes_do_not_match_its_sha256_is_refused,
        );
    };
    // Compare-and-swap on a versioned bucket: not on Ceph RGW 16.2, which answers 412 to
    // any If-Match there (its conditional writes work on unversioned buckets only).
    (versioned_overwrite, $make:expr) => {
        $crate::conformance_tests!(@each $make;
            overwriting_a_protected_object_keeps_the_old_version,
        );
    };
    (@each $make:expr; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let subject = $make.await;
                let prefix = $crate::conformance::unique_prefix();
                $crate::conformance::$check(&*subject, &prefix).await;
            }
        )*
    };
}
