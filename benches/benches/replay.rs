//! Replay throughput against the store's own read ceiling, side by side: a `LogReader` scan
//! (GET, decode, CRC, reader rules, every event delivered) and raw parallel GETs of the same
//! segments with the same read-ahead, bytes discarded. Both over one log of 20,000 events of
//! 256 B in segments of 100 events, on MemoryStore and FsStore. Throughput is segment bytes.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use futures::stream::{self, StreamExt};
use wormlog_reader::{LogReader, ScanItem};
use wormlog_store::{list_all, FsStore, MemoryStore, ObjectStore};
use wormlog_writer::{LogWriter, WriterConfig};

const EVENTS: usize = 20_000;
const PER_SEGMENT: usize = 100;
const READ_AHEAD: usize = 8;

/// Writes the log; returns its segment keys and their total size.
async fn log_of(store: &Arc<dyn ObjectStore>) -> (Vec<String>, u64) {
    let w = LogWriter::open(Arc::clone(store), WriterConfig::new("replay", 1, "bench"))
        .await
        .unwrap();
    for chunk in wormlog_benches::events(EVENTS, 256).chunks(PER_SEGMENT) {
        let next = w.position().next_seq;
        w.append_expected(chunk.to_vec(), next).await.unwrap();
    }
    w.close().await;
    let listed = list_all(&**store, "replay/log/", None).await.unwrap();
    let bytes = listed.iter().map(|e| e.size).sum();
    (listed.into_iter().map(|e| e.key).collect(), bytes)
}

async fn replay_all(store: Arc<dyn ObjectStore>) {
    let reader = LogReader::new(store, "", "replay")
        .unwrap()
        .with_prefetch(READ_AHEAD);
    let mut scan = reader.scan(0).await.unwrap();
    let mut events = 0;
    while let Some(item) = scan.next().await.unwrap() {
        events += usize::from(matches!(item, ScanItem::Event(_)));
    }
    assert_eq!(events, EVENTS);
}

async fn raw_gets(store: Arc<dyn ObjectStore>, keys: &[String]) {
    let mut gets = stream::iter(keys)
        .map(|k| {
            let store = Arc::clone(&store);
            async move { store.get(k).await.unwrap().body.len() }
        })
        .buffered(READ_AHEAD);
    while gets.next().await.is_some() {}
}

fn replay(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let stores: [(&str, Arc<dyn ObjectStore>); 2] = [
        ("memory", Arc::new(MemoryStore::new())),
        ("fs", Arc::new(FsStore::open(dir.path()))),
    ];
    let mut g = c.benchmark_group("replay");
    g.sample_size(10);
    for (name, store) in stores {
        let (keys, bytes) = rt.block_on(log_of(&store));
        g.throughput(Throughput::Bytes(bytes));
        g.bench_function(BenchmarkId::new("log_reader", name), |b| {
            b.to_async(&rt).iter(|| replay_all(Arc::clone(&store)))
        });
        g.bench_function(BenchmarkId::new("raw_parallel_get", name), |b| {
            b.to_async(&rt).iter(|| raw_gets(Arc::clone(&store), &keys))
        });
    }
    g.finish();
}

criterion_group!(benches, replay);
criterion_main!(benches);
