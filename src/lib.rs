//! mmlog (work in progress)
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod error;
#[doc(hidden)]
pub mod format;
pub mod options;

/// A log sequence number.
pub type Lsn = u64;
pub use error::{CorruptReason, Error, Result};
