//! Tamper evidence, side by side: decoding a segment with and without each event's leaf hash
//! (what `verify --key` and `checkpoint` add per byte of log), and an inclusion proof over a
//! ten-million-leaf tree from its tiles (hashes in the proof, tiles read).

use std::collections::BTreeSet;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use wormlog_format::{decode_segment, decode_segment_hashing, encode_segment};
use wormlog_tlog::tiles::{tiles_needed, TileBuilder, TileId, TileSet};

fn leaf_hashing(c: &mut Criterion) {
    let mut g = c.benchmark_group("tlog_decode");
    for event_bytes in [256usize, 4096] {
        let events = wormlog_benches::events(1000, event_bytes);
        let (bytes, _) = encode_segment(&wormlog_benches::spec(), &events);
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_with_input(BenchmarkId::new("plain", event_bytes), &bytes, |b, s| {
            b.iter(|| decode_segment(s).unwrap())
        });
        g.bench_with_input(
            BenchmarkId::new("with_leaf_hashes", event_bytes),
            &bytes,
            |b, s| b.iter(|| decode_segment_hashing(s, true).unwrap()),
        );
    }
    g.finish();
}

/// The tiles of a tree of `n` leaves that `needed` names, built as a checkpointer builds and
/// stores them (the rest are dropped: ten million leaves fill 39,000 tiles).
fn stored_tiles(n: u64, needed: &BTreeSet<TileId>) -> TileSet {
    let mut set = TileSet::default();
    let mut keep = |id: TileId, bytes: Vec<u8>| {
        if needed.contains(&id) {
            set.insert(id, &bytes).unwrap();
        }
    };
    let mut b = TileBuilder::default();
    for i in 0..n {
        for (id, bytes) in b.push(wormlog_tlog::leaf_hash(&i.to_le_bytes())) {
            keep(id, bytes);
        }
    }
    for (id, bytes) in b.edge() {
        keep(id, bytes);
    }
    set
}

fn proofs(c: &mut Criterion) {
    const N: u64 = 10_000_000;
    let seq = N / 3;
    let needed = tiles_needed(N, |n| drop(wormlog_tlog::inclusion_proof(n, seq, N)));
    let set = stored_tiles(N, &needed);
    let path = wormlog_tlog::inclusion_proof(&set, seq, N).unwrap();
    eprintln!(
        "tlog: inclusion proof of leaf {seq} in a tree of {N}: {} hashes, {} tiles read",
        path.len(),
        needed.len()
    );
    let mut g = c.benchmark_group("tlog_proof");
    g.bench_function("inclusion_10m_from_tiles", |b| {
        b.iter(|| wormlog_tlog::inclusion_proof(&set, seq, N).unwrap())
    });
    g.finish();
}

criterion_group!(benches, leaf_hashing, proofs);
criterion_main!(benches);
