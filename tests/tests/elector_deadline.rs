//! The elector's channel never shows a token past its deadline: when a renewal does not
//! succeed in time, it publishes "not leading" before it campaigns again, however long
//! campaigning takes. (Before the fix it read the lease first, and with a store that hangs,
//! the usual reason renewals fail, two channels showed "leading" at once.)

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use wormlog_fencing::{ElectorConfig, LeaderElector, LeaseConfig};
use wormlog_store::{FaultStore, MemoryStore, ObjectStore, Op, TokioClock};

const S: &str = "stale";
const D: Duration = Duration::from_secs(2);

fn config(holder: &str) -> LeaseConfig {
    LeaseConfig::new(S, holder, D, Arc::new(TokioClock::new()))
}

#[tokio::test(start_paused = true)]
async fn the_channel_never_shows_a_token_past_its_deadline_while_another_holder_leads() {
    let raw: Arc<dyn ObjectStore> = Arc::new(MemoryStore::new());
    let fa = FaultStore::new(Arc::clone(&raw));
    let a =
        LeaderElector::start(Arc::new(fa.clone()), ElectorConfig { lease: config("a") }).unwrap();
    let first = a.leadership().await;
    let acquired = tokio::time::Instant::now();
    // From now on A's store hangs: its next renewal and its next read of the lease each take
    // 10 s (a store outage; the SDK's operation timeout would be of that order).
    let (put_armed, get_armed) = (
        Arc::new(AtomicBool::new(true)),
        Arc::new(AtomicBool::new(true)),
    );
    {
        let (p, g) = (Arc::clone(&put_armed), Arc::clone(&get_armed));
        fa.before_each(move |op, key| {
            let (p, g, key) = (Arc::clone(&p), Arc::clone(&g), key.to_owned());
            async move {
                let hang = key.ends_with("/lease")
                    && match op {
                        Op::PutIfMatch => p.swap(false, Ordering::SeqCst),
                        Op::Get => g.swap(false, Ordering::SeqCst),
                        _ => false,
                    };
                if hang {
                    tokio::time::sleep(Duration::from_secs(10)).await;
                }
            }
        });
    }
    // B campaigns on a healthy path to the same bucket.
    let b = LeaderElector::start(Arc::clone(&raw), ElectorConfig { lease: config("b") }).unwrap();
    let second = tokio::time::timeout(3 * D, b.leadership())
        .await
        .expect("B takes over");
    assert!(second.epoch > first.epoch);
    let now = tokio::time::Instant::now();
    assert!(now > acquired + D, "B took over after A's deadline");
    assert_eq!(
        a.current(),
        None,
        "A's channel shows no token {:?} after it acquired, while B leads with {second:?}",
        now - acquired
    );
}
