//! [`Lease`]: the leader lease at `P/lease`, as a step machine driven by an injected clock.
//! Each call sends at most a few requests and returns; the [`crate::LeaderElector`] (or a test)
//! decides when to call again.

use std::sync::Arc;
use std::time::Duration;

use wormlog_format::StreamKeys;
use wormlog_store::{Clock, ObjectStore, PutOptions, StoreError};

use crate::{FencingToken, LeaseError, LeaseRecord};

/// Which lease, for whom, for how long.
#[derive(Clone, Debug)]
pub struct LeaseConfig {
    pub root_prefix: String,
    pub stream: String,
    /// This candidate's id; unique per process.
    pub holder: String,
    /// How long a lease stays valid without renewal.
    pub duration: Duration,
    pub clock: Arc<dyn Clock>,
}

/// The outcome of one acquisition step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Acquire {
    /// This candidate holds the lease with this token.
    Acquired(FencingToken),
    /// Another holder's record is live; take it over if it stays unchanged for `remaining`.
    Waiting {
        holder: String,
        epoch: u64,
        remaining: Duration,
    },
}

#[derive(Clone, Debug)]
struct Held {
    token: FencingToken,
    etag: String,
    renew_count: u64,
    /// Monotonic time at which the last successful write of the record was *sent*.
    sent_at: Duration,
}

/// One candidate's view of the lease.
#[derive(Debug)]
pub struct Lease {
    store: Arc<dyn ObjectStore>,
    key: String,
    cfg: LeaseConfig,
    /// Another holder's record as first seen unchanged: (ETag, monotonic time seen).
    observed: Option<(String, Duration)>,
    held: Option<Held>,
}

impl Lease {
    pub fn new(store: Arc<dyn ObjectStore>, cfg: LeaseConfig) -> Result<Lease, LeaseError> {
        wormlog_format::validate_id("the holder id", &cfg.holder).map_err(LeaseError::Config)?;
        if cfg.duration < Duration::from_millis(10) {
            return Err(LeaseError::Config(
                "the lease duration must be at least 10 ms".into(),
            ));
        }
        let key = StreamKeys::new(&cfg.root_prefix, &cfg.stream)
            .map_err(|e| LeaseError::Config(e.to_string()))?
            .lease();
        Ok(Lease {
            store,
            key,
            cfg,
            observed: None,
            held: None,
        })
    }

    /// The lease object's key.
    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn config(&self) -> &LeaseConfig {
        &self.cfg
    }

    /// The record and its ETag, or `None` if no lease was ever taken.
    pub async fn read(&self) -> Result<Option<(LeaseRecord, String)>, LeaseError> {
        match self.store.get(&self.key).await {
            Ok(got) => Ok(Some((
                LeaseRecord::from_bytes(&self.key, &got.body)?,
                got.meta.etag,
            ))),
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The token while this candidate believes it leads: its last renewal was sent less than
    /// one duration ago.
    pub fn token(&self) -> Option<&FencingToken> {
        let now = self.cfg.clock.monotonic();
        self.held
            .as_ref()
            .filter(|h| now.saturating_sub(h.sent_at) < self.cfg.duration)
            .map(|h| &h.token)
    }

    /// When this candidate must stop believing it leads, as a monotonic time.
    pub fn deadline(&self) -> Option<Duration> {
        self.held.as_ref().map(|h| h.sent_at + self.cfg.duration)
    }

    fn record(&self, epoch: u64, renew_count: u64) -> LeaseRecord {
        LeaseRecord {
            holder: Some(self.cfg.holder.clone()),
            epoch,
            duration_ms: self.cfg.duration.as_millis() as u64,
            renew_count,
        }
    }

    /// One step of acquisition (protocol.md, Lease): create the lease if absent, take a
    /// released one at once, and take over a held one only after its record stayed unchanged
    /// for a full duration on this candidate's monotonic clock.
    pub async fn try_acquire(&mut self) -> Result<Acquire, LeaseError> {
        if let Some(t) = self.token() {
            return Ok(Acquire::Acquired(t.clone()));
        }
        self.held = None;
        let now = self.cfg.clock.monotonic();
        let current = self.read().await?;
        match current {
            None => {
                let rec = self.record(1, 0);
                match self
                    .store
                    .put_if_absent(&self.key, rec.to_bytes(), &PutOptions::default())
                    .await
                {
                    Ok(put) => Ok(self.took(rec.epoch, put.etag, now)),
                    // Another candidate created it first: watch it from the next step on.
                    Err(StoreError::AlreadyExists { .. }) => Ok(self.wait_again()),
                    Err(e) => Err(e.into()),
                }
            }
            Some((rec, etag)) if rec.holder.is_none() => self.take_over(&rec, &etag, now).await,
            Some((rec, etag)) => {
                let holder = rec.holder.clone().unwrap_or_default();
                let their_duration = Duration::from_millis(rec.duration_ms);
                match &self.observed {
                    Some((seen, since)) if *seen == etag => {
                        let waited = now.saturating_sub(*since);
                        if waited >= their_duration {
                            self.take_over(&rec, &etag, now).await
                        } else {
                            Ok(Acquire::Waiting {
                                holder,
                                epoch: rec.epoch,
                                remaining: their_duration - waited,
                            })
                        }
                    }
                    // First sight of this record (or it changed: the holder renewed).
                    _ => {
                        self.observed = Some((etag, now));
                        Ok(Acquire::Waiting {
                            holder,
                            epoch: rec.epoch,
                            remaining: their_duration,
                        })
                    }
                }
            }
        }
    }

    /// Compare-and-swap the record to `{me, epoch + 1}`. A 412 means another candidate moved
    /// first: start observing again.
    async fn take_over(
        &mut self,
        rec: &LeaseRecord,
        etag: &str,
        now: Duration,
    ) -> Result<Acquire, LeaseError> {
        let new = self.record(rec.epoch + 1, 0);
        match self
            .store
            .put_if_match(&self.key, new.to_bytes(), etag, &PutOptions::default())
            .await
        {
            Ok(put) => Ok(self.took(new.epoch, put.etag, now)),
            Err(
                StoreError::PreconditionFailed { .. }
                | StoreError::NotFound { .. }
                | StoreError::Conflict { .. },
            ) => Ok(self.wait_again()),
            Err(e) => Err(e.into()),
        }
    }

    fn took(&mut self, epoch: u64, etag: String, sent_at: Duration) -> Acquire {
        let token = FencingToken {
            epoch,
            holder: self.cfg.holder.clone(),
        };
        tracing::info!(key = %self.key, epoch, holder = %self.cfg.holder, "lease acquired");
        self.observed = None;
        self.held = Some(Held {
            token: token.clone(),
            etag,
            renew_count: 0,
            sent_at,
        });
        Acquire::Acquired(token)
    }

    fn wait_again(&mut self) -> Acquire {
        self.observed = None;
        Acquire::Waiting {
            holder: String::from("(another candidate)"),
            epoch: 0,
            remaining: Duration::ZERO,
        }
    }

    /// Renews with the same epoch (compare-and-swap on our last ETag). A 412 means leadership
    /// is lost; so does a deadline already passed. A transient error leaves the lease held
    /// until its deadline: call again soon.
    pub async fn renew(&mut self) -> Result<(), LeaseError> {
        let lost = || LeaseError::Lost {
            key: self.key.clone(),
        };
        if self.token().is_none() {
            self.held = None;
            return Err(lost());
        }
        let h = self.held.clone().expect("a token implies a held lease");
        let sent_at = self.cfg.clock.monotonic();
        let rec = self.record(h.token.epoch, h.renew_count + 1);
        match self
            .store
            .put_if_match(&self.key, rec.to_bytes(), &h.etag, &PutOptions::default())
            .await
        {
            Ok(put) => {
                self.held = Some(Held {
                    etag: put.etag,
                    renew_count: rec.renew_count,
                    sent_at,
                    ..h
                });
                Ok(())
            }
            Err(StoreError::PreconditionFailed { .. } | StoreError::NotFound { .. }) => {
                self.held = None;
                Err(lost())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Hands the lease back (holder none, same epoch) so a successor need not wait. Sends
    /// nothing unless this candidate still believes it holds the lease; a 412 (someone took
    /// it) is fine.
    pub async fn release(&mut self) -> Result<(), LeaseError> {
        let Some(h) = self.held.take() else {
            return Ok(());
        };
        if self.cfg.clock.monotonic().saturating_sub(h.sent_at) >= self.cfg.duration {
            return Ok(());
        }
        let rec = LeaseRecord {
            holder: None,
            ..self.record(h.token.epoch, h.renew_count + 1)
        };
        match self
            .store
            .put_if_match(&self.key, rec.to_bytes(), &h.etag, &PutOptions::default())
            .await
        {
            Ok(_) | Err(StoreError::PreconditionFailed { .. } | StoreError::NotFound { .. }) => {
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Releases a lease this holder id holds, from any process (`wormlog lease release`): reads
    /// the record and hands it back only if it names this holder.
    pub async fn release_by_holder(&mut self) -> Result<Option<u64>, LeaseError> {
        let Some((rec, etag)) = self.read().await? else {
            return Ok(None);
        };
        match &rec.holder {
            None => Ok(None),
            Some(h) if *h != self.cfg.holder => Err(LeaseError::NotHolder {
                key: self.key.clone(),
                holder: h.clone(),
                me: self.cfg.holder.clone(),
            }),
            Some(_) => {
                let released = LeaseRecord {
                    holder: None,
                    renew_count: rec.renew_count + 1,
                    ..rec.clone()
                };
                self.store
                    .put_if_match(
                        &self.key,
                        released.to_bytes(),
                        &etag,
                        &PutOptions::default(),
                    )
                    .await?;
                self.held = None;
                Ok(Some(rec.epoch))
            }
        }
    }

    /// Forgets the lease without a request: for a writer that learned from the log that a
    /// newer epoch holds the stream. A fenced writer never touches a lease it does not hold.
    pub fn abandon(&mut self) {
        self.held = None;
        self.observed = None;
    }
}

/// The lease as a token source: waits (on tokio timers) until this candidate holds it.
#[async_trait::async_trait]
impl crate::EpochSource for Lease {
    async fn acquire(&mut self) -> Result<FencingToken, LeaseError> {
        loop {
            match self.try_acquire().await? {
                Acquire::Acquired(t) => return Ok(t),
                Acquire::Waiting { remaining, .. } => {
                    let step = remaining.clamp(Duration::from_millis(5), self.cfg.duration / 3);
                    tokio::time::sleep(step).await;
                }
            }
        }
    }
}
