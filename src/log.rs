//! `Log`: open and recovery, the segment list, LSN bookkeeping, sync, truncation, close.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, RwLock, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::{io_error, CorruptReason, Error, Result};
use crate::format::{self, IndexPoint, SegmentMeta};
use crate::options::{Durability, Options, SyncPolicy};
use crate::read::{self, Iter};
use crate::recovery::{self, Plan, Probe, SegmentPlan};
use crate::segment::{Recovered, Segment, Spare};
use crate::sequencer::Pending;
use crate::{dir, sys, Lsn};

/// An append-only log in a directory. `Send + Sync`: share it with `Arc` across threads.
///
/// # Examples
/// ```
/// use mmlog::{Log, Options};
/// let dir = tempfile::tempdir()?;
/// let log = Log::open(dir.path(), Options::default().segment_size(1 << 20))?;
/// let lsn = log.append(b"hello")?;
/// log.sync()?;
/// for record in log.iter() {
///     let record = record?;
///     assert_eq!((record.lsn(), record.payload()), (lsn, &b"hello"[..]));
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Log {
    pub(crate) inner: Arc<Inner>,
    flusher: Option<JoinHandle<()>>,
}

/// What the last `open` found and did.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RecoveryReport {
    /// Records in the log after recovery.
    pub records_recovered: u64,
    /// Segment files found.
    pub segments: usize,
    /// Non-zero bytes after the valid prefix that were cut off (and zeroed, if writable).
    pub torn_bytes: u64,
    /// The persisted durable mark: every LSN below it had been made durable.
    pub durable_mark: Lsn,
    /// Segment files removed because they lay after the cut.
    pub segments_removed: usize,
    /// Segments whose lost trailer was rewritten.
    pub segments_repaired: usize,
    /// Corruption that `Recovery::TruncateAtCorruption` dropped: the segment, the byte
    /// offset and what was wrong, as the `Error::Corrupt` of a `Strict` open names them.
    pub corruption: Option<String>,
}

/// Counters and the segment list of a log.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Stats {
    /// The first LSN the log holds.
    pub first_lsn: Lsn,
    /// The LSN the next record takes.
    pub next_lsn: Lsn,
    /// Every LSN below it is durable.
    pub durable_lsn: Lsn,
    /// Records appended since open.
    pub appends: u64,
    /// Payload bytes appended since open.
    pub bytes_appended: u64,
    /// Syncs performed since open (group commit shares one among many callers).
    pub syncs: u64,
    /// Segment rotations since open.
    pub rotations: u64,
    /// The segments, in LSN order.
    pub segments: Vec<SegmentStats>,
}

/// One segment in `Stats`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SegmentStats {
    /// The segment file.
    pub path: PathBuf,
    /// Its first LSN.
    pub base_lsn: Lsn,
    /// The LSN after its last record.
    pub next_lsn: Lsn,
    /// The file's length.
    pub len: u64,
    /// Bytes of records (headers included).
    pub used: u64,
    /// Whether it is sealed (no more appends).
    pub sealed: bool,
}

/// The writer's state, under the writer lock.
pub(crate) struct Writer {
    pub(crate) active: Arc<Segment>,
    /// Offset of the next record in `active`.
    pub(crate) offset: u64,
    /// This writer's epoch (see `format`): above every epoch in the log, persisted in a
    /// durable slot before the first record that carries it; raised by `truncate_back`.
    pub(crate) epoch: u32,
    pub(crate) next_lsn: Lsn,
    /// Sealed segments whose tail and trailer still wait for a sync.
    pub(crate) unsynced: Vec<Arc<Segment>>,
    /// A segment was created or renamed since the last directory fsync.
    pub(crate) dir_dirty: bool,
    /// Sequence number of the last durable slot written.
    pub(crate) slot_seq: u64,
    /// The next segment, being prepared in the background.
    pub(crate) spare: Option<JoinHandle<Result<Spare>>>,
    /// The thread faulting the active segment in at open.
    pub(crate) prefault: Option<JoinHandle<()>>,
    /// Claims not yet published, oldest first; `offset` and `next_lsn` are past them.
    pub(crate) pending: Pending,
    /// Threads waiting on `Inner::published`.
    pub(crate) waiters: usize,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) appends: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) syncs: AtomicU64,
    pub(crate) rotations: AtomicU64,
}

/// Group commit state (see `Inner::sync_until`).
#[derive(Default)]
struct Group {
    /// A leader is syncing.
    busy: bool,
    /// Callers waiting in this generation (reset when a sync ends): for the leader's
    /// sync, or for the batch of the next one.
    waiting: usize,
    /// After a shared sync, until the next one starts: how long and for how many records
    /// the next one waits (see `Inner::wait_before_leading`).
    gather: Option<Gather>,
    /// A waiter sleeps only until `gather.until`, to lead then if nobody has.
    timer: bool,
}

/// The batch a sync waits for before it starts (see `Inner::wait_before_leading`).
#[derive(Clone, Copy)]
struct Gather {
    until: Instant,
    /// Callers that took part in the last sync: its leader and every caller waiting when
    /// it ended.
    wanted: u64,
}

/// Whether the durable mark in the active segment's header page is on disk.
struct MarkState {
    /// When a sync last carried the header page.
    synced_at: Instant,
    /// A newer mark than the one on disk waits in the header page.
    pending: bool,
}

/// How often a sync also carries the header page with the durable mark to disk (at
/// most; also at close, and from the prefault thread when syncs stop). The other syncs
/// leave it out: one page write fewer each. The persisted mark lags by about this long
/// plus one sync (see the README's promises).
const MARK_EVERY: Duration = Duration::from_millis(10);

/// Callers waiting for a sync re-check this often even without a wake-up (a bound, not
/// a poll: the leader wakes them).
const SYNC_WAIT_POLL: Duration = Duration::from_millis(100);

/// Bounds of how long a leader waits for the callers of the last sync to come back with
/// their next records before it syncs without them (only when other callers are syncing
/// too): as long as the last sync took, so that a caller waits at most about two syncs.
const GATHER_MIN: Duration = Duration::from_micros(10);
const GATHER_MAX: Duration = Duration::from_millis(1);

pub(crate) struct Inner {
    pub(crate) dir: PathBuf,
    pub(crate) options: Options,
    pub(crate) segments: RwLock<Vec<Arc<Segment>>>,
    pub(crate) writer: Option<Mutex<Writer>>,
    pub(crate) next_lsn: AtomicU64,
    pub(crate) durable_lsn: AtomicU64,
    pub(crate) first_lsn: AtomicU64,
    pub(crate) poisoned: AtomicBool,
    /// Serializes the syncs themselves (and `truncate_back`). Taken before the writer
    /// lock, never after. Holds where the durable mark stands on disk.
    sync_lock: Mutex<MarkState>,
    /// Group commit: whether a leader is syncing, and where the others wait for it.
    group: Mutex<Group>,
    /// Moves on (and wakes its futex waiters) each time a group-commit leader is done.
    sync_generation: AtomicU32,
    /// Signalled (with the writer lock) when claims are published, for threads waiting
    /// for a record to be published or for every claim to be.
    pub(crate) published: Condvar,
    pub(crate) counters: Counters,
    report: RecoveryReport,
    fail_next_sync: AtomicBool,
    shutdown: (Mutex<bool>, Condvar),
    /// Set when the log closes: background prefaulting stops early.
    closing: Arc<AtomicBool>,
    /// The LSNs `truncate_back` cut at, in order; iterators compare against it.
    pub(crate) truncations: Mutex<Vec<Lsn>>,
    /// `truncations.len()`, readable without the lock.
    pub(crate) truncation_count: AtomicU64,
    /// Serializes `refresh` of a read-only log following a writer; holds when it last
    /// looked at the files themselves (see `refresh`).
    pub(crate) follow: Mutex<Instant>,
    /// The futex that wakes tailers (the writer's from open; a reader's once it exists).
    pub(crate) notify: OnceLock<sys::Notify>,
    /// The directory lock: released by `close` and `drop` of the `Log`, even while
    /// iterators or tailers still hold this state.
    lock_file: Mutex<Option<File>>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock leaves plain data behind (no half-written record is
    // ever published), so the data is still consistent.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Log {
    /// Opens (and with `Options::create(true)`, the default, creates) the log in `dir`,
    /// takes the writer lock, recovers, and is ready to append.
    ///
    /// # Errors
    /// `Error::Locked` if another writer holds the log; `Error::Corrupt` for corruption in
    /// durable data under `Recovery::Strict`; `Error::InvalidOptions`; `Error::NoSpace`
    /// when the first segment cannot be preallocated; `Error::Io`.
    pub fn open(dir: impl AsRef<Path>, options: Options) -> Result<Log> {
        options.validate()?;
        let dir = dir.as_ref().to_path_buf();
        let writable = !options.read_only;
        // Refused before anything is created: a refused open leaves nothing behind.
        #[cfg(feature = "io-uring")]
        if options.durability == Durability::IoUring && writable {
            sys::uring::check()?;
        }
        if writable && options.create && !dir.is_dir() {
            std::fs::create_dir_all(&dir).map_err(io_error("create directory", &dir))?;
            // The new directory's name must be durable too, or a crash can lose the log.
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                sys::fsync_dir(parent)?;
            }
        }
        dir::require_dir(&dir)?;
        let lock_file = if writable {
            Some(dir::lock(&dir)?)
        } else {
            None
        };
        if writable {
            let spare = dir.join(dir::SPARE_NAME);
            if spare.exists() {
                std::fs::remove_file(&spare).map_err(io_error("remove leftover spare", &spare))?;
            }
        }

        let listed = dir::list_segments(&dir)?;
        if listed.is_empty() && writable && !options.create {
            return Err(Error::Io {
                op: "open log",
                path: dir.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no log in this directory (open with Options::create(true) to start one)",
                ),
            });
        }
        let probes = listed
            .iter()
            .map(|(lsn, path)| probe(path, *lsn))
            .collect::<Result<Vec<_>>>()?;
        let plan = recovery::plan(&probes, options.recovery, |i| {
            FileBytes::open(&probes[i]).map(|b| Box::new(b) as Box<dyn recovery::Bytes>)
        })?;

        let mut report = RecoveryReport {
            segments: probes.len(),
            torn_bytes: plan.torn_bytes,
            durable_mark: plan.durable_mark,
            segments_removed: plan.delete.len(),
            corruption: plan.corruption.as_ref().map(|(path, d)| {
                format!(
                    "{}: {} at byte {}; the records from there on were dropped",
                    path.display(),
                    d.reason,
                    d.offset
                )
            }),
            ..RecoveryReport::default()
        };
        let epoch = next_epoch(plan.epoch_max)?;
        if writable {
            report.segments_repaired = apply(&dir, &probes, &plan, epoch)?;
        }

        let mut segments = Vec::with_capacity(plan.keep.len() + 1);
        for (i, meta, what) in &plan.keep {
            let path = probes[*i].path.clone();
            let recovered = match what {
                SegmentPlan::Sealed(t) => Recovered {
                    meta: *meta,
                    committed_end: t.records_end,
                    next_lsn: t.next_lsn,
                    sealed: true,
                    index: None,
                },
                SegmentPlan::Repair(scan) => Recovered {
                    meta: *meta,
                    committed_end: scan.end,
                    next_lsn: scan.next_lsn,
                    sealed: true,
                    index: Some(scan.index.clone()),
                },
                SegmentPlan::Active { scan, .. } => Recovered {
                    meta: *meta,
                    committed_end: scan.end,
                    next_lsn: scan.next_lsn,
                    sealed: false,
                    index: Some(scan.index.clone()),
                },
            };
            let is_active = matches!(what, SegmentPlan::Active { .. });
            segments.push(Arc::new(Segment::open(
                path,
                recovered,
                writable && is_active,
            )?));
        }

        // Unset, the segment size follows the log's newest segment.
        let mut options = options;
        if options.segment_size.is_none() {
            options.segment_size = plan.keep.last().map(|(_, meta, _)| meta.segment_len);
        }
        let next_lsn = plan.next_lsn;
        let first_lsn = segments.first().map_or(next_lsn, |s| s.base_lsn());
        report.records_recovered = next_lsn - first_lsn;
        let closing = Arc::new(AtomicBool::new(false));
        let writer = if writable {
            let active = match segments.last() {
                Some(last) if !last.is_sealed() => Arc::clone(last),
                _ => {
                    let spare = Spare::create(dir.join(dir::SPARE_NAME), options.segment_len())?;
                    let segment =
                        spare.install(&dir, next_lsn, next_lsn, epoch, options.durability)?;
                    // The new segment's name must be durable before anything is appended.
                    sys::fsync_dir(&dir)?;
                    let segment = Arc::new(segment);
                    segments.push(Arc::clone(&segment));
                    segment
                }
            };
            // Readers in other processes learn this writer's state from here on.
            active.reset_live();
            active.set_live_durable(next_lsn);
            let prefault = None;
            Some(Mutex::new(Writer {
                offset: active.committed_end(),
                epoch,
                next_lsn,
                unsynced: Vec::new(),
                dir_dirty: false,
                slot_seq: 1,
                spare: None,
                prefault,
                active,
                pending: Pending::default(),
                waiters: 0,
            }))
        } else {
            None
        };
        let durable = if writable {
            next_lsn
        } else {
            plan.durable_mark.min(next_lsn)
        };

        let inner = Arc::new(Inner {
            dir,
            segments: RwLock::new(segments),
            writer,
            next_lsn: AtomicU64::new(next_lsn),
            durable_lsn: AtomicU64::new(durable),
            first_lsn: AtomicU64::new(first_lsn),
            poisoned: AtomicBool::new(false),
            sync_lock: Mutex::new(MarkState {
                synced_at: Instant::now(),
                pending: false,
            }),
            group: Mutex::new(Group::default()),
            sync_generation: AtomicU32::new(0),
            published: Condvar::new(),
            counters: Counters::default(),
            report,
            fail_next_sync: AtomicBool::new(false),
            shutdown: (Mutex::new(false), Condvar::new()),
            closing,
            follow: Mutex::new(Instant::now()),
            truncations: Mutex::new(Vec::new()),
            truncation_count: AtomicU64::new(0),
            notify: OnceLock::new(),
            lock_file: Mutex::new(lock_file),
            options,
        });
        if let Some(w) = &inner.writer {
            // Ranged syncs (msync, io_uring) keep a window faulted in ahead of the writer;
            // fdatasync, which writes every dirty page, gets whole prefaulted spares.
            if inner.options.durability != Durability::Fdatasync {
                lock(w).prefault = Some(spawn_prefaulter(Arc::downgrade(&inner)));
            }
            let notify = sys::Notify::create(&inner.dir)?;
            // Tailers that slept through a writer restart look again.
            notify.wake();
            let _ = inner.notify.set(notify);
            inner.prepare_spare(&mut lock(w));
        }
        let flusher = match inner.options.sync_policy {
            SyncPolicy::Interval(every) if writable => {
                Some(spawn_flusher(Arc::downgrade(&inner), every))
            }
            _ => None,
        };
        Ok(Log { inner, flusher })
    }

    /// The first LSN the log holds (equal to `next_lsn` when it holds none).
    pub fn first_lsn(&self) -> Lsn {
        self.inner.first_lsn.load(Ordering::Acquire)
    }

    /// The LSN the next appended record will take.
    pub fn next_lsn(&self) -> Lsn {
        self.inner.next_lsn.load(Ordering::Acquire)
    }

    /// The largest payload one record can have: what fits in a segment of the size in
    /// force (`Options::segment_size`, or the log's own).
    pub fn record_len_max(&self) -> u64 {
        format::payload_len_max(self.inner.options.segment_len())
    }

    /// Every record below this LSN is durable (exclusive).
    pub fn durable_lsn(&self) -> Lsn {
        self.inner.durable_lsn.load(Ordering::Acquire)
    }

    /// Makes every record appended before the call durable; returns `durable_lsn()`.
    ///
    /// # Errors
    /// `Error::ReadOnly`, `Error::Poisoned`, or the `Error::Io` of the failed sync (which
    /// poisons the log).
    pub fn sync(&self) -> Result<Lsn> {
        loop {
            let seen = self.inner.truncations_seen();
            // Records whose append returned, even if an earlier append still runs.
            let target = {
                let w = self.inner.lock_writer()?;
                w.pending.completed_next().unwrap_or(self.next_lsn())
            };
            match self.inner.sync_until(target, seen) {
                // A concurrent `truncate_back` removed some of them: sync what is left.
                Err(Error::Truncated { .. }) => continue,
                result => result?,
            }
            return Ok(self.durable_lsn());
        }
    }

    /// Returns once every record up to and including `lsn` is durable. Concurrent callers
    /// share syncs.
    ///
    /// # Errors
    /// As `sync`; `Error::LsnOutOfRange` if `lsn` has not been appended;
    /// `Error::Truncated` if a concurrent `truncate_back` removed `lsn` before it was
    /// durable.
    pub fn sync_to(&self, lsn: Lsn) -> Result<()> {
        let seen = self.inner.truncations_seen();
        let mut next = self.next_lsn();
        if lsn >= next {
            // Appended, but an earlier append may still be running: the writer knows.
            if let Ok(w) = self.inner.lock_writer() {
                next = w.next_lsn;
            }
        }
        if lsn >= next {
            return Err(Error::LsnOutOfRange {
                lsn,
                first: self.first_lsn(),
                next,
            });
        }
        self.inner.sync_until(lsn + 1, seen)
    }

    /// An iterator over every record, from `first_lsn()`.
    pub fn iter(&self) -> Iter {
        Iter::new(Arc::clone(&self.inner), self.first_lsn(), None)
    }

    /// An iterator from record `lsn` on. If `lsn` is outside `first_lsn()..=next_lsn()`,
    /// the first item is `Error::LsnOutOfRange`.
    pub fn iter_from(&self, lsn: Lsn) -> Iter {
        if lsn > self.next_lsn() {
            // A read-only log may be behind the writer it follows: look first.
            let _ = self.inner.refresh();
        }
        let (first, next) = (self.first_lsn(), self.next_lsn());
        let error =
            (lsn < first || lsn > next).then_some(Error::LsnOutOfRange { lsn, first, next });
        Iter::new(Arc::clone(&self.inner), lsn, error)
    }

    /// What the last `open` found and did.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.inner.report
    }

    /// Counters and the segment list.
    pub fn stats(&self) -> Stats {
        let c = &self.inner.counters;
        let segments = self
            .inner
            .segments
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|s| SegmentStats {
                path: s.path.clone(),
                base_lsn: s.base_lsn(),
                next_lsn: s.next_lsn(),
                len: s.meta.segment_len,
                used: s.committed_end() - format::RECORDS_START,
                sealed: s.is_sealed(),
            })
            .collect();
        Stats {
            first_lsn: self.first_lsn(),
            next_lsn: self.next_lsn(),
            durable_lsn: self.durable_lsn(),
            appends: c.appends.load(Ordering::Relaxed),
            bytes_appended: c.bytes.load(Ordering::Relaxed),
            syncs: c.syncs.load(Ordering::Relaxed),
            rotations: c.rotations.load(Ordering::Relaxed),
            segments,
        }
    }

    /// Frees every segment whose records all lie below `lsn` (never the segment being
    /// appended to). Returns the new `first_lsn()`.
    ///
    /// # Errors
    /// `Error::ReadOnly`, `Error::LsnOutOfRange` if `lsn > next_lsn()`, `Error::Io`.
    pub fn truncate_front(&self, lsn: Lsn) -> Result<Lsn> {
        let writer = self.inner.writer()?;
        let mut w = lock(writer);
        if lsn > w.next_lsn {
            return Err(Error::LsnOutOfRange {
                lsn,
                first: self.first_lsn(),
                next: w.next_lsn,
            });
        }
        let removed: Vec<Arc<Segment>> = {
            let mut segments = self
                .inner
                .segments
                .write()
                .unwrap_or_else(|p| p.into_inner());
            let count = segments
                .iter()
                .take_while(|s| s.is_sealed() && s.next_lsn() <= lsn && !Arc::ptr_eq(s, &w.active))
                .count();
            let removed = segments.drain(..count).collect();
            if let Some(first) = segments.first() {
                self.inner
                    .first_lsn
                    .store(first.base_lsn(), Ordering::Release);
            }
            removed
        };
        if removed.is_empty() {
            return Ok(self.first_lsn());
        }
        w.unsynced
            .retain(|s| !removed.iter().any(|r| Arc::ptr_eq(r, s)));
        // Oldest first: a crash in between leaves a log that still starts at a segment
        // boundary and continues without gaps.
        for segment in &removed {
            std::fs::remove_file(&segment.path)
                .map_err(io_error("remove segment", &segment.path))?;
        }
        sys::fsync_dir(&self.inner.dir)?;
        Ok(self.first_lsn())
    }

    /// Removes every record at or after `lsn`; durable before it returns; `next_lsn() ==
    /// lsn` after. Removed records never come back, not even after a crash.
    ///
    /// Records read before stay valid. Appends continue in a new segment.
    ///
    /// # Errors
    /// `Error::ReadOnly`, `Error::Poisoned`, `Error::LsnOutOfRange` if `lsn` is outside
    /// `first_lsn()..=next_lsn()`, `Error::Io`, `Error::NoSpace`.
    pub fn truncate_back(&self, lsn: Lsn) -> Result<()> {
        let inner = &self.inner;
        let writer = inner.writer()?;
        // Waits for the appends in flight without holding the sync lock: a thread that
        // holds a reservation may be syncing an earlier record, and must not wait for
        // this call while this call waits for its reservation.
        let (_sync, mut w) = loop {
            let w = inner.wait_for_writers(lock(writer), "truncate_back")?;
            // Nothing in flight now: take the sync lock without letting go of the writer
            // lock if it is free (a try never waits, so the lock order holds), or else
            // wait for it and look again.
            match inner.sync_lock.try_lock() {
                Ok(sync) => break (sync, w),
                Err(std::sync::TryLockError::Poisoned(p)) => break (p.into_inner(), w),
                Err(std::sync::TryLockError::WouldBlock) => {}
            }
            drop(w);
            let sync = lock(&inner.sync_lock);
            let w = lock(writer);
            if w.pending.is_empty() {
                break (sync, w);
            }
        };
        inner.check_poisoned()?;
        let first = self.first_lsn();
        if lsn < first || lsn > w.next_lsn {
            return Err(Error::LsnOutOfRange {
                lsn,
                first,
                next: w.next_lsn,
            });
        }
        if lsn == w.next_lsn {
            return Ok(());
        }
        let result = inner.truncate_back_locked(&mut w, lsn);
        if result.is_err() {
            // The directory and the in-memory state may disagree now: refuse more writes.
            inner.poisoned.store(true, Ordering::Release);
        }
        result
    }

    /// Syncs, then releases the lock.
    ///
    /// # Errors
    /// The error of the final sync.
    pub fn close(mut self) -> Result<()> {
        let result = if self.inner.writer.is_none() {
            Ok(())
        } else {
            // A poisoned log says so: the records after the failed sync were not made
            // durable, and the caller must know.
            self.inner
                .check_poisoned()
                .and_then(|()| self.sync())
                .and_then(|_| self.inner.persist_mark())
        };
        self.stop();
        result
    }

    fn stop(&mut self) {
        {
            let (flag, cv) = &self.inner.shutdown;
            *lock(flag) = true;
            cv.notify_all();
        }
        if let Some(handle) = self.flusher.take() {
            let _ = handle.join();
        }
        self.inner.closing.store(true, Ordering::Relaxed);
        if let Some(w) = &self.inner.writer {
            // Join the background threads (they stop early now), so a reopen never races
            // with them on the spare file and no mapping outlives the log's use of it.
            let (spare, prefault) = {
                let mut w = lock(w);
                (w.spare.take(), w.prefault.take())
            };
            if let Some(handle) = spare {
                let _ = handle.join();
            }
            if let Some(handle) = prefault {
                let _ = handle.join();
            }
        }
        // Iterators and tailers may keep the shared state alive; the lock goes now.
        drop(lock(&self.inner.lock_file).take());
    }

    /// Test hook: the next sync fails as if the device returned an error.
    #[doc(hidden)]
    pub fn inject_sync_failure(&self) {
        self.inner.fail_next_sync.store(true, Ordering::Release);
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The epoch of a new writer: above every epoch in the log.
fn next_epoch(max: u32) -> Result<u32> {
    max.checked_add(1).ok_or_else(|| {
        Error::Unsupported(
            "the log has used every writer epoch (2^32 opens and truncations)".into(),
        )
    })
}

/// The prefault thread (`Durability::Msync` and `IoUring`): keeps pages faulted in for writing a window
/// ahead of the writer, so appends do not take page faults, without dirtying whole
/// segments of zero pages. It looks every millisecond while the writer moves, backing off
/// to 50 ms while it does not, and stops at close. It also carries a durable mark to disk
/// that no sync carried within `MARK_EVERY`.
fn spawn_prefaulter(inner: Weak<Inner>) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("mmlog-prefault".into())
        .spawn(move || {
            let mut idle = Duration::from_millis(1);
            loop {
                let Some(log) = inner.upgrade() else { return };
                let worked = log
                    .newest_segment()
                    .is_some_and(|segment| segment.prefault_ahead(&log.closing));
                let mark_waits = log.persist_mark_if_due();
                idle = if worked {
                    Duration::from_millis(1)
                } else {
                    (idle * 2).min(Duration::from_millis(50))
                };
                if mark_waits {
                    idle = idle.min(MARK_EVERY / 2);
                }
                let (flag, cv) = &log.shutdown;
                let guard = lock(flag);
                let (guard, _) = cv
                    .wait_timeout_while(guard, idle, |stop| !*stop)
                    .unwrap_or_else(|p| p.into_inner());
                if *guard {
                    return;
                }
            }
        })
        .expect("spawn the mmlog prefault thread")
}

fn spawn_flusher(inner: Weak<Inner>, every: Duration) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("mmlog-flusher".into())
        .spawn(move || loop {
            let Some(log) = inner.upgrade() else { return };
            {
                let (flag, cv) = &log.shutdown;
                let guard = lock(flag);
                let (guard, _) = cv
                    .wait_timeout_while(guard, every, |stop| !*stop)
                    .unwrap_or_else(|p| p.into_inner());
                if *guard {
                    return;
                }
            }
            let seen = log.truncations_seen();
            let target = log.next_lsn.load(Ordering::Acquire);
            // A failure poisons the log; appenders see it on their next call. (A
            // `truncate_back` meanwhile: the next round syncs what is left.)
            let _ = log.sync_until(target, seen);
        })
        .expect("spawn the mmlog flusher thread")
}

impl Inner {
    pub(crate) fn writer(&self) -> Result<&Mutex<Writer>> {
        // Not `ok_or(Error::ReadOnly)`: that builds and drops an `Error` on every append.
        match &self.writer {
            Some(writer) => Ok(writer),
            None => Err(Error::ReadOnly),
        }
    }

    /// Wakes tailers sleeping on this log (in any process).
    pub(crate) fn wake_tailers(&self) {
        if let Some(notify) = self.notify.get() {
            notify.wake();
        }
    }

    pub(crate) fn check_poisoned(&self) -> Result<()> {
        if self.poisoned.load(Ordering::Acquire) {
            Err(Error::Poisoned)
        } else {
            Ok(())
        }
    }

    /// Locks the writer of a writable, unpoisoned log.
    pub(crate) fn lock_writer(&self) -> Result<MutexGuard<'_, Writer>> {
        let writer = self.writer()?;
        self.check_poisoned()?;
        Ok(lock(writer))
    }

    /// The segment holding `lsn`: the last one whose base is at or below it.
    pub(crate) fn segment_for(&self, lsn: Lsn) -> Option<Arc<Segment>> {
        let segments = self.segments.read().unwrap_or_else(|p| p.into_inner());
        let i = segments.partition_point(|s| s.base_lsn() <= lsn);
        i.checked_sub(1).and_then(|i| segments.get(i)).cloned()
    }

    /// Waits (releasing the writer lock) until no claim is pending: every append that
    /// started has been published or given back. `what` names the caller for the error
    /// when this thread itself holds a reservation, which would make the wait endless.
    pub(crate) fn wait_for_writers<'a>(
        &'a self,
        mut w: MutexGuard<'a, Writer>,
        what: &'static str,
    ) -> Result<MutexGuard<'a, Writer>> {
        while !w.pending.is_empty() {
            w = self.wait_published_once(w, what)?;
        }
        Ok(w)
    }

    /// Waits until every record below `target` is published.
    fn wait_published(&self, target: Lsn) -> Result<()> {
        if self.next_lsn.load(Ordering::Acquire) >= target {
            return Ok(());
        }
        let mut w = lock(self.writer()?);
        while self.next_lsn.load(Ordering::Acquire) < target {
            if w.next_lsn < target {
                // Never claimed (a caller's bug, or `truncate_back` removed it).
                return Err(Error::LsnOutOfRange {
                    lsn: target - 1,
                    first: self.first_lsn.load(Ordering::Acquire),
                    next: w.next_lsn,
                });
            }
            w = self.wait_published_once(w, "a sync of a record after it")?;
        }
        Ok(())
    }

    /// One wait for a publication, unless this thread holds a reservation (`what` names
    /// the caller in the error).
    fn wait_published_once<'a>(
        &'a self,
        w: MutexGuard<'a, Writer>,
        what: &'static str,
    ) -> Result<MutexGuard<'a, Writer>> {
        if w.pending.held_by_current(None) {
            return Err(Error::Deadlock(what));
        }
        Ok(self.wait_publication(w))
    }

    /// Waits (releasing the writer lock) until claims are published or given back.
    pub(crate) fn wait_publication<'a>(
        &'a self,
        mut w: MutexGuard<'a, Writer>,
    ) -> MutexGuard<'a, Writer> {
        w.waiters += 1;
        let mut w = self.published.wait(w).unwrap_or_else(|p| p.into_inner());
        w.waiters -= 1;
        w
    }

    /// Makes every record below `target` durable, sharing the sync with concurrent callers
    /// (group commit): one caller, the leader, syncs everything published so far while the
    /// others wait; when it is done, every waiter whose record it covered returns, and one
    /// of the rest leads the next sync.
    ///
    /// `seen` is `truncations_seen()` from before the records below `target` were known
    /// to the caller: if a `truncate_back` since then removed any of them, this returns
    /// `Error::Truncated` (the LSNs may even hold other records by now).
    pub(crate) fn sync_until(&self, target: Lsn, seen: u64) -> Result<()> {
        self.writer()?;
        self.check_poisoned()?;
        if self.covered(seen, target)? {
            return Ok(());
        }
        // The leader syncs what is published: a record still being written by an earlier
        // append would not be covered. (A `truncate_back` meanwhile that removed the
        // target is reported as such, not as an LSN out of range.)
        self.wait_published(target)
            .map_err(|e| self.check_not_cut(seen, target).err().unwrap_or(e))?;
        let group = &self.group;
        let mut g = lock(group);
        // The generation in which this caller counts as a waiter, if it does.
        let mut counted: Option<u32> = None;
        // Whether this caller sleeps only until the gathering ends (see
        // `wait_before_leading`).
        let mut timer = false;
        loop {
            // Read under the lock: the leader moves it on (under the lock) when it is done,
            // so a change after this read cannot be missed.
            let generation = self.sync_generation.load(Ordering::Acquire);
            let was_timer = std::mem::take(&mut timer) && counted == Some(generation);
            if was_timer {
                g.timer = false;
            }
            match self
                .check_poisoned()
                .and_then(|()| self.covered(seen, target))
            {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(e) => {
                    // Leaving with an error (poisoned, or the record cut): it no longer
                    // counts, and if it was to lead when the gathering ends, the others
                    // are woken to see to that themselves.
                    if counted == Some(generation) {
                        g.waiting -= 1;
                    }
                    drop(g);
                    if was_timer {
                        sys::futex_wake_all_private(&self.sync_generation);
                    }
                    return Err(e);
                }
            }
            if let Some((timeout, is_timer)) = self.wait_before_leading(&mut g) {
                timer = is_timer;
                if counted != Some(generation) {
                    g.waiting += 1;
                    counted = Some(generation);
                }
                drop(g);
                // A futex rather than a condition variable: the callers a sync covers all
                // wake at once and return without taking the group lock again, one after
                // the other (that cost about as much as the gathering on two cores).
                sys::futex_wait_private(&self.sync_generation, generation, timeout);
                if let Ok(true) = self.covered(seen, target) {
                    return Ok(());
                }
                g = lock(group);
                continue;
            }
            if counted == Some(generation) {
                // It leads the sync it waited for: counted once, as its leader.
                g.waiting -= 1;
            }
            counted = None;
            g.busy = true;
            g.gather = None;
            drop(g);
            let result = {
                // Hands leadership back (with the size of its batch) and wakes the waiters
                // even if the sync panics.
                struct Lead<'a> {
                    inner: &'a Inner,
                    covered: u64,
                    took: Duration,
                }
                impl Drop for Lead<'_> {
                    fn drop(&mut self) {
                        let mut g = lock(&self.inner.group);
                        g.busy = false;
                        let waiters = g.waiting;
                        let population = waiters as u64 + 1;
                        g.waiting = 0;
                        g.timer = false;
                        // Others took part in this sync (or appended records into it): the
                        // next one waits a little for as many records.
                        g.gather = (population > 1 || self.covered > 1).then(|| Gather {
                            until: Instant::now() + self.took.clamp(GATHER_MIN, GATHER_MAX),
                            wanted: population,
                        });
                        self.inner.sync_generation.fetch_add(1, Ordering::AcqRel);
                        drop(g);
                        // Waiters count themselves under the lock before they sleep: with
                        // none counted, nobody sleeps on this generation.
                        if waiters > 0 {
                            sys::futex_wake_all_private(&self.inner.sync_generation);
                        }
                    }
                }
                let mut lead = Lead {
                    inner: self,
                    covered: 0,
                    took: Duration::ZERO,
                };
                let before = self.durable_lsn.load(Ordering::Acquire);
                let started = Instant::now();
                let result = self.sync_published();
                lead.took = started.elapsed();
                // Saturating: a `truncate_back` in between can lower the durable LSN.
                lead.covered = self
                    .durable_lsn
                    .load(Ordering::Acquire)
                    .saturating_sub(before);
                result
            };
            result?;
            g = lock(group);
        }
    }

    /// Whether a caller of `sync_until` that is not covered yet waits rather than leads a
    /// sync now, and for how long at most (it is woken when a sync ends):
    /// - while a leader syncs, for it;
    /// - after a shared sync, until as many records await a sync as callers took part in
    ///   it, or for as long as it took (within `GATHER_MIN` and `GATHER_MAX`), so that the
    ///   threads it woke can append their next records and share the next sync instead of
    ///   the one after it (on few cores they need the CPU to get there). Without it the
    ///   callers split into two cohorts that alternate, each sync covering half of them.
    ///
    /// The caller whose record completes the batch leads at once: no thread is woken to
    /// start the sync. One waiter sleeps only until the gathering ends, to lead if the
    /// batch stays incomplete; the others until a sync ends.
    /// Returns the longest wait, and whether this caller is that one waiter.
    fn wait_before_leading(&self, g: &mut Group) -> Option<(Duration, bool)> {
        if g.busy {
            return Some((SYNC_WAIT_POLL, false));
        }
        let gather = g.gather?;
        let now = Instant::now();
        if now >= gather.until
            || self.unsynced() >= gather.wanted
            || self.poisoned.load(Ordering::Acquire)
        {
            return None;
        }
        if g.timer {
            return Some((SYNC_WAIT_POLL, false));
        }
        g.timer = true;
        Some((gather.until - now, true))
    }

    /// `truncate_back` calls so far. Taken before an append or a sync, it lets the sync
    /// tell whether its records were removed meanwhile (see `sync_until`).
    pub(crate) fn truncations_seen(&self) -> u64 {
        self.truncation_count.load(Ordering::Acquire)
    }

    /// `Error::Truncated` if a `truncate_back` after the first `seen` cut the log below
    /// `target` (an atomic load when there was none).
    fn check_not_cut(&self, seen: u64, target: Lsn) -> Result<()> {
        if self.truncation_count.load(Ordering::Acquire) == seen {
            return Ok(());
        }
        let cuts = lock(&self.truncations);
        let start = usize::try_from(seen).unwrap_or(usize::MAX);
        match cuts.get(start..).and_then(|c| c.iter().copied().min()) {
            Some(cut) if cut < target => Err(Error::Truncated {
                lsn: target - 1,
                cut,
            }),
            _ => Ok(()),
        }
    }

    /// Whether every record below `target` is durable; `Error::Truncated` if one was cut
    /// since `seen` (see `sync_until`).
    fn covered(&self, seen: u64, target: Lsn) -> Result<bool> {
        self.check_not_cut(seen, target)?;
        Ok(self.durable_lsn.load(Ordering::Acquire) >= target)
    }

    /// Published records not yet durable.
    fn unsynced(&self) -> u64 {
        self.next_lsn
            .load(Ordering::Acquire)
            .saturating_sub(self.durable_lsn.load(Ordering::Acquire))
    }

    /// One sync: makes every published record durable.
    fn sync_published(&self) -> Result<()> {
        let mut mark = lock(&self.sync_lock);
        self.check_poisoned()?;
        let (sealed, dir_dirty, active, new_durable) = {
            let mut w = lock(self.writer()?);
            (
                std::mem::take(&mut w.unsynced),
                std::mem::replace(&mut w.dir_dirty, false),
                Arc::clone(&w.active),
                self.next_lsn.load(Ordering::Acquire),
            )
        };
        if self.durable_lsn.load(Ordering::Acquire) >= new_durable
            && sealed.is_empty()
            && !dir_dirty
        {
            return Ok(());
        }
        let result = (|| {
            if self.fail_next_sync.swap(false, Ordering::AcqRel) {
                return Err(Error::Io {
                    op: "fdatasync",
                    path: active.path.clone(),
                    source: std::io::Error::from_raw_os_error(libc::EIO),
                });
            }
            let header = mark.synced_at.elapsed() >= MARK_EVERY;
            self.sync_files(&sealed, dir_dirty, &active, header)?;
            if header {
                mark.synced_at = Instant::now();
            }
            Ok(())
        })();
        if let Err(e) = result {
            // Dirty pages after a failed fsync cannot be trusted; never retry.
            self.poisoned.store(true, Ordering::Release);
            return Err(e);
        }
        // Durable and sealed: a descriptor the rotation could not close is closed now.
        for segment in &sealed {
            segment.close_file();
        }
        self.durable_lsn.fetch_max(new_durable, Ordering::AcqRel);
        self.counters.syncs.fetch_add(1, Ordering::Relaxed);
        // Store the new durable mark; the next sync carries it to disk.
        let mut w = lock(self.writer()?);
        w.slot_seq += 1;
        w.active
            .write_durable_slot(new_durable, w.slot_seq, w.epoch);
        w.active.set_live_durable(new_durable);
        drop(w);
        mark.pending = true;
        // Durable-only tailers wait for this.
        self.wake_tailers();
        Ok(())
    }

    /// The syncs of `sync_published`: the sealed segments still waiting, the directory if
    /// `dir_dirty`, and the active segment (with its header page if `header`), in that
    /// order: a record is durable only when everything before it is.
    fn sync_files(
        &self,
        sealed: &[Arc<Segment>],
        dir_dirty: bool,
        active: &Segment,
        header: bool,
    ) -> Result<()> {
        let durability = self.options.durability;
        #[cfg(all(feature = "io-uring", target_os = "linux"))]
        if durability == Durability::IoUring {
            return self.sync_linked(sealed, dir_dirty, active, header);
        }
        if !sealed.is_empty() {
            // Several files: start writing all of them back first, so that their pages
            // reach the disk together instead of one file after the other (about a fifth
            // less time for two full segments and part of a third here); the syncs below
            // then wait for each, in order.
            for segment in sealed {
                segment.start_writeback(true);
            }
            active.start_writeback(header);
        }
        for segment in sealed {
            segment.sync(durability, true)?;
        }
        if dir_dirty {
            sys::fsync_dir(&self.dir)?;
        }
        active.sync(durability, header).map(drop)
    }

    /// `sync_files` through io_uring: the same syncs, in the same order, as one linked
    /// submission.
    #[cfg(all(feature = "io-uring", target_os = "linux"))]
    fn sync_linked(
        &self,
        sealed: &[Arc<Segment>],
        dir_dirty: bool,
        active: &Segment,
        header: bool,
    ) -> Result<()> {
        let mut ends = Vec::with_capacity(sealed.len() + 1);
        let mut ops = Vec::with_capacity(sealed.len() + 2);
        // Their files stay open while the submission runs (one removed meanwhile has
        // nothing left to sync).
        let files = sealed
            .iter()
            .map(|s| s.sync_file())
            .collect::<Result<Vec<_>>>()?;
        let active_file = active.sync_file()?;
        for (segment, file) in sealed.iter().zip(&files) {
            let (from, upto, end) = segment.sync_span(true);
            if let Some(file) = file {
                ops.push(segment.ring_fsync(file, from, upto));
            }
            ends.push(end);
        }
        let dir = if dir_dirty {
            Some(sys::dir_to_fsync(&self.dir)?)
        } else {
            None
        };
        if let Some(dir) = &dir {
            ops.push(sys::uring::Fsync {
                file: dir,
                path: &self.dir,
                range: None,
            });
        }
        let (from, upto, end) = active.sync_span(header);
        if let Some(file) = &active_file {
            ops.push(active.ring_fsync(file, from, upto));
        }
        sys::uring::fsync_all(&ops)?;
        for (segment, end) in sealed.iter().zip(ends) {
            segment.synced(end);
        }
        active.synced(end);
        Ok(())
    }

    /// Syncs the header page, so the latest durable mark is on disk (at close).
    fn persist_mark(&self) -> Result<()> {
        let mut mark = lock(&self.sync_lock);
        self.persist_mark_locked(&mut mark)
    }

    fn persist_mark_locked(&self, mark: &mut MarkState) -> Result<()> {
        let active = Arc::clone(&lock(self.writer()?).active);
        active
            .sync_range(0, format::PAGE_LEN, self.options.durability)
            .inspect_err(|_| {
                self.poisoned.store(true, Ordering::Release);
            })?;
        mark.synced_at = Instant::now();
        mark.pending = false;
        Ok(())
    }

    /// From the prefault thread: syncs the header page if a newer durable mark has waited
    /// in it for `MARK_EVERY` (the syncs that would carry it stopped). Skips it while a
    /// sync is in flight. Returns whether a mark still waits.
    fn persist_mark_if_due(&self) -> bool {
        let Ok(mut mark) = self.sync_lock.try_lock() else {
            return true;
        };
        if !mark.pending || self.poisoned.load(Ordering::Acquire) {
            return false;
        }
        if mark.synced_at.elapsed() < MARK_EVERY {
            return true;
        }
        // A failure poisons the log; appenders see it on their next call.
        let _ = self.persist_mark_locked(&mut mark);
        false
    }

    /// Starts preparing the next segment in the background.
    pub(crate) fn prepare_spare(&self, w: &mut Writer) {
        if w.spare.is_some() {
            return;
        }
        let path = self.dir.join(dir::SPARE_NAME);
        let len = self.options.segment_len();
        let durability = self.options.durability;
        let stop = Arc::clone(&self.closing);
        w.spare = std::thread::Builder::new()
            .name("mmlog-spare".into())
            .spawn(move || {
                let mut spare = Spare::create(path, len)?;
                spare.prefault(durability, &stop);
                Ok(spare)
            })
            .ok();
    }

    /// Takes the prepared spare, or makes one now.
    fn take_spare(&self, w: &mut Writer) -> Result<Spare> {
        if let Some(handle) = w.spare.take() {
            if let Ok(Ok(spare)) = handle.join() {
                return Ok(spare);
            }
            // A failed background attempt (say, a full disk) is retried once here, so the
            // error the caller sees is current.
        }
        Spare::create(self.dir.join(dir::SPARE_NAME), self.options.segment_len())
    }

    /// Starts a new active segment at `w.next_lsn` and seals the current one in memory.
    pub(crate) fn rotate(&self, w: &mut Writer) -> Result<()> {
        let spare = self.take_spare(w)?;
        let durable = self.durable_lsn.load(Ordering::Acquire);
        let segment = Arc::new(spare.install(
            &self.dir,
            w.next_lsn,
            durable,
            w.epoch,
            self.options.durability,
        )?);
        // An active segment that holds no record (only padding: reservations dropped) has
        // the new one's name, and the rename just replaced its file: it leaves the log
        // (kept, two segments would share a name, and freeing one would delete the other).
        let replaced = w.active.next_lsn() == w.active.base_lsn();
        // Publish the new segment before sealing the old one: a reader that sees the seal
        // must find the next segment.
        {
            let mut segments = self.segments.write().unwrap_or_else(|p| p.into_inner());
            if replaced {
                segments.retain(|s| !Arc::ptr_eq(s, &w.active));
            }
            segments.push(Arc::clone(&segment));
        }
        segment.set_live_durable(durable);
        let old = std::mem::replace(&mut w.active, segment);
        old.seal();
        // Its syncs open it again by name: a log of thousands of segments holds no
        // descriptor for each. (Not while a sync uses it: appenders wait behind this.)
        old.try_close_file();
        self.wake_tailers();
        if !replaced {
            w.unsynced.push(old);
        }
        w.dir_dirty = true;
        w.offset = format::RECORDS_START;
        self.counters.rotations.fetch_add(1, Ordering::Relaxed);
        self.prepare_spare(w);
        Ok(())
    }

    fn truncate_back_locked(&self, w: &mut Writer, lsn: Lsn) -> Result<()> {
        // The new segment first: a full disk fails here, before anything is changed.
        let spare = self.take_spare(w)?;
        let durability = self.options.durability;
        let mut segments = self.segments.write().unwrap_or_else(|p| p.into_inner());
        let k = segments
            .partition_point(|s| s.base_lsn() <= lsn)
            .saturating_sub(1);
        let keep_k = segments.get(k).is_some_and(|s| s.base_lsn() < lsn);
        let first_removed = if keep_k { k + 1 } else { k };
        // Newest first: a crash in between leaves a shorter log that is still a prefix.
        let removed: Vec<Arc<Segment>> = segments.drain(first_removed..).collect();
        for segment in removed.iter().rev() {
            std::fs::remove_file(&segment.path)
                .map_err(io_error("remove segment", &segment.path))?;
            // Retire it in memory and in its live area, once its file is gone (a follower
            // that sees the cut there finds the file gone; an interrupted truncation
            // leaves no live area saying a kept segment is empty): readers still holding
            // it see it end (its bytes stay valid for `Record`s, never written again).
            segment.cut(format::RECORDS_START, segment.base_lsn());
        }
        if !removed.is_empty() {
            sys::fsync_dir(&self.dir)?;
        }
        let durable = self.durable_lsn.load(Ordering::Acquire).min(lsn);
        self.durable_lsn.store(durable, Ordering::Release);
        // Records appended after the cut must carry a new epoch, persisted before them (in
        // the cut segment's slots and in the new segment's header page).
        let epoch = next_epoch(w.epoch)?;
        if keep_k {
            let segment = segments.get(k).cloned().expect("k is in range");
            let pos = read::locate(&segment, lsn)?;
            cut_segment(&segment, lsn, pos.offset, durable, epoch)?;
            segment.cut(pos.offset, lsn);
        }
        w.unsynced
            .retain(|s| segments.iter().any(|t| Arc::ptr_eq(s, t)) && s.base_lsn() < lsn);
        // Everything left is durable now (cut_segment synced the kept segment, and older
        // sealed segments are synced here).
        for s in std::mem::take(&mut w.unsynced) {
            s.sync(durability, true)?;
        }
        let segment = Arc::new(spare.install(&self.dir, lsn, durable, epoch, durability)?);
        sys::fsync_dir(&self.dir)?;
        segments.push(Arc::clone(&segment));
        if segments.len() == 1 {
            self.first_lsn.store(lsn, Ordering::Release);
        }
        drop(segments);
        segment.set_live_durable(durable);
        w.active = segment;
        w.offset = format::RECORDS_START;
        w.epoch = epoch;
        w.next_lsn = lsn;
        w.dir_dirty = false;
        self.next_lsn.store(lsn, Ordering::Release);
        {
            let mut cuts = lock(&self.truncations);
            cuts.push(lsn);
            self.truncation_count
                .store(cuts.len() as u64, Ordering::Release);
        }
        self.wake_tailers();
        self.prepare_spare(w);
        Ok(())
    }
}

/// Makes the on-disk end of `segment` be `lsn` at `end`: first lowers its durable mark,
/// then writes index and trailer, each synced (the mark first, or a crash in between could
/// leave a trailer ending below a persisted mark, which recovery refuses as corruption).
fn cut_segment(segment: &Segment, lsn: Lsn, end: u64, durable: Lsn, epoch: u32) -> Result<()> {
    let path = &segment.path;
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io_error("open segment", path))?;
    let seed = segment.seed();
    for (i, at) in format::DURABLE_SLOT_OFFSETS.iter().enumerate() {
        let slot = format::SlotMeta {
            mark: durable,
            seq: u64::MAX - 1 + i as u64,
            epoch,
        };
        let slot = format::encode_durable_slot(seed, &slot);
        file.write_all_at(&slot, *at)
            .map_err(io_error("write durable mark", path))?;
    }
    sys::fdatasync(&file, path)?;
    let points: Vec<IndexPoint> = segment
        .index_points()
        .into_iter()
        .filter(|p| p.offset < end)
        .collect();
    write_trailer(&file, path, &segment.meta, &points, lsn, end)?;
    sys::fdatasync(&file, path)
}

fn write_trailer(
    file: &File,
    path: &Path,
    meta: &SegmentMeta,
    points: &[IndexPoint],
    next_lsn: Lsn,
    end: u64,
) -> Result<()> {
    let seed = meta.seed();
    let mut buf = vec![0u8; points.len() * format::INDEX_ENTRY_LEN];
    let index_crc = format::encode_index(points, seed, &mut buf);
    file.write_all_at(&buf, format::records_end(meta.segment_len))
        .map_err(io_error("write index", path))?;
    let trailer = format::TrailerMeta {
        next_lsn,
        records_end: end,
        index_count: u32::try_from(points.len()).expect("index capacity fits in u32"),
        index_crc,
    };
    file.write_all_at(
        &format::encode_trailer(seed, &trailer),
        format::trailer_offset(meta.segment_len),
    )
    .map_err(io_error("write trailer", path))
}

/// Reads what planning needs of one segment file.
pub(crate) fn probe(path: &Path, name_lsn: Lsn) -> Result<Probe> {
    let file = dir::open_segment(path).map_err(io_error("open segment", path))?;
    let file_len = file
        .metadata()
        .map_err(io_error("stat segment", path))?
        .len();
    let header_len = file_len.min(format::PAGE_LEN);
    let mut header_page = vec![0u8; usize::try_from(header_len).unwrap_or(0)];
    file.read_exact_at(&mut header_page, 0)
        .map_err(io_error("read segment header", path))?;
    let mut trailer = Vec::new();
    if let Ok(meta) = format::decode_segment_header(&header_page) {
        let at = format::trailer_offset(meta.segment_len);
        if file_len >= meta.segment_len {
            trailer = vec![0u8; format::TRAILER_LEN];
            file.read_exact_at(&mut trailer, at)
                .map_err(io_error("read segment trailer", path))?;
        }
    }
    Ok(Probe {
        path: path.to_path_buf(),
        name_lsn,
        file_len,
        header_page,
        trailer,
    })
}

/// Reads a whole segment file with `pread` (a media error is an `Error`, never a SIGBUS).
pub(crate) fn read_image(probes: &[Probe], i: usize) -> Result<Vec<u8>> {
    let probe = &probes[i];
    let path = &probe.path;
    let file = File::open(path).map_err(io_error("open segment", path))?;
    // Only the file's data extents are read: the image ends where the last one ends (the
    // never-written, preallocated rest reads as zeros and is left out).
    let extents = sys::data_extents(&file, probe.file_len);
    let end = extents.last().map_or(0, |&(_, end)| end);
    let too_large = |_| Error::Corrupt {
        segment: path.clone(),
        offset: 0,
        reason: CorruptReason::SegmentTooShort {
            expected: 0,
            found: probe.file_len,
        },
    };
    let mut image = vec![0u8; usize::try_from(end).map_err(too_large)?];
    for (start, end) in extents {
        let range =
            usize::try_from(start).map_err(too_large)?..usize::try_from(end).map_err(too_large)?;
        if let Some(buf) = image.get_mut(range) {
            file.read_exact_at(buf, start)
                .map_err(io_error("read segment", path))?;
        }
    }
    Ok(image)
}

/// A segment file read through a window with `pread` (a media error is an `Error`, never a
/// SIGBUS), a few MiB at a time: recovery never holds a whole segment in memory.
struct FileBytes {
    file: File,
    path: PathBuf,
    file_len: u64,
    base: u64,
    window: Vec<u8>,
}

impl FileBytes {
    const CHUNK: u64 = 4 << 20;

    fn open(probe: &Probe) -> Result<FileBytes> {
        let file = File::open(&probe.path).map_err(io_error("open segment", &probe.path))?;
        Ok(FileBytes {
            file,
            path: probe.path.clone(),
            file_len: probe.file_len,
            base: 0,
            window: Vec::new(),
        })
    }
}

impl recovery::Bytes for FileBytes {
    fn at(&mut self, offset: u64, len: u64) -> Result<&[u8]> {
        let have = self.base..self.base + self.window.len() as u64;
        let end = offset.saturating_add(len).min(self.file_len);
        if !(have.contains(&offset) && end <= have.end) {
            let want = len
                .max(Self::CHUNK)
                .min(self.file_len.saturating_sub(offset));
            let want = usize::try_from(want).map_err(|_| {
                Error::InvalidOptions(format!("read of {want} bytes does not fit in memory"))
            })?;
            self.window.resize(want, 0);
            self.file
                .read_exact_at(&mut self.window, offset)
                .map_err(io_error("read segment", &self.path))?;
            self.base = offset;
        }
        let start = usize::try_from(offset - self.base).unwrap_or(usize::MAX);
        Ok(self.window.get(start..).unwrap_or(&[]))
    }
}

/// Applies a recovery plan: removes segments after the cut, rewrites lost trailers, zeroes
/// and syncs the torn tail, and records the durable mark. Returns segments repaired.
fn apply(dir: &Path, probes: &[Probe], plan: &Plan, epoch: u32) -> Result<usize> {
    for &i in plan.delete.iter().rev() {
        let path = &probes[i].path;
        std::fs::remove_file(path).map_err(io_error("remove segment", path))?;
    }
    let mut repaired = 0;
    for (i, meta, what) in &plan.keep {
        let path = &probes[*i].path;
        match what {
            SegmentPlan::Sealed(t) => {
                // Sealed after the last persisted mark: its tail may still sit in the page
                // cache of a writer that died. Make it durable before exposing it.
                if t.next_lsn > plan.durable_mark {
                    let file = File::open(path).map_err(io_error("open segment", path))?;
                    sys::fdatasync(&file, path)?;
                }
            }
            SegmentPlan::Repair(scan) => {
                let file = OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(io_error("open segment", path))?;
                write_trailer(&file, path, meta, &scan.index, scan.next_lsn, scan.end)?;
                sys::fdatasync(&file, path)?;
                repaired += 1;
            }
            SegmentPlan::Active {
                scan,
                zero_end,
                had_trailer,
            } => {
                let file = OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(io_error("open segment", path))?;
                // Appends write through the mapping: the file must have real blocks (a
                // sparse copy of a log, made by cp or a backup tool, has holes), or a full
                // disk would be a SIGBUS instead of an error.
                sys::preallocate(&file, meta.segment_len, path)?;
                zero_range(&file, path, scan.end, *zero_end)?;
                if *had_trailer {
                    zero_range(
                        &file,
                        path,
                        format::records_end(meta.segment_len),
                        meta.segment_len,
                    )?;
                }
                // The kept records first, the mark after: a mark must never reach the
                // disk before the records it vouches for.
                sys::fdatasync(&file, path)?;
                for (k, at) in format::DURABLE_SLOT_OFFSETS.iter().enumerate() {
                    let slot = format::SlotMeta {
                        mark: scan.next_lsn,
                        seq: k as u64,
                        epoch,
                    };
                    let slot = format::encode_durable_slot(meta.seed(), &slot);
                    file.write_all_at(&slot, *at)
                        .map_err(io_error("write durable mark", path))?;
                }
                sys::fdatasync(&file, path)?;
            }
        }
    }
    // A segment the crashed writer renamed into place may not have had its name synced
    // yet: everything is reported durable from here on, so the directory must be too.
    sys::fsync_dir(dir)?;
    Ok(repaired)
}

fn zero_range(file: &File, path: &Path, from: u64, to: u64) -> Result<()> {
    const CHUNK: u64 = 1 << 20;
    let zeros = vec![0u8; CHUNK as usize];
    let mut at = from;
    while at < to {
        let n = (to - at).min(CHUNK);
        file.write_all_at(&zeros[..n as usize], at)
            .map_err(io_error("zero torn tail", path))?;
        at += n;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A caller that waits to lead when the gathering ends, then leaves with an error (its
    /// record was cut by `truncate_back`), hands that role back: otherwise the callers
    /// asleep beside it would wait for a leader that never comes, until their poll.
    /// (Found by review.)
    #[test]
    fn a_gathering_timer_that_leaves_with_an_error_hands_its_role_back() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let log = Arc::new(Log::open(dir.path(), Options::default()).expect("open"));
        log.append(b"kept").expect("append");
        let cut = log.append(b"cut").expect("append");
        // As after a shared sync of 10 callers: the next sync waits for 10 records, or
        // for a second.
        lock(&log.inner.group).gather = Some(Gather {
            until: Instant::now() + Duration::from_secs(1),
            wanted: 10,
        });
        let timer = {
            let log = Arc::clone(&log);
            std::thread::spawn(move || log.sync_to(cut))
        };
        while !lock(&log.inner.group).timer {
            std::thread::yield_now();
        }
        log.truncate_back(cut).expect("truncate_back");
        let result = timer.join().expect("the caller returns");
        assert!(matches!(result, Err(Error::Truncated { .. })), "{result:?}");
        let g = lock(&log.inner.group);
        assert!(!g.timer, "the role was handed back");
        assert_eq!(g.waiting, 0, "it no longer counts as waiting");
    }
}
