//! The store conformance suite on S3Store against Ceph RGW (scripts/rgw.sh): every core check
//! on an unversioned bucket, the Object Lock checks on an Object-Lock bucket, and the SHA-256
//! check on both.
mod core {
    wormlog_store::conformance_tests!(core, wormlog_tests::servers::rgw_subject());
}
mod object_lock {
    wormlog_store::conformance_tests!(object_lock, wormlog_tests::servers::rgw_lock_subject());
}
mod verified_sha256 {
    wormlog_store::conformance_tests!(verified_sha256, wormlog_tests::servers::rgw_subject());
}
mod verified_sha256_with_object_lock {
    wormlog_store::conformance_tests!(verified_sha256, wormlog_tests::servers::rgw_lock_subject());
}
