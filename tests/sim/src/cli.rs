//! Writers as people run them from the command line, without an elector:
//!
//! - `wormlog append --epoch N` with an N picked by hand: one below the log's epoch (stale:
//!   fenced at open), equal to it (reused: an epoch conflict with whoever else holds it), or
//!   one above (it leads until a lease goes past it);
//! - `wormlog lease acquire` then `wormlog append --epoch E`: the lease is taken once and
//!   never renewed, so a leader may take it over while this writer still appends.

use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;

use wormlog_fencing::tail::{LogReads, ReadRetry};
use wormlog_fencing::{Acquire, Lease, LeaseConfig};
use wormlog_format::StreamKeys;
use wormlog_store::SeededRng;

use crate::world::World;
use crate::STREAM;

pub(crate) async fn run(world: Arc<World>, mut rng: SeededRng) {
    for run in 0..world.settings.cli_runs {
        World::pause(&mut rng, Duration::from_secs(12)).await;
        let writer = format!("cli-{run}");
        let epoch = match rng.below(3) {
            0 => match lease_acquire(&world, &writer).await {
                Some(e) => e,
                None => continue,
            },
            _ => match log_epoch(&world).await {
                // An epoch picked by hand near the log's: below, equal, or above it.
                Some(e) => (e + rng.below(3)).saturating_sub(1).max(1),
                None => continue,
            },
        };
        let wc = world.writer_config(&writer, epoch, &mut rng);
        let Ok(w) = world.open(wc).await else {
            continue; // fenced at open, or the store failed: nothing written
        };
        for _ in 0..1 + rng.below(3) {
            let n = 1 + rng.below(3) as usize;
            world.append_ops(&w, &writer, epoch, n).await;
            World::pause(&mut rng, world.settings.lease).await;
        }
        if let Ok(w) = Arc::try_unwrap(w) {
            w.close().await;
        }
    }
}

/// A stale writer without a lease check: takes the lease once (`lease acquire`), then
/// appends one op after another, as fast as the store answers, never renewing, until the log
/// fences it (or 250 ops). Leaders take the lapsed lease meanwhile and must get past it.
pub(crate) async fn runaways(world: Arc<World>, mut rng: SeededRng) {
    for run in 0..world.settings.runaways {
        World::pause(&mut rng, Duration::from_secs(4)).await;
        let writer = format!("runaway-{run}");
        let Some(epoch) = lease_acquire(&world, &writer).await else {
            continue;
        };
        let mut wc = world.writer_config(&writer, epoch, &mut rng);
        let outstanding = match world.settings.streaming_runaways {
            true => {
                wc.in_flight = 8;
                wc.one_per_segment = true;
                16
            }
            false => 1,
        };
        let Ok(w) = world.open(wc).await else {
            continue;
        };
        let from = world.now_ms();
        let fenced = || {
            world
                .history
                .lock()
                .stops
                .iter()
                .any(|s| s.writer == writer)
        };
        futures::stream::iter(0..250)
            .take_while(|_| std::future::ready(!fenced()))
            .for_each_concurrent(outstanding, |_| world.append_ops(&w, &writer, epoch, 1))
            .await;
        let to = world.now_ms();
        world.history.lock().runaways.push((from, to));
        if let Ok(w) = Arc::try_unwrap(w) {
            w.close().await;
        }
    }
}

/// `wormlog lease acquire`: takes the lease (waiting out a live holder), prints the epoch,
/// and exits without renewing or releasing it.
async fn lease_acquire(world: &World, holder: &str) -> Option<u64> {
    let cfg = LeaseConfig::new(STREAM, holder, world.settings.lease, world.clock());
    let mut lease = Lease::new(Arc::clone(&world.store), cfg).ok()?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tokio::time::Instant::now() < deadline {
        match lease.try_acquire().await {
            Ok(Acquire::Acquired(t)) => return Some(t.epoch),
            Ok(Acquire::Waiting { remaining, .. }) => {
                tokio::time::sleep(remaining.clamp(Duration::from_millis(5), world.settings.lease))
                    .await
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    None
}

/// The epoch of the log's last segment, as a person would look it up before picking one.
async fn log_epoch(world: &World) -> Option<u64> {
    let keys = StreamKeys::new("", STREAM).ok()?;
    let reads = LogReads::new(Arc::clone(&world.store), keys, ReadRetry::default());
    reads.find_tail().await.ok().map(|t| t.epoch().max(1))
}
