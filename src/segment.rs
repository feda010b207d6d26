//! One segment file: create, preallocate, map, write, seal; an `Arc`-owned mapping.
//!
//! This module and `sys/` are the only places with `unsafe`. The invariants the unsafe
//! blocks rely on are kept here:
//!
//! 1. A mapping is never longer than its file, and segment files are never shrunk (mmlog
//!    deletes whole files, which keeps an existing mapping valid), so no access faults
//!    with SIGBUS for lack of a page.
//! 2. Bytes in `[RECORDS_START, committed_end)` are never written again through this
//!    mapping once `committed_end` has been published past them (writes beyond it, to the
//!    header page and to the index and trailer regions, never overlap it). Shared slices
//!    handed to readers cover only that range.
//! 3. Writes happen under the log's writer lock, except into a `Claim`: a range beyond
//!    `committed_end` that the writer handed to exactly one appender (see `sequencer`).
//!    So two writes never race.

use std::fs::{File, OpenOptions};
use std::marker::PhantomData;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::RwLock;

use memmap2::{MmapOptions, MmapRaw};

use crate::error::{io_error, Error, Result};
use crate::format::{self, IndexPoint, SegmentMeta};
use crate::options::Durability;
use crate::{sys, Lsn};

/// A segment's file for a sync or a read: its open descriptor (held open by the guard),
/// or the file opened again.
pub(crate) enum SyncFile<'a> {
    Open(std::sync::RwLockReadGuard<'a, Option<File>>),
    Again(File),
}

impl std::ops::Deref for SyncFile<'_> {
    type Target = File;
    fn deref(&self) -> &File {
        match self {
            SyncFile::Open(guard) => guard
                .as_ref()
                .expect("SyncFile::Open is made only from an open descriptor"),
            SyncFile::Again(file) => file,
        }
    }
}

/// The inode number of `file`, if `fstat` tells it.
fn inode_of(file: &File) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    file.metadata().ok().map(|m| m.ino())
}

/// A mapped segment file. Shared by the writer, readers and `Record`s through `Arc`.
pub(crate) struct Segment {
    pub(crate) path: PathBuf,
    /// The open file while the segment may still be synced: the writer's active segment
    /// and sealed ones not yet synced. Closed once no sync can need it (see `close_file`):
    /// the mapping keeps the file alive, and a log of thousands of segments must not hold
    /// as many descriptors (a common limit is 1,024).
    file: RwLock<Option<File>>,
    /// The file's inode number, if `fstat` told it.
    ino: Option<u64>,
    map: MmapRaw,
    pub(crate) meta: SegmentMeta,
    /// Offset after the last committed record: readers may read below it.
    committed_end: AtomicU64,
    /// LSN after the last committed record of this segment.
    next_lsn: AtomicU64,
    /// Offset below which the bytes are durable.
    synced_end: AtomicU64,
    /// The segment has a trailer (in memory at least): `committed_end` is final.
    sealed: AtomicBool,
    /// The sparse index: loaded lazily for segments sealed on disk.
    index: RwLock<Option<Vec<IndexPoint>>>,
    /// Records starting below this offset need no new index point (writer only).
    index_next: AtomicU64,
    /// This process writes the segment: it keeps the live area up to date.
    live_writer: bool,
    /// Offset up to which pages are faulted in for writing (see `prefault_ahead`).
    prefaulted: AtomicU64,
}

/// The live area of a segment's header page (see `format`): atomics in the shared mapping.
pub(crate) struct Live<'a> {
    pub(crate) published_end: &'a AtomicU64,
    pub(crate) published_lsn: &'a AtomicU64,
    pub(crate) durable_lsn: &'a AtomicU64,
    pub(crate) sealed: &'a AtomicU32,
}

/// A preallocated, mapped file under a temporary name, ready to become the next segment.
pub(crate) struct Spare {
    path: PathBuf,
    file: File,
    map: MmapRaw,
    len: u64,
    /// Bytes from the start already faulted in.
    prefaulted: u64,
}

/// How far ahead of the writer (with ranged syncs: msync, io_uring) pages are faulted in.
pub(crate) const PREFAULT_AHEAD: u64 = 8 << 20;

impl Spare {
    /// Creates `path` (replacing any leftover), preallocates `len` bytes and maps it.
    pub(crate) fn create(path: PathBuf, len: u64) -> Result<Spare> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| {
                // No inode (or directory block) left for the file: as full as no blocks.
                if sys::is_full(&e) {
                    Error::NoSpace {
                        path: path.clone(),
                        len,
                    }
                } else {
                    io_error("create segment", &path)(e)
                }
            })?;
        sys::testing::note_created(&path, &file);
        if let Err(e) = sys::preallocate(&file, len, &path) {
            // Leave no half-made file behind; the error is what matters.
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        let map = MmapOptions::new()
            .len(map_len(len)?)
            .map_raw(&file)
            .map_err(io_error("mmap", &path))?;
        Ok(Spare {
            path,
            file,
            map,
            len,
            prefaulted: 0,
        })
    }

    /// Faults every page of the mapping in for writing (`MADV_POPULATE_WRITE`), so that
    /// appends never take a page fault: about 5 ns instead of 50-150 ns per 128-byte
    /// record on first touch, measured here. Runs on the background thread that prepares
    /// the spare. With `Durability::Fdatasync` it also syncs the zero-filled file, because
    /// `fdatasync` writes every dirty page of a file and the first sync of the segment
    /// would otherwise write all of it; it also converts the file's unwritten extents
    /// ahead of time. A failure (an old kernel) only loses the optimisation.
    pub(crate) fn prefault(&mut self, durability: Durability, stop: &AtomicBool) {
        if durability == Durability::Fdatasync {
            populate(&self.map, 0, self.len, stop);
            if !stop.load(Ordering::Relaxed) {
                let _ = sys::fdatasync(&self.file, &self.path);
            }
        } else {
            // With msync only the first stretch: the log's prefault thread keeps a window
            // ahead of the writer from there (whole segments of dirty zero pages would be
            // written to disk by the kernel's writeback).
            let end = PREFAULT_AHEAD.min(self.len);
            populate(&self.map, 0, end, stop);
            self.prefaulted = end;
        }
    }

    /// Turns the spare into segment `base_lsn` of `dir`: writes the header and the initial
    /// durable mark, syncs them, then renames the file to its segment name.
    ///
    /// The caller must fsync the directory before any record of the new segment is
    /// acknowledged durable (the rename is not durable until then).
    pub(crate) fn install(
        self,
        dir: &Path,
        base_lsn: Lsn,
        durable_mark: Lsn,
        epoch: u32,
        durability: Durability,
    ) -> Result<Segment> {
        let meta = SegmentMeta {
            segment_len: self.len,
            base_lsn,
            salt: sys::random_u64(),
            created_ms: sys::now_ms(),
        };
        let ino = inode_of(&self.file);
        let segment = Segment {
            path: self.path,
            file: RwLock::new(Some(self.file)),
            ino,
            map: self.map,
            meta,
            committed_end: AtomicU64::new(format::RECORDS_START),
            next_lsn: AtomicU64::new(base_lsn),
            synced_end: AtomicU64::new(format::RECORDS_START),
            sealed: AtomicBool::new(false),
            index: RwLock::new(Some(Vec::new())),
            index_next: AtomicU64::new(0),
            live_writer: true,
            prefaulted: AtomicU64::new(self.prefaulted),
        };
        segment.write(0, &format::encode_segment_header(&meta));
        segment.write_durable_slot(durable_mark, 0, epoch);
        // The header (and the writer's epoch in the slot) must be durable before the file
        // gets its segment name: a named segment with a bad header is corruption, never a
        // torn write, and no record may carry an epoch that is not persisted.
        segment.sync_range(0, format::PAGE_LEN, durability)?;
        let final_path = crate::dir::segment_path(dir, base_lsn);
        segment.reset_live();
        std::fs::rename(&segment.path, &final_path)
            .map_err(io_error("rename segment", &final_path))?;
        Ok(Segment {
            path: final_path,
            ..segment
        })
    }
}

fn map_len(len: u64) -> Result<usize> {
    usize::try_from(len)
        .map_err(|_| Error::InvalidOptions(format!("segment length {len} does not fit in memory")))
}

/// `MADV_POPULATE_WRITE` over `[start, end)` of `map`, a MiB at a time, until `stop` is
/// set (the log is closing: the work is only an optimisation). Errors (an old kernel) only
/// lose the optimisation.
fn populate(map: &MmapRaw, start: u64, end: u64, stop: &AtomicBool) {
    const CHUNK: u64 = 1 << 20;
    let mut at = start;
    while at < end && !stop.load(Ordering::Relaxed) {
        let len = (end - at).min(CHUNK);
        #[cfg(target_os = "linux")]
        if let (Ok(offset), Ok(len)) = (usize::try_from(at), usize::try_from(len)) {
            if map
                .advise_range(memmap2::Advice::PopulateWrite, offset, len)
                .is_err()
            {
                return;
            }
        }
        at += len;
    }
}

/// A range of the active segment claimed by one append (see `sequencer`), written outside
/// the writer lock by the thread that holds it.
pub(crate) struct Claim<'a> {
    ptr: *mut u8,
    len: usize,
    /// The claim's id in `Writer::pending` (`u64::MAX` for an inline claim, which has no
    /// entry there).
    pub(crate) id: u64,
    /// The LSN of its first record, as claimed (abandoning an earlier claim can move it).
    pub(crate) lsn: Lsn,
    /// The writer's epoch and the segment's seed, for sealing.
    pub(crate) epoch: u32,
    pub(crate) seed: u32,
    /// The mapping must outlive the claim: the writer's active segment is only replaced
    /// (rotation, `truncate_back`) or dropped (the log dropped) once no claim is pending,
    /// and a claim borrows the log.
    _log: PhantomData<&'a crate::log::Inner>,
}

impl Claim<'_> {
    /// The claimed bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: as for `bytes_mut`; the slice borrows the claim, so no exclusive window
        // of it exists meanwhile.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// Ends the claim's window (before the writer publishes or reseals the range).
    pub(crate) fn release(self) {}

    /// The claimed bytes, exclusively.
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: (1) `ptr..ptr+len` lies inside the record area of the active segment's
        // mapping (asserted by `Writer::claim_in`), which stays mapped while the claim
        // lives (see `_log`; an inline claim borrows the writer itself, which holds the
        // segment); (2) the writer hands out each range once: claims are disjoint and lie
        // at or beyond `committed_end`, so no reader holds a slice of them, and the writer
        // touches a claimed range only after its `Claim` is released (consumed): a queued
        // claim is published only once complete, an inline one by its own thread after
        // `release`; (3) the slice borrows the claim mutably.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl crate::log::Writer {
    /// Claims `footprint` bytes at the tail of the active segment for `count` records from
    /// the next LSN, and advances the tail. The caller has checked that they fit.
    pub(crate) fn claim<'a>(
        &mut self,
        _log: &'a crate::log::Inner,
        footprint: u64,
        count: u64,
        bytes: u64,
        owner: Option<std::thread::ThreadId>,
    ) -> Claim<'a> {
        self.claim_in(footprint, count, bytes, owner, false)
    }

    /// Claims `footprint` bytes for one record that the caller writes and publishes
    /// (`Inner::publish_inline`) before it releases the writer lock, with no other claim
    /// pending: no queue entry. The claim borrows the writer, so the lock cannot be
    /// released while it lives.
    pub(crate) fn claim_inline(&mut self, footprint: u64) -> Claim<'_> {
        debug_assert!(
            self.pending.is_empty(),
            "an inline claim has no claim before it"
        );
        self.claim_in(footprint, 1, 0, None, true)
    }

    fn claim_in<'a>(
        &mut self,
        footprint: u64,
        count: u64,
        bytes: u64,
        owner: Option<std::thread::ThreadId>,
        inline: bool,
    ) -> Claim<'a> {
        let offset = self.offset;
        let end = offset + footprint;
        assert!(
            end <= format::records_end(self.active.meta.segment_len),
            "claim {offset}..{end} past the record area"
        );
        assert!(
            offset >= self.active.committed_end.load(Ordering::Acquire),
            "claim at {offset} over committed records"
        );
        let lsn = self.next_lsn;
        // An inline claim (`owner` none, `bytes` unused) is published before the lock is
        // released: it needs no entry in the queue.
        let id = if inline {
            u64::MAX
        } else {
            self.pending.claim(offset, end, lsn, count, bytes, owner)
        };
        self.offset = end;
        self.next_lsn += count;
        let start = usize::try_from(offset).expect("segment offsets fit in usize");
        Claim {
            ptr: self.active.map.as_mut_ptr().wrapping_add(start),
            len: usize::try_from(footprint).expect("segment offsets fit in usize"),
            id,
            lsn,
            epoch: self.epoch,
            seed: self.active.seed(),
            _log: PhantomData,
        }
    }
}

/// What recovery established about a segment that is being opened.
pub(crate) struct Recovered {
    pub(crate) meta: SegmentMeta,
    pub(crate) committed_end: u64,
    pub(crate) next_lsn: Lsn,
    pub(crate) sealed: bool,
    /// Known index points (a scanned segment), or `None` to load them lazily from disk.
    pub(crate) index: Option<Vec<IndexPoint>>,
}

impl Segment {
    /// Maps an existing segment file whose state recovery has established.
    pub(crate) fn open(path: PathBuf, recovered: Recovered, writable: bool) -> Result<Segment> {
        let file = OpenOptions::new()
            .read(true)
            .write(writable)
            .open(&path)
            .map_err(io_error("open segment", &path))?;
        Segment::from_file(path, file, recovered, writable)
    }

    /// As `open`, with the file already open (a follower maps the very file whose header
    /// it checked, even if the name is reused meanwhile).
    pub(crate) fn from_file(
        path: PathBuf,
        file: File,
        recovered: Recovered,
        writable: bool,
    ) -> Result<Segment> {
        let len = recovered.meta.segment_len;
        let actual = file
            .metadata()
            .map_err(io_error("stat segment", &path))?
            .len();
        // Recovery checked this too; check again right before mapping, since a mapping
        // longer than its file faults with SIGBUS.
        assert!(
            actual >= len,
            "{}: file is {actual} bytes, mapping {len}",
            path.display()
        );
        let mut options = MmapOptions::new();
        options.len(map_len(len)?);
        let map = if writable {
            options.map_raw(&file)
        } else {
            options.map_raw_read_only(&file)
        }
        .map_err(io_error("mmap", &path))?;
        let ino = inode_of(&file);
        Ok(Segment {
            path,
            // Only the writer's active segment is ever synced: a read-only mapping needs
            // no descriptor.
            file: RwLock::new(writable.then_some(file)),
            ino,
            map,
            meta: recovered.meta,
            committed_end: AtomicU64::new(recovered.committed_end),
            next_lsn: AtomicU64::new(recovered.next_lsn),
            synced_end: AtomicU64::new(recovered.committed_end),
            sealed: AtomicBool::new(recovered.sealed),
            index: RwLock::new(recovered.index),
            // Recomputed on the first record noted (the first check always takes the lock).
            index_next: AtomicU64::new(0),
            live_writer: writable,
            prefaulted: AtomicU64::new(0),
        })
    }

    /// Faults pages in for writing up to `PREFAULT_AHEAD` beyond the writer's position
    /// (see `Spare::prefault`). Returns whether there was anything to do. Called by the
    /// log's prefault thread, never on the append path.
    pub(crate) fn prefault_ahead(&self, stop: &AtomicBool) -> bool {
        let end = self.committed_end();
        let limit = format::records_end(self.meta.segment_len);
        let target = (end + PREFAULT_AHEAD).min(limit);
        let from = self
            .prefaulted
            .load(Ordering::Relaxed)
            .max(end - end % format::PAGE_LEN);
        if from >= target {
            return false;
        }
        populate(&self.map, from, target, stop);
        self.prefaulted.store(target, Ordering::Relaxed);
        true
    }

    pub(crate) fn base_lsn(&self) -> Lsn {
        self.meta.base_lsn
    }

    pub(crate) fn seed(&self) -> u32 {
        self.meta.seed()
    }

    /// Offset after the last committed record (acquire: the bytes below are visible).
    pub(crate) fn committed_end(&self) -> u64 {
        self.committed_end.load(Ordering::Acquire)
    }

    /// LSN after the last committed record of this segment.
    pub(crate) fn next_lsn(&self) -> Lsn {
        self.next_lsn.load(Ordering::Acquire)
    }

    pub(crate) fn is_sealed(&self) -> bool {
        self.sealed.load(Ordering::Acquire)
    }

    /// Publishes records up to `end` (exclusive offset) and `next_lsn`. Release: every
    /// byte written below `end` is visible to a reader that loads `committed_end`.
    pub(crate) fn publish(&self, end: u64, next_lsn: Lsn) {
        assert!(
            end >= self.committed_end.load(Ordering::Relaxed),
            "committed_end moves forward"
        );
        assert!(
            end <= format::records_end(self.meta.segment_len),
            "committed_end {end} past the record area"
        );
        self.next_lsn.store(next_lsn, Ordering::Release);
        self.committed_end.store(end, Ordering::Release);
        if self.live_writer {
            let live = self.live();
            live.published_lsn.store(next_lsn, Ordering::Release);
            live.published_end.store(end, Ordering::Release);
        }
    }

    /// Resets the live area to this writer's state (at open and install).
    pub(crate) fn reset_live(&self) {
        assert!(self.live_writer, "only the writer resets the live area");
        let live = self.live();
        live.sealed
            .store(u32::from(self.is_sealed()), Ordering::Release);
        live.published_lsn.store(self.next_lsn(), Ordering::Release);
        live.published_end
            .store(self.committed_end(), Ordering::Release);
    }

    /// Tells followers (in any process) how far the writer's log is durable.
    pub(crate) fn set_live_durable(&self, durable: Lsn) {
        assert!(self.live_writer, "only the writer stores its durable LSN");
        self.live().durable_lsn.store(durable, Ordering::Release);
    }

    /// The durable LSN the writer (possibly in another process) last stored here.
    pub(crate) fn live_durable(&self) -> Lsn {
        self.live().durable_lsn.load(Ordering::Acquire)
    }

    /// What the writer (possibly in another process) has published: `(end, next_lsn,
    /// sealed)`. The end is clamped to the record area; 0 (never written) reads as empty.
    pub(crate) fn live_published(&self) -> (u64, Lsn, bool) {
        let live = self.live();
        let sealed = live.sealed.load(Ordering::Acquire) == 1;
        let lsn = live.published_lsn.load(Ordering::Acquire);
        let end = live.published_end.load(Ordering::Acquire);
        let end = end.clamp(
            format::RECORDS_START,
            format::records_end(self.meta.segment_len),
        );
        (end, lsn, sealed)
    }

    fn live(&self) -> Live<'_> {
        let at = |offset: u64| {
            let offset = usize::try_from(offset).expect("live offsets fit in usize");
            self.map.as_ptr().wrapping_add(offset)
        };
        let u64_at = |offset: u64| {
            let ptr = at(offset).cast::<u64>().cast_mut();
            // SAFETY: (1) `ptr` is inside the header page of the mapping (the live area is
            // within 0..RECORDS_START, asserted in `format`) and 8-byte aligned (the
            // mapping is page-aligned, the offsets are multiples of 8); (2) the mapping
            // lives as long as `self`, which the returned reference borrows; (3) these
            // bytes are only ever accessed atomically, through such references, in this
            // and other processes: no slice of the mapping covers the live area.
            unsafe { AtomicU64::from_ptr(ptr) }
        };
        let u32_at = |offset: u64| {
            let ptr = at(offset).cast::<u32>().cast_mut();
            // SAFETY: as for `u64_at`, with 4-byte alignment.
            unsafe { AtomicU32::from_ptr(ptr) }
        };
        Live {
            published_end: u64_at(format::LIVE_PUBLISHED_END),
            published_lsn: u64_at(format::LIVE_PUBLISHED_LSN),
            durable_lsn: u64_at(format::LIVE_DURABLE_LSN),
            sealed: u32_at(format::LIVE_SEALED),
        }
    }

    /// The committed record bytes `[RECORDS_START, committed_end)`, as a slice of the
    /// mapping. Offset `o` of the segment is index `o - RECORDS_START` of the slice.
    pub(crate) fn committed(&self) -> &[u8] {
        let end = self.committed_end();
        let start = format::RECORDS_START;
        assert!(end >= start, "committed_end {end} below the record area");
        let len = usize::try_from(end - start).expect("segment lengths fit in usize");
        let offset = usize::try_from(start).expect("RECORDS_START fits in usize");
        let ptr = self.map.as_ptr().wrapping_add(offset);
        // SAFETY: (1) the mapping is `segment_len` bytes of a file at least that long that
        // is never shrunk, and `end <= records_end(segment_len) < segment_len` (asserted
        // in `publish`), so the range lies inside the mapping; (2) bytes below the
        // published `committed_end` are never written again (module invariant 2), so a
        // shared slice of them cannot alias a write; (3) the slice borrows `self`, which
        // owns the mapping, so it cannot outlive it.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    }

    /// The record bytes `[RECORDS_START, end)` that a writer (possibly in another process)
    /// has published through the live area, for a reader following it. `end` must come
    /// from `live_published`.
    pub(crate) fn published(&self, end: u64) -> &[u8] {
        assert!(
            end >= format::RECORDS_START,
            "published end {end} below the record area"
        );
        assert!(
            end <= format::records_end(self.meta.segment_len),
            "published end {end} past the record area"
        );
        let len =
            usize::try_from(end - format::RECORDS_START).expect("segment lengths fit in usize");
        let offset = usize::try_from(format::RECORDS_START).expect("RECORDS_START fits in usize");
        let ptr = self.map.as_ptr().wrapping_add(offset);
        // SAFETY: (1) the range lies inside the mapping (asserted above; the file is never
        // shrunk); (2) the writer stores `published_end` with release ordering only after
        // the bytes below it are complete, and never writes them again (module invariant
        // 2 holds for the writer's process, and the live area is its mirror), so no write
        // races with this shared slice.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    }

    /// `len` bytes at `offset` of a record that was committed (and checksum-verified) when
    /// it was read. Valid even if `truncate_back` has since lowered `committed_end`: the
    /// bytes of a committed record are never written again through this mapping.
    ///
    /// # Panics
    /// If the range lies outside the record area.
    pub(crate) fn record_bytes(&self, offset: u64, len: usize) -> &[u8] {
        let end = offset + len as u64;
        assert!(
            offset >= format::RECORDS_START,
            "record offset {offset} in the header page"
        );
        assert!(
            end <= format::records_end(self.meta.segment_len),
            "record end {end} past the record area"
        );
        let start = usize::try_from(offset).expect("segment offsets fit in usize");
        let ptr = self.map.as_ptr().wrapping_add(start);
        // SAFETY: (1) `offset..end` lies inside the record area of the mapping (asserted
        // above), and the mapping stays valid while `self` lives (module invariant 1);
        // (2) the caller read these bytes as a committed record, and committed bytes are
        // never written again (module invariant 2), so the shared slice aliases no write.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    }

    /// Lowers the end of the segment to `end` / `next_lsn` and marks it sealed
    /// (`truncate_back`). The bytes beyond `end` are never written again through this
    /// mapping: appends continue in a new segment, so records read before stay valid.
    pub(crate) fn cut(&self, end: u64, next_lsn: Lsn) {
        assert!(end >= format::RECORDS_START, "cut below the record area");
        // The end first, the seal last: a reader that sees the seal sees the final end.
        self.next_lsn.store(next_lsn, Ordering::Release);
        self.committed_end.store(end, Ordering::Release);
        self.sealed.store(true, Ordering::Release);
        if self.live_writer {
            let live = self.live();
            live.published_lsn.store(next_lsn, Ordering::Release);
            live.published_end.store(end, Ordering::Release);
            live.sealed.store(1, Ordering::Release);
        }
        let mut guard = self.index.write().unwrap_or_else(|p| p.into_inner());
        if let Some(points) = guard.as_mut() {
            points.retain(|p| p.offset < end);
        }
    }

    /// Copies `bytes` into the mapping at `offset`.
    ///
    /// # Panics
    /// If the range is outside the mapping or overlaps committed records.
    pub(crate) fn write(&self, offset: u64, bytes: &[u8]) {
        let end = offset + bytes.len() as u64;
        assert!(
            end <= self.meta.segment_len,
            "write {offset}..{end} past segment end"
        );
        let committed = self.committed_end.load(Ordering::Acquire);
        assert!(
            end <= format::RECORDS_START || offset >= committed,
            "write {offset}..{end} overlaps committed records below {committed}"
        );
        let start = usize::try_from(offset).expect("segment offsets fit in usize");
        let dst = self.map.as_mut_ptr().wrapping_add(start);
        // SAFETY: (1) `offset..end` lies inside the mapping (asserted above); (2) it does
        // not overlap the committed range that readers may hold slices of (asserted above),
        // and writes are serialized by the writer lock (module invariant 3), so nothing
        // else accesses these bytes now; (3) `bytes` is a distinct allocation from the
        // mapping region being written, so the copy does not overlap.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), dst, bytes.len()) };
    }

    /// Stores a durable mark in slot `seq % 2` of the header page (no syscall; the next
    /// sync carries it to disk).
    pub(crate) fn write_durable_slot(&self, mark: Lsn, seq: u64, epoch: u32) {
        let slot = format::encode_durable_slot(self.seed(), &format::SlotMeta { mark, seq, epoch });
        let at = format::DURABLE_SLOT_OFFSETS[usize::from(seq % 2 == 1)];
        self.write(at, &slot);
    }

    /// Makes `[start, end)` durable with the configured backend.
    pub(crate) fn sync_range(&self, start: u64, end: u64, durability: Durability) -> Result<()> {
        if durability == Durability::Msync {
            // The mapping is all an msync needs (the descriptor only names the file in a
            // test's record of the syncs).
            if sys::testing::recording() {
                if let Some(file) = self.sync_file()? {
                    sys::testing::note_range(&self.path, &file, start, end, format::PAGE_LEN);
                }
            }
            let offset = usize::try_from(start).expect("segment offsets fit in usize");
            let len = usize::try_from(end - start).expect("segment offsets fit in usize");
            return self
                .map
                .flush_range(offset, len)
                .map_err(io_error("msync", &self.path));
        }
        // Gone from the directory (`truncate_front` or `truncate_back` removed it): its
        // records are no longer part of the log, so there is nothing to sync.
        let Some(file) = self.sync_file()? else {
            return Ok(());
        };
        match durability {
            Durability::Msync | Durability::Fdatasync => sys::fdatasync(&file, &self.path),
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            Durability::IoUring => sys::uring::fsync_all(&[self.ring_fsync(&file, start, end)]),
            #[cfg(all(feature = "io-uring", not(target_os = "linux")))]
            Durability::IoUring => sys::uring::check(),
        }
    }

    /// The file to sync: the open descriptor, or, once closed (see `close_file`), the
    /// file opened again by name, if the name still holds this very file (`None` if it
    /// was deleted or replaced).
    pub(crate) fn sync_file(&self) -> Result<Option<SyncFile<'_>>> {
        let guard = self.file.read().unwrap_or_else(|p| p.into_inner());
        if guard.is_some() {
            return Ok(Some(SyncFile::Open(guard)));
        }
        drop(guard);
        match crate::dir::open_segment(&self.path) {
            Ok(file) if self.ino.is_some() && inode_of(&file) == self.ino => {
                Ok(Some(SyncFile::Again(file)))
            }
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error("open segment", &self.path)(e)),
        }
    }

    /// Closes the descriptor of a sealed segment: the writer never writes it again, and
    /// a sync opens it again by name (see `sync_file`).
    pub(crate) fn close_file(&self) {
        if self.is_sealed() {
            *self.file.write().unwrap_or_else(|p| p.into_inner()) = None;
        }
    }

    /// `close_file`, unless a sync is using the descriptor right now (then the sync
    /// that makes the sealed segment durable closes it): it never waits.
    pub(crate) fn try_close_file(&self) {
        if !self.is_sealed() {
            return;
        }
        match self.file.try_write() {
            Ok(mut file) => *file = None,
            Err(std::sync::TryLockError::Poisoned(p)) => *p.into_inner() = None,
            Err(std::sync::TryLockError::WouldBlock) => {}
        }
    }

    /// The io_uring data sync of `[start, end)` of `file`, this segment's (recorded for
    /// tests like an msync: the kernel syncs the same range either way).
    #[cfg(all(feature = "io-uring", target_os = "linux"))]
    pub(crate) fn ring_fsync<'a>(
        &'a self,
        file: &'a File,
        start: u64,
        end: u64,
    ) -> sys::uring::Fsync<'a> {
        sys::testing::note_range(&self.path, file, start, end, format::PAGE_LEN);
        sys::uring::Fsync {
            file,
            path: &self.path,
            range: Some((start, end)),
        }
    }

    /// What `sync` makes durable: the range to sync, and the offset durable after it.
    pub(crate) fn sync_span(&self, header: bool) -> (u64, u64, u64) {
        let end = self.committed_end();
        let (from, upto) = if self.is_sealed() {
            (0, self.meta.segment_len)
        } else if header {
            (0, end)
        } else {
            let synced = self.synced_end.load(Ordering::Acquire).min(end);
            (synced - synced % format::PAGE_LEN, end)
        };
        (from, upto, end)
    }

    /// Starts the writeback of what `sync(_, header)` would sync, without waiting (see
    /// `sys::start_writeback`).
    pub(crate) fn start_writeback(&self, header: bool) {
        let (from, upto, _) = self.sync_span(header);
        if let Ok(Some(file)) = self.sync_file() {
            sys::start_writeback(&file, from, upto);
        }
    }

    /// Notes that a sync made everything below `end` durable.
    pub(crate) fn synced(&self, end: u64) {
        self.synced_end.fetch_max(end, Ordering::AcqRel);
    }

    /// Syncs everything appended, and the header page (with its durable mark) if `header`
    /// or the segment is sealed; returns the offset now durable. Without the header page
    /// an msync covers only the pages written since the last sync: one page write fewer
    /// per small sync, about a fifth of its time here (the header page is dirty after every
    /// sync: it holds the mark and the live area).
    pub(crate) fn sync(&self, durability: Durability, header: bool) -> Result<u64> {
        let (from, upto, end) = self.sync_span(header);
        self.sync_range(from, upto, durability)?;
        self.synced(end);
        Ok(end)
    }

    /// Seals the segment in memory: writes the index and the trailer after the records.
    /// The caller syncs it (the trailer is durable with the segment's next sync).
    pub(crate) fn seal(&self) {
        let end = self.committed_end();
        let points = self.index_points();
        let seed = self.seed();
        let len = self.meta.segment_len;
        let mut buf = vec![0u8; points.len() * format::INDEX_ENTRY_LEN];
        let index_crc = format::encode_index(&points, seed, &mut buf);
        self.write(format::records_end(len), &buf);
        let trailer = format::TrailerMeta {
            next_lsn: self.next_lsn(),
            records_end: end,
            index_count: u32::try_from(points.len()).expect("index capacity fits in u32"),
            index_crc,
        };
        self.write(
            format::trailer_offset(len),
            &format::encode_trailer(seed, &trailer),
        );
        // Everything up to the trailer must be synced again, not just the records.
        self.synced_end
            .store(format::RECORDS_START, Ordering::Release);
        self.sealed.store(true, Ordering::Release);
        if self.live_writer {
            let live = self.live();
            live.sealed.store(1, Ordering::Release);
        }
    }

    /// Marks the segment sealed at its current end (a reader that saw the writer seal it).
    pub(crate) fn mark_sealed(&self) {
        self.sealed.store(true, Ordering::Release);
    }

    /// Adds an index point when a record starts in a stride not yet indexed.
    pub(crate) fn note_record(&self, point: IndexPoint) {
        // Fast path, no lock: most records start in a stride that already has its point.
        if point.offset < self.index_next.load(Ordering::Relaxed) {
            return;
        }
        let mut guard = self.index.write().unwrap_or_else(|p| p.into_inner());
        if let Some(points) = guard.as_mut() {
            let stride = |o: u64| (o - format::RECORDS_START) / format::INDEX_STRIDE;
            if points
                .last()
                .is_none_or(|last| stride(last.offset) < stride(point.offset))
            {
                points.push(point);
            }
        }
        let next_stride = (point.offset - format::RECORDS_START) / format::INDEX_STRIDE + 1;
        self.index_next.store(
            format::RECORDS_START + next_stride * format::INDEX_STRIDE,
            Ordering::Relaxed,
        );
    }

    /// The sparse index; loaded from the sealed segment on first use. An index that fails
    /// its checksum is ignored (lookups then scan from the first record).
    pub(crate) fn index_points(&self) -> Vec<IndexPoint> {
        if let Some(points) = self
            .index
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            return points.clone();
        }
        let points = self.load_index().unwrap_or_default();
        *self.index.write().unwrap_or_else(|p| p.into_inner()) = Some(points.clone());
        points
    }

    /// Finds the index point at or before `lsn` without cloning the index.
    pub(crate) fn index_floor(&self, lsn: Lsn) -> Option<IndexPoint> {
        {
            let guard = self.index.read().unwrap_or_else(|p| p.into_inner());
            if let Some(points) = guard.as_ref() {
                let i = points.partition_point(|p| p.lsn <= lsn);
                return i.checked_sub(1).and_then(|i| points.get(i).copied());
            }
        }
        let _ = self.index_points();
        self.index_floor(lsn)
    }

    /// The trailer, read with `pread`, if the segment has a valid one.
    pub(crate) fn read_trailer(&self) -> Option<format::TrailerMeta> {
        self.trailer_from(&self.sync_file())
    }

    /// The trailer, read from `file` (a `sync_file` answer), if it is valid.
    fn trailer_from(&self, file: &Result<Option<SyncFile<'_>>>) -> Option<format::TrailerMeta> {
        let len = self.meta.segment_len;
        let mut bytes = vec![0u8; format::TRAILER_LEN];
        self.read_from(file, &mut bytes, format::trailer_offset(len))?;
        format::decode_trailer(&bytes, self.seed(), len, self.base_lsn()).ok()?
    }

    /// Reads `buf.len()` bytes at `offset` of the file with `pread` (the writer, possibly
    /// in another process, may be rewriting them: a copy by the kernel, checked by the
    /// caller's CRC). With its descriptor closed, the file is opened again by name if the
    /// name still holds this very file, else the bytes are copied out of the mapping.
    /// `file` is what `sync_file` answered.
    fn read_from(
        &self,
        file: &Result<Option<SyncFile<'_>>>,
        buf: &mut [u8],
        offset: u64,
    ) -> Option<()> {
        match file {
            Ok(Some(file)) => file.read_exact_at(buf, offset).ok(),
            // Deleted or replaced by the writer (`truncate_back`, `truncate_front`): the
            // mapping still holds this very file.
            Ok(None) => self.copy_mapped(buf, offset),
            Err(_) => None,
        }
    }

    /// For a follower whose live area says the writer cut this segment below `view_end`:
    /// whether the files agree (its name no longer holds it, or its trailer ends below
    /// `view_end`). The writer changes the files before the live area, so a cut it made
    /// always shows; a live area left stale (or damaged) does not hide records.
    pub(crate) fn cut_on_disk(&self, view_end: u64) -> bool {
        let file = self.sync_file();
        match file {
            Ok(None) => true,
            Ok(Some(_)) => self
                .trailer_from(&file)
                .is_some_and(|t| t.records_end < view_end),
            Err(_) => false,
        }
    }

    /// Copies `buf.len()` bytes at `offset` out of the mapping, byte by byte with volatile
    /// reads: another process may be writing them (a torn copy fails the caller's CRC).
    /// `None` if the range is outside the segment.
    fn copy_mapped(&self, buf: &mut [u8], offset: u64) -> Option<()> {
        let end = offset.checked_add(buf.len() as u64)?;
        if end > self.meta.segment_len {
            return None;
        }
        let start = usize::try_from(offset).ok()?;
        let base = self.map.as_ptr().wrapping_add(start);
        for (i, byte) in buf.iter_mut().enumerate() {
            // SAFETY: `offset + i < segment_len`, the length of the mapping, which lives as
            // long as `self` (module invariant 1), so the byte is mapped and readable; a
            // volatile read of a `u8` makes no reference to memory another process may
            // write, and any value is a valid `u8`.
            *byte = unsafe { std::ptr::read_volatile(base.wrapping_add(i)) };
        }
        Some(())
    }

    /// The inode number of this segment's file (a writer's `truncate_back` may delete it
    /// and create a new segment under the same name), if `fstat` told it.
    pub(crate) fn inode(&self) -> Option<u64> {
        self.ino
    }

    fn load_index(&self) -> Option<Vec<IndexPoint>> {
        let file = self.sync_file();
        let trailer = self.trailer_from(&file)?;
        // `index_count` is at most the index's capacity (checked by `decode_trailer`).
        let count = usize::try_from(trailer.index_count).ok()?;
        let mut bytes = vec![0u8; count * format::INDEX_ENTRY_LEN];
        self.read_from(
            &file,
            &mut bytes,
            format::records_end(self.meta.segment_len),
        )?;
        if !format::index_valid(&bytes, trailer.index_count, self.seed(), trailer.index_crc) {
            return None;
        }
        let mut points = Vec::with_capacity(count);
        for i in 0..count {
            let p = format::index_entry(&bytes, i)?;
            // Entries must stay inside the records and grow, or the index is not used.
            if p.offset < format::RECORDS_START
                || p.offset >= trailer.records_end
                || p.lsn < self.base_lsn()
                || p.lsn >= trailer.next_lsn
                || points
                    .last()
                    .is_some_and(|q: &IndexPoint| q.offset >= p.offset || q.lsn > p.lsn)
            {
                return None;
            }
            points.push(p);
        }
        Some(points)
    }
}
