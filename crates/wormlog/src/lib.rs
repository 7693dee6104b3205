//! # wormlog: an append-only event log on object storage that a stale leader cannot corrupt
//!
//! Every log object is created exactly once (`If-None-Match: *`); every writer carries a
//! fencing token (an epoch); when two leaders race, the stale one's write is refused with 412
//! and it stops. Readers replay the log in order and skip nothing silently.
//!
//! ```text
//!  LeaderElector (wormlog-fencing) ─► fencing token (epoch)
//!  app ─► LogWriter (wormlog-writer) ─► segment (wormlog-format) ─► ObjectStore (wormlog-store)
//!  app ◄─ LogReader (wormlog-reader) ◄────────────────────────────────┘
//! ```
//!
//! This crate re-exports the parts and names stores by URL ([`open_store`]). The protocol is
//! in docs/protocol.md; each crate's docs say which invariants (I1..I9) it upholds.

mod store_url;

pub use store_url::{open_store, OpenedStore, StoreUrlError, DEFAULT_STORE};
pub use wormlog_fencing as fencing;
pub use wormlog_format as format;
pub use wormlog_reader as reader;
pub use wormlog_store as store;
pub use wormlog_writer as writer;

pub use wormlog_fencing::{FencingToken, LeaderElector, Lease};
pub use wormlog_format::{Event, NewEvent, StreamKeys};
pub use wormlog_reader::{LogReader, ReadError, ScanItem};
pub use wormlog_store::{FsStore, MemoryStore, ObjectStore};
pub use wormlog_writer::{Appended, LogWriter, WriteError, WriterConfig};
