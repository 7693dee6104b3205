//! The store capability probe: before a writer trusts a store, prove on this bucket and prefix
//! that it enforces what the protocol's safety rests on (protocol.md, "Store capability probe").
//! Some servers and gateways silently ignore conditional headers (Ceph RGW 16.2 ignores
//! `If-None-Match` on versioned buckets, so Object-Lock buckets on it fail here).
//!
//! ```text
//!  PUT probe If-None-Match:*  ─► must succeed          (segment upload, checksum accepted)
//!  PUT probe If-None-Match:*  ─► must give 412         (create-only: one object per slot, I1)
//!  PUT probe If-Match:<stale> ─► must fail             (compare-and-swap refuses stale ETags)
//!  PUT probe If-Match:<etag>  ─► must succeed          (compare-and-swap works: leases)
//!  HEAD probe                 ─► metadata round-trips   (else the writer reads headers by GET)
//!  LIST probe prefix          ─► finds the probe        (the writer finds the tail by LIST)
//!  PUT with a wrong SHA-256   ─► refused, reported      (attachments' bytes are checked;
//!                                                        doctor and init only)
//!  bucket default retention   ─► reported               (Object Lock, for WORM)
//! ```
//!
//! Each request is retried after a transient failure, so one 503 does not make a safe store
//! look unsafe. [`ensure_safe`] runs it for writers, again once its verdict is older than
//! [`VERDICT_TTL`]; `wormlog doctor` runs it on demand and prints [`ProbeReport`] as a table.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::{
    list_all, Clock, DeleteOptions, ObjectStore, PutOptions, SeededRng, StoreError, SystemClock,
};

/// The result of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
    /// Informational: not a safety requirement.
    Info,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
            Outcome::Info => "INFO",
        }
    }
}

/// One row of the probe's report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub outcome: Outcome,
    /// What was observed.
    pub detail: String,
    /// Why it matters.
    pub meaning: &'static str,
    /// A failed safety check makes writers refuse the store.
    pub safety: bool,
}

/// Everything the probe found on one store and prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeReport {
    pub store: String,
    pub prefix: String,
    pub checks: Vec<Check>,
    /// The probe's own object showed version ids: the bucket is versioned. `None` when the
    /// listing of versions failed or was not reached.
    pub versioned: Option<bool>,
}

impl ProbeReport {
    /// The first failed safety check, if any.
    pub fn first_failure(&self) -> Option<&Check> {
        self.checks
            .iter()
            .find(|c| c.safety && c.outcome == Outcome::Fail)
    }

    pub fn is_safe(&self) -> bool {
        self.first_failure().is_none()
    }
}

struct Probe {
    checks: Vec<Check>,
}

impl Probe {
    fn record(
        &mut self,
        name: &'static str,
        ok: bool,
        detail: String,
        meaning: &'static str,
        safety: bool,
    ) {
        let outcome = match (ok, safety) {
            (true, _) => Outcome::Pass,
            (false, true) => Outcome::Fail,
            (false, false) => Outcome::Info,
        };
        self.checks.push(Check {
            name,
            outcome,
            detail,
            meaning,
            safety,
        });
    }
}

/// What the probe does with the objects it wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cleanup {
    /// Delete them (with the GOVERNANCE bypass, which their one hour of retention needs):
    /// `doctor` and `init`, run with an operator's credentials.
    Delete,
    /// Leave them: a writer needs no delete permission at all. They are small, tagged
    /// [`crate::HOUSEKEEPING_TAG`] under `.wormlog-probe/`, and the lifecycle rule of
    /// `wormlog policy --lifecycle` expires them after a day.
    Leave,
}

/// Runs every check under `<prefix>.wormlog-probe/<random>/`; removes what it wrote if
/// `cleanup` says so and the store allows.
pub async fn probe(store: &dyn ObjectStore, prefix: &str) -> ProbeReport {
    probe_with(store, prefix, Cleanup::Delete).await
}

/// [`probe`], choosing what happens to the probe's objects.
pub async fn probe_with(store: &dyn ObjectStore, prefix: &str, cleanup: Cleanup) -> ProbeReport {
    let base = match prefix.trim_matches('/') {
        "" => String::new(),
        p => format!("{p}/"),
    };
    let dir = format!(
        "{base}.wormlog-probe/{}/",
        SeededRng::from_entropy().uuid().simple()
    );
    let key = format!("{dir}create-only");
    let mut p = Probe { checks: Vec::new() };

    let default = with_retries(|| store.default_retention()).await.0;
    // A housekeeping object: tagged for the lifecycle rule and, on a bucket with default
    // retention, retained for an hour of GOVERNANCE instead of the bucket's default.
    let mut opts = PutOptions::housekeeping(
        default.as_ref().ok().copied().flatten(),
        SystemClock::new().now(),
    );
    opts.metadata = BTreeMap::from([("wormlog-probe".to_owned(), "1".to_owned())]);
    let body = Bytes::from_static(b"{\"wormlog\":\"probe\"}\n");

    let first = match with_retries(|| store.put_if_absent(&key, body.clone(), &opts)).await {
        // An earlier attempt landed and its answer was lost: the object is ours.
        (Err(StoreError::AlreadyExists { .. }), true) => with_retries(|| store.head(&key))
            .await
            .0
            .map(|m| crate::PutResult { etag: m.etag }),
        (result, _) => result,
    };
    p.record(
        "segment upload",
        first.is_ok(),
        match &first {
            Ok(_) => "a create-only PUT with a CRC-32 checksum was accepted".into(),
            Err(e) => format!("a create-only PUT failed: {e}"),
        },
        "segments can be written",
        true,
    );
    let Ok(first) = first else {
        return finish(p, store, prefix, &dir, default, cleanup).await;
    };

    let second = with_retries(|| store.put_if_absent(&key, body.clone(), &opts))
        .await
        .0;
    p.record(
        "create-only (If-None-Match: *)",
        matches!(second, Err(StoreError::AlreadyExists { .. })),
        match &second {
            Err(StoreError::AlreadyExists { .. }) => "a second create of the same key was refused with 412".into(),
            Ok(_) => "a second create of the same key SUCCEEDED: the store ignores If-None-Match (Ceph RGW does on versioned buckets)".into(),
            Err(e) => format!("a second create failed unexpectedly: {e}"),
        },
        "each log slot is written once; a stale leader's write is refused",
        true,
    );

    let stale = with_retries(|| store.put_if_match(&key, body.clone(), "0123456789abcdef", &opts))
        .await
        .0;
    p.record(
        "compare-and-swap refuses (If-Match)",
        matches!(stale, Err(StoreError::PreconditionFailed { .. })),
        match &stale {
            Err(StoreError::PreconditionFailed { .. }) => {
                "a PUT with a stale ETag was refused with 412".into()
            }
            Ok(_) => "a PUT with a stale ETag SUCCEEDED: the store ignores If-Match".into(),
            Err(e) => format!("a PUT with a stale ETag failed otherwise: {e}"),
        },
        "a lease cannot be taken over by two candidates at once",
        true,
    );

    let current = match with_retries(|| store.head(&key)).await.0 {
        Ok(m) => m.etag,
        Err(_) => first.etag.clone(),
    };
    let swap = match with_retries(|| store.put_if_match(&key, body.clone(), &current, &opts)).await
    {
        // An earlier attempt landed (the ETag moved on because of it): the swap worked.
        (Err(StoreError::PreconditionFailed { .. }), true) => Ok(()),
        (result, _) => result.map(|_| ()),
    };
    p.record(
        "compare-and-swap accepts (If-Match)",
        swap.is_ok(),
        match &swap {
            Ok(_) => "a PUT with the current ETag (sent unquoted) succeeded".into(),
            Err(e) => format!("a PUT with the current ETag failed: {e}"),
        },
        "leases can be renewed and handed over",
        true,
    );

    let head = with_retries(|| store.head(&key)).await.0;
    let meta_ok =
        matches!(&head, Ok(m) if m.metadata.get("wormlog-probe").map(String::as_str) == Some("1"));
    p.record(
        "object metadata",
        meta_ok,
        if meta_ok {
            "x-amz-meta-* came back on HEAD".into()
        } else {
            "user metadata did not come back; writers read segment headers with GET instead".into()
        },
        "a 412 is resolved with one HEAD",
        false,
    );

    let listed = with_retries(|| list_all(store, &dir, None)).await.0;
    p.record(
        "ordered list",
        matches!(&listed, Ok(l) if l.iter().any(|e| e.key == key)),
        match &listed {
            Ok(l) => format!("LIST found {} probe object(s)", l.len()),
            Err(e) => format!("LIST failed: {e}"),
        },
        "writers and readers find the log's slots",
        true,
    );
    if cleanup == Cleanup::Delete {
        check_sha256(&mut p, store, &dir, &body, &opts).await;
    }
    finish(p, store, prefix, &dir, default, cleanup).await
}

/// Whether the store refuses bytes that do not match the SHA-256 sent with them, as an
/// attachment's upload relies on for its recorded SHA-256 to be one the store checked.
/// Informational (the log's safety does not rest on it, and `verify` reads the bytes back on
/// any store but AWS), and only where the probe deletes what it wrote (`doctor`, `init`):
/// on a store that does not check, the object is stored.
async fn check_sha256(
    p: &mut Probe,
    store: &dyn ObjectStore,
    dir: &str,
    body: &Bytes,
    opts: &PutOptions,
) {
    let key = format!("{dir}sha256-checked");
    let wrong = PutOptions {
        sha256: Some(crate::checksum::sha256(b"other bytes than these")),
        ..opts.clone()
    };
    let put = with_retries(|| store.put_if_absent(&key, body.clone(), &wrong))
        .await
        .0;
    let refused = matches!(&put, Err(e) if e.is_digest_mismatch());
    p.record(
        "uploads checked against their SHA-256",
        refused,
        match &put {
            Err(_) if refused => "a PUT whose bytes do not match its SHA-256 was refused".into(),
            Ok(_) => "a PUT whose bytes do not match its SHA-256 was STORED: this store does not check a document's bytes on upload (`verify` reads them back)".into(),
            Err(e) => format!("a PUT with a wrong SHA-256 failed otherwise: {e}"),
        },
        "a document's recorded SHA-256 is one the store checked",
        false,
    );
}

async fn finish(
    mut p: Probe,
    store: &dyn ObjectStore,
    prefix: &str,
    dir: &str,
    default: Result<Option<crate::DefaultRetention>, StoreError>,
    cleanup: Cleanup,
) -> ProbeReport {
    p.record(
        "Object Lock default retention",
        matches!(default, Ok(Some(_))),
        match &default {
            Ok(Some(d)) => format!("{d} on new objects"),
            Ok(None) => "none: segments are not WORM unless a writer sets retention".into(),
            Err(e) => format!("could not be read: {e}"),
        },
        "segments are WORM for audits",
        false,
    );
    // On a versioned bucket each delete removes one version (the compare-and-swap made two):
    // delete until the key is gone, or retention keeps it.
    let bypass = DeleteOptions {
        bypass_governance: true,
    };
    let versioned = with_retries(|| store.list_versions(dir))
        .await
        .0
        .ok()
        .map(|v| v.iter().any(|e| e.version_id.is_some()));
    let keys = match cleanup {
        Cleanup::Delete => list_all(store, dir, None).await.ok(),
        Cleanup::Leave => None,
    };
    if let Some(keys) = keys {
        for k in keys {
            for _ in 0..4 {
                if store.delete(&k.key, &bypass).await.is_err() || store.head(&k.key).await.is_err()
                {
                    break;
                }
            }
        }
    }
    ProbeReport {
        store: store.describe(),
        prefix: prefix.to_owned(),
        checks: p.checks,
        versioned,
    }
}

/// How long a verdict of [`ensure_safe`] holds in a process before a writer looks again: a
/// bucket's settings can change under a long-running process (versioning turned on, a
/// gateway put in front of it).
pub const VERDICT_TTL: Duration = Duration::from_secs(600);

/// How long a verdict kept in the bucket ([`verdict_key`]) is trusted: after that the next
/// writer probes again and writes a new one. As long as a process trusts its own verdict:
/// a bucket turned versioned on Ceph RGW (which then ignores If-None-Match) is noticed by
/// every writer within this long of the change, as it was when each process probed.
pub const STORED_VERDICT_TTL: Duration = VERDICT_TTL;

/// What a writer knows of a store it may write to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the probe saw a versioned bucket; `None` where the question does not arise
    /// (memory and directory stores) or it was not seen.
    pub versioned: Option<bool>,
}

/// A probe verdict as kept in the bucket.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredVerdict {
    /// Format marker: 1.
    pub wormlog_verdict: u32,
    /// The store it was reached on ([`ObjectStore::describe`]).
    pub store: String,
    pub prefix: String,
    pub safe: bool,
    pub versioned: Option<bool>,
    /// RFC 3339, the prober's clock.
    pub probed_at: String,
}

/// Where the verdict for writers under `prefix` is kept: beside the probe's own objects, a
/// housekeeping object (the lifecycle rule expires it with them).
pub fn verdict_key(prefix: &str) -> String {
    match prefix.trim_matches('/') {
        "" => ".wormlog-probe/verdict".to_owned(),
        p => format!("{p}/.wormlog-probe/verdict"),
    }
}

/// Keeps a report's verdict in the bucket, so that writers in other processes need one GET
/// instead of the whole probe; an unsafe one replaces a safe one, so nobody goes on trusting
/// that. Best effort: a failure only costs the next writer a probe.
pub async fn store_verdict(store: &dyn ObjectStore, report: &ProbeReport, now: crate::Timestamp) {
    let verdict = StoredVerdict {
        wormlog_verdict: 1,
        store: report.store.clone(),
        prefix: report.prefix.clone(),
        safe: report.is_safe(),
        versioned: report.versioned,
        probed_at: now.to_rfc3339(),
    };
    let body = Bytes::from(serde_json::to_vec(&verdict).expect("verdicts serialise"));
    let key = verdict_key(&report.prefix);
    let default = store.default_retention().await.ok().flatten();
    let opts = PutOptions::housekeeping(default, now);
    let written = match store.put_if_absent(&key, body.clone(), &opts).await {
        Err(StoreError::AlreadyExists { .. }) => match store.head(&key).await {
            Ok(m) => store
                .put_if_match(&key, body, &m.etag, &opts)
                .await
                .map(|_| ()),
            Err(e) => Err(e),
        },
        other => other.map(|_| ()),
    };
    if let Err(e) = written {
        tracing::debug!(key = %key, error = %e, "could not keep the probe verdict in the bucket");
    }
}

/// The verdict kept in the bucket, if it is for this store and prefix, safe, and younger
/// than [`STORED_VERDICT_TTL`]. Anything else (missing, unreadable, old) means: probe.
async fn stored_verdict(
    store: &dyn ObjectStore,
    prefix: &str,
    now: crate::Timestamp,
) -> Option<StoredVerdict> {
    let got = store.get(&verdict_key(prefix)).await.ok()?;
    let v: StoredVerdict = serde_json::from_slice(&got.body).ok()?;
    let at = crate::Timestamp::parse_rfc3339(&v.probed_at)?;
    let fresh = at <= now.plus(Duration::from_secs(300))
        && now.0.saturating_sub(at.0) < STORED_VERDICT_TTL.as_millis() as u64;
    // A verdict that does not say whether the bucket was versioned cannot be checked against
    // the log's listing: probe instead.
    (v.wormlog_verdict == 1
        && v.safe
        && v.versioned.is_some()
        && v.store == store.describe()
        && v.prefix == prefix
        && fresh)
        .then_some(v)
}

/// Verdicts by store and prefix: the monotonic time each was reached.
static VERIFIED: Mutex<Option<HashMap<String, (Duration, Verdict)>>> = Mutex::new(None);

/// Forgets the verdicts this process reached, as a new process would start: for tests.
#[doc(hidden)]
pub fn forget_verdicts() {
    *VERIFIED.lock() = None;
}

/// Proves a store safe for writers, at most once per [`VERDICT_TTL`] per store and prefix in
/// this process:
/// 1. a verdict this process reached lately;
/// 2. else the verdict kept in the bucket by `doctor` or an earlier writer (one GET);
/// 3. else the whole probe, whose verdict is then kept in the bucket.
///
/// Stores whose conditional writes this project implements itself (memory, directory) are
/// not probed. `fresh` skips 1 and 2: the caller saw something the verdict did not (a
/// versioned log where the verdict says unversioned).
pub async fn ensure_safe(
    store: &dyn ObjectStore,
    prefix: &str,
    clock: &dyn Clock,
    fresh: bool,
) -> Result<Verdict, ProbeReport> {
    if store.enforces_conditions_itself() {
        return Ok(Verdict { versioned: None });
    }
    let id = format!("{}\u{0}{prefix}", store.describe());
    let now = clock.monotonic();
    let cached = VERIFIED
        .lock()
        .as_ref()
        .and_then(|v| v.get(&id).copied())
        .filter(|(at, _)| now.saturating_sub(*at) < VERDICT_TTL);
    if let (Some((_, verdict)), false) = (cached, fresh) {
        return Ok(verdict);
    }
    let kept = match fresh {
        false => stored_verdict(store, prefix, clock.now()).await,
        true => None,
    };
    let verdict = match kept {
        Some(v) => Verdict {
            versioned: v.versioned,
        },
        None => {
            let report = probe_with(store, prefix, Cleanup::Leave).await;
            store_verdict(store, &report, clock.now()).await;
            if !report.is_safe() {
                return Err(report);
            }
            Verdict {
                versioned: report.versioned,
            }
        }
    };
    VERIFIED
        .lock()
        .get_or_insert_with(HashMap::new)
        .insert(id, (now, verdict));
    Ok(verdict)
}

/// Runs one probe request, again after a transient failure (up to 4 attempts): a single 503
/// must not make a safe store look unsafe. `retried` tells the caller whether an earlier
/// attempt may have landed, so it can read a 412 on its own probe key as its own.
async fn with_retries<T, F, Fut>(mut call: F) -> (Result<T, StoreError>, bool)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut attempt = 0u32;
    loop {
        match call().await {
            Err(e) if e.is_transient() && attempt < 3 => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
            }
            other => return (other, attempt > 0),
        }
    }
}
