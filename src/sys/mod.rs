//! Platform calls behind small functions: preallocation, syncs, randomness.
//!
//! The sync backend per `Durability` lives here so the rest of the crate never calls the
//! operating system directly for durability.

mod notify;
pub mod testing;
mod unix;
#[cfg(all(feature = "io-uring", target_os = "linux"))]
pub(crate) mod uring;

/// `Durability::IoUring` off Linux: io_uring does not exist, so it is refused.
#[cfg(all(feature = "io-uring", not(target_os = "linux")))]
pub(crate) mod uring {
    /// Always `Error::Unsupported`.
    pub(crate) fn check() -> crate::error::Result<()> {
        Err(crate::error::Error::Unsupported(
            "Durability::IoUring: io_uring exists only on Linux".into(),
        ))
    }
}

pub(crate) use notify::Notify;

#[cfg(all(feature = "io-uring", target_os = "linux"))]
pub(crate) use unix::dir_to_fsync;

pub(crate) use unix::{
    data_extents, fdatasync, fsync_dir, futex_wait, futex_wait_private, futex_wake_all,
    futex_wake_all_private, is_full, preallocate, start_writeback,
};

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A random 64-bit number for salts and epochs: std's randomly keyed SipHash over the
/// time, the process id and a counter. Not cryptographic; it only has to differ from the
/// values used before on the same bytes.
pub(crate) fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    hasher.write_u128(nanos);
    hasher.finish()
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
