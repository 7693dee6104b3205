//! The real S3 servers the tests run against, started by `scripts/rgw.sh` and
//! `scripts/moto.sh` (which `scripts/test.sh` runs first). A server that does not answer is a
//! test failure with a message saying how to start it, never a silent skip.

use std::sync::Arc;
use std::time::Duration;

use wormlog_s3::{S3Config, S3Store};
use wormlog_store::conformance::Subject;
use wormlog_store::{InitOptions, ObjectStore, SeededRng};

/// One S3 server under test.
#[derive(Clone, Copy, Debug)]
pub struct Server {
    pub name: &'static str,
    endpoint_var: &'static str,
    default_endpoint: &'static str,
    access_key: &'static str,
    secret_key: &'static str,
    script: &'static str,
}

/// Ceph RGW 16.2 (Debian `radosgw`), from `scripts/rgw.sh`.
pub const RGW: Server = Server {
    name: "Ceph RGW",
    endpoint_var: "WORMLOG_RGW_ENDPOINT",
    default_endpoint: "http://127.0.0.1:7480",
    access_key: "wormlogrgwaccess",
    secret_key: "wormlogrgwsecret",
    script: "scripts/rgw.sh start",
};

/// moto 5.2.5 server, from `scripts/moto.sh`.
pub const MOTO: Server = Server {
    name: "moto",
    endpoint_var: "WORMLOG_MOTO_ENDPOINT",
    default_endpoint: "http://127.0.0.1:5055",
    access_key: "testing",
    secret_key: "testing",
    script: "scripts/moto.sh start",
};

impl Server {
    pub fn endpoint(&self) -> String {
        std::env::var(self.endpoint_var).unwrap_or_else(|_| self.default_endpoint.to_owned())
    }

    /// Panics with how to start the server if it does not accept connections.
    pub fn require(&self) {
        let endpoint = self.endpoint();
        let addr = endpoint.trim_start_matches("http://").trim_end_matches('/');
        let reachable = addr
            .parse()
            .ok()
            .and_then(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_secs(2)).ok())
            .is_some();
        assert!(
            reachable,
            "{} is not answering at {endpoint}; start it with `{}` (scripts/test.sh does)",
            self.name, self.script
        );
    }

    /// The configuration of `bucket` on this server, with the static test credentials.
    pub fn config(&self, bucket: &str) -> S3Config {
        let mut c = S3Config::new(bucket);
        c.endpoint = Some(self.endpoint());
        c.region = Some("us-east-1".into());
        c.path_style = true;
        c.credentials = Some((self.access_key.into(), self.secret_key.into()));
        c
    }

    /// An `s3://` URL for `bucket` on this server, for the command line.
    pub fn url(&self, bucket: &str, prefix: &str) -> String {
        format!(
            "s3://{bucket}/{prefix}?endpoint={}&region=us-east-1&path_style=true",
            self.endpoint()
        )
    }

    /// The environment the command line needs for this server's credentials.
    pub fn credential_env(&self) -> [(&'static str, &'static str); 2] {
        [
            ("AWS_ACCESS_KEY_ID", self.access_key),
            ("AWS_SECRET_ACCESS_KEY", self.secret_key),
        ]
    }

    /// A store on `bucket`, created if missing (with Object Lock when `object_lock`).
    pub async fn store(&self, bucket: &str, object_lock: bool) -> Arc<S3Store> {
        self.require();
        let store = S3Store::connect(self.config(bucket)).await;
        store
            .init(&InitOptions {
                object_lock,
                default_retention: None,
            })
            .await
            .unwrap_or_else(|e| panic!("creating bucket {bucket} on {}: {e}", self.name));
        Arc::new(store)
    }

    /// A store on `bucket` (which must exist) whose requests go through `endpoint`, such as
    /// a [`crate::wire::WireFaults`] relay in front of this server.
    pub async fn store_via(&self, bucket: &str, endpoint: String) -> Arc<S3Store> {
        let mut config = self.config(bucket);
        config.endpoint = Some(endpoint);
        Arc::new(S3Store::connect(config).await)
    }

    /// A fresh bucket name, for tests that change bucket settings.
    pub fn fresh_bucket(prefix: &str) -> String {
        format!(
            "{prefix}-{}",
            &SeededRng::from_entropy().uuid().simple().to_string()[..12]
        )
    }
}

/// RGW, unversioned bucket: create-only is enforced there.
pub async fn rgw_subject() -> Subject {
    Subject::new(RGW.store("wormlog-conformance", false).await, ())
}

/// RGW, Object-Lock bucket (versioned): for the Object Lock checks only, since RGW 16.2 does
/// not enforce If-None-Match on versioned buckets.
pub async fn rgw_lock_subject() -> Subject {
    Subject::new(RGW.store("wormlog-conformance-lock", true).await, ())
}

/// moto, Object-Lock bucket: moto enforces both conditions on versioned buckets too.
pub async fn moto_subject() -> Subject {
    Subject::new(MOTO.store("wormlog-conformance-lock", true).await, ())
}
