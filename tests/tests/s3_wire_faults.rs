//! Faults on the wire between S3Store and a real server (Ceph RGW, moto), through a relay
//! that drops or replaces answers (`wormlog_tests::wire`). What these pin: the SDK never
//! retries a create-only PUT on its own, because only the writer can tell whether an earlier
//! attempt landed (protocol.md, "Settling a slot").

use std::sync::Arc;

use wormlog_reader::LogReader;
use wormlog_store::ObjectStore;
use wormlog_tests::servers::{Server, MOTO, RGW};
use wormlog_tests::wire::{WireAction, WireFaults, WireRule};
use wormlog_tests::writer_config;
use wormlog_writer::{LogWriter, WriteError};

const S: &str = "wire";

/// The first PUT of a segment lands and its answer is lost; the next PUT of that slot is
/// refused with 403 ExpiredToken. Had the SDK retried by itself, the writer would see only the
/// 403 and call a landed segment failed (I6). The writer sees the lost answer, retries
/// itself, and reports an unknown outcome.
async fn a_create_only_put_is_retried_by_the_writer_not_the_sdk(server: Server, versioned: bool) {
    let bucket = Server::fresh_bucket("wl-wire");
    let direct: Arc<dyn ObjectStore> = server.store(&bucket, versioned).await;
    let relay = WireFaults::start(&server.endpoint()).await;
    let via: Arc<dyn ObjectStore> = server.store_via(&bucket, relay.endpoint()).await;
    let w = LogWriter::open(via, writer_config(S, 1, "a"))
        .await
        .unwrap();
    relay.add(WireRule {
        method: "PUT",
        path: "/log/".into(),
        action: WireAction::DropResponse,
        times: 1,
    });
    relay.add(WireRule {
        method: "PUT",
        path: "/log/".into(),
        action: WireAction::Respond {
            status: 403,
            code: "ExpiredToken",
            message: "The provided token has expired.",
        },
        times: 1,
    });
    let err = w.append("t", "1").await.unwrap_err();
    assert!(
        matches!(err, WriteError::OutcomeUnknown { slot: 1, .. }),
        "a segment whose PUT landed is not a definite failure: {err:?}"
    );
    let puts = relay
        .seen()
        .into_iter()
        .filter(|r| r.method == "PUT" && r.path.contains("/log/"))
        .count();
    assert_eq!(
        puts, 3,
        "the epoch-start, the lost PUT, and the writer's own retry"
    );
    let events = LogReader::new(direct, "", S)
        .unwrap()
        .read_events(0, None)
        .await
        .unwrap();
    assert_eq!(events.len(), 1, "the event landed, once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rgw_a_create_only_put_is_retried_by_the_writer_not_the_sdk() {
    a_create_only_put_is_retried_by_the_writer_not_the_sdk(RGW, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_a_create_only_put_is_retried_by_the_writer_not_the_sdk() {
    a_create_only_put_is_retried_by_the_writer_not_the_sdk(MOTO, true).await;
}
