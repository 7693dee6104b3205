//! # wormlog-s3: wormlog's object store on AWS S3 and S3-compatible servers
//!
//! [`S3Store`] implements [`wormlog_store::ObjectStore`] with aws-sdk-s3. It is the only crate
//! that compiles the AWS SDK, so everything else builds and tests without it.
//!
//! ```text
//!  ObjectStore call ─► S3Store ─► aws-sdk-s3 request (timeouts, SDK retries for 5xx)
//!        ▲                              │
//!        └── StoreError ◄── classify.rs ┘  one match: error code first, then HTTP status
//! ```
//!
//! Every request is explicit about what safety rests on:
//! - log segments go up as in-memory bytes with `If-None-Match: *` and an explicit
//!   `x-amz-checksum-crc32` (crc32fast), so AWS verifies every segment and accepts Object Lock
//!   puts (servers that ignore checksum headers, Ceph RGW 16.2, check the SDK's signed SHA-256
//!   of the bytes); the SDK's own checksums are only computed where an operation requires
//!   them (`WhenRequired`), since several S3-compatible servers reject the SDK's defaults;
//! - attachments carry the writer's SHA-256, and parts the SHA-256 of their bytes, in
//!   `x-amz-checksum-sha256`, and are signed with it (`x-amz-content-sha256`), so AWS and
//!   servers that ignore checksum headers (Ceph RGW 16.2) check their bytes (moto checks
//!   neither);
//! - compare-and-swap sends `If-Match` with the ETag unquoted (Ceph RGW 16.2 refuses quoted);
//! - write id, epoch and counts travel as `x-amz-meta-wormlog-*`;
//! - deletes name the object's version, so Object Lock is enforced on versioned buckets
//!   (a plain DELETE there would only add a delete marker).
//!
//! Server quirks are handled where the request is made, each with a comment naming the server.

mod classify;
mod config;
mod multipart;
mod settings;
mod signing;
mod stats;
mod store;

pub use config::{S3Config, S3UrlError, Sse};
pub use stats::S3Stats;
pub use store::S3Store;
