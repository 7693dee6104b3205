//! [`LeaderElector`]: a tokio task that keeps trying to lead, renews while it leads, steps
//! down when a renewal is refused or its deadline passes, and publishes the current token on a
//! watch channel (`None` while not leading).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use wormlog_store::ObjectStore;

use crate::{Acquire, FencingToken, Lease, LeaseConfig, LeaseError};

/// Settings of an elector.
#[derive(Clone, Debug)]
pub struct ElectorConfig {
    pub lease: LeaseConfig,
}

enum Command {
    /// Stop campaigning; release the lease if held.
    Stop(oneshot::Sender<()>),
    /// The log fenced our epoch: forget the lease without a request, campaign again.
    Abandon,
}

/// Runs the lease in the background. Dropping it stops the task without releasing.
pub struct LeaderElector {
    token: watch::Receiver<Option<FencingToken>>,
    commands: mpsc::UnboundedSender<Command>,
}

impl LeaderElector {
    /// Starts campaigning for the lease of `cfg.lease.stream`.
    pub fn start(
        store: Arc<dyn ObjectStore>,
        cfg: ElectorConfig,
    ) -> Result<LeaderElector, LeaseError> {
        let lease = Lease::new(store, cfg.lease)?;
        let (tx, token) = watch::channel(None);
        let (commands, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(lease, tx, rx));
        Ok(LeaderElector { token, commands })
    }

    /// The token while leading.
    pub fn current(&self) -> Option<FencingToken> {
        self.token.borrow().clone()
    }

    /// A receiver that sees every change of leadership (give it to a `LogWriter`).
    pub fn watch(&self) -> watch::Receiver<Option<FencingToken>> {
        self.token.clone()
    }

    /// Waits until this process leads; returns its token.
    pub async fn leadership(&self) -> FencingToken {
        let mut rx = self.token.clone();
        loop {
            if let Some(t) = rx.borrow_and_update().clone() {
                return t;
            }
            if rx.changed().await.is_err() {
                // The task ended; it never leads again.
                std::future::pending::<()>().await;
            }
        }
    }

    /// The log refused our epoch (Fenced): step down without touching the lease.
    pub fn abandon(&self) {
        let _ = self.commands.send(Command::Abandon);
    }

    /// Stops campaigning and releases the lease if held, so a successor need not wait.
    pub async fn stop(self) {
        let (done, wait) = oneshot::channel();
        if self.commands.send(Command::Stop(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

/// How long to sleep before the next step.
fn pause(lease: &Lease, step: &Result<Acquire, LeaseError>) -> Duration {
    let third = lease.config().duration / 3;
    let floor = Duration::from_millis(5);
    match step {
        Ok(Acquire::Acquired(_)) => third,
        Ok(Acquire::Waiting { remaining, .. }) => (*remaining).min(third).max(floor),
        Err(_) => third.max(floor),
    }
}

async fn run(
    mut lease: Lease,
    token: watch::Sender<Option<FencingToken>>,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    loop {
        let step = match lease.token() {
            Some(_) => match lease.renew().await {
                Ok(()) => Ok(Acquire::Acquired(lease.token().cloned().expect("renewed"))),
                Err(LeaseError::Lost { .. }) => {
                    tracing::warn!(key = lease.key(), "leadership lost: stepping down");
                    lease.try_acquire().await
                }
                // Transient: still leader until the deadline; try again sooner.
                Err(e) => Err(e),
            },
            None => lease.try_acquire().await,
        };
        if let Err(e) = &step {
            tracing::warn!(key = lease.key(), error = %e, "lease step failed");
        }
        let now_leading = lease.token().cloned();
        token.send_if_modified(|t| {
            let changed = *t != now_leading;
            *t = now_leading.clone();
            changed
        });
        let mut wait = pause(&lease, &step);
        if let Some(deadline) = lease.deadline() {
            // Wake before the deadline to step down on time even if renewals keep failing.
            let left = deadline.saturating_sub(lease.config().clock.monotonic());
            wait = wait.min(left.max(Duration::from_millis(1)));
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            cmd = commands.recv() => match cmd {
                Some(Command::Abandon) => {
                    lease.abandon();
                    token.send_replace(None);
                }
                Some(Command::Stop(done)) => {
                    let _ = lease.release().await;
                    token.send_replace(None);
                    let _ = done.send(());
                    return;
                }
                None => return,
            },
        }
    }
}
