//! The end of a run: with the store calm, read the log every way a user can, so the checker
//! can compare them: full replays (prefetch 1 and 8), replays with and without snapshots,
//! scans that start at a seq, the audit, and the documented purges. Last, a rogue writer
//! (an old or broken client) plants a zombie at the tail, and seeks are compared again.

use std::collections::BTreeSet;
use std::sync::Arc;

use wormlog_format::{
    encode_segment, NewEvent, SegmentKind, SegmentSpec, SegmentSummary, StreamKeys,
};
use wormlog_reader::{verify, PurgeIndex, ReadError, Replayed, ScanItem, Target, VerifyReport};
use wormlog_store::{ObjectStore, PutOptions, SeededRng};

use crate::operator::Applied;
use crate::world::World;
use crate::{Seen, STREAM};

/// What a read of the log delivered.
pub type Delivered = Result<Vec<Seen>, ReadError>;

/// A scan from a seq after a rogue zombie landed at the tail, beside what a scan from slot 0
/// delivered from that seq.
#[derive(Debug)]
pub struct ZombieSeek {
    pub seq: u64,
    pub got: Delivered,
    pub want: Delivered,
}

/// What the final reads found.
pub struct Finale {
    /// Full replays with prefetch 1 and 8.
    pub replays: Vec<Delivered>,
    /// Replay to the end from the newest usable snapshot, and from slot 0.
    pub with_snapshots: Result<Vec<(u64, u64)>, ReadError>,
    pub without_snapshots: Result<Vec<(u64, u64)>, ReadError>,
    /// Scans from a seq: (seq, what they delivered).
    pub seeks: Vec<(u64, Delivered)>,
    pub verify: Result<VerifyReport, ReadError>,
    /// The Merkle tree recomputed against every checkpoint the writers signed.
    pub tree: Result<wormlog_reader::tlog::TreeAudit, wormlog_reader::tlog::TlogError>,
    /// Seqs erased by documented purges, and how many slots those purges deleted.
    pub purged_seqs: BTreeSet<u64>,
    pub purged_slots: usize,
    /// After a rogue zombie at the tail: (seq, a scan from it, a scan from 0 filtered).
    pub zombie_seeks: Vec<ZombieSeek>,
}

pub(crate) async fn read_everything(world: &World, rng: &mut SeededRng) -> Finale {
    let mut replays = Vec::new();
    for prefetch in [1, 8] {
        replays.push(scan_from(world, 0, prefetch).await);
    }
    let full = replays[0].as_ref().ok().cloned().unwrap_or_default();
    let mut seeks = Vec::new();
    for seq in seek_targets(&full, rng) {
        seeks.push((seq, scan_from(world, seq, 8).await));
    }
    let replayer = world.replayer();
    let with: Result<Replayed<Applied>, _> = replayer.replay(Target::End, true).await;
    let without: Result<Replayed<Applied>, _> = replayer.replay(Target::End, false).await;
    let verify = verify(Arc::clone(&world.store), "", STREAM, false).await;
    let verifier = crate::world::signer().verifier();
    let tree =
        wormlog_reader::tlog::audit_tree(Arc::clone(&world.store), "", STREAM, &[verifier], None)
            .await;
    let keys = StreamKeys::new("", STREAM).expect("a valid stream");
    let index = PurgeIndex::load(&*world.store, &keys)
        .await
        .unwrap_or_default();
    let purged_seqs = index
        .by_slot
        .values()
        .flat_map(|d| d.purged.first_seq..d.purged.first_seq + d.purged.count)
        .collect();
    let zombie_seeks = rogue_zombie_at_the_tail(world, &keys).await;
    Finale {
        replays,
        with_snapshots: with.map(|r| r.state.0),
        without_snapshots: without.map(|r| r.state.0),
        seeks,
        verify,
        tree,
        purged_seqs,
        purged_slots: index.by_slot.len(),
        zombie_seeks,
    }
}

/// A few seqs to start scans at: the first, the last, one past it, and some in between.
fn seek_targets(full: &[Seen], rng: &mut SeededRng) -> Vec<u64> {
    let end = full.last().map_or(0, |s| s.seq + 1);
    let mut seqs = vec![0, end.saturating_sub(1), end];
    for _ in 0..3 {
        seqs.push(rng.below(end + 1));
    }
    seqs.sort_unstable();
    seqs.dedup();
    seqs
}

async fn scan_from(world: &World, seq: u64, prefetch: usize) -> Delivered {
    let mut scan = world.reader().with_prefetch(prefetch).scan(seq).await?;
    let mut out = Vec::new();
    while let Some(item) = scan.next().await? {
        if let ScanItem::Event(e) = item {
            out.push(Seen::of(&e));
        }
    }
    Ok(out)
}

/// Plants, at the first free slot, a segment of epoch 1 claiming the next seq: below the
/// log's epoch, a zombie every reader must skip. Then scans from the seqs around it must
/// agree with a scan from slot 0.
async fn rogue_zombie_at_the_tail(world: &World, keys: &StreamKeys) -> Vec<ZombieSeek> {
    let Ok(mut scan) = world.reader().scan(0).await else {
        return Vec::new();
    };
    while let Ok(Some(_)) = scan.next().await {}
    let (at, next_seq) = (scan.position(), scan.expected_seq());
    if at.max_epoch < 2 {
        return Vec::new(); // epoch 1 would not be a zombie here
    }
    let spec = SegmentSpec {
        stream: STREAM.into(),
        slot: at.slot,
        kind: SegmentKind::Events,
        first_seq: next_seq,
        epoch: 1,
        writer: "rogue".into(),
        write_id: uuid::Uuid::from_u128(0x0bad),
        // It names the valid segment below, as a writer that read the tail would: only its
        // epoch makes it a zombie (the rule the planted seek bug switches off).
        prev: at.prev,
        window: 1,
        created_at: "2026-01-01T00:00:00Z".into(),
    };
    let event = NewEvent::new(
        uuid::Uuid::from_u128(0x0bad_0bad),
        "rogue",
        "2026-01-01T00:00:00Z",
        "{\"rogue\":1}",
    )
    .expect("valid JSON");
    let (bytes, header) = encode_segment(&spec, &[event]);
    let opts = PutOptions {
        metadata: SegmentSummary::of(&header).to_metadata(),
        ..PutOptions::default()
    };
    let inner: &Arc<dyn ObjectStore> = world.faults.inner();
    if inner
        .put_if_absent(&keys.segment(at.slot), bytes, &opts)
        .await
        .is_err()
    {
        return Vec::new();
    }
    let mut out = Vec::new();
    for seq in [next_seq.saturating_sub(1), next_seq] {
        let expected = scan_from(world, 0, 8)
            .await
            .map(|all| all.into_iter().filter(|s| s.seq >= seq).collect());
        out.push(ZombieSeek {
            seq,
            got: scan_from(world, seq, 8).await,
            want: expected,
        });
    }
    out
}
