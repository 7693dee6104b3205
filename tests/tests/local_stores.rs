//! Behaviour of the local stores beyond the conformance suite: what needs an injected clock
//! (retention that expires), the unversioned overwrite rule, bucket default retention kept on
//! disk, and FsStore's on-disk promises.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use wormlog_store::{
    Clock, DefaultRetention, DeleteOptions, FsStore, InitOptions, ManualClock, MemoryStore,
    ObjectStore, PutOptions, Retention, RetentionMode, StoreError, Timestamp,
};

fn stores(clock: &ManualClock) -> (Vec<Arc<dyn ObjectStore>>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let c: Arc<dyn Clock> = Arc::new(clock.clone());
    (
        vec![
            Arc::new(MemoryStore::with_clock(Arc::clone(&c))),
            Arc::new(FsStore::with_clock(dir.path(), c)),
        ],
        dir,
    )
}

fn locked_for(clock: &ManualClock, mode: RetentionMode, d: Duration) -> PutOptions {
    let mut o = PutOptions::default();
    o.lock.retention = Some(Retention {
        mode,
        retain_until: clock.now().plus(d),
    });
    o
}

#[tokio::test]
async fn compliance_retention_lapses_at_retain_until() {
    let clock = ManualClock::new(Timestamp(1_800_000_000_000));
    let (stores, _dir) = stores(&clock);
    for store in &stores {
        let opts = locked_for(&clock, RetentionMode::Compliance, Duration::from_secs(3600));
        store
            .put_if_absent("s/log/1", Bytes::from_static(b"x"), &opts)
            .await
            .unwrap();
        clock.advance(Duration::from_secs(3599));
        assert!(
            matches!(
                store.delete("s/log/1", &DeleteOptions::default()).await,
                Err(StoreError::ObjectLocked { .. })
            ),
            "{}",
            store.describe()
        );
        clock.advance(Duration::from_secs(2));
        store
            .delete("s/log/1", &DeleteOptions::default())
            .await
            .unwrap();
    }
}

/// As on a versioned S3 bucket: a compare-and-swap over a protected object succeeds and the
/// old version stays, listed as noncurrent, until its retention ends; the next overwrite
/// after that drops it (the local stand-in for the lifecycle rule).
#[tokio::test]
async fn a_protected_object_replaced_by_compare_and_swap_stays_as_a_noncurrent_version() {
    let clock = ManualClock::new(Timestamp(1_800_000_000_000));
    let (stores, _dir) = stores(&clock);
    for store in &stores {
        let opts = locked_for(&clock, RetentionMode::Governance, Duration::from_secs(60));
        let v1 = store
            .put_if_absent("s/lease", Bytes::from_static(b"v1"), &opts)
            .await
            .unwrap();
        let v2 = store
            .put_if_match("s/lease", Bytes::from_static(b"v2"), &v1.etag, &opts)
            .await
            .unwrap();
        assert_eq!(&store.get("s/lease").await.unwrap().body[..], b"v2");
        let latest = |v: &[wormlog_store::VersionEntry]| -> Vec<bool> {
            v.iter().map(|e| e.is_latest).collect()
        };
        let versions = store.list_versions("s/").await.unwrap();
        assert_eq!(latest(&versions), [true, false], "{}", store.describe());
        assert_eq!(versions[1].size, 2);
        // An unprotected object being replaced leaves nothing behind.
        clock.advance(Duration::from_secs(61));
        let v3 = store
            .put_if_match(
                "s/lease",
                Bytes::from_static(b"v3"),
                &v2.etag,
                &PutOptions::default(),
            )
            .await
            .unwrap();
        assert_eq!(
            latest(&store.list_versions("s/").await.unwrap()),
            [true],
            "{}: expired versions are dropped",
            store.describe()
        );
        store
            .put_if_match(
                "s/lease",
                Bytes::from_static(b"v4"),
                &v3.etag,
                &PutOptions::default(),
            )
            .await
            .unwrap();
        assert_eq!(latest(&store.list_versions("s/").await.unwrap()), [true]);
    }
}

#[tokio::test]
async fn bucket_default_retention_applies_to_new_objects_and_survives_reopen() {
    let clock = ManualClock::new(Timestamp(1_800_000_000_000));
    let (stores, dir) = stores(&clock);
    let default = DefaultRetention {
        mode: RetentionMode::Compliance,
        days: 7,
    };
    for store in &stores {
        let report = store
            .init(&InitOptions {
                object_lock: true,
                default_retention: Some(default),
            })
            .await
            .unwrap();
        assert_eq!(report.default_retention, Some(default));
        store
            .put_if_absent("s/log/0", Bytes::from_static(b"x"), &PutOptions::default())
            .await
            .unwrap();
        let r = store.head("s/log/0").await.unwrap().lock.retention.unwrap();
        assert_eq!(r.mode, RetentionMode::Compliance);
        assert_eq!(
            r.retain_until,
            clock.now().plus(Duration::from_secs(7 * 86_400))
        );
    }
    let reopened = FsStore::with_clock(dir.path(), Arc::new(clock.clone()));
    assert_eq!(reopened.default_retention().await.unwrap(), Some(default));
}

#[tokio::test]
async fn fs_store_makes_locked_files_read_only_and_unlocked_ones_writable() {
    let clock = ManualClock::new(Timestamp(1_800_000_000_000));
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::with_clock(dir.path(), Arc::new(clock.clone()));
    store
        .put_if_absent("s/a", Bytes::from_static(b"x"), &PutOptions::default())
        .await
        .unwrap();
    let mode = |k: &str| {
        std::fs::metadata(store.object_path(k).unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(
        mode("s/a") & 0o200,
        0o200,
        "an unlocked object is writable by its owner"
    );
    store.set_legal_hold("s/a", true).await.unwrap();
    assert_eq!(mode("s/a"), 0o444, "a held object is read-only");
    store.set_legal_hold("s/a", false).await.unwrap();
    assert_eq!(mode("s/a"), 0o644);
    let opts = locked_for(&clock, RetentionMode::Compliance, Duration::from_secs(60));
    store
        .put_if_absent("s/b", Bytes::from_static(b"x"), &opts)
        .await
        .unwrap();
    assert_eq!(
        mode("s/b"),
        0o444,
        "an object locked at creation is read-only from the start"
    );
}

#[tokio::test]
async fn fs_store_objects_are_the_exact_bytes_and_temp_files_are_never_listed() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::open(dir.path());
    store
        .put_if_absent(
            "s/log/0",
            Bytes::from_static(b"{\"a\":1}\n"),
            &PutOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(store.object_path("s/log/0").unwrap()).unwrap(),
        b"{\"a\":1}\n"
    );
    // A crash mid-write leaves a temp file and maybe an orphan sidecar: neither is an object.
    std::fs::write(dir.path().join("tmp/leftover"), b"half a segm").unwrap();
    std::fs::write(dir.path().join("meta/s/log/1@999"), b"{}").unwrap();
    let listed = wormlog_store::list_all(&store, "", None).await.unwrap();
    assert_eq!(
        listed.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(),
        ["s/log/0"]
    );
    assert!(matches!(
        store.get("s/log/1").await,
        Err(StoreError::NotFound { .. })
    ));
    store
        .put_if_absent("s/log/1", Bytes::from_static(b"y"), &PutOptions::default())
        .await
        .unwrap();
    assert_eq!(&store.get("s/log/1").await.unwrap().body[..], b"y");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_fs_store_instances_on_one_directory_race_with_one_winner() {
    let dir = tempfile::tempdir().unwrap();
    let a = FsStore::open(dir.path());
    let b = FsStore::open(dir.path());
    let opts = PutOptions::default();
    for i in 0..50 {
        let key = format!("s/log/{i:020}");
        let (ra, rb) = tokio::join!(
            a.put_if_absent(&key, Bytes::from_static(b"a"), &opts),
            b.put_if_absent(&key, Bytes::from_static(b"b"), &opts)
        );
        assert!(
            ra.is_ok() ^ rb.is_ok(),
            "slot {i}: exactly one winner: {ra:?} {rb:?}"
        );
        let winner: &[u8] = if ra.is_ok() { b"a" } else { b"b" };
        assert_eq!(&b.get(&key).await.unwrap().body[..], winner);
    }
}
