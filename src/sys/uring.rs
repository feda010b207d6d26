//! Syncs through io_uring (`Durability::IoUring`, feature `io-uring`, Linux).
//!
//! A sync is one submission of linked fsync operations, one per file it must make durable
//! (the sealed segments still waiting, the directory, the active segment), in that order:
//! each starts only once the one before it has completed, a failure cancels the rest, and
//! the whole sync costs one `io_uring_enter` instead of a syscall per file. Segment ranges
//! are data syncs of the same ranges an msync would cover (`IORING_FSYNC_DATASYNC` with an
//! offset and a length: the kernel's `vfs_fsync_range`, as for msync); the directory gets a
//! full fsync. The records themselves reach the page cache through the mapping, so there
//! is no write to submit.
//!
//! Rings are a process-wide pool: a sync takes an idle ring and gives it back, so there are
//! about as many rings as syncs at once, and syncs of different logs or threads never
//! queue behind one another. `check` tells at open whether io_uring works here at all;
//! where it is missing or refused (an old kernel, `kernel.io_uring_disabled`, a seccomp
//! filter) it says so with `Error::Unsupported`.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::Mutex;

use io_uring::{opcode, squeue, types, IoUring};

use crate::error::{Error, Result};

/// Submission queue entries per ring; a sync of more files is split into several
/// submissions, in order.
const ENTRIES: u32 = 16;

/// One fsync of a sync.
pub(crate) struct Fsync<'a> {
    pub(crate) file: &'a File,
    /// Named in errors.
    pub(crate) path: &'a Path,
    /// A data sync of `[start, end)`, or `None` for a full fsync of the whole file (a
    /// directory).
    pub(crate) range: Option<(u64, u64)>,
}

/// Idle rings, shared by every log and thread of the process: a sync takes one and gives
/// it back, so there are about as many rings as syncs at once, not one per thread.
static IDLE: Mutex<Vec<IoUring>> = Mutex::new(Vec::new());

/// Idle rings kept at most; more are closed.
const IDLE_MAX: usize = 8;

/// `Ok` if io_uring fsyncs work on this system, else `Error::Unsupported` saying why. The
/// ring it makes is kept for the first sync.
pub(crate) fn check() -> Result<()> {
    let ring = take()?;
    give(ring);
    Ok(())
}

fn idle() -> std::sync::MutexGuard<'static, Vec<IoUring>> {
    IDLE.lock().unwrap_or_else(|p| p.into_inner())
}

fn take() -> Result<IoUring> {
    let idle = idle().pop();
    match idle {
        Some(ring) => Ok(ring),
        None => new_ring(),
    }
}

fn give(ring: IoUring) {
    let mut idle = idle();
    if idle.len() < IDLE_MAX {
        idle.push(ring);
    }
}

/// Runs the fsyncs in order as one linked chain (a few chains for a long list) and waits
/// for all of them. The first failure is the error; it names the file.
///
/// If no ring can be had (`check` passed at open, so this is a shortage of file
/// descriptors or locked memory), the same syncs run as plain system calls, one by one:
/// an fdatasync of the whole file for a range (it covers the range), an fsync for the
/// rest. A durable sync matters more than the way it is made; nothing is poisoned for it.
pub(crate) fn fsync_all(ops: &[Fsync<'_>]) -> Result<()> {
    let chunk_len = usize::try_from(ENTRIES).unwrap_or(1);
    for chunk in ops.chunks(chunk_len) {
        let Ok(mut ring) = take() else {
            return fsync_plain(chunk);
        };
        // On failure some entries may be left queued: the ring is not given back (closing
        // it cancels what is left).
        submit_chain(&mut ring, chunk)?;
        give(ring);
    }
    Ok(())
}

/// `ops` without io_uring, in order.
fn fsync_plain(ops: &[Fsync<'_>]) -> Result<()> {
    for op in ops {
        let (what, result) = match op.range {
            Some(_) => ("fdatasync", op.file.sync_data()),
            None => ("fsync", op.file.sync_all()),
        };
        result.map_err(|source| Error::Io {
            op: what,
            path: op.path.to_path_buf(),
            source,
        })?;
    }
    Ok(())
}

fn unsupported(what: &str, e: &std::io::Error) -> Error {
    Error::Unsupported(format!(
        "Durability::IoUring: {what} failed ({e}); io_uring is missing or refused here \
         (an old kernel, kernel.io_uring_disabled, or a seccomp filter): use \
         Durability::Msync or Durability::Fdatasync"
    ))
}

fn new_ring() -> Result<IoUring> {
    let ring = IoUring::new(ENTRIES).map_err(|e| unsupported("io_uring_setup", &e))?;
    let mut probe = io_uring::Probe::new();
    ring.submitter()
        .register_probe(&mut probe)
        .map_err(|e| unsupported("probing io_uring operations", &e))?;
    if !probe.is_supported(opcode::Fsync::CODE) {
        return Err(Error::Unsupported(
            "Durability::IoUring: this kernel's io_uring has no fsync operation; use \
             Durability::Msync or Durability::Fdatasync"
                .into(),
        ));
    }
    Ok(ring)
}

/// Submits `ops` as one linked chain and waits for every completion.
fn submit_chain(ring: &mut IoUring, ops: &[Fsync<'_>]) -> Result<()> {
    let last = ops.len().saturating_sub(1);
    for (i, op) in ops.iter().enumerate() {
        let mut fsync = opcode::Fsync::new(types::Fd(op.file.as_raw_fd()));
        if let Some((start, end)) = op.range {
            fsync = fsync.flags(types::FsyncFlags::DATASYNC);
            // `len` is 32 bits (segments are far smaller); a range it cannot hold syncs the
            // whole file (offset and length 0), which covers it.
            if let Ok(len) = u32::try_from(end.saturating_sub(start)) {
                fsync = fsync.offset(start).len(len);
            }
        }
        let mut entry = fsync.build().user_data(i as u64);
        if i != last {
            entry = entry.flags(squeue::Flags::IO_LINK);
        }
        // SAFETY: an fsync entry points at no memory of this process, only at a file
        // descriptor, which `op.file` keeps open for this whole call; the call returns
        // only once every entry it submitted has completed (the wait below retries after
        // EINTR), except when the submission itself fails, and then the ring is never
        // used again and is closed, which cancels what is left. The queue has room:
        // `ops` has at most `ENTRIES` entries and a ring given back has none left.
        unsafe { ring.submission().push(&entry) }.map_err(|_| Error::Io {
            op: "io_uring submission",
            path: op.path.to_path_buf(),
            source: std::io::Error::other("the submission queue is full"),
        })?;
    }
    let mut results: Vec<Option<i32>> = vec![None; ops.len()];
    let mut done = 0;
    let path_of = |i: usize| ops.get(i).map_or(Path::new(""), |op| op.path);
    while done < ops.len() {
        match ring.submit_and_wait(ops.len() - done) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(Error::Io {
                    op: "io_uring_enter",
                    path: path_of(0).to_path_buf(),
                    source: e,
                })
            }
        }
        for cqe in ring.completion() {
            let i = usize::try_from(cqe.user_data()).unwrap_or(usize::MAX);
            if let Some(slot) = results.get_mut(i) {
                if slot.replace(cqe.result()).is_none() {
                    done += 1;
                }
            }
        }
    }
    // The first real failure (the operations linked after it report ECANCELED; the first
    // failure of all if every one did).
    let failed = results
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.filter(|&r| r < 0).map(|r| (i, r)))
        .min_by_key(|&(_, r)| r == -libc::ECANCELED);
    if let Some((i, res)) = failed {
        let op = if ops.get(i).is_some_and(|op| op.range.is_some()) {
            "io_uring fdatasync"
        } else {
            "io_uring fsync"
        };
        return Err(Error::Io {
            op,
            path: path_of(i).to_path_buf(),
            source: std::io::Error::from_raw_os_error(-res),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op<'a>(file: &'a File, path: &'a Path, range: Option<(u64, u64)>) -> Fsync<'a> {
        Fsync { file, path, range }
    }

    /// io_uring may be refused on the machine running the tests: then only this is
    /// skipped, and it says so.
    fn available() -> bool {
        match check() {
            Ok(()) => true,
            Err(e) => {
                eprintln!("skipping the io_uring part of this test: {e}");
                false
            }
        }
    }

    #[test]
    fn linked_fsyncs_of_files_and_a_directory() {
        if !available() {
            return;
        }
        let dir = tempfile::tempdir().expect("a temporary directory");
        let a_path = dir.path().join("a");
        let b_path = dir.path().join("b");
        std::fs::write(&a_path, vec![1u8; 10_000]).expect("write a");
        std::fs::write(&b_path, vec![2u8; 100]).expect("write b");
        let a = File::open(&a_path).expect("open a");
        let b = File::open(&b_path).expect("open b");
        let d = File::open(dir.path()).expect("open the directory");
        let ops = [
            op(&a, &a_path, Some((4096, 8192))),
            op(&d, dir.path(), None),
            op(&b, &b_path, Some((0, 100))),
        ];
        fsync_all(&ops).expect("linked fsyncs");
        // More files than one submission holds.
        let many: Vec<Fsync<'_>> = (0..40)
            .map(|i| op(&a, &a_path, Some((i * 100, i * 100 + 100))))
            .collect();
        fsync_all(&many).expect("fsyncs over several submissions");
    }

    #[test]
    fn a_failed_fsync_names_its_file_and_the_ring_recovers() {
        if !available() {
            return;
        }
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("f");
        std::fs::write(&path, b"x").expect("write f");
        let good = File::open(&path).expect("open f");
        // fsync of a pipe fails with EINVAL.
        let (reader, _writer) = std::io::pipe().expect("a pipe");
        let bad = File::from(std::os::fd::OwnedFd::from(reader));
        let bad_path = Path::new("the-pipe");
        let ops = [
            op(&good, &path, Some((0, 1))),
            op(&bad, bad_path, None),
            op(&good, &path, None),
        ];
        match fsync_all(&ops) {
            Err(Error::Io { path, source, .. }) => {
                assert_eq!(path, bad_path);
                assert_eq!(source.raw_os_error(), Some(libc::EINVAL), "{source}");
            }
            other => panic!("fsync of a pipe: {other:?}"),
        }
        // The failed ring was closed, not given back: the next sync gets another and works.
        fsync_all(&ops[..1]).expect("a sync after a failure");
    }
}
