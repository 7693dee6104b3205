//! The store conformance suite on MemoryStore.
wormlog_store::conformance_tests!(core, wormlog_tests::memory_subject());
wormlog_store::conformance_tests!(object_lock, wormlog_tests::memory_subject());
wormlog_store::conformance_tests!(versioned_overwrite, wormlog_tests::memory_subject());
wormlog_store::conformance_tests!(verified_sha256, wormlog_tests::memory_subject());
