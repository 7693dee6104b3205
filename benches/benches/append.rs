//! Append throughput of one writer with group commit, on MemoryStore and FsStore, for 64 B,
//! 256 B and 4 KiB events: 10,000 appends issued back to back, then awaited.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use wormlog_store::{FsStore, MemoryStore, ObjectStore};
use wormlog_writer::{LogWriter, WriterConfig};

const EVENTS: usize = 10_000;

async fn append_all(store: Arc<dyn ObjectStore>, stream: String, payload: &str) {
    let w = LogWriter::open(store, WriterConfig::new(stream, 1, "bench"))
        .await
        .unwrap();
    let futs: Vec<_> = (0..EVENTS).map(|_| w.append("bench", payload)).collect();
    for f in futs {
        f.await.unwrap();
    }
    w.close().await;
}

fn append(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut g = c.benchmark_group("append");
    g.sample_size(10);
    g.throughput(Throughput::Elements(EVENTS as u64));
    for event_bytes in [64usize, 256, 4096] {
        let payload = format!("\"{}\"", "x".repeat(event_bytes - 2));
        let mut run = 0u64;
        g.bench_with_input(BenchmarkId::new("memory", event_bytes), &payload, |b, p| {
            b.to_async(&rt).iter(|| {
                run += 1;
                append_all(Arc::new(MemoryStore::new()), "bench".to_owned(), p)
            })
        });
        let dir = tempfile::tempdir().unwrap();
        g.bench_with_input(BenchmarkId::new("fs", event_bytes), &payload, |b, p| {
            b.to_async(&rt).iter(|| {
                run += 1;
                append_all(Arc::new(FsStore::open(dir.path())), format!("b{run}"), p)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, append);
criterion_main!(benches);
