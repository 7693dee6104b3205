//! `wormlog doctor`: the store capability probe as a table (Markdown, so it pastes into docs).
//! Exit 1 when a safety check fails: writers would refuse this store.
//!
//! `--read-only` (for auditors' read-only credentials), and `doctor` whose probe finds its
//! writes denied, check what can be checked without writing: versioning, Object Lock and its
//! default retention, the bucket policy's statements, Block Public Access and default
//! encryption. Create-only and If-Match cannot be proven without writing; the report says so.
//! A bucket that does not exist is a store error (exit 4), not a finding.

use clap::Args;
use serde_json::Value;
use wormlog_store::probe::{probe, Outcome, ProbeReport};
use wormlog_store::{BucketSettings, ObjectStore, Setting, StoreError};

use super::{CliError, CliResult, Context};

#[derive(Args, Debug)]
pub(crate) struct DoctorArgs {
    /// Check the bucket's settings without writing anything (for read-only credentials).
    #[arg(long)]
    pub read_only: bool,
}

pub(crate) async fn run(ctx: &Context, args: DoctorArgs) -> CliResult<()> {
    let store = &*ctx.store.store;
    let settings = read_settings(store).await?;
    let prefix = match ctx.store.root_prefix.as_str() {
        "" => "(none)",
        p => p,
    };
    out!("wormlog doctor: {}, prefix {prefix}\n", store.describe());
    if args.read_only {
        return read_only_report(store, settings).await;
    }
    let report = probe(store, &ctx.store.root_prefix).await;
    if writes_denied(&report) {
        out!(
            "The probe's first write was refused (access denied): these credentials are read-only."
        );
        out!("Running the read-only checks instead.\n");
        return read_only_report(store, settings).await;
    }
    print_table(
        report
            .checks
            .iter()
            .map(|c| (c.name.to_owned(), c.outcome, c.detail.clone(), c.meaning)),
    );
    match report.first_failure() {
        None => {
            // Writers in other processes read this instead of probing themselves.
            let now = wormlog_store::Clock::now(&wormlog_store::SystemClock::new());
            wormlog_store::probe::store_verdict(store, &report, now).await;
            out!(
                "verdict: safe for wormlog writers (kept in {} for writers, 10 minutes)",
                wormlog_store::probe::verdict_key(&report.prefix)
            );
            Ok(())
        }
        Some(c) => Err(CliError::violation(format!(
            "{} is not safe for wormlog writers: \"{}\" failed ({}); writers refuse to open on it",
            report.store, c.name, c.detail
        ))),
    }
}

/// The bucket's settings; a bucket that does not exist is exit 4.
async fn read_settings(store: &dyn ObjectStore) -> CliResult<Option<BucketSettings>> {
    match store.bucket_settings().await {
        Ok(Some(s)) => Ok(Some(s)),
        Err(StoreError::NotFound { key }) => Err(CliError::store(format!(
            "the bucket {key} does not exist; check the --store URL, or create it with `wormlog init`"
        ))),
        Err(e) => Err(CliError::store(format!(
            "reading the bucket's settings failed: {e}"
        ))),
        // A directory that does not exist was refused before the command ran (exit 2).
        Ok(None) => Ok(None),
    }
}

/// The probe's first step (a create-only PUT) was refused for want of permission.
fn writes_denied(report: &ProbeReport) -> bool {
    report.checks.first().is_some_and(|c| {
        c.outcome == Outcome::Fail
            && ["AccessDenied", "Access Denied", "HTTP 403"]
                .iter()
                .any(|s| c.detail.contains(s))
    })
}

type Row = (String, Outcome, String, &'static str);

fn print_table(rows: impl Iterator<Item = Row>) {
    out!("| check | result | observed | what it means |");
    out!("|---|---|---|---|");
    for (name, outcome, detail, meaning) in rows {
        let result = match outcome {
            Outcome::Fail => "**FAIL**",
            o => o.as_str(),
        };
        out!("| {name} | {result} | {detail} | {meaning} |");
    }
    out!();
}

async fn read_only_report(
    store: &dyn ObjectStore,
    settings: Option<BucketSettings>,
) -> CliResult<()> {
    let rows = match settings {
        Some(s) => bucket_rows(&s),
        None => directory_rows(store).await?,
    };
    print_table(rows.into_iter());
    out!(
        "verdict: read-only checks done; create-only and If-Match were not tested (that needs \
         writes): run `wormlog doctor` with a writer's credentials to prove them"
    );
    Ok(())
}

/// A row for a setting: PASS when `good` says the value is what WORM needs, INFO otherwise
/// (read-only findings inform an audit; they never stop writers).
fn row<T>(
    name: &str,
    setting: &Setting<T>,
    show: impl Fn(&T) -> String,
    good: impl Fn(&T) -> bool,
    unset: &str,
    meaning: &'static str,
) -> Row {
    let (outcome, detail) = match setting {
        Ok(Some(v)) => (
            if good(v) {
                Outcome::Pass
            } else {
                Outcome::Info
            },
            show(v),
        ),
        Ok(None) => (Outcome::Info, unset.to_owned()),
        Err(reason) => (Outcome::Info, format!("could not be read: {reason}")),
    };
    (name.to_owned(), outcome, detail, meaning)
}

fn bucket_rows(s: &BucketSettings) -> Vec<Row> {
    let mut rows = vec![
        row(
            "versioning",
            &s.versioning,
            String::clone,
            |v| v == "Enabled",
            "never enabled",
            "Object Lock needs it; deletions leave markers that readers detect",
        ),
        row(
            "Object Lock",
            &s.object_lock,
            |on| {
                if *on {
                    "enabled".into()
                } else {
                    "not enabled".into()
                }
            },
            |on| *on,
            "not enabled",
            "segments can be made WORM",
        ),
        row(
            "Object Lock default retention",
            &s.default_retention,
            |d| format!("{d} on new objects"),
            |_| true,
            "none: segments are not WORM unless a writer sets retention",
            "segments are WORM for audits",
        ),
    ];
    let policy: Setting<Value> = match &s.policy {
        Ok(Some(text)) => serde_json::from_str(text)
            .map(Some)
            .map_err(|e| format!("not valid JSON ({e})")),
        Ok(None) => Ok(None),
        Err(e) => Err(e.clone()),
    };
    for (name, finding, meaning) in [
        (
            "policy: create-only log writes",
            PolicyFinding::CreateOnly,
            "a PUT without If-None-Match is refused by the bucket itself",
        ),
        (
            "policy: TLS only",
            PolicyFinding::TlsOnly,
            "requests over plain HTTP are refused",
        ),
        (
            "policy: deletes denied",
            PolicyFinding::DeletesDenied,
            "objects cannot be deleted (but by a break-glass role)",
        ),
    ] {
        rows.push(row(
            name,
            &policy,
            |doc| match finding.find(doc) {
                Some(sid) => format!("statement {sid}"),
                None => "no such statement".into(),
            },
            |doc| finding.find(doc).is_some(),
            "no bucket policy",
            meaning,
        ));
    }
    rows.push(row(
        "Block Public Access",
        &s.public_access_block,
        |p| {
            if p.all_on() {
                "all four settings on".into()
            } else {
                format!("{p:?}")
            }
        },
        |p| p.all_on(),
        "not configured",
        "the log cannot be made public by an ACL or policy",
    ));
    rows.push(row(
        "default encryption",
        &s.encryption,
        String::clone,
        |_| true,
        "none",
        "objects are encrypted at rest",
    ));
    rows
}

async fn directory_rows(store: &dyn ObjectStore) -> CliResult<Vec<Row>> {
    let default = store
        .default_retention()
        .await
        .map_err(|e| CliError::store(format!("reading the store's settings failed: {e}")))?;
    Ok(vec![
        (
            "conditional writes".into(),
            Outcome::Pass,
            "enforced by wormlog itself on this store".into(),
            "writers need no probe here",
        ),
        row(
            "default retention",
            &Ok(default),
            |d| format!("{d} on new objects"),
            |_| true,
            "none",
            "wormlog refuses to delete or shorten retention",
        ),
        (
            "enforcement".into(),
            Outcome::Info,
            "anyone with write access to the directory can delete or change files".into(),
            "verify detects it; only an object store with Object Lock prevents it",
        ),
    ])
}

/// Statements of a bucket policy that make the log WORM by configuration.
#[derive(Clone, Copy)]
enum PolicyFinding {
    /// Deny `s3:PutObject` when `s3:if-none-match` is absent.
    CreateOnly,
    /// Deny everything when `aws:SecureTransport` is false.
    TlsOnly,
    /// Deny `s3:DeleteObject` or `s3:DeleteObjectVersion`.
    DeletesDenied,
}

impl PolicyFinding {
    /// The Sid (or index) of the first statement that does it.
    fn find(self, doc: &Value) -> Option<String> {
        let statements = match &doc["Statement"] {
            Value::Array(a) => a.clone(),
            s @ Value::Object(_) => vec![s.clone()],
            _ => Vec::new(),
        };
        statements.iter().enumerate().find_map(|(i, s)| {
            let deny = s["Effect"] == "Deny";
            let acts = actions(&s["Action"]);
            let any = |wanted: &[&str]| {
                acts.iter()
                    .any(|a| a == "s3:*" || a == "*" || wanted.contains(&a.as_str()))
            };
            let hit = deny
                && match self {
                    PolicyFinding::CreateOnly => {
                        any(&["s3:PutObject"])
                            && condition(s, "Null", "s3:if-none-match") == Some("true")
                    }
                    PolicyFinding::TlsOnly => {
                        condition(s, "Bool", "aws:SecureTransport") == Some("false")
                    }
                    PolicyFinding::DeletesDenied => {
                        any(&["s3:DeleteObject", "s3:DeleteObjectVersion"])
                    }
                };
            hit.then(|| s["Sid"].as_str().map_or(format!("#{i}"), str::to_owned))
        })
    }
}

fn actions(v: &Value) -> Vec<String> {
    match v {
        Value::String(a) => vec![a.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// `Condition.<op>.<key>` as a string (AWS also accepts a one-element array).
fn condition<'a>(s: &'a Value, op: &str, key: &str) -> Option<&'a str> {
    let v = &s["Condition"][op][key];
    v.as_str().or_else(|| v[0].as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::policy::{bucket_policy, PolicyArgs};

    #[test]
    fn the_policy_wormlog_prints_has_every_finding_and_an_empty_one_none() {
        let args = PolicyArgs {
            bucket: "ledger".into(),
            prefix: String::new(),
            writer_role: None,
            break_glass_role: Some("arn:aws:iam::1:role/bg".into()),
            kms_key: None,
            iam: false,
            lifecycle: false,
            retention_days: None,
        };
        let doc = bucket_policy(&args);
        for f in [
            PolicyFinding::CreateOnly,
            PolicyFinding::TlsOnly,
            PolicyFinding::DeletesDenied,
        ] {
            assert!(f.find(&doc).is_some());
        }
        let empty = serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:DeleteObject", "Resource": "*"}
        ]});
        assert!(PolicyFinding::DeletesDenied.find(&empty).is_none());
        assert!(PolicyFinding::CreateOnly.find(&empty).is_none());
    }

    fn report_whose_first_check(outcome: Outcome, detail: &str) -> ProbeReport {
        ProbeReport {
            store: "s3://b".into(),
            prefix: String::new(),
            checks: vec![wormlog_store::probe::Check {
                name: "segment upload",
                outcome,
                detail: detail.into(),
                meaning: "",
                safety: true,
            }],
            versioned: None,
        }
    }

    #[test]
    fn a_probe_refused_for_want_of_permission_falls_back_to_the_read_only_checks() {
        let denied = "put on x was refused: AccessDenied: Access Denied";
        assert!(writes_denied(&report_whose_first_check(
            Outcome::Fail,
            denied
        )));
        assert!(!writes_denied(&report_whose_first_check(
            Outcome::Fail,
            "NoSuchBucket"
        )));
        assert!(!writes_denied(&report_whose_first_check(
            Outcome::Pass,
            denied
        )));
    }
}
