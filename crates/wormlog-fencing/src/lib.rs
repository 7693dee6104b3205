//! # wormlog-fencing: who may write, decided in the log's own bucket
//!
//! A leader lease kept next to the log (`P/lease`) hands out **fencing tokens**: epochs that
//! only grow, each issued once. A writer carries its token; the log itself refuses a stale
//! one (a 412 at its next slot). The lease gives liveness, never safety:
//!
//! ```text
//!  absent ──create-only PUT {me, epoch 1}──────────────────────────► held by me, epoch 1
//!  held by X ──observe ETag at t0 ──(same ETag at t0 + duration)──► CAS If-Match {me, epoch+1}
//!                 └── ETag changed (X renewed): observe again          └─ 412: someone moved first
//!  held by me ──every duration/3: CAS {me, same epoch, renew+1}──► still leader
//!                 └── 412, or no renewal succeeded within duration ──► step down
//!  released (holder none) ──CAS {me, epoch+1}──► held by me at once
//! ```
//!
//! - Epochs come only from a successful create or compare-and-swap, so each is issued once:
//!   two candidates never lead at one epoch.
//! - Time is the injected [`wormlog_store::Clock`]'s monotonic reading: a candidate waits a full
//!   duration of an *unchanged* record on its own clock, never comparing wall clocks.
//! - A leader counts its validity from the moment it *sent* its last successful renewal, so it
//!   steps down before any candidate can take over. Even if it did not (a long pause), the log
//!   fences it: I4, I5.
//! - [`EpochSource`] lets callers bring tokens from elsewhere (a Kubernetes Lease, etcd).

mod elector;
mod error;
mod lease;
mod record;
mod source;
pub mod tail;
mod token;

pub use elector::{ElectorConfig, LeaderElector};
pub use error::LeaseError;
pub use lease::{Acquire, Lease, LeaseConfig};
pub use record::LeaseRecord;
pub use source::{EpochSource, FixedEpoch};
pub use token::{default_process_id, FencingToken};
