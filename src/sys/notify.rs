//! `DIR/notify`: a small shared file holding the futex word that wakes tailers.
//!
//! | offset | size | field     | meaning                                                 |
//! |--------|------|-----------|---------------------------------------------------------|
//! | 0      | 4    | `wake`    | bumped by the writer after every publish, seal and cut  |
//! | 4      | 4    | `waiters` | tailers sleeping on `wake`, in any process              |
//!
//! It lives apart from the segments so that a read-only reader, which never writes the
//! log, can still register as a waiter (then the writer makes the wake-up syscall only
//! while someone sleeps). It holds no log data; recovery never reads it. A reader that
//! cannot open it for writing (permissions) maps it read-only and wakes up by bounded
//! polling instead.

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use memmap2::{MmapOptions, MmapRaw};

use crate::error::{io_error, Result};

/// The file name in the log directory.
const NOTIFY_NAME: &str = "notify";
const NOTIFY_LEN: u64 = 4096;
/// A reader that cannot register as a waiter sleeps at most this long between looks.
const UNREGISTERED_POLL: Duration = Duration::from_millis(2);

/// The mapped notify file.
pub(crate) struct Notify {
    map: MmapRaw,
    registered: bool,
    _file: File,
}

impl Notify {
    /// The writer's side: creates the file if missing (never truncates it: readers may
    /// have it mapped).
    pub(crate) fn create(dir: &Path) -> Result<Notify> {
        let path = dir.join(NOTIFY_NAME);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_error("open notify file", &path))?;
        let len = file
            .metadata()
            .map_err(io_error("stat notify file", &path))?
            .len();
        if len < NOTIFY_LEN {
            super::preallocate(&file, NOTIFY_LEN, &path)?;
        }
        Self::map(file, &path, true)
    }

    /// A reader's side: `None` if there is no writer's notify file (yet).
    pub(crate) fn open(dir: &Path) -> Option<Notify> {
        let path = dir.join(NOTIFY_NAME);
        let rw = OpenOptions::new().read(true).write(true).open(&path);
        let (file, registered) = match rw {
            Ok(file) => (file, true),
            Err(_) => (File::open(&path).ok()?, false),
        };
        let len = file.metadata().ok()?.len();
        if len < NOTIFY_LEN {
            return None;
        }
        Self::map(file, &path, registered).ok()
    }

    fn map(file: File, path: &Path, writable: bool) -> Result<Notify> {
        let mut options = MmapOptions::new();
        options.len(NOTIFY_LEN as usize);
        let map = if writable {
            options.map_raw(&file)
        } else {
            options.map_raw_read_only(&file)
        }
        .map_err(io_error("mmap notify file", path))?;
        Ok(Notify {
            map,
            registered: writable,
            _file: file,
        })
    }

    fn word(&self, offset: usize) -> &AtomicU32 {
        let ptr = self
            .map
            .as_ptr()
            .wrapping_add(offset)
            .cast::<u32>()
            .cast_mut();
        // SAFETY: (1) `offset` is 0 or 4, inside the 4096-byte mapping of a file at least
        // that long (checked at open, never shrunk), and 4-byte aligned (the mapping is
        // page-aligned); (2) the reference borrows `self`, which owns the mapping; (3) the
        // words are only ever accessed atomically, in every process.
        unsafe { AtomicU32::from_ptr(ptr) }
    }

    /// Bumps the wake word and wakes sleepers, with a syscall only if there are any.
    pub(crate) fn wake(&self) {
        // SeqCst pairs with `wait`: either the sleeper sees the new value, or this load
        // sees its registration and wakes it.
        self.word(0).fetch_add(1, Ordering::SeqCst);
        if self.word(4).load(Ordering::SeqCst) > 0 {
            super::futex_wake_all(self.word(0));
        }
    }

    /// The current wake value; take it before looking for new records.
    pub(crate) fn seq(&self) -> u32 {
        self.word(0).load(Ordering::SeqCst)
    }

    /// Sleeps until the wake value moves away from `seen` or `timeout` passes (may return
    /// early).
    pub(crate) fn wait(&self, seen: u32, timeout: Duration) {
        if !self.registered {
            if self.seq() == seen {
                super::futex_wait(self.word(0), seen, timeout.min(UNREGISTERED_POLL));
            }
            return;
        }
        let waiters = self.word(4);
        waiters.fetch_add(1, Ordering::SeqCst);
        if self.seq() == seen {
            super::futex_wait(self.word(0), seen, timeout);
        }
        waiters.fetch_sub(1, Ordering::SeqCst);
    }
}
