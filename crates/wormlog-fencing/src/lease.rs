//! [`Lease`]: the leader lease at `P/lease`, as a step machine driven by an injected clock.
//! Each call sends at most a few requests and returns; the [`crate::LeaderElector`] (or a test)
//! decides when to call again.

use std::sync::Arc;
use std::time::Duration;

use wormlog_format::StreamKeys;
use wormlog_store::{Clock, DefaultRetention, ObjectStore, PutOptions, StoreError};

use crate::tail::{LogReads, ReadRetry, TailError};
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
    /// Extra time a candidate waits beyond a holder's duration before taking over, for the
    /// two machines' clocks running at slightly different rates.
    pub drift_margin: Duration,
    pub clock: Arc<dyn Clock>,
}

impl LeaseConfig {
    /// The lease of `stream` (no root prefix) for `holder`, with the default drift margin
    /// ([`LeaseConfig::default_drift_margin`]).
    pub fn new(
        stream: impl Into<String>,
        holder: impl Into<String>,
        duration: Duration,
        clock: Arc<dyn Clock>,
    ) -> LeaseConfig {
        LeaseConfig {
            root_prefix: String::new(),
            stream: stream.into(),
            holder: holder.into(),
            duration,
            drift_margin: LeaseConfig::default_drift_margin(duration),
            clock,
        }
    }

    /// 5% of the duration: monotonic clocks on two healthy machines drift by parts per
    /// million, so this covers them with room to spare.
    pub fn default_drift_margin(duration: Duration) -> Duration {
        duration / 20
    }
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
    /// The log the lease is for: an epoch is issued only above the log's own.
    log: LogReads,
    /// Another holder's record as first seen unchanged: (ETag, monotonic time its read
    /// returned).
    observed: Option<(String, Duration)>,
    /// The highest epoch, and the longest duration, of any lease record this candidate has
    /// read.
    highest_seen: u64,
    longest_seen: Duration,
    held: Option<Held>,
    /// The bucket's default retention, read before the first write of the record.
    bucket_default: Option<Option<DefaultRetention>>,
}

impl Lease {
    pub fn new(store: Arc<dyn ObjectStore>, cfg: LeaseConfig) -> Result<Lease, LeaseError> {
        wormlog_format::validate_id("the holder id", &cfg.holder).map_err(LeaseError::Config)?;
        if cfg.duration < Duration::from_millis(10) {
            return Err(LeaseError::Config(
                "the lease duration must be at least 10 ms".into(),
            ));
        }
        if cfg.drift_margin >= cfg.duration {
            return Err(LeaseError::Config(
                "the drift margin must be shorter than the lease duration".into(),
            ));
        }
        let keys = StreamKeys::new(&cfg.root_prefix, &cfg.stream)
            .map_err(|e| LeaseError::Config(e.to_string()))?;
        let key = keys.lease();
        let log = LogReads::new(Arc::clone(&store), keys, ReadRetry::default());
        Ok(Lease {
            store,
            key,
            cfg,
            log,
            observed: None,
            highest_seen: 0,
            longest_seen: Duration::ZERO,
            held: None,
            bucket_default: None,
        })
    }

    /// How the record is written: as a housekeeping object, so that on a bucket with default
    /// retention each renewal's old version is retained for an hour, not for the years the
    /// default is meant for the log ([`PutOptions::housekeeping`]). The default is read once,
    /// before this candidate first writes, so a renewal never waits for it.
    async fn put_options(&mut self) -> Result<PutOptions, LeaseError> {
        let default = match self.bucket_default {
            Some(d) => d,
            None => {
                let d = match self.store.default_retention().await {
                    Ok(d) => d,
                    // A store without Object Lock (Cloudflare R2 answers NotImplemented) or
                    // credentials that may not read its configuration: the record gets
                    // whatever the bucket gives, as before; the lease must still work.
                    Err(e @ (StoreError::Unsupported { .. } | StoreError::Permanent { .. })) => {
                        tracing::warn!(key = %self.key, error = %e, "could not read the bucket's default retention; the lease record gets the bucket's own");
                        None
                    }
                    Err(e) => return Err(e.into()),
                };
                self.bucket_default = Some(d);
                d
            }
        };
        Ok(PutOptions::housekeeping(default, self.cfg.clock.now()))
    }

    /// The lease's state as metrics (a no-op without an exporter): `wormlog_lease_held`
    /// (1 while this candidate holds it) and `wormlog_lease_epoch` (the epoch it holds), per
    /// stream and holder.
    fn publish(&self, epoch: Option<u64>) {
        let labels = [
            ("stream", self.cfg.stream.clone()),
            ("holder", self.cfg.holder.clone()),
        ];
        metrics::gauge!("wormlog_lease_held", &labels).set(if epoch.is_some() { 1.0 } else { 0.0 });
        if let Some(e) = epoch {
            metrics::gauge!("wormlog_lease_epoch", &labels).set(e as f64);
        }
    }

    /// This candidate no longer holds the lease (lost, released, stepped down, fenced).
    fn forget_held(&mut self) {
        self.held = None;
        self.publish(None);
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
        match self.read_raw().await? {
            Some((record, etag)) => Ok(Some((record?, etag))),
            None => Ok(None),
        }
    }

    /// The record (or why it does not parse) and its ETag.
    async fn read_raw(
        &self,
    ) -> Result<Option<(Result<LeaseRecord, LeaseError>, String)>, LeaseError> {
        match self.store.get(&self.key).await {
            Ok(got) => Ok(Some((
                LeaseRecord::from_bytes(&self.key, &got.body),
                got.meta.etag,
            ))),
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The epoch to issue next: above the lease record's, above any record this candidate
    /// has read, and above the epoch holding the log (a lease created fresh on an existing
    /// log, or after its object was deleted, must not start again at 1).
    async fn next_epoch(&mut self, record_epoch: u64) -> Result<u64, LeaseError> {
        let log_epoch = match self.log.find_tail().await {
            Ok(tail) => tail.epoch(),
            Err(TailError::Store(e)) => return Err(e.into()),
            // A corrupt tail is the log's problem, reported by its readers; the lease can
            // still go above every record it knows.
            Err(TailError::Corrupt { .. }) => 0,
        };
        let highest = record_epoch.max(self.highest_seen).max(log_epoch);
        highest.checked_add(1).ok_or_else(|| {
            LeaseError::Config(format!(
                "no epoch can be issued above {highest}, the largest there is (set by hand with --epoch, or in the lease object); the stream cannot take a new leader"
            ))
        })
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
    /// for a full duration plus the drift margin on this candidate's monotonic clock, counted
    /// from when the read that first saw it *returned*. An epoch is always issued above the
    /// record's and above the log's ([`Lease::next_epoch`]).
    pub async fn try_acquire(&mut self) -> Result<Acquire, LeaseError> {
        if let Some(t) = self.token() {
            return Ok(Acquire::Acquired(t.clone()));
        }
        self.forget_held();
        let current = self.read_raw().await?;
        // After the read: a renewal that landed while the read was on its way is in what it
        // returned, so the wait must not start before the read came back.
        let now = self.cfg.clock.monotonic();
        match current {
            None => {
                let epoch = self.next_epoch(0).await?;
                let rec = self.record(epoch, 0);
                let opts = self.put_options().await?;
                match self
                    .store
                    .put_if_absent(&self.key, rec.to_bytes(), &opts)
                    .await
                {
                    Ok(put) => Ok(self.took(rec.epoch, put.etag, now)),
                    // Another candidate created it first: watch it from the next step on.
                    Err(StoreError::AlreadyExists { .. }) => Ok(self.wait_again()),
                    Err(e) => Err(e.into()),
                }
            }
            Some((Ok(rec), etag)) => {
                self.highest_seen = self.highest_seen.max(rec.epoch);
                self.longest_seen = self
                    .longest_seen
                    .max(Duration::from_millis(rec.duration_ms));
                if rec.holder.is_none() {
                    return self.take_over(rec.epoch, &etag, now).await;
                }
                let holder = rec.holder.clone().unwrap_or_default();
                let wait = Duration::from_millis(rec.duration_ms);
                self.observe_then_take(&etag, wait, now, rec.epoch, holder)
                    .await
            }
            // Unreadable (overwritten by hand, truncated): held by nobody we know. Wait as for
            // a holder with the longest duration we have seen (or our own), then replace it.
            Some((Err(e), etag)) => {
                tracing::warn!(key = %self.key, error = %e, "the lease record is unreadable; taking it over once it stays unchanged for a lease duration");
                let wait = self.cfg.duration.max(self.longest_seen);
                self.observe_then_take(&etag, wait, now, 0, "(unreadable lease)".into())
                    .await
            }
        }
    }

    /// Takes over the record with `etag` once it has stayed unchanged for `their_duration`
    /// plus the drift margin since this candidate first saw it.
    async fn observe_then_take(
        &mut self,
        etag: &str,
        their_duration: Duration,
        now: Duration,
        epoch: u64,
        holder: String,
    ) -> Result<Acquire, LeaseError> {
        let wait = their_duration + self.cfg.drift_margin;
        match &self.observed {
            Some((seen, since)) if seen == etag => {
                let waited = now.saturating_sub(*since);
                if waited >= wait {
                    self.take_over(epoch, etag, now).await
                } else {
                    Ok(Acquire::Waiting {
                        holder,
                        epoch,
                        remaining: wait - waited,
                    })
                }
            }
            // First sight of this record (or it changed: the holder renewed).
            _ => {
                self.observed = Some((etag.to_owned(), now));
                Ok(Acquire::Waiting {
                    holder,
                    epoch,
                    remaining: wait,
                })
            }
        }
    }

    /// Compare-and-swap the record (epoch `record_epoch`) to `{me, next epoch}`. A 412 means
    /// another candidate moved first: start observing again.
    async fn take_over(
        &mut self,
        record_epoch: u64,
        etag: &str,
        now: Duration,
    ) -> Result<Acquire, LeaseError> {
        let epoch = self.next_epoch(record_epoch).await?;
        let new = self.record(epoch, 0);
        let opts = self.put_options().await?;
        match self
            .store
            .put_if_match(&self.key, new.to_bytes(), etag, &opts)
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
        self.publish(Some(epoch));
        self.observed = None;
        self.highest_seen = self.highest_seen.max(epoch);
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
        let key = self.key.clone();
        let lost = || LeaseError::Lost { key: key.clone() };
        if self.token().is_none() {
            self.forget_held();
            return Err(lost());
        }
        let h = self.held.clone().expect("a token implies a held lease");
        let opts = self.put_options().await?;
        let sent_at = self.cfg.clock.monotonic();
        let rec = self.record(h.token.epoch, h.renew_count + 1);
        match self
            .store
            .put_if_match(&self.key, rec.to_bytes(), &h.etag, &opts)
            .await
        {
            // A renewal that took a whole duration came too late: this candidate stopped
            // believing it leads at its deadline, so the late success counts as lost.
            Ok(_) if self.cfg.clock.monotonic().saturating_sub(h.sent_at) >= self.cfg.duration => {
                self.forget_held();
                Err(lost())
            }
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
                self.forget_held();
                Err(lost())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Hands the lease back (holder none, same epoch) so a successor need not wait. Sends
    /// nothing unless this candidate still believes it holds the lease; a 412 (someone took
    /// it) is fine.
    pub async fn release(&mut self) -> Result<(), LeaseError> {
        let Some(h) = self.held.clone() else {
            return Ok(());
        };
        self.forget_held();
        if self.cfg.clock.monotonic().saturating_sub(h.sent_at) >= self.cfg.duration {
            return Ok(());
        }
        let rec = LeaseRecord {
            holder: None,
            ..self.record(h.token.epoch, h.renew_count + 1)
        };
        let opts = self.put_options().await?;
        match self
            .store
            .put_if_match(&self.key, rec.to_bytes(), &h.etag, &opts)
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
                let opts = self.put_options().await?;
                self.store
                    .put_if_match(&self.key, released.to_bytes(), &etag, &opts)
                    .await?;
                self.forget_held();
                Ok(Some(rec.epoch))
            }
        }
    }

    /// Forgets the lease without a request: for a writer that learned from the log that a
    /// newer epoch holds the stream. A fenced writer never touches a lease it does not hold.
    pub fn abandon(&mut self) {
        self.forget_held();
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
