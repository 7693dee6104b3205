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

/// Runs the lease in the background. Dropping it stops the task without releasing; either
/// way, the channel shows `None` ("not leading") once the task is gone.
pub struct LeaderElector {
    token: watch::Receiver<Option<FencingToken>>,
    commands: mpsc::UnboundedSender<Command>,
    task: tokio::task::JoinHandle<()>,
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
        let task = tokio::spawn(run(lease, Publisher(tx), rx));
        Ok(LeaderElector {
            token,
            commands,
            task,
        })
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

    /// Stops the elector at once, as a crash would: whatever request is in flight is
    /// abandoned, nothing is released, and the channel shows "not leading".
    pub fn abort(&self) {
        self.task.abort();
    }

    /// Stops campaigning and releases the lease if held, so a successor need not wait.
    pub async fn stop(&self) {
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

/// Publishes the token; shows "not leading" when dropped, so every way the task ends (a
/// stop, a dropped elector, an abort, a panic) leaves no stale token behind.
struct Publisher(watch::Sender<Option<FencingToken>>);

impl Publisher {
    fn publish(&self, now_leading: Option<FencingToken>) {
        self.0.send_if_modified(|t| {
            let changed = *t != now_leading;
            *t = now_leading;
            changed
        });
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.0.send_replace(None);
    }
}

/// What one step while leading came to.
enum Renewal {
    Renewed(FencingToken),
    /// Refused (412), too late, or not back by the deadline: the lease is no longer ours.
    Lost,
}

/// One step while leading: renew, but never past the deadline. If the renewal has not
/// succeeded by then, step down at the deadline without waiting for it (a renewal that
/// succeeds later counts as lost, [`Lease::renew`]).
async fn renew_or_step_down(lease: &mut Lease) -> Result<Renewal, LeaseError> {
    let left = lease
        .deadline()
        .map(|d| d.saturating_sub(lease.config().clock.monotonic()))
        .unwrap_or_default();
    let renewed = tokio::select! {
        r = lease.renew() => Some(r),
        _ = tokio::time::sleep(left) => None,
    };
    match renewed {
        Some(Ok(())) => match lease.token().cloned() {
            Some(t) => Ok(Renewal::Renewed(t)),
            None => Ok(Renewal::Lost),
        },
        Some(Err(LeaseError::Lost { .. })) => Ok(Renewal::Lost),
        // Transient: still leader until the deadline; try again sooner.
        Some(Err(e)) => Err(e),
        None => {
            lease.abandon();
            Ok(Renewal::Lost)
        }
    }
}

async fn run(mut lease: Lease, token: Publisher, mut commands: mpsc::UnboundedReceiver<Command>) {
    loop {
        let step = match lease.token() {
            Some(_) => match renew_or_step_down(&mut lease).await {
                Ok(Renewal::Renewed(t)) => Ok(Acquire::Acquired(t)),
                Ok(Renewal::Lost) => {
                    // Say so before anything else: campaigning again can take a while.
                    tracing::warn!(key = lease.key(), "leadership lost: stepping down");
                    token.publish(None);
                    lease.try_acquire().await
                }
                Err(e) => Err(e),
            },
            None => lease.try_acquire().await,
        };
        if let Err(e) = &step {
            tracing::warn!(key = lease.key(), error = %e, "lease step failed");
        }
        token.publish(lease.token().cloned());
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
                    token.publish(None);
                }
                Some(Command::Stop(done)) => {
                    let _ = lease.release().await;
                    token.publish(None);
                    let _ = done.send(());
                    return;
                }
                None => return,
            },
        }
    }
}
