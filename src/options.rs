//! `Options`, `Durability`, `SyncPolicy`, `Recovery`, their validation, and the limits.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::format;

/// The smallest segment size `Options::segment_size` accepts (64 KiB).
pub const SEGMENT_SIZE_MIN: u64 = 64 * 1024;
/// The largest segment size `Options::segment_size` accepts (1 GiB).
pub const SEGMENT_SIZE_MAX: u64 = 1024 * 1024 * 1024;
/// The default segment size (64 MiB).
pub const SEGMENT_SIZE_DEFAULT: u64 = 64 * 1024 * 1024;
/// The most records one `append_batch` may hold.
pub const BATCH_RECORDS_MAX: usize = format::BATCH_RECORDS_MAX;

const _: () = assert!(SEGMENT_SIZE_MIN.is_multiple_of(format::PAGE_LEN));
const _: () = assert!(SEGMENT_SIZE_MAX.is_multiple_of(format::PAGE_LEN));
const _: () = assert!(SEGMENT_SIZE_DEFAULT.is_multiple_of(format::PAGE_LEN));
const _: () = assert!(SEGMENT_SIZE_MIN <= SEGMENT_SIZE_DEFAULT);
const _: () = assert!(SEGMENT_SIZE_DEFAULT <= SEGMENT_SIZE_MAX);
// The format stores record offsets as u32; the largest segment must fit.
const _: () = assert!(SEGMENT_SIZE_MAX <= u32::MAX as u64);

/// How `sync` makes records durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Durability {
    /// `msync(MS_SYNC)` of the dirty range of the mapping (the default).
    #[default]
    Msync,
    /// `fdatasync` of the segment file.
    Fdatasync,
    /// io_uring (feature `io-uring`, Linux only): each sync is one submission of linked
    /// fsync operations, ranged data syncs of the same pages an msync covers, for every
    /// file the sync involves (older segments still waiting, the directory, the active
    /// segment), in order; one `io_uring_enter` per sync. The records reach the page cache
    /// through the mapping, so no write is submitted. Opening a writable log with it
    /// returns `Error::Unsupported` where io_uring is missing or refused (old kernel,
    /// `kernel.io_uring_disabled`, seccomp).
    #[cfg(feature = "io-uring")]
    IoUring,
}

/// When records are made durable without an explicit `sync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SyncPolicy {
    /// Only `sync`, `sync_to` and `append_durable` make records durable (the default).
    #[default]
    Manual,
    /// Every append is durable before it returns.
    Always,
    /// A background thread syncs at this interval while there is something to sync.
    Interval(Duration),
}

/// What `open` does when it finds corruption in data that was certainly durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Recovery {
    /// Refuse to open with `Error::Corrupt` (the default).
    #[default]
    Strict,
    /// Check every record of every segment, keep the valid prefix, drop the rest, and say
    /// so in `Log::recovery_report`.
    TruncateAtCorruption,
}

/// How to open a log. Builder methods take and return `Options`.
///
/// # Examples
/// ```
/// use mmlog::{Durability, Options, SyncPolicy};
/// let options = Options::default()
///     .segment_size(1 << 20)
///     .durability(Durability::Fdatasync)
///     .sync_policy(SyncPolicy::Always);
/// # let _ = options;
/// ```
#[derive(Debug, Clone)]
pub struct Options {
    /// `None`: the size of the log's newest segment, or `SEGMENT_SIZE_DEFAULT` for a new
    /// log (resolved at open).
    pub(crate) segment_size: Option<u64>,
    pub(crate) durability: Durability,
    pub(crate) sync_policy: SyncPolicy,
    pub(crate) recovery: Recovery,
    pub(crate) create: bool,
    pub(crate) read_only: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            segment_size: None,
            durability: Durability::default(),
            sync_policy: SyncPolicy::default(),
            recovery: Recovery::default(),
            create: true,
            read_only: false,
        }
    }
}

impl Options {
    /// Size in bytes of each segment file, a multiple of 4096 between `SEGMENT_SIZE_MIN`
    /// and `SEGMENT_SIZE_MAX`. Applies to segments created from now on; existing segments
    /// keep the size in their header. Unset, a log keeps the size of its newest segment
    /// (`SEGMENT_SIZE_DEFAULT`, 64 MiB, for a new log).
    pub fn segment_size(mut self, bytes: u64) -> Self {
        self.segment_size = Some(bytes);
        self
    }

    /// The segment size in force: the one set, or the default.
    pub(crate) fn segment_len(&self) -> u64 {
        self.segment_size.unwrap_or(SEGMENT_SIZE_DEFAULT)
    }

    /// How records are made durable.
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// When records are made durable without an explicit `sync`.
    pub fn sync_policy(mut self, policy: SyncPolicy) -> Self {
        self.sync_policy = policy;
        self
    }

    /// What to do with corruption found at open.
    pub fn recovery(mut self, recovery: Recovery) -> Self {
        self.recovery = recovery;
        self
    }

    /// Create the directory (and the first segment) if missing. Default `true`.
    pub fn create(mut self, create: bool) -> Self {
        self.create = create;
        self
    }

    /// Open without the lock and never write. Default `false`.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// Checks every option against its limit.
    pub(crate) fn validate(&self) -> Result<()> {
        let size = self.segment_len();
        if !(SEGMENT_SIZE_MIN..=SEGMENT_SIZE_MAX).contains(&size) {
            return Err(Error::InvalidOptions(format!(
                "segment_size {size} is out of range: it must be from {SEGMENT_SIZE_MIN} (64 KiB) to {SEGMENT_SIZE_MAX} (1 GiB) bytes"
            )));
        }
        if !size.is_multiple_of(format::PAGE_LEN) {
            return Err(Error::InvalidOptions(format!(
                "segment_size {size} is not a multiple of {}",
                format::PAGE_LEN
            )));
        }
        if let SyncPolicy::Interval(d) = self.sync_policy {
            if d.is_zero() {
                return Err(Error::InvalidOptions(
                    "SyncPolicy::Interval needs a non-zero duration; use SyncPolicy::Always to sync every append".into(),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Options::default().validate().unwrap();
    }

    #[test]
    fn segment_size_bounds_are_enforced() {
        for bad in [
            0,
            SEGMENT_SIZE_MIN - 4096,
            SEGMENT_SIZE_MAX + 4096,
            SEGMENT_SIZE_MIN + 1,
        ] {
            let err = Options::default().segment_size(bad).validate().unwrap_err();
            assert!(matches!(err, Error::InvalidOptions(_)), "{bad}: {err}");
        }
        Options::default()
            .segment_size(SEGMENT_SIZE_MIN)
            .validate()
            .unwrap();
        Options::default()
            .segment_size(SEGMENT_SIZE_MAX)
            .validate()
            .unwrap();
    }

    #[test]
    fn zero_interval_is_refused() {
        let err = Options::default()
            .sync_policy(SyncPolicy::Interval(Duration::ZERO))
            .validate()
            .unwrap_err();
        assert!(matches!(err, Error::InvalidOptions(_)));
    }
}
