//! The store conformance suite on S3Store against moto (scripts/moto.sh), on an Object-Lock
//! bucket: moto enforces If-None-Match and If-Match on versioned buckets.
mod core {
    wormlog_store::conformance_tests!(core, wormlog_tests::servers::moto_subject());
}
mod object_lock {
    wormlog_store::conformance_tests!(object_lock, wormlog_tests::servers::moto_subject());
}
mod versioned_overwrite {
    wormlog_store::conformance_tests!(versioned_overwrite, wormlog_tests::servers::moto_subject());
}
// Not `verified_sha256`: moto 5.2.5 stores a body whatever SHA-256 came with it (it checks
// neither `x-amz-checksum-sha256` nor the signed payload hash); AWS, Ceph RGW and the local
// stores refuse it.
