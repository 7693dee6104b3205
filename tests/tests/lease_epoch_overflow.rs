//! A log at the largest epoch (a typo such as `--epoch 18446744073709551615`, or a lease
//! object edited by hand) must give a clear error from the lease, not a panic (debug) or a
//! wrapped epoch 0 (release) (I9).

use std::sync::Arc;
use std::time::Duration;

use wormlog_fencing::{Lease, LeaseConfig, LeaseError};
use wormlog_store::{MemoryStore, ObjectStore, TokioClock};
use wormlog_tests::writer_config;
use wormlog_writer::LogWriter;

#[tokio::test]
async fn a_log_at_the_largest_epoch_gives_the_lease_a_clear_error() {
    let store: Arc<dyn ObjectStore> = Arc::new(MemoryStore::new());
    let mut cfg = writer_config("ovf", u64::MAX, "w");
    cfg.max_epoch_jump = None; // the typo was once allowed (or the jump asked for)
    let w = LogWriter::open(Arc::clone(&store), cfg).await.unwrap();
    w.close().await;
    let cfg = LeaseConfig::new(
        "ovf",
        "a",
        Duration::from_secs(2),
        Arc::new(TokioClock::new()),
    );
    let mut lease = Lease::new(Arc::clone(&store), cfg).unwrap();
    let err = lease.try_acquire().await.unwrap_err();
    assert!(
        matches!(&err, LeaseError::Config(m) if m.contains("no epoch can be issued above")),
        "{err:?}"
    );
}
