//! mmlog: a memory-mapped, zero-copy, append-only write-ahead log.
//!
//! Records are appended into preallocated segment files mapped into memory and written in
//! place; readers get payloads as slices of the mapping, never copies. Every segment and
//! record header is checksummed, and recovery after a crash or power loss keeps exactly
//! the valid prefix.
//!
//! # Promises
//!
//! | after ...                                   | the record ...                                             |
//! |---------------------------------------------|------------------------------------------------------------|
//! | `append` returns                            | is visible to readers and survives a crash of the process  |
//! | `sync` / `sync_to` / `append_durable` return `Ok` | survives a power loss                              |
//! | a crash or power loss, then `open`          | comes back byte for byte if it was durable; nothing never written, cut off, or removed by `truncate_back` ever comes back; LSNs stay dense |
//! | a failed sync                               | the log is poisoned: appends and syncs return `Error::Poisoned` until it is reopened |
//!
//! A torn tail beyond the durable point is cut and zeroed at open; damage to data that was
//! certainly durable is `Error::Corrupt` (naming the segment file and byte offset) under
//! `Recovery::Strict`, the default, or dropped with the valid prefix kept under
//! `Recovery::TruncateAtCorruption`.
//!
//! # Example
//! ```
//! use mmlog::{Log, Options};
//!
//! let dir = tempfile::tempdir().expect("a temporary directory");
//! let log = Log::open(dir.path(), Options::default().segment_size(1 << 20))?;
//! let first = log.append(b"hello")?;
//! let batch = log.append_batch(&[b"one", b"two"])?;
//! log.sync()?; // durable from here on
//! log.close()?;
//!
//! let log = Log::open(dir.path(), Options::default().segment_size(1 << 20))?;
//! let payloads: Vec<Vec<u8>> = log
//!     .iter()
//!     .map(|r| r.map(|r| r.payload().to_vec()))
//!     .collect::<Result<_, _>>()?;
//! assert_eq!(payloads, [&b"hello"[..], b"one", b"two"]);
//! assert_eq!((first, batch), (0, 1..3));
//! # Ok::<(), mmlog::Error>(())
//! ```
//!
//! # Features
//! - `cli` (default): the `mmlog` command-line tool. Embedders use
//!   `default-features = false` and pull no CLI dependencies.
//! - `io-uring` (Linux): adds `Durability::IoUring`, syncs through io_uring (linked
//!   fsyncs, one submission per sync). Where io_uring is missing or refused, opening a
//!   writable log with it returns `Error::Unsupported`.
//!
//! # Platform
//! Linux and other Unix systems with a local file system (ext4, xfs, ...). Not for network
//! file systems, files changed by other programs, or devices that ignore flushes.
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![deny(clippy::multiple_unsafe_ops_per_block)]
#![deny(clippy::host_endian_bytes, clippy::big_endian_bytes)]

mod append;
mod dir;
pub mod error;
#[doc(hidden)]
pub mod format;
mod log;
pub mod options;
mod read;
#[doc(hidden)]
pub mod recovery;
#[allow(unsafe_code)]
mod segment;
mod sequencer;
#[allow(unsafe_code)]
mod sys;
mod tail;
mod verify;

/// A log sequence number: the dense, 0-based number of a record.
pub type Lsn = u64;

pub use append::Reservation;
pub use error::{CorruptReason, Error, Result};
pub use log::{Log, RecoveryReport, SegmentStats, Stats};
pub use options::{
    Durability, Options, Recovery, SyncPolicy, BATCH_RECORDS_MAX, SEGMENT_SIZE_MAX,
    SEGMENT_SIZE_MIN,
};
pub use read::{Iter, Record};
pub use tail::Tailer;
/// Test hooks (not part of the API): a record of what each sync covered.
#[doc(hidden)]
pub mod testing {
    pub use crate::sys::testing::{record_syncs, stop_recording, take_syncs, SyncEvent};
}
pub use verify::{verify, Problem, SegmentReport, TornTail, VerifyReport};

// The README's example is compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
