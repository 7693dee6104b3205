//! Leader fencing (protocol.md, Lease), with time injected. The lease scenarios use a
//! `ManualClock` and run on every store, the real S3 servers included; the elector scenarios
//! use tokio's paused clock on the local stores.

use std::sync::Arc;
use std::time::Duration;

use wormlog_fencing::{Acquire, ElectorConfig, LeaderElector, Lease, LeaseConfig, LeaseError};
use wormlog_store::{
    Clock, Fault, FaultStore, ManualClock, MemoryStore, ObjectStore, Op, Timestamp, TokioClock,
};
use wormlog_tests::{on_every_store, writer_config};
use wormlog_writer::{LogWriter, WriteError, WriterConfig};

const S: &str = "controller";
const D: Duration = Duration::from_secs(10);
/// What a candidate waits out: the holder's duration plus the drift margin (5% of it).
const W: Duration = Duration::from_millis(10_500);

fn lease(store: &Arc<dyn ObjectStore>, holder: &str, clock: &ManualClock) -> Lease {
    let cfg = LeaseConfig {
        root_prefix: String::new(),
        stream: S.into(),
        holder: holder.into(),
        duration: D,
        drift_margin: LeaseConfig::default_drift_margin(D),
        clock: Arc::new(clock.clone()),
    };
    Lease::new(Arc::clone(store), cfg).unwrap()
}

fn acquired(step: Acquire) -> u64 {
    match step {
        Acquire::Acquired(t) => t.epoch,
        other => panic!("expected the lease, got {other:?}"),
    }
}

fn waiting(step: &Acquire) -> Duration {
    match step {
        Acquire::Waiting { remaining, .. } => *remaining,
        other => panic!("expected to wait, got {other:?}"),
    }
}

/// A candidate takes over only after the holder's record stayed unchanged for a full duration
/// plus the drift margin on the candidate's own clock; a renewal restarts the wait.
async fn acquisition_waits_a_full_duration_of_an_unchanged_record(store: Arc<dyn ObjectStore>) {
    let clock = ManualClock::new(Timestamp(1_800_000_000_000));
    let mut a = lease(&store, "a", &clock);
    let mut b = lease(&store, "b", &clock);
    assert_eq!(
        acquired(a.try_acquire().await.unwrap()),
        1,
        "an absent lease is created at epoch 1"
    );
    assert_eq!(
        waiting(&b.try_acquire().await.unwrap()),
        W,
        "first sight starts the wait"
    );
    clock.advance(D - Duration::from_millis(1));
    assert_eq!(
        waiting(&b.try_acquire().await.unwrap()),
        W - D + Duration::from_millis(1),
        "the margin is waited out beyond the holder's duration"
    );
    a.renew().await.unwrap();
    clock.advance(Duration::from_millis(5));
    assert_eq!(
        waiting(&b.try_acquire().await.unwrap()),
        W,
        "a renewal restarts the wait"
    );
    clock.advance(W);
    assert_eq!(
        acquired(b.try_acquire().await.unwrap()),
        2,
        "unchanged for a full duration: taken over"
    );
    assert!(a.token().is_none(), "A's own deadline passed too");
    assert!(matches!(a.renew().await, Err(LeaseError::Lost { .. })));
}

/// Two candidates that both waited out the same record race one compare-and-swap: exactly
/// one leads, and every epoch is issued once.
async fn two_candidates_never_lead_at_one_epoch(store: Arc<dyn ObjectStore>) {
    let clock = ManualClock::new(Timestamp(1_800_000_000_000));
    let mut a = lease(&store, "a", &clock);
    acquired(a.try_acquire().await.unwrap());
    let (mut b, mut c) = (lease(&store, "b", &clock), lease(&store, "c", &clock));
    b.try_acquire().await.unwrap();
    c.try_acquire().await.unwrap();
    clock.advance(W);
    let (rb, rc) = tokio::join!(b.try_acquire(), c.try_acquire());
    let winners: Vec<u64> = [rb.unwrap(), rc.unwrap()]
        .into_iter()
        .filter_map(|s| match s {
            Acquire::Acquired(t) => Some(t.epoch),
            Acquire::Waiting { .. } => None,
        })
        .collect();
    assert_eq!(winners, [2], "exactly one candidate takes epoch 2");
    assert!(b.token().is_some() ^ c.token().is_some());
}

/// A leader paused past its lease is fenced by the log at its next slot (I4, I5), and sends
/// neither log PUTs nor lease requests afterwards.
async fn a_paused_leader_is_fenced_at_its_next_slot(store: Arc<dyn ObjectStore>) {
    let clock = ManualClock::new(Timestamp(1_800_000_000_000));
    let fa = FaultStore::new(Arc::clone(&store));
    let fa_store: Arc<dyn ObjectStore> = Arc::new(fa.clone());
    let mut a = lease(&fa_store, "a", &clock);
    let epoch_a = acquired(a.try_acquire().await.unwrap());
    let wa = LogWriter::open(Arc::clone(&fa_store), writer_config(S, epoch_a, "a"))
        .await
        .unwrap();
    wa.append("t", "\"a0\"").await.unwrap();
    // A stalls: no renewals. B waits out a full duration, then leads with epoch 2.
    let mut b = lease(&store, "b", &clock);
    waiting(&b.try_acquire().await.unwrap());
    clock.advance(W);
    let epoch_b = acquired(b.try_acquire().await.unwrap());
    let wb = LogWriter::open(Arc::clone(&store), writer_config(S, epoch_b, "b"))
        .await
        .unwrap();
    wb.append("t", "\"b0\"").await.unwrap();
    // A wakes and appends: refused with 412 at its next slot.
    let err = wa.append("t", "\"a-stale\"").await.unwrap_err();
    assert!(
        matches!(
            err,
            WriteError::Fenced {
                epoch: 2,
                refused: true,
                ..
            }
        ),
        "{err:?}"
    );
    let before = fa.journal().len();
    a.abandon();
    a.release().await.unwrap();
    assert!(wa.append("t", "\"again\"").await.is_err());
    assert_eq!(
        fa.journal().len(),
        before,
        "a fenced writer touches neither the log nor the lease"
    );
}

/// Release hands the lease back; a successor takes it at once, with the next epoch.
async fn release_lets_a_successor_acquire_at_once(store: Arc<dyn ObjectStore>) {
    let clock = ManualClock::new(Timestamp(1_800_000_000_000));
    let mut a = lease(&store, "a", &clock);
    acquired(a.try_acquire().await.unwrap());
    a.release().await.unwrap();
    let mut b = lease(&store, "b", &clock);
    assert_eq!(
        acquired(b.try_acquire().await.unwrap()),
        2,
        "no wait after a release"
    );
    let (rec, _) = b.read().await.unwrap().unwrap();
    assert_eq!((rec.holder.as_deref(), rec.epoch), (Some("b"), 2));
}

on_every_store!(
    acquisition_waits_a_full_duration_of_an_unchanged_record,
    two_candidates_never_lead_at_one_epoch,
    a_paused_leader_is_fenced_at_its_next_slot,
    release_lets_a_successor_acquire_at_once,
);

fn elector(store: &Arc<dyn ObjectStore>, holder: &str) -> LeaderElector {
    let lease = LeaseConfig {
        root_prefix: String::new(),
        stream: S.into(),
        holder: holder.into(),
        duration: Duration::from_millis(900),
        drift_margin: LeaseConfig::default_drift_margin(Duration::from_millis(900)),
        clock: Arc::new(TokioClock::new()),
    };
    LeaderElector::start(Arc::clone(store), ElectorConfig { lease }).unwrap()
}

/// An elector leads, renews (its record changes, so no rival takes over), and when its
/// renewals fail it steps down within the lease duration; its writer then refuses appends.
#[tokio::test(start_paused = true)]
async fn a_writer_stops_when_its_elector_loses_leadership() {
    let inner: Arc<dyn ObjectStore> = Arc::new(MemoryStore::new());
    let f = FaultStore::new(Arc::clone(&inner));
    let store: Arc<dyn ObjectStore> = Arc::new(f.clone());
    let e = elector(&store, "a");
    let token = e.leadership().await;
    assert_eq!(token.epoch, 1);
    let w = LogWriter::open(
        Arc::clone(&store),
        WriterConfig::from_leadership(S, e.watch()).unwrap(),
    )
    .await
    .unwrap();
    w.append("t", "1").await.unwrap();
    let rival = elector(&inner, "b");
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        e.current().map(|t| t.epoch),
        Some(1),
        "renewals kept the lease for 5 s"
    );
    assert!(rival.current().is_none());
    // Renewals now fail: within one duration the elector steps down, the rival takes over.
    f.inject(Fault::before(
        Op::PutIfMatch,
        "/lease",
        Fault::unavailable(Op::PutIfMatch, "lease"),
        usize::MAX,
    ));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(e.current().is_none(), "stepped down");
    assert_eq!(rival.current().map(|t| t.epoch), Some(2));
    let err = w.append("t", "2").await.unwrap_err();
    assert!(
        matches!(err, WriteError::LeadershipLost { epoch: 1, .. }),
        "{err:?}"
    );
}

/// Stopping an elector releases the lease: a successor leads without waiting a duration.
#[tokio::test(start_paused = true)]
async fn a_stopped_elector_hands_over_at_once() {
    let store: Arc<dyn ObjectStore> = Arc::new(MemoryStore::new());
    let a = elector(&store, "a");
    a.leadership().await;
    let b = elector(&store, "b");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(b.current().is_none());
    let clock = TokioClock::new();
    a.stop().await;
    let t = b.leadership().await;
    assert_eq!(t.epoch, 2);
    assert!(
        clock.monotonic() < Duration::from_millis(900),
        "took {:?}",
        clock.monotonic()
    );
}

/// Any EpochSource serves a writer: the lease, or a token issued elsewhere (FixedEpoch).
#[tokio::test(start_paused = true)]
async fn writers_take_tokens_from_any_epoch_source() {
    use wormlog_fencing::{EpochSource, FencingToken, FixedEpoch};
    let store: Arc<dyn ObjectStore> = Arc::new(MemoryStore::new());
    let cfg = LeaseConfig {
        root_prefix: String::new(),
        stream: S.into(),
        holder: "a".into(),
        duration: Duration::from_millis(300),
        drift_margin: LeaseConfig::default_drift_margin(Duration::from_millis(300)),
        clock: Arc::new(TokioClock::new()),
    };
    let mut sources: Vec<Box<dyn EpochSource>> = vec![
        Box::new(Lease::new(Arc::clone(&store), cfg).unwrap()),
        Box::new(FixedEpoch(FencingToken {
            epoch: 7,
            holder: "etcd-rev-7".into(),
        })),
    ];
    let mut epochs = Vec::new();
    for source in &mut sources {
        let token = source.acquire().await.unwrap();
        let w = LogWriter::open(
            Arc::clone(&store),
            writer_config(S, token.epoch, &token.holder),
        )
        .await
        .unwrap();
        w.append("t", "1").await.unwrap();
        epochs.push(token.epoch);
    }
    assert_eq!(epochs, [1, 7]);
}
