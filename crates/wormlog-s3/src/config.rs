//! Where the bucket is and how to reach it: from an `s3://` URL or built in code.

use std::time::Duration;

/// Server-side encryption for every object written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sse {
    /// SSE-S3 (AES256, keys managed by S3).
    S3,
    /// SSE-KMS with this key id or ARN.
    Kms { key_id: String },
}

/// How to reach one bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Config {
    pub bucket: String,
    /// Key prefix streams live under (the URL's path), without leading or trailing `/`.
    pub prefix: String,
    /// A non-AWS endpoint such as `http://127.0.0.1:7480`.
    pub endpoint: Option<String>,
    /// `None`: from the AWS environment, else `us-east-1`.
    pub region: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`); needed for IP and loopback endpoints.
    pub path_style: bool,
    /// Static credentials; `None` uses the standard AWS chain (environment, profile, IMDS).
    pub credentials: Option<(String, String)>,
    pub sse: Option<Sse>,
    /// Whole operation, retries included.
    pub operation_timeout: Duration,
    /// One attempt.
    pub attempt_timeout: Duration,
    pub connect_timeout: Duration,
    /// SDK attempts per request (5xx, throttling, timeouts). 409 and 412 are never retried by
    /// the SDK: the writer decides about those.
    pub max_attempts: u32,
}

/// An `s3://` URL that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum S3UrlError {
    #[error("{0:?} is not an s3:// URL; use s3://bucket/prefix?endpoint=http://127.0.0.1:7480&region=us-east-1&path_style=true")]
    NotS3(String),
    #[error("the s3:// URL {0:?} names no bucket; use s3://bucket/prefix")]
    NoBucket(String),
    #[error("unknown parameter {0:?} in the s3:// URL; known: endpoint, region, path_style, sse, kms_key")]
    UnknownParameter(String),
    #[error("bad value {value:?} for {name} in the s3:// URL: {expected}")]
    BadValue {
        name: String,
        value: String,
        expected: String,
    },
}

impl S3Config {
    /// Defaults for `bucket`: AWS endpoint, region from the environment, virtual-hosted style.
    pub fn new(bucket: impl Into<String>) -> S3Config {
        S3Config {
            bucket: bucket.into(),
            prefix: String::new(),
            endpoint: None,
            region: None,
            path_style: false,
            credentials: None,
            sse: None,
            operation_timeout: Duration::from_secs(30),
            attempt_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
            max_attempts: 3,
        }
    }

    /// Parses `s3://bucket/prefix?endpoint=..&region=..&path_style=true&sse=aes256|kms&kms_key=..`.
    pub fn from_url(url: &str) -> Result<S3Config, S3UrlError> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| S3UrlError::NotS3(url.to_owned()))?;
        let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
        if bucket.is_empty() {
            return Err(S3UrlError::NoBucket(url.to_owned()));
        }
        let mut cfg = S3Config::new(bucket);
        cfg.prefix = prefix.trim_matches('/').to_owned();
        let mut kms_key = None;
        let mut sse = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value);
            let bad = |expected: &str| S3UrlError::BadValue {
                name: name.to_owned(),
                value: value.clone(),
                expected: expected.to_owned(),
            };
            match name {
                "endpoint" if value.starts_with("http://") || value.starts_with("https://") => {
                    cfg.endpoint = Some(value.trim_end_matches('/').to_owned())
                }
                "endpoint" => return Err(bad("an http:// or https:// URL")),
                "region" if !value.is_empty() => cfg.region = Some(value),
                "region" => return Err(bad("a region such as us-east-1")),
                "path_style" => {
                    cfg.path_style = match value.as_str() {
                        "true" | "1" | "" => true,
                        "false" | "0" => false,
                        _ => return Err(bad("true or false")),
                    }
                }
                "sse" => sse = Some(value),
                "kms_key" => kms_key = Some(value),
                other => return Err(S3UrlError::UnknownParameter(other.to_owned())),
            }
        }
        cfg.sse = match (sse.as_deref(), kms_key) {
            (None, None) => None,
            (Some("aes256") | Some("s3"), None) => Some(Sse::S3),
            (Some("kms") | None, Some(key_id)) => Some(Sse::Kms { key_id }),
            (Some(v), _) => {
                return Err(S3UrlError::BadValue {
                    name: "sse".into(),
                    value: v.to_owned(),
                    expected: "aes256, or kms with kms_key=<key id or ARN>".into(),
                })
            }
        };
        Ok(cfg)
    }
}

/// Decodes `%XX` escapes (endpoints and ARNs in query strings).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_url() {
        let c = S3Config::from_url(
            "s3://logs/prod/wormlog?endpoint=http%3A%2F%2F127.0.0.1%3A7480&region=eu-west-1&path_style=true&sse=kms&kms_key=arn:aws:kms:k",
        )
        .unwrap();
        assert_eq!(c.bucket, "logs");
        assert_eq!(c.prefix, "prod/wormlog");
        assert_eq!(c.endpoint.as_deref(), Some("http://127.0.0.1:7480"));
        assert_eq!(c.region.as_deref(), Some("eu-west-1"));
        assert!(c.path_style);
        assert_eq!(
            c.sse,
            Some(Sse::Kms {
                key_id: "arn:aws:kms:k".into()
            })
        );
        let plain = S3Config::from_url("s3://b").unwrap();
        assert_eq!(
            (plain.prefix.as_str(), plain.path_style, plain.sse),
            ("", false, None)
        );
    }

    #[test]
    fn refuses_bad_urls() {
        assert!(matches!(
            S3Config::from_url("s3:///p"),
            Err(S3UrlError::NoBucket(_))
        ));
        assert!(matches!(
            S3Config::from_url("s3://b?colour=red"),
            Err(S3UrlError::UnknownParameter(_))
        ));
        assert!(matches!(
            S3Config::from_url("s3://b?endpoint=ftp://x"),
            Err(S3UrlError::BadValue { .. })
        ));
        assert!(matches!(
            S3Config::from_url("s3://b?path_style=maybe"),
            Err(S3UrlError::BadValue { .. })
        ));
        assert!(matches!(
            S3Config::from_url("s3://b?sse=rot13"),
            Err(S3UrlError::BadValue { .. })
        ));
        assert!(matches!(
            S3Config::from_url("gs://b"),
            Err(S3UrlError::NotS3(_))
        ));
    }
}
