//! [`EpochSource`]: where fencing tokens come from. The lease is one source; anything that
//! issues unique, increasing tokens (a Kubernetes Lease's transitions, an etcd revision) is
//! just as safe, because the log itself fences stale tokens.

use async_trait::async_trait;

use crate::{FencingToken, LeaseError};

/// Issues fencing tokens: each epoch at most once, each higher than any issued before.
#[async_trait]
pub trait EpochSource: Send + Sync {
    /// A token for this process to write with (waits until it is this process's turn).
    async fn acquire(&mut self) -> Result<FencingToken, LeaseError>;
}

/// A token decided elsewhere (`--epoch N`, a value read from etcd).
#[derive(Clone, Debug)]
pub struct FixedEpoch(pub FencingToken);

#[async_trait]
impl EpochSource for FixedEpoch {
    async fn acquire(&mut self) -> Result<FencingToken, LeaseError> {
        Ok(self.0.clone())
    }
}
