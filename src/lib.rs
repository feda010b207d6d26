//! mmlog (work in progress)
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
#[allow(unsafe_code)]
mod sys;

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
