//! Operators around the writers: purges (as `wormlog purge --lease` does them), snapshots,
//! and someone deleting or overwriting the lease object by hand.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use wormlog_fencing::{ElectorConfig, LeaderElector, LeaseConfig};
use wormlog_format::{PurgeRecord, PurgedSlot, StreamKeys};
use wormlog_reader::{Replayed, ScanItem, State};
use wormlog_store::{DeleteOptions, ObjectStore, PutOptions, SeededRng, Timestamp};
use wormlog_writer::WriterConfig;

use crate::history::PurgeAttempt;
use crate::world::World;
use crate::STREAM;

/// Purges: pick a valid events segment, commit a purge record under the lease, write its
/// index key, delete the segment, and (most times) discard the snapshots that held it. The
/// step left out now and then is what an interrupted purge, or an older wormlog, leaves.
pub(crate) async fn purges(world: Arc<World>, mut rng: SeededRng) {
    for n in 0..world.settings.purges {
        tokio::time::sleep(MIN_AGE).await;
        World::pause(&mut rng, Duration::from_secs(20)).await;
        let Some(victim) = pick_segment(&world, &mut rng).await else {
            continue;
        };
        let holder = format!("operator-{n}");
        let lease = LeaseConfig::new(STREAM, holder.clone(), world.settings.lease, world.clock());
        let Ok(elector) = LeaderElector::start(Arc::clone(&world.store), ElectorConfig { lease })
        else {
            continue;
        };
        if tokio::time::timeout(Duration::from_secs(20), elector.leadership())
            .await
            .is_ok()
        {
            if let Some(wc) = WriterConfig::from_leadership(STREAM, elector.watch()) {
                let mut cfg = world.writer_config(&holder, wc.epoch, &mut rng);
                cfg.leadership = wc.leadership;
                purge(&world, cfg, victim, rng.below(4) != 0).await;
            }
        }
        elector.stop().await;
    }
}

async fn purge(world: &World, cfg: WriterConfig, victim: PurgedSlot, discard: bool) {
    let Ok(w) = world.open(cfg).await else {
        return;
    };
    let record = PurgeRecord {
        operator: "sim-operator".into(),
        reason: "erasure".into(),
        purged: vec![victim.clone()],
        attachments: Vec::new(),
    };
    let committed = w.append_purge(record.clone()).await;
    if let Ok(w) = Arc::try_unwrap(w) {
        w.close().await;
    }
    let record_slot = match committed {
        Ok(s) => s,
        Err(e) => {
            // A record that may have landed without its index key: verify reports it.
            let known = e.is_definite();
            world.history.lock().purges.push(PurgeAttempt {
                slot: victim.slot,
                known,
            });
            return;
        }
    };
    world.history.lock().purges.push(PurgeAttempt {
        slot: victim.slot,
        known: true,
    });
    let keys = StreamKeys::new("", STREAM).expect("a valid stream");
    let inner = world.faults.inner();
    // The index key and the deletion go straight to the store: an operator retries them.
    let index = inner
        .put_if_absent(
            &keys.purge_index(record_slot),
            Bytes::from_static(b"{}"),
            &PutOptions::default(),
        )
        .await;
    if index.is_err() {
        return;
    }
    let _ = inner
        .delete(&keys.segment(victim.slot), &DeleteOptions::default())
        .await;
    if discard {
        let _ = world.replayer().discard_snapshots_covering(&record).await;
    }
}

/// A valid events segment of the log old enough to purge, at random, with its header facts.
async fn pick_segment(world: &World, rng: &mut SeededRng) -> Option<PurgedSlot> {
    let mut scan = world.reader().scan(0).await.ok()?;
    let now = world.clock().now();
    let mut slots = Vec::new();
    while let Ok(Some(item)) = scan.next().await {
        if let ScanItem::Event(e) = item {
            // As `wormlog purge --min-age` does: a young segment's writer may still be
            // retrying it, and a retry landing after the purge would write it again.
            let old = Timestamp::parse_rfc3339(&e.time).is_some_and(|t| t.plus(MIN_AGE) <= now);
            if old && slots.last() != Some(&scan.current_slot()) {
                slots.push(scan.current_slot());
            }
        }
    }
    let slot = *slots.get(rng.below(slots.len().max(1) as u64) as usize)?;
    let keys = StreamKeys::new("", STREAM).ok()?;
    let got = world.store.get(&keys.segment(slot)).await.ok()?;
    // With the leaf hashes of its events, as `wormlog purge` keeps them: the tree stays whole.
    PurgedSlot::of_segment(&got.body).ok()
}

/// The purge grace period in the simulation: longer than any writer's retries of one slot.
const MIN_AGE: Duration = Duration::from_secs(15);

/// The state the checker compares: every (seq, op) applied, in order.
#[derive(Default, Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Applied(pub Vec<(u64, u64)>);

impl State for Applied {
    fn apply(&mut self, e: &wormlog_format::Event) {
        self.0
            .push((e.seq, crate::op_of(e.json().unwrap_or_default())));
    }
}

/// Snapshots: replay to the end (from the newest usable snapshot) and store the result.
pub(crate) async fn snapshots(world: Arc<World>, mut rng: SeededRng) {
    for _ in 0..world.settings.snapshots {
        World::pause(&mut rng, Duration::from_secs(25)).await;
        let replayer = world.replayer();
        let replayed: Result<Replayed<Applied>, _> =
            replayer.replay(wormlog_reader::Target::End, true).await;
        if let Ok(r) = replayed {
            let _ = replayer.save_snapshot(&r).await;
        }
    }
}

/// Someone deletes the lease object, or overwrites it with garbage, by hand.
pub(crate) async fn vandalise_lease(world: Arc<World>, mut rng: SeededRng) {
    let key = StreamKeys::new("", STREAM).expect("a valid stream").lease();
    let inner: &Arc<dyn ObjectStore> = world.faults.inner();
    for _ in 0..world.settings.lease_vandalism {
        World::pause(&mut rng, Duration::from_secs(15)).await;
        if rng.below(2) == 0 {
            let _ = inner.delete(&key, &DeleteOptions::default()).await;
        } else if let Ok(head) = inner.head(&key).await {
            let garbage = Bytes::from_static(b"{\"holder\":");
            let _ = inner
                .put_if_match(&key, garbage, &head.etag, &PutOptions::default())
                .await;
        }
    }
}
