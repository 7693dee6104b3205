//! `wormlog policy`: AWS policies that make a stream's prefix WORM by configuration, not only
//! by wormlog's own behaviour. Pure functions of the arguments; printed as JSON.
//!
//! - bucket policy: create-only log and attachment writes (`s3:if-none-match`), no deletes or
//!   governance bypass but by a break-glass role, the bucket's lock, versioning and policy
//!   changed only by the break-glass role, TLS only, SSE-KMS with the given key, writes only
//!   from the writer role;
//! - `--iam`: the writer's IAM policy, exactly the requests a writer sends (no delete: a
//!   writer's capability probe leaves its objects to the lifecycle rule);
//! - `--lifecycle`: lifecycle rules that remove the log's noncurrent versions and expired
//!   delete markers only after the retention period, wormlog's housekeeping objects (lease
//!   versions, probe objects) after a day, and the parts of an attachment upload a writer
//!   never completed (it crashed or was killed mid-upload) after a day.

use clap::Args;
use serde_json::{json, Value};

use super::{CliError, CliResult, Context};

#[derive(Args, Debug, Clone)]
pub(crate) struct PolicyArgs {
    /// The bucket.
    #[arg(long, value_name = "B")]
    pub bucket: String,

    /// The key prefix streams live under (the s3:// URL's path).
    #[arg(long, value_name = "P", default_value = "")]
    pub prefix: String,

    /// The only role allowed to write (PutObject, retention, legal hold).
    #[arg(long, value_name = "ARN")]
    pub writer_role: Option<String>,

    /// The only role allowed to delete or bypass GOVERNANCE retention.
    #[arg(long, value_name = "ARN")]
    pub break_glass_role: Option<String>,

    /// Require SSE-KMS with this key on every write.
    #[arg(long, value_name = "ARN")]
    pub kms_key: Option<String>,

    /// Print the writer's least-privilege IAM policy instead.
    #[arg(long, conflicts_with = "lifecycle")]
    pub iam: bool,

    /// Print a lifecycle configuration instead (needs --retention-days).
    #[arg(long, requires = "retention_days")]
    pub lifecycle: bool,

    /// The retention period in days (with --lifecycle).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=36500))]
    pub retention_days: Option<u32>,
}

impl PolicyArgs {
    fn prefix(&self) -> String {
        match self.prefix.trim_matches('/') {
            "" => String::new(),
            p => format!("{p}/"),
        }
    }

    fn bucket_arn(&self) -> String {
        format!("arn:aws:s3:::{}", self.bucket)
    }

    /// Every object under the prefix.
    fn objects_arn(&self) -> String {
        format!("arn:aws:s3:::{}/{}*", self.bucket, self.prefix())
    }

    /// Log segments of every stream under the prefix.
    fn log_arn(&self) -> String {
        format!("arn:aws:s3:::{}/{}*/log/*", self.bucket, self.prefix())
    }

    /// Attachments (large payloads) of every stream under the prefix.
    fn attachments_arn(&self) -> String {
        format!(
            "arn:aws:s3:::{}/{}*/attachments/*",
            self.bucket,
            self.prefix()
        )
    }
}

pub(crate) async fn run(_ctx: &Context, args: PolicyArgs) -> CliResult<()> {
    if args.bucket.is_empty() || args.bucket.contains('/') {
        return Err(CliError::usage(
            "--bucket takes a bucket name, such as my-ledger",
        ));
    }
    let doc = if args.iam {
        writer_iam_policy(&args)
    } else if args.lifecycle {
        lifecycle(&args)
    } else {
        bucket_policy(&args)
    };
    out!(
        "{}",
        serde_json::to_string_pretty(&doc).expect("policies serialise")
    );
    Ok(())
}

/// The bucket policy for the stream prefix.
pub(crate) fn bucket_policy(a: &PolicyArgs) -> Value {
    let mut statements = vec![
        json!({
            "Sid": "WormlogRequireCreateOnlyLogWrites",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": [a.log_arn(), a.attachments_arn()],
            "Condition": {"Null": {"s3:if-none-match": "true"}}
        }),
        deny_unless_role(
            "WormlogDenyDeletesButBreakGlass",
            json!([
                "s3:DeleteObject",
                "s3:DeleteObjectVersion",
                "s3:BypassGovernanceRetention"
            ]),
            json!(a.objects_arn()),
            a.break_glass_role.iter().cloned().collect(),
        ),
        // The lock itself: without this, whoever may change the bucket's settings can lower
        // the default retention, suspend versioning or remove these very statements. The
        // account's root user can still delete a bucket policy that locks everyone out.
        deny_unless_role(
            "WormlogProtectLockVersioningAndPolicy",
            json!([
                "s3:PutBucketObjectLockConfiguration",
                "s3:PutBucketVersioning",
                "s3:PutBucketPolicy",
                "s3:DeleteBucketPolicy"
            ]),
            json!(a.bucket_arn()),
            a.break_glass_role.iter().cloned().collect(),
        ),
        json!({
            "Sid": "WormlogDenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [a.bucket_arn(), a.objects_arn()],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}
        }),
    ];
    if let Some(key) = &a.kms_key {
        statements.push(json!({
            "Sid": "WormlogRequireSseKms",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": a.objects_arn(),
            "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key}}
        }));
    }
    if let Some(writer) = &a.writer_role {
        let mut allowed = vec![writer.clone()];
        allowed.extend(a.break_glass_role.iter().cloned());
        statements.push(deny_unless_role(
            "WormlogWritesOnlyFromWriterRole",
            json!([
                "s3:PutObject",
                "s3:PutObjectRetention",
                "s3:PutObjectLegalHold"
            ]),
            json!(a.objects_arn()),
            allowed,
        ));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// Deny `actions` on `resource` to every principal but `allowed` (all, if none is named).
fn deny_unless_role(sid: &str, actions: Value, resource: Value, allowed: Vec<String>) -> Value {
    let mut s = json!({"Sid": sid, "Effect": "Deny", "Principal": "*", "Action": actions, "Resource": resource});
    if !allowed.is_empty() {
        s["Condition"] = json!({"ArnNotEquals": {"aws:PrincipalArn": allowed}});
    }
    s
}

/// What a writer sends at run time, and nothing more: create and read objects under the
/// prefix (with retention, legal hold and the housekeeping tag set on the PUT, multipart uploads
/// aborted after a failure), read their lock state, list keys and versions of the prefix (the
/// tail, delete markers), read the bucket's Object Lock configuration, and use the KMS key if
/// one is given. No delete: the writers' capability probe leaves its objects for the
/// lifecycle rule.
pub(crate) fn writer_iam_policy(a: &PolicyArgs) -> Value {
    let mut statements = vec![
        json!({
            "Sid": "WormlogReadWriteObjects",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:GetObject", "s3:PutObjectRetention", "s3:PutObjectLegalHold",
                       "s3:PutObjectTagging", "s3:AbortMultipartUpload",
                       "s3:GetObjectRetention", "s3:GetObjectLegalHold"],
            "Resource": a.objects_arn()
        }),
        json!({
            "Sid": "WormlogListPrefix",
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:ListBucketVersions"],
            "Resource": a.bucket_arn(),
            "Condition": {"StringLike": {"s3:prefix": format!("{}*", a.prefix())}}
        }),
        json!({
            "Sid": "WormlogReadBucketLockConfiguration",
            "Effect": "Allow",
            "Action": "s3:GetBucketObjectLockConfiguration",
            "Resource": a.bucket_arn()
        }),
    ];
    if let Some(key) = &a.kms_key {
        statements.push(json!({
            "Sid": "WormlogUseKmsKey",
            "Effect": "Allow",
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": key
        }));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// Lifecycle rules that only clean up after retention: the log's noncurrent versions expire
/// `retention_days` after they became noncurrent, and delete markers once nothing is left
/// under them; current segments are never expired. Housekeeping objects (tagged
/// `wormlog-housekeeping`: lease renewals, probe objects) are retained for an hour, so their
/// old versions expire after a day, and the probe's objects a day after they were written.
pub(crate) fn lifecycle(a: &PolicyArgs) -> Value {
    let days = a
        .retention_days
        .expect("clap requires --retention-days with --lifecycle");
    let (tag, value) = wormlog_store::HOUSEKEEPING_TAG;
    json!({
        "Rules": [
            {
                "ID": "wormlog-noncurrent-after-retention",
                "Status": "Enabled",
                "Filter": {"Prefix": a.prefix()},
                "NoncurrentVersionExpiration": {"NoncurrentDays": days},
                "Expiration": {"ExpiredObjectDeleteMarker": true}
            },
            {
                "ID": "wormlog-housekeeping-old-versions",
                "Status": "Enabled",
                "Filter": {"And": {"Prefix": a.prefix(), "Tags": [{"Key": tag, "Value": value}]}},
                "NoncurrentVersionExpiration": {"NoncurrentDays": 1}
            },
            {
                "ID": "wormlog-probe-objects",
                "Status": "Enabled",
                "Filter": {"Prefix": format!("{}.wormlog-probe/", a.prefix())},
                "Expiration": {"Days": 1},
                "NoncurrentVersionExpiration": {"NoncurrentDays": 1}
            },
            {
                // A writer aborts a failed multipart upload itself; one killed mid-upload
                // cannot, and S3 keeps (and bills) its parts until this rule aborts it.
                "ID": "wormlog-incomplete-uploads",
                "Status": "Enabled",
                "Filter": {"Prefix": a.prefix()},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}
            }
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> PolicyArgs {
        PolicyArgs {
            bucket: "ledger".into(),
            prefix: "/prod/".into(),
            writer_role: Some("arn:aws:iam::1:role/writer".into()),
            break_glass_role: Some("arn:aws:iam::1:role/break-glass".into()),
            kms_key: Some("arn:aws:kms:eu-west-1:1:key/k".into()),
            iam: false,
            lifecycle: false,
            retention_days: Some(2555),
        }
    }

    fn statement<'a>(doc: &'a Value, sid: &str) -> &'a Value {
        doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == sid)
            .unwrap_or_else(|| panic!("no {sid}"))
    }

    #[test]
    fn bucket_policy_has_every_statement() {
        let doc = bucket_policy(&args());
        assert_eq!(doc["Version"], "2012-10-17");
        assert_eq!(doc["Statement"].as_array().unwrap().len(), 6);
        let create_only = statement(&doc, "WormlogRequireCreateOnlyLogWrites");
        assert_eq!(create_only["Effect"], "Deny");
        assert_eq!(
            create_only["Resource"],
            json!([
                "arn:aws:s3:::ledger/prod/*/log/*",
                "arn:aws:s3:::ledger/prod/*/attachments/*"
            ])
        );
        let lock = statement(&doc, "WormlogProtectLockVersioningAndPolicy");
        assert_eq!(
            lock["Action"],
            json!([
                "s3:PutBucketObjectLockConfiguration",
                "s3:PutBucketVersioning",
                "s3:PutBucketPolicy",
                "s3:DeleteBucketPolicy"
            ])
        );
        assert_eq!(lock["Resource"], "arn:aws:s3:::ledger");
        assert_eq!(
            lock["Condition"]["ArnNotEquals"]["aws:PrincipalArn"],
            json!(["arn:aws:iam::1:role/break-glass"])
        );
        assert_eq!(create_only["Condition"]["Null"]["s3:if-none-match"], "true");
        let deletes = statement(&doc, "WormlogDenyDeletesButBreakGlass");
        assert_eq!(
            deletes["Action"],
            json!([
                "s3:DeleteObject",
                "s3:DeleteObjectVersion",
                "s3:BypassGovernanceRetention"
            ])
        );
        assert_eq!(
            deletes["Condition"]["ArnNotEquals"]["aws:PrincipalArn"],
            json!(["arn:aws:iam::1:role/break-glass"])
        );
        let tls = statement(&doc, "WormlogDenyInsecureTransport");
        assert_eq!(tls["Condition"]["Bool"]["aws:SecureTransport"], "false");
        assert_eq!(
            tls["Resource"],
            json!(["arn:aws:s3:::ledger", "arn:aws:s3:::ledger/prod/*"])
        );
        let kms = statement(&doc, "WormlogRequireSseKms");
        assert_eq!(
            kms["Condition"]["StringNotEquals"]["s3:x-amz-server-side-encryption-aws-kms-key-id"],
            "arn:aws:kms:eu-west-1:1:key/k"
        );
        let writer = statement(&doc, "WormlogWritesOnlyFromWriterRole");
        assert_eq!(
            writer["Condition"]["ArnNotEquals"]["aws:PrincipalArn"],
            json!([
                "arn:aws:iam::1:role/writer",
                "arn:aws:iam::1:role/break-glass"
            ])
        );
    }

    #[test]
    fn without_roles_deletes_are_denied_to_everyone_and_no_writer_statement_is_made() {
        let a = PolicyArgs {
            writer_role: None,
            break_glass_role: None,
            kms_key: None,
            prefix: String::new(),
            ..args()
        };
        let doc = bucket_policy(&a);
        assert_eq!(doc["Statement"].as_array().unwrap().len(), 4);
        let deletes = statement(&doc, "WormlogDenyDeletesButBreakGlass");
        assert!(
            deletes.get("Condition").is_none(),
            "no exception: nobody deletes"
        );
        assert_eq!(
            statement(&doc, "WormlogRequireCreateOnlyLogWrites")["Resource"][0],
            "arn:aws:s3:::ledger/*/log/*"
        );
    }

    #[test]
    fn writer_iam_policy_is_least_privilege() {
        let doc = writer_iam_policy(&args());
        let actions: Vec<String> = doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| match &s["Action"] {
                Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_owned()).collect(),
                Value::String(x) => vec![x.clone()],
                _ => vec![],
            })
            .collect();
        assert!(
            !actions
                .iter()
                .any(|a| a.contains("Delete") || a.contains("Bypass") || a == "s3:*"),
            "{actions:?}"
        );
        for needed in [
            "s3:PutObject",
            "s3:PutObjectTagging",
            "s3:ListBucketVersions",
            "s3:GetBucketObjectLockConfiguration",
            "kms:GenerateDataKey",
        ] {
            assert!(
                actions.contains(&needed.to_owned()),
                "{needed}: {actions:?}"
            );
        }
        assert_eq!(
            statement(&doc, "WormlogListPrefix")["Condition"]["StringLike"]["s3:prefix"],
            "prod/*"
        );
    }

    #[test]
    fn lifecycle_removes_noncurrent_versions_only_after_retention() {
        let doc = lifecycle(&args());
        let rule = &doc["Rules"][0];
        assert_eq!(rule["Filter"]["Prefix"], "prod/");
        assert_eq!(rule["NoncurrentVersionExpiration"]["NoncurrentDays"], 2555);
        assert_eq!(
            rule["Expiration"],
            json!({"ExpiredObjectDeleteMarker": true}),
            "current segments never expire"
        );
        let housekeeping = &doc["Rules"][1];
        assert_eq!(
            housekeeping["Filter"]["And"]["Tags"],
            json!([{"Key": "wormlog-housekeeping", "Value": "true"}])
        );
        assert_eq!(
            housekeeping["NoncurrentVersionExpiration"]["NoncurrentDays"],
            1
        );
        assert!(
            housekeeping.get("Expiration").is_none(),
            "the current lease stays"
        );
        assert_eq!(doc["Rules"][2]["Filter"]["Prefix"], "prod/.wormlog-probe/");
        let uploads = &doc["Rules"][3];
        assert_eq!(uploads["Filter"]["Prefix"], "prod/");
        assert_eq!(
            uploads["AbortIncompleteMultipartUpload"],
            json!({"DaysAfterInitiation": 1}),
            "parts of an upload no writer completed do not stay"
        );
    }
}
