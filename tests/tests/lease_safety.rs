//! The lease's edge cases (protocol.md, Lease): a renewal that succeeds too late, a candidate
//! whose read of the lease was slow, epochs the log already used, and an elector that goes
//! away. Time is tokio's paused clock, so every wait is exact and instant.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use wormlog_fencing::{Acquire, ElectorConfig, LeaderElector, Lease, LeaseConfig};
use wormlog_store::{Clock, FaultStore, MemoryStore, ObjectStore, Op, TokioClock};
use wormlog_tests::writer_config;
use wormlog_writer::LogWriter;

const S: &str = "lease";
const D: Duration = Duration::from_secs(2);

fn config(holder: &str) -> LeaseConfig {
    LeaseConfig::new(S, holder, D, Arc::new(TokioClock::new()))
}

/// Makes the first matching request wait `delay` before it reaches the store.
fn delay_once(f: &FaultStore, op: Op, delay: Duration) -> Arc<AtomicBool> {
    let armed = Arc::new(AtomicBool::new(true));
    let a = Arc::clone(&armed);
    f.before_each(move |o, key| {
        let (a, key) = (Arc::clone(&a), key.to_owned());
        async move {
            if o == op && key.ends_with("/lease") && a.swap(false, Ordering::SeqCst) {
                tokio::time::sleep(delay).await;
            }
        }
    });
    armed
}

/// A renewal that succeeds only after the lease's duration has passed counts as lost: the
/// elector publishes "not leading" by its deadline, does not panic, and campaigns again.
#[tokio::test(start_paused = true)]
async fn a_renewal_that_succeeds_too_late_counts_as_lost() {
    let f = FaultStore::new(Arc::new(MemoryStore::new()));
    let elector =
        LeaderElector::start(Arc::new(f.clone()), ElectorConfig { lease: config("a") }).unwrap();
    let first = elector.leadership().await;
    let acquired = tokio::time::Instant::now();
    delay_once(&f, Op::PutIfMatch, D + Duration::from_millis(500));
    let watch = elector.watch();
    tokio::time::sleep_until(acquired + D + Duration::from_millis(50)).await;
    assert_eq!(
        *watch.borrow(),
        None,
        "not leading once the deadline passed, though the renewal is still in flight"
    );
    let again = tokio::time::timeout(4 * D, elector.leadership())
        .await
        .expect("the elector campaigns again");
    assert!(again.epoch > first.epoch, "{again:?} after {first:?}");
}

/// A candidate counts its wait from when its read of the lease *returned*, plus a drift
/// margin: a holder that renewed during a slow read is never taken over before its deadline.
#[tokio::test(start_paused = true)]
async fn a_slow_read_of_the_lease_never_lets_two_holders_lead() {
    let f = FaultStore::new(Arc::new(MemoryStore::new()));
    let store: Arc<dyn ObjectStore> = Arc::new(f.clone());
    // One clock for both, so A's deadline and B's takeover time compare.
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::new());
    let mut a = Lease::new(
        Arc::clone(&store),
        LeaseConfig::new(S, "a", D, Arc::clone(&clock)),
    )
    .unwrap();
    assert!(matches!(
        a.try_acquire().await.unwrap(),
        Acquire::Acquired(_)
    ));
    delay_once(&f, Op::Get, Duration::from_millis(600));
    let (b_store, b_clock) = (Arc::clone(&store), Arc::clone(&clock));
    let candidate = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let cfg = LeaseConfig::new(S, "b", D, Arc::clone(&b_clock));
        let mut b = Lease::new(b_store, cfg).unwrap();
        loop {
            if let Acquire::Acquired(t) = b.try_acquire().await.unwrap() {
                return (t, b_clock.monotonic());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    // A renews while B's first read is on its way back.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    a.renew().await.unwrap();
    let a_deadline = a.deadline().unwrap();
    let (token, taken_at) = candidate.await.unwrap();
    assert_eq!(token.epoch, 2);
    assert!(
        taken_at >= a_deadline,
        "B took over at {taken_at:?}, before A's deadline {a_deadline:?}: two leaders"
    );
}

/// A fresh lease on a log already at epoch 5 issues epoch 6, not 1; so does one whose lease
/// object was deleted; a takeover goes above the log too. `--lease` never yields a stale epoch.
#[tokio::test(start_paused = true)]
async fn the_lease_issues_epochs_above_the_log() {
    let store: Arc<dyn ObjectStore> = Arc::new(MemoryStore::new());
    let w = LogWriter::open(Arc::clone(&store), writer_config(S, 5, "fixed"))
        .await
        .unwrap();
    w.append("t", "1").await.unwrap();
    w.close().await;
    let mut a = Lease::new(Arc::clone(&store), config("a")).unwrap();
    let Acquire::Acquired(t) = a.try_acquire().await.unwrap() else {
        panic!("an absent lease is taken at once");
    };
    assert_eq!(t.epoch, 6, "above the log's epoch 5");
    let w = LogWriter::open(Arc::clone(&store), writer_config(S, t.epoch, "a"))
        .await
        .expect("the lease's epoch is not fenced");
    w.close().await;

    // Another process writes at epoch 9 with --epoch; then the lease object is deleted.
    let w = LogWriter::open(Arc::clone(&store), writer_config(S, 9, "fixed"))
        .await
        .unwrap();
    w.close().await;
    store
        .delete(&format!("{S}/lease"), &Default::default())
        .await
        .unwrap();
    let mut b = Lease::new(Arc::clone(&store), config("b")).unwrap();
    let Acquire::Acquired(t) = b.try_acquire().await.unwrap() else {
        panic!("a deleted lease is taken at once");
    };
    assert_eq!(t.epoch, 10);

    // B's lease lapses while the log moves to epoch 12; C takes over above both.
    let w = LogWriter::open(Arc::clone(&store), writer_config(S, 12, "fixed"))
        .await
        .unwrap();
    w.close().await;
    let mut c = Lease::new(Arc::clone(&store), config("c")).unwrap();
    let epoch = loop {
        if let Acquire::Acquired(t) = c.try_acquire().await.unwrap() {
            break t.epoch;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(epoch, 13);
}

/// Dropping an elector (or its task ending any other way) publishes "not leading", so a
/// writer holding its channel never goes on under a token nobody renews.
#[tokio::test(start_paused = true)]
async fn an_elector_that_goes_away_publishes_not_leading() {
    let store: Arc<dyn ObjectStore> = Arc::new(MemoryStore::new());
    let elector =
        LeaderElector::start(Arc::clone(&store), ElectorConfig { lease: config("a") }).unwrap();
    elector.leadership().await;
    let mut watch = elector.watch();
    drop(elector);
    let _ = tokio::time::timeout(D, async {
        while watch.borrow_and_update().is_some() {
            if watch.changed().await.is_err() {
                break;
            }
        }
    })
    .await;
    assert_eq!(*watch.borrow(), None);
}
