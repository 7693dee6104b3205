//! An `s3://` URL without `endpoint=` is taken for AWS S3 itself, whose kept SHA-256 stands
//! for an object's bytes (`verify` compares it instead of reading them), only when nothing
//! else points the SDK at another server: `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_S3` or a
//! profile's `endpoint_url` do, as `endpoint=` does. One test in its own binary: it sets the
//! process's environment.

use wormlog_s3::{S3Config, S3Store};
use wormlog_store::ObjectStore;

async fn store() -> S3Store {
    let mut config = S3Config::new("wormlog-endpoint-test");
    config.region = Some("us-east-1".into());
    config.credentials = Some(("key".into(), "secret".into()));
    S3Store::connect(config).await
}

#[tokio::test]
async fn an_endpoint_from_the_environment_is_not_aws() {
    for var in ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"] {
        std::env::remove_var(var);
    }
    // No profile files of the machine's either.
    let empty = std::env::temp_dir().join("wormlog-no-aws-config");
    std::env::set_var("AWS_CONFIG_FILE", &empty);
    std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", &empty);
    assert!(
        store().await.kept_sha256_stands_for_the_bytes(),
        "AWS itself"
    );

    for var in ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"] {
        std::env::set_var(var, "http://127.0.0.1:5055");
        assert!(
            !store().await.kept_sha256_stands_for_the_bytes(),
            "{var} points the SDK elsewhere"
        );
        std::env::remove_var(var);
    }

    let profile = std::env::temp_dir().join(format!("wormlog-aws-config-{}", std::process::id()));
    std::fs::write(
        &profile,
        "[default]\nendpoint_url = http://127.0.0.1:5055\n",
    )
    .unwrap();
    std::env::set_var("AWS_CONFIG_FILE", &profile);
    let elsewhere = store().await.kept_sha256_stands_for_the_bytes();
    let _ = std::fs::remove_file(&profile);
    assert!(
        !elsewhere,
        "a profile's endpoint_url points the SDK elsewhere"
    );
}
