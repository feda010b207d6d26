//! A test-only record of what each sync of a log's files covered, for power-loss tests
//! that build the disk's state from the syncs the engine made instead of from the page
//! cache (see `mmlog::testing`). Off unless a test registers a directory: one atomic load
//! per sync.

use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// What one sync (or file creation) did to a file, identified by its inode (a segment is
/// created and first synced under a temporary name).
#[derive(Debug, Clone)]
pub enum SyncEvent {
    /// The file was created (empty): nothing of it is on disk yet.
    Created {
        /// The file's inode.
        ino: u64,
    },
    /// All of the file was made durable (`fdatasync`).
    Whole {
        /// The file's inode.
        ino: u64,
        /// The file's content when the sync started.
        bytes: Vec<u8>,
    },
    /// The directory's entries were made durable (an fsync of the directory): its names
    /// and their inodes, as listed when the fsync started.
    Dir {
        /// Name and inode of each entry.
        names: Vec<(String, u64)>,
    },
    /// The pages holding `bytes` at `offset` were made durable (`msync` of a range); the
    /// bytes are as they were when the sync started.
    Range {
        /// The file's inode.
        ino: u64,
        /// Where the pages start in the file.
        offset: u64,
        /// The pages' content.
        bytes: Vec<u8>,
    },
}

static ACTIVE: AtomicUsize = AtomicUsize::new(0);
static DIRS: Mutex<Vec<(PathBuf, Vec<SyncEvent>)>> = Mutex::new(Vec::new());

fn dirs() -> std::sync::MutexGuard<'static, Vec<(PathBuf, Vec<SyncEvent>)>> {
    DIRS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Starts recording the syncs of files under `dir` (as the log was opened: same path).
pub fn record_syncs(dir: &Path) {
    dirs().push((dir.to_path_buf(), Vec::new()));
    ACTIVE.fetch_add(1, Ordering::AcqRel);
}

/// Stops recording for `dir` and drops what was not taken.
pub fn stop_recording(dir: &Path) {
    let mut dirs = dirs();
    if let Some(i) = dirs.iter().position(|(d, _)| d == dir) {
        dirs.remove(i);
        ACTIVE.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The events recorded for `dir` since the last call, oldest first.
pub fn take_syncs(dir: &Path) -> Vec<SyncEvent> {
    dirs()
        .iter_mut()
        .find(|(d, _)| d == dir)
        .map(|(_, events)| std::mem::take(events))
        .unwrap_or_default()
}

/// Whether a test records syncs (then a sync names its file, see `note_range`).
pub(crate) fn recording() -> bool {
    ACTIVE.load(Ordering::Acquire) != 0
}

/// Records `event(inode, length)` of `file` if a test registered a directory holding
/// `path`.
fn note(path: &Path, file: &File, event: impl FnOnce(u64, u64) -> Option<SyncEvent>) {
    if !recording() {
        return;
    }
    let Ok(meta) = file.metadata() else { return };
    let mut dirs = dirs();
    if let Some((_, events)) = dirs.iter_mut().find(|(d, _)| path.starts_with(d)) {
        if let Some(e) = event(meta.ino(), meta.len()) {
            events.push(e);
        }
    }
}

pub(crate) fn note_created(path: &Path, file: &File) {
    note(path, file, |ino, _| Some(SyncEvent::Created { ino }));
}

pub(crate) fn note_whole(path: &Path, file: &File) {
    note(path, file, |ino, len| {
        let bytes = read_at(path, file, 0, len)?;
        Some(SyncEvent::Whole { ino, bytes })
    });
}

/// `len` bytes at `offset`, through `file`, or, if `file` is write-only, through a new
/// descriptor for the same open file (`/proc/self/fd`, not the path: it may name another
/// file by now). A failure is a panic: a missing event would make the test's disk wrong.
fn read_at(path: &Path, file: &File, offset: u64, len: u64) -> Option<Vec<u8>> {
    use std::os::fd::AsRawFd;
    let mut bytes = vec![0u8; usize::try_from(len).ok()?];
    if file.read_exact_at(&mut bytes, offset).is_err() {
        let reader = File::open(format!("/proc/self/fd/{}", file.as_raw_fd()))
            .unwrap_or_else(|e| panic!("testing: reopen {} to record a sync: {e}", path.display()));
        reader
            .read_exact_at(&mut bytes, offset)
            .unwrap_or_else(|e| panic!("testing: read {} to record a sync: {e}", path.display()));
    }
    Some(bytes)
}

/// Before an msync of `[start, end)`: records the whole pages it covers, read through the
/// file (the page cache the mapping shares).
pub(crate) fn note_range(path: &Path, file: &File, start: u64, end: u64, page: u64) {
    note(path, file, |ino, len| {
        let from = start - start % page;
        let to = end.div_ceil(page).saturating_mul(page).min(len);
        let bytes = read_at(path, file, from, to.checked_sub(from)?)?;
        Some(SyncEvent::Range {
            ino,
            offset: from,
            bytes,
        })
    });
}

/// Before an fsync of directory `dir`: records its entries.
pub(crate) fn note_dir(dir: &Path) {
    use std::os::unix::fs::DirEntryExt;
    if ACTIVE.load(Ordering::Acquire) == 0 {
        return;
    }
    let mut dirs = dirs();
    let Some((_, events)) = dirs.iter_mut().find(|(d, _)| d == dir) else {
        return;
    };
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("testing: list {} to record a sync: {e}", dir.display()));
    let names = entries
        .map(|e| {
            let e = e.unwrap_or_else(|e| panic!("testing: list {}: {e}", dir.display()));
            (e.file_name().to_string_lossy().into_owned(), e.ino())
        })
        .collect();
    events.push(SyncEvent::Dir { names });
}
