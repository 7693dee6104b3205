//! Following a stream's tail: a [`Scan`] that, at the end of the log, keeps polling for the
//! next slot.
//!
//! ```text
//!  scan the listed log ─► GET slot n ─┬─ present ─► judge it, deliver, n += 1
//!                                     ├─ absent ──► idle: pause (growing), every k-th idle
//!                                     │             poll LIST after n: a later slot there?
//!                                     │               └─ re-read n..later (a writer may have
//!                                     │                  committed them since): purge or gap
//!                                     └─ transient error (after retries) ─► idle, try again
//! ```
//!
//! A follow ends only when stopped, or on what the protocol calls damage (a gap, corruption,
//! a discontinuity) or a store error that retrying cannot fix (denied, misconfigured).
//! Transient store errors, however long, only delay it.

use std::sync::Arc;
use std::time::Duration;

use wormlog_format::decode_segment;
use wormlog_store::StoreError;

use crate::fetch::{get_with_retries, list_page_with_retries, list_versions_with_retries};
use crate::{LogReader, ReadError, ReaderBug, Scan, ScanItem};

/// How a [`Follow`] polls for new segments.
#[derive(Clone, Copy, Debug)]
pub struct FollowPolicy {
    /// The first pause after finding no new segment.
    pub min_interval: Duration,
    /// The longest pause while idle (a new segment is delivered within about this long).
    pub max_interval: Duration,
    /// Every this many idle polls, one LIST checks for segments beyond a missing slot (a gap).
    pub gap_check_every: u32,
}

impl Default for FollowPolicy {
    fn default() -> Self {
        FollowPolicy {
            min_interval: Duration::from_millis(50),
            max_interval: Duration::from_millis(200),
            gap_check_every: 10,
        }
    }
}

/// A scan that, at the end of the log, keeps delivering new segments as they are committed.
/// It polls the next slot with a GET (no LIST per poll), backing off while idle, and ends
/// cleanly (`Ok(None)`) once stopped.
pub struct Follow {
    scan: Scan,
    policy: FollowPolicy,
    stop: tokio::sync::watch::Receiver<bool>,
    bug: Option<ReaderBug>,
}

/// Stops a [`Follow`] (from any task).
#[derive(Clone, Debug)]
pub struct FollowStop(Arc<tokio::sync::watch::Sender<bool>>);

impl FollowStop {
    pub fn stop(&self) {
        let _ = self.0.send(true);
    }
}

impl LogReader {
    /// Follows the stream from `from_seq`: the existing events, then new ones as they come.
    pub async fn follow(
        &self,
        from_seq: u64,
        policy: FollowPolicy,
    ) -> Result<(Follow, FollowStop), ReadError> {
        let scan = self.scan(from_seq).await?;
        let (tx, stop) = tokio::sync::watch::channel(false);
        let follow = Follow {
            scan,
            policy,
            stop,
            bug: self.bug,
        };
        Ok((follow, FollowStop(Arc::new(tx))))
    }
}

/// What one poll of the next slot found.
enum Poll {
    Delivered,
    Idle,
}

impl Follow {
    /// The next item; waits for new segments at the end of the log. `None` once stopped.
    pub async fn next(&mut self) -> Result<Option<ScanItem>, ReadError> {
        let mut interval = self.policy.min_interval;
        let mut idle_polls = 0u32;
        loop {
            if *self.stop.borrow() {
                return Ok(None);
            }
            match self.scan.next().await {
                Ok(Some(item)) => {
                    if matches!(item, ScanItem::Event(_)) {
                        metrics::counter!("wormlog_follow_events_total", "stream" => self.scan.keys.stream().to_owned())
                            .increment(1);
                    }
                    return Ok(Some(item));
                }
                Ok(None) => {}
                // A prefetched read failed even after its retries: drop the read-ahead and
                // go on slot by slot from where the rules stand.
                Err(ReadError::Store(e)) if e.is_transient() => {
                    tracing::debug!(error = %e, "follow: a read failed; polling again");
                }
                Err(e) => return Err(e),
            }
            if let Poll::Delivered = self.poll_next_slot().await? {
                interval = self.policy.min_interval;
                idle_polls = 0;
                continue;
            }
            if self.bug == Some(ReaderBug::FollowerStopsEarly) {
                return Ok(None); // the planted bug: the end of the log is taken for the end
            }
            idle_polls += 1;
            if idle_polls.is_multiple_of(self.policy.gap_check_every.max(1)) {
                self.check_gap().await?;
            }
            let mut stop = self.stop.clone();
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = stop.changed() => {}
            }
            interval = (interval * 3 / 2).min(self.policy.max_interval);
        }
    }

    /// GETs the slot after the last one judged. A slot found this way is delivered only once
    /// the listing of its versions shows it whole: on a versioned bucket a slot written again
    /// over a delete marker reads like any other, and the follow's first listing predates it.
    async fn poll_next_slot(&mut self) -> Result<Poll, ReadError> {
        let slot = self.scan.at.slot;
        if let Some(&deleted) = self.scan.shadowed.range(..=slot).next() {
            self.scan.finished = true;
            return Err(self.scan.slot_deleted(deleted));
        }
        let key = self.scan.keys.segment(slot);
        match get_with_retries(&*self.scan.store, &key).await {
            Ok(got) => {
                let versions = match list_versions_with_retries(&*self.scan.store, &key, None).await
                {
                    Ok(v) => v,
                    // Not judged yet: poll the slot again later, as after a failed GET.
                    Err(e) if e.is_transient() => return Ok(Poll::Idle),
                    Err(e) => return Err(ReadError::Store(e)),
                };
                if !wormlog_store::shadowed_keys(&versions).is_empty() {
                    self.scan.finished = true;
                    return Err(self.scan.slot_deleted(slot));
                }
                self.scan
                    .take(slot, Ok(decode_segment(&got.body)))
                    .await
                    .inspect_err(|_| self.scan.finished = true)?;
                Ok(Poll::Delivered)
            }
            Err(StoreError::NotFound { .. }) => Ok(Poll::Idle),
            Err(e) if e.is_transient() => Ok(Poll::Idle),
            Err(e) => Err(ReadError::Store(e)),
        }
    }

    /// A missing next slot with segments beyond it is not the end of the log: once re-read,
    /// a documented purge (passed) or a gap (an error).
    async fn check_gap(&mut self) -> Result<(), ReadError> {
        let slot = self.scan.at.slot;
        let prefix = self.scan.keys.log_prefix();
        let after = self.scan.keys.segment(slot);
        let page = match list_page_with_retries(&*self.scan.store, &prefix, Some(&after), 1).await {
            Ok(page) => page,
            Err(e) if e.is_transient() => return Ok(()), // look again at the next check
            Err(e) => return Err(ReadError::Store(e)),
        };
        let Some(next) = page
            .entries
            .first()
            .and_then(|e| self.scan.keys.parse_slot(&e.key))
        else {
            return Ok(());
        };
        match self.scan.settle_missing(slot, next - 1).await {
            Err(ReadError::Store(e)) if e.is_transient() => Ok(()),
            // Voids alone beyond: a writer is still filling these slots; wait for them.
            Err(ReadError::Pending { .. }) => Ok(()),
            other => other.inspect_err(|_| self.scan.finished = true),
        }
    }
}
