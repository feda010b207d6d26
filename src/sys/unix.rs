//! Unix calls std does not have: `fallocate`, and an fsync of a directory.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

use crate::error::{io_error, Error, Result};

/// Allocates real blocks for `len` bytes of `file` (never a sparse `set_len`), so that a
/// full disk is an error now and never a SIGBUS when a mapped page is first written.
pub(crate) fn preallocate(file: &File, len: u64, path: &Path) -> Result<()> {
    let off_len = libc::off_t::try_from(len)
        .map_err(|_| Error::InvalidOptions(format!("length {len} does not fit in off_t")))?;
    let rc = fallocate(file, off_len);
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::from_raw_os_error(rc);
    if is_full(&err) {
        return Err(Error::NoSpace {
            path: path.to_path_buf(),
            len,
        });
    }
    Err(io_error("fallocate", path)(err))
}

/// Whether `err` says the file system is full: no blocks or no inodes left (`ENOSPC`),
/// or the user's quota spent (`EDQUOT`).
pub(crate) fn is_full(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
}

#[cfg(target_os = "linux")]
fn fallocate(file: &File, len: libc::off_t) -> i32 {
    // SAFETY: fallocate only reads its integer arguments; the fd is valid for the call
    // because `file` is borrowed for its duration.
    let rc = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, len) };
    if rc == 0 {
        return 0;
    }
    let errno = io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO);
    if errno == libc::EOPNOTSUPP {
        // A file system without fallocate: posix_fallocate writes zeros, which also
        // reserves real blocks.
        return posix_fallocate(file, len);
    }
    errno
}

#[cfg(not(target_os = "linux"))]
fn fallocate(file: &File, len: libc::off_t) -> i32 {
    posix_fallocate(file, len)
}

fn posix_fallocate(file: &File, len: libc::off_t) -> i32 {
    // SAFETY: posix_fallocate only reads its integer arguments; the fd is valid for the
    // call because `file` is borrowed for its duration. It returns the error number.
    unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len) }
}

/// `fdatasync` of the segment file `file` (named `path` in errors), recorded for tests
/// (see `testing`).
pub(crate) fn fdatasync(file: &File, path: &Path) -> Result<()> {
    super::testing::note_whole(path, file);
    file.sync_data().map_err(io_error("fdatasync", path))
}

/// Starts writing back the dirty pages of `file` in `[from, to)` without waiting, so that
/// the writeback of several files overlaps before their syncs wait for it in order. Only
/// a hint: it makes nothing durable, and an I/O error still reaches the sync that follows
/// (the kernel keeps it for the file), so its result is ignored.
pub(crate) fn start_writeback(file: &File, from: u64, to: u64) {
    #[cfg(target_os = "linux")]
    {
        let (Ok(offset), Ok(len)) = (
            libc::off64_t::try_from(from),
            libc::off64_t::try_from(to.saturating_sub(from)),
        ) else {
            return;
        };
        // SAFETY: sync_file_range only reads its integer arguments; `file` is an open
        // descriptor for the duration of the call (it is borrowed).
        unsafe {
            libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, from, to);
}

/// fsyncs a directory, so that file creations, renames and deletions in it are durable.
pub(crate) fn fsync_dir(dir: &Path) -> Result<()> {
    let handle = dir_to_fsync(dir)?;
    handle.sync_all().map_err(io_error("fsync directory", dir))
}

/// Opens directory `dir` for an fsync about to be made (recorded for tests).
pub(crate) fn dir_to_fsync(dir: &Path) -> Result<File> {
    super::testing::note_dir(dir);
    File::open(dir).map_err(io_error("open directory", dir))
}

/// Sleeps until `word` is woken or no longer holds `expected`, or `timeout` passes. May
/// return early (spurious wake-ups); callers re-check their condition.
///
/// A shared (not `FUTEX_PRIVATE`) futex: `word` lives in a `MAP_SHARED` file mapping, so
/// a writer in another process wakes it.
#[cfg(target_os = "linux")]
pub(crate) fn futex_wait(
    word: &std::sync::atomic::AtomicU32,
    expected: u32,
    timeout: std::time::Duration,
) {
    futex_wait_op(word, expected, timeout, libc::FUTEX_WAIT);
}

/// `futex_wait` for a word only this process uses (`FUTEX_PRIVATE_FLAG`: the kernel keys
/// it by address, without looking up the page).
#[cfg(target_os = "linux")]
pub(crate) fn futex_wait_private(
    word: &std::sync::atomic::AtomicU32,
    expected: u32,
    timeout: std::time::Duration,
) {
    futex_wait_op(
        word,
        expected,
        timeout,
        libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
    );
}

#[cfg(target_os = "linux")]
fn futex_wait_op(
    word: &std::sync::atomic::AtomicU32,
    expected: u32,
    timeout: std::time::Duration,
    op: libc::c_int,
) {
    let ts = libc::timespec {
        tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: libc::c_long::from(timeout.subsec_nanos()),
    };
    // SAFETY: `word` is a valid, aligned u32 for the duration of the call (it is borrowed);
    // `ts` outlives the call; FUTEX_WAIT only reads both. Errors (EAGAIN when the value
    // changed, ETIMEDOUT, EINTR) all mean "re-check", so the result is ignored.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            op,
            expected,
            &ts as *const libc::timespec,
        )
    };
}

/// Wakes every thread sleeping on `word` (in any process).
#[cfg(target_os = "linux")]
pub(crate) fn futex_wake_all(word: &std::sync::atomic::AtomicU32) {
    futex_wake_op(word, libc::FUTEX_WAKE);
}

/// `futex_wake_all` for a word only this process uses (see `futex_wait_private`).
#[cfg(target_os = "linux")]
pub(crate) fn futex_wake_all_private(word: &std::sync::atomic::AtomicU32) {
    futex_wake_op(word, libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG);
}

#[cfg(target_os = "linux")]
fn futex_wake_op(word: &std::sync::atomic::AtomicU32, op: libc::c_int) {
    // SAFETY: `word` is a valid, aligned u32 for the duration of the call; FUTEX_WAKE does
    // not access memory, it only uses the address as a key.
    unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), op, i32::MAX) };
}

/// Without futexes: a short sleep (the caller's bounded poll).
#[cfg(not(target_os = "linux"))]
pub(crate) fn futex_wait(
    _word: &std::sync::atomic::AtomicU32,
    _expected: u32,
    timeout: std::time::Duration,
) {
    std::thread::sleep(timeout.min(std::time::Duration::from_millis(1)));
}

/// Without futexes: a very short sleep (its callers, group-commit waiters, wait about a
/// sync's time).
#[cfg(not(target_os = "linux"))]
pub(crate) fn futex_wait_private(
    word: &std::sync::atomic::AtomicU32,
    expected: u32,
    timeout: std::time::Duration,
) {
    futex_wait(
        word,
        expected,
        timeout.min(std::time::Duration::from_micros(50)),
    );
}

/// Without futexes: nothing to wake (waiters poll).
#[cfg(not(target_os = "linux"))]
pub(crate) fn futex_wake_all(_word: &std::sync::atomic::AtomicU32) {}

/// Without futexes: nothing to wake (waiters poll).
#[cfg(not(target_os = "linux"))]
pub(crate) fn futex_wake_all_private(word: &std::sync::atomic::AtomicU32) {
    futex_wake_all(word);
}

/// The data extents of `file` below `len`, as `[start, end)` ranges, found with
/// `SEEK_DATA`/`SEEK_HOLE`: preallocated but never-written blocks are holes, so reading
/// only the extents skips the empty end of a segment. Falls back to one extent covering
/// everything where the file system does not report holes.
pub(crate) fn data_extents(file: &File, len: u64) -> Vec<(u64, u64)> {
    let whole = vec![(0, len)];
    let fd = file.as_raw_fd();
    let mut extents = Vec::new();
    let mut at = 0u64;
    // Each step moves past one extent: at most one step per block of the file.
    while at < len {
        let Ok(pos) = libc::off_t::try_from(at) else {
            return whole;
        };
        // SAFETY: lseek only takes integers; the fd is valid while `file` is borrowed.
        let data = unsafe { libc::lseek(fd, pos, libc::SEEK_DATA) };
        if data < 0 {
            let errno = io::Error::last_os_error().raw_os_error();
            if errno == Some(libc::ENXIO) {
                break; // no data after `at`
            }
            return whole;
        }
        // SAFETY: as above.
        let hole = unsafe { libc::lseek(fd, data, libc::SEEK_HOLE) };
        let (Ok(data), Ok(hole)) = (u64::try_from(data), u64::try_from(hole)) else {
            return whole;
        };
        if hole <= data {
            return whole;
        }
        extents.push((data, hole.min(len)));
        at = hole;
    }
    extents
}
