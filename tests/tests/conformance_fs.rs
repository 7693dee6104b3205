//! The store conformance suite on FsStore, the embedded default.
wormlog_store::conformance_tests!(core, wormlog_tests::fs_subject());
wormlog_store::conformance_tests!(object_lock, wormlog_tests::fs_subject());
wormlog_store::conformance_tests!(versioned_overwrite, wormlog_tests::fs_subject());
wormlog_store::conformance_tests!(verified_sha256, wormlog_tests::fs_subject());
