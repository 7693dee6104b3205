//! A small controller on wormlog: it campaigns for the stream's lease, and whenever it leads
//! it replays the log into its state (a desired-replicas map), then appends changes while it
//! leads. The moment leadership is lost (its lease moved on, or the log fenced its epoch) it
//! stops appending and campaigns again. Run two at once to watch a hand-over:
//!
//! ```sh
//! cargo run -p wormlog --example controller -- --store /tmp/ctl --holder a --seconds 6 &
//! cargo run -p wormlog --example controller -- --store /tmp/ctl --holder b --seconds 6
//! ```
//!
//! `--metrics-addr 127.0.0.1:9464` serves its metrics (lease held and epoch, appends, 412s)
//! for Prometheus.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use wormlog::fencing::{ElectorConfig, LeaderElector, LeaseConfig};
use wormlog::store::{SeededRng, TokioClock};
use wormlog::{open_store, LogReader, LogWriter, WriteError, WriterConfig};

const STREAM: &str = "controller";

/// The controller's state: desired replicas per service, rebuilt from the log.
#[derive(Default, Debug)]
struct Desired(BTreeMap<String, u64>);

impl Desired {
    fn apply(&mut self, data: &str) {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(data) {
            if let (Some(s), Some(r)) = (v["service"].as_str(), v["replicas"].as_u64()) {
                self.0.insert(s.to_owned(), r);
            }
        }
    }
}

struct Args {
    store: String,
    holder: String,
    seconds: u64,
    /// Serve the library's metrics (lease holder and epoch, appends, 412s) for Prometheus.
    metrics_addr: Option<std::net::SocketAddr>,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        store: "./wormlog-data".into(),
        holder: format!("controller-{}", std::process::id()),
        seconds: 5,
        metrics_addr: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--store" => a.store = value,
            "--holder" => a.holder = value,
            "--seconds" => a.seconds = value.parse().map_err(|_| "--seconds takes a number")?,
            "--metrics-addr" => {
                a.metrics_addr = Some(
                    value
                        .parse()
                        .map_err(|_| "--metrics-addr takes HOST:PORT, such as 127.0.0.1:9464")?,
                )
            }
            other => {
                return Err(format!(
                    "unknown flag {other}; use --store, --holder, --seconds, --metrics-addr"
                ))
            }
        }
    }
    Ok(a)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args()?;
    if let Some(addr) = args.metrics_addr {
        // The library records through the `metrics` facade; this exporter serves them.
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .with_http_listener(addr)
            .install()?;
    }
    let opened = open_store(&args.store).await?;
    let lease = LeaseConfig {
        root_prefix: opened.root_prefix.clone(),
        stream: STREAM.into(),
        holder: args.holder.clone(),
        duration: Duration::from_millis(1500),
        drift_margin: LeaseConfig::default_drift_margin(Duration::from_millis(1500)),
        clock: Arc::new(TokioClock::new()),
    };
    let elector = LeaderElector::start(Arc::clone(&opened.store), ElectorConfig { lease })?;
    let mut rng = SeededRng::from_entropy();
    let mut appended = 0u64;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.seconds);

    while tokio::time::Instant::now() < deadline {
        // Wait for leadership (or the end of the run).
        let Ok(token) = tokio::time::timeout_at(deadline, elector.leadership()).await else {
            break;
        };
        println!("[{}] leading with {token}", args.holder);

        // Replay the log into the state before acting on it.
        let reader = LogReader::new(Arc::clone(&opened.store), &opened.root_prefix, STREAM)?;
        let mut state = Desired::default();
        for e in reader.read_events(0, None).await? {
            state.apply(e.json().unwrap_or_default());
        }
        println!("[{}] replayed state: {:?}", args.holder, state.0);

        let Some(mut cfg) = WriterConfig::from_leadership(STREAM, elector.watch()) else {
            continue;
        };
        cfg.root_prefix = opened.root_prefix.clone();
        let writer = match LogWriter::open(Arc::clone(&opened.store), cfg).await {
            Ok(w) => w,
            Err(e) if e.is_fenced() => {
                elector.abandon();
                continue;
            }
            Err(e) => return Err(e.into()),
        };

        // Act while leading: each decision is appended first, applied once acknowledged.
        while tokio::time::Instant::now() < deadline {
            let service = format!("svc-{}", rng.below(3));
            let data = format!(
                "{{\"service\":\"{service}\",\"replicas\":{}}}",
                1 + rng.below(5)
            );
            match writer.append("replicas.set", &data).await {
                Ok(ack) => {
                    state.apply(&data);
                    appended += 1;
                    println!("[{}] seq {} {data}", args.holder, ack.seq);
                }
                Err(
                    e @ (WriteError::LeadershipLost { .. }
                    | WriteError::Fenced { .. }
                    | WriteError::EpochConflict { .. }),
                ) => {
                    println!("[{}] stopped appending: {e}", args.holder);
                    if !matches!(e, WriteError::LeadershipLost { .. }) {
                        elector.abandon();
                    }
                    break;
                }
                Err(e) => return Err(e.into()),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        writer.close().await;
    }
    elector.stop().await;
    println!("[{}] done: {appended} changes appended", args.holder);
    Ok(())
}
