//! `wormlog demo`: the split-brain story on a real store, told from real results.
//!
//! Leader A takes the stream's lease (epoch 1) and appends; A stalls past its lease; leader B
//! waits out a full lease of an unchanged record, takes it over (epoch 2) and opens the stream,
//! committing an epoch-start record that fences every lower epoch; B appends; A wakes and
//! appends: its PUT is refused with 412, A reads the slot, sees epoch 2 and stops. A replay
//! shows A's events, the epoch transition, then B's.
//! Exits 1 if any step does not behave as the protocol promises.

use std::collections::BTreeMap;
use std::sync::Arc;

use clap::Args;
use wormlog::{LogReader, LogWriter, ScanItem, WriteError, WriterConfig};
use wormlog_fencing::{Acquire, Lease, LeaseConfig};
use wormlog_store::{SeededRng, SystemClock};

use super::lease::acquire;

use super::{CliError, CliResult, Context};

#[derive(Args, Debug)]
pub(crate) struct DemoArgs {}

const A_EVENTS: [&str; 3] = [
    r#"{"order":"o-1","state":"created"}"#,
    r#"{"order":"o-2","state":"created"}"#,
    r#"{"order":"o-1","state":"paid"}"#,
];
const B_EVENTS: [&str; 2] = [
    r#"{"order":"o-1","state":"shipped"}"#,
    r#"{"order":"o-2","state":"cancelled"}"#,
];
const A_STALE: &str = r#"{"order":"o-1","state":"refunded"}"#;
/// Short, so the demo's takeover takes a moment, not minutes.
const LEASE: std::time::Duration = std::time::Duration::from_millis(400);

pub(crate) async fn run(ctx: &Context, _args: DemoArgs) -> CliResult<()> {
    let stream = if ctx.stream_given {
        ctx.stream.clone()
    } else {
        format!(
            "demo-{}",
            &SeededRng::from_entropy().uuid().simple().to_string()[..8]
        )
    };
    let store = &ctx.store.store;
    out!("wormlog demo: two leaders, one stream, one history");
    out!("  store  {}", store.describe());
    out!("  stream {stream}\n");

    let config = |epoch, id: &str| {
        let mut c = WriterConfig::new(stream.clone(), epoch, id);
        c.root_prefix = ctx.store.root_prefix.clone();
        c
    };

    let lease = |holder: &str| {
        let cfg = LeaseConfig {
            root_prefix: ctx.store.root_prefix.clone(),
            stream: stream.clone(),
            holder: holder.to_owned(),
            duration: LEASE,
            drift_margin: LeaseConfig::default_drift_margin(LEASE),
            clock: SystemClock::shared(),
        };
        Lease::new(Arc::clone(store), cfg)
    };

    out!(
        "1. Leader A takes the stream's lease ({} ms) and appends under its epoch.",
        LEASE.as_millis()
    );
    let mut lease_a = lease("leader-a")?;
    let token_a = acquire(&mut lease_a).await?;
    out!("   A holds the lease: {token_a}.");
    let a = LogWriter::open(Arc::clone(store), config(token_a.epoch, "leader-a")).await?;
    for data in A_EVENTS {
        let ack = a.append("order", data).await?;
        out!("   A  seq {}  slot {}  {data}", ack.seq, ack.slot);
    }

    out!("\n2. A stalls (a long GC pause, a partition) and stops renewing its lease.");
    let mut lease_b = lease("leader-b")?;
    let token_b = loop {
        match lease_b.try_acquire().await? {
            Acquire::Acquired(t) => break t,
            Acquire::Waiting {
                holder,
                epoch,
                remaining,
            } => {
                if epoch > 0 {
                    out!("   B sees the lease held by {holder} (epoch {epoch}); B takes it over if it stays unchanged for {} ms more.", remaining.as_millis());
                }
                tokio::time::sleep(remaining.max(std::time::Duration::from_millis(5))).await;
            }
        }
    };
    out!("   The record stayed unchanged for a full lease: B took it over with {token_b}.");
    let b = LogWriter::open(Arc::clone(store), config(token_b.epoch, "leader-b")).await?;
    let b_start = b.position().next_slot - 1;
    out!("   B committed its epoch-start record at slot {b_start}: no lower epoch can commit after it.");
    for data in B_EVENTS {
        let ack = b.append("order", data).await?;
        out!("   B  seq {}  slot {}  {data}", ack.seq, ack.slot);
    }

    out!("\n3. A wakes up. Its own lease expired, but it does not check (or checks too late) and appends {A_STALE}.");
    let a_slot = a.position().next_slot;
    match a.append("order", A_STALE).await {
        Err(WriteError::Fenced { epoch, slot, .. }) => {
            out!("   A's create-only PUT of slot {a_slot} was refused with 412 (the slot exists).");
            out!("   A read slot {slot}: it was written at epoch {epoch} > 1, so A is fenced and stops.");
        }
        Err(e) => {
            return Err(CliError::violation(format!(
                "A should have been fenced, but its append failed otherwise: {e}"
            )))
        }
        Ok(ack) => {
            return Err(CliError::violation(format!(
                "SAFETY VIOLATION: the stale leader's append was acknowledged at seq {}",
                ack.seq
            )))
        }
    }
    match a.append("order", A_STALE).await {
        Err(WriteError::Fenced { .. }) => out!(
            "   A's next append fails at once, without a request: a fenced writer sends no PUT."
        ),
        other => {
            return Err(CliError::violation(format!(
                "a fenced writer must refuse every append, got {other:?}"
            )))
        }
    }
    let st = a.stats();
    out!(
        "   A's stats: {} appends in {} segments, {} occupied slot met (the 412), {} retries.",
        st.appends,
        st.segments,
        st.conflicts,
        st.retries
    );
    lease_a.abandon(); // the log said epoch 2 holds the stream: A does not touch the lease
    a.close().await;
    b.close().await;
    lease_b.release().await?;

    out!("\n4. Replay (what every reader sees):");
    let reader = LogReader::new(Arc::clone(store), &ctx.store.root_prefix, &stream)?;
    let mut scan = reader.scan(0).await?;
    let mut state: BTreeMap<String, String> = BTreeMap::new();
    let mut seqs = Vec::new();
    while let Some(item) = scan.next().await? {
        match item {
            ScanItem::Control { slot, header } => out!(
                "   slot {slot}  {} epoch {} by {}",
                header.kind.as_str(),
                header.epoch,
                header.writer
            ),
            ScanItem::Event(e) => {
                out!(
                    "   seq {}  epoch {} by {}  {}",
                    e.seq,
                    e.meta.fencing_token.epoch,
                    e.meta.fencing_token.writer,
                    e.json().unwrap_or_default()
                );
                apply(&mut state, e.json().unwrap_or_default());
                seqs.push(e.seq);
            }
            ScanItem::Zombie { slot, .. } => out!("   slot {slot}  zombie segment skipped"),
            ScanItem::Purged { slot, .. } => out!("   slot {slot}  purged (documented)"),
            ScanItem::Void { slot, .. } => {
                out!("   slot {slot}  void (claimed to fence a stale leader) skipped")
            }
            ScanItem::Orphan { slot, .. } => {
                out!("   slot {slot}  orphan (names another predecessor) skipped")
            }
            ScanItem::Leaves { .. } => unreachable!("a plain reader parses events"),
        }
    }
    let expected: Vec<u64> = (0..(A_EVENTS.len() + B_EVENTS.len()) as u64).collect();
    if seqs != expected {
        return Err(CliError::violation(format!(
            "the replay delivered seqs {seqs:?}, expected {expected:?}"
        )));
    }
    out!("\n   state: {state:?}");
    out!("   A's stale \"refunded\" never happened: every reader agrees.");
    out!(
        "\nInspect it yourself:  wormlog --store {} --stream {stream} cat",
        ctx.store_url
    );
    Ok(())
}

/// The demo's state machine: the latest state of each order.
fn apply(state: &mut BTreeMap<String, String>, data: &str) {
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(data) {
        if let (Some(o), Some(s)) = (v["order"].as_str(), v["state"].as_str()) {
            state.insert(o.to_owned(), s.to_owned());
        }
    }
}
