//! Directory layout: segment file names, the lock file, the spare file.
//!
//! ```text
//! DIR/LOCK                          flock-ed by the one writer
//! DIR/00000000000000000000.seg      segments, named by their first LSN (20 digits)
//! DIR/00000000000000004096.seg
//! DIR/spare.tmp                     the next segment, preallocated ahead of need
//! DIR/notify                        the futex word that wakes tailers (no log data)
//! ```

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{io_error, Error, Result};
use crate::Lsn;

/// How long `lock` waits for a lock that is briefly held by a forked child.
const LOCK_WAIT_MAX: Duration = Duration::from_millis(200);
/// Name of the lock file.
pub(crate) const LOCK_NAME: &str = "LOCK";
/// Name of the preallocated next segment.
pub(crate) const SPARE_NAME: &str = "spare.tmp";
const SEGMENT_SUFFIX: &str = ".seg";
const SEGMENT_DIGITS: usize = 20;

/// The path of the segment whose first LSN is `base_lsn`.
pub(crate) fn segment_path(dir: &Path, base_lsn: Lsn) -> PathBuf {
    dir.join(format!("{base_lsn:0SEGMENT_DIGITS$}{SEGMENT_SUFFIX}"))
}

/// The first LSN encoded in a segment file name, or `None` if the name is not one.
pub(crate) fn parse_segment_name(name: &str) -> Option<Lsn> {
    let digits = name.strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() != SEGMENT_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The segment files of `dir`, sorted by first LSN.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<(Lsn, PathBuf)>> {
    Ok(list_segment_files(dir)?
        .into_iter()
        .map(|(lsn, path, _)| (lsn, path))
        .collect())
}

/// As `list_segments`, with each file's inode number as the directory listed it (one
/// snapshot: a follower compares files by it, never by a later `stat` of the name).
pub(crate) fn list_segment_files(dir: &Path) -> Result<Vec<(Lsn, PathBuf, u64)>> {
    use std::os::unix::fs::DirEntryExt;
    let mut segments = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error("read directory", dir))? {
        let entry = entry.map_err(io_error("read directory", dir))?;
        if let Some(lsn) = entry.file_name().to_str().and_then(parse_segment_name) {
            segments.push((lsn, entry.path(), entry.ino()));
        }
    }
    segments.sort_by_key(|(lsn, _, _)| *lsn);
    Ok(segments)
}

/// Takes the exclusive writer lock on `dir` (an advisory `flock`, released when the file
/// is closed, also when the process dies).
pub(crate) fn lock(dir: &Path) -> Result<File> {
    let path = dir.join(LOCK_NAME);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io_error("open lock file", &path))?;
    // A lock held a little longer than its `Log`: a child process forked (by any thread
    // of this process) between our open and its `exec` shares the lock's open file
    // description until it execs. Wait that out, briefly, before saying `Locked`.
    let deadline = Instant::now() + LOCK_WAIT_MAX;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(std::fs::TryLockError::WouldBlock) => return Err(Error::Locked { path }),
            Err(std::fs::TryLockError::Error(e)) => return Err(io_error("lock", &path)(e)),
        }
    }
}

/// Opens a file listed as a segment for reading. Non-blocking, so that a FIFO (or other
/// special file) under a segment's name cannot hang the open; anything but a regular file
/// is refused (`InvalidInput`: "not a regular file").
pub(crate) fn open_segment(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    if !file.metadata()?.file_type().is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (a segment's name on something else)",
        ));
    }
    Ok(file)
}

/// `Ok` if `path` is a directory; else an `Error::Io` saying whether it is missing or
/// something else.
pub(crate) fn require_dir(path: &Path) -> Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    let source = if path.exists() {
        std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory")
    } else {
        std::io::Error::new(std::io::ErrorKind::NotFound, "no such directory")
    };
    Err(Error::Io {
        op: "open directory",
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_round_trip_and_sort() {
        let dir = Path::new("/x");
        let p = segment_path(dir, 4096);
        assert_eq!(p, Path::new("/x/00000000000000004096.seg"));
        let name = p.file_name().unwrap().to_str().unwrap();
        assert_eq!(parse_segment_name(name), Some(4096));
        assert_eq!(
            parse_segment_name(&format!("{:020}.seg", u64::MAX)),
            Some(u64::MAX)
        );
        for bad in [
            "4096.seg",
            "0000000000000000409a.seg",
            "00000000000000004096.tmp",
            "LOCK",
            "spare.tmp",
            "99999999999999999999.seg",
        ] {
            assert_eq!(parse_segment_name(bad), None, "{bad}");
        }
    }
}
