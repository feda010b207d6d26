//! `Tailer`: follows a growing log, in this process or from a read-only `Log` in another.
//!
//! Wake-ups never spin: a tailer that has caught up sleeps on a futex word in the live
//! area of the newest segment's header page (a `MAP_SHARED` mapping, so a writer in any
//! process wakes it), and the writer makes the wake-up syscall only when a reader sleeps.
//! Each sleep is bounded (`POLL_MAX`), so a missed event (a writer that crashed and
//! restarted, a new segment) is seen within that time.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{io_error, Result};
use crate::format::{self, IndexPoint};
use crate::log::Inner;
use crate::read::{Iter, Record};
use crate::recovery::{self, Probe};
use crate::segment::{Recovered, Segment};
use crate::{dir, sys, Log, Lsn};

/// The longest a tailer sleeps before it looks again without being woken.
const POLL_MAX: Duration = Duration::from_millis(50);

/// How often a follower looks at the files themselves, not only at the live area (see
/// `Inner::refresh`).
const DISK_CHECK_EVERY: Duration = Duration::from_millis(50);

/// Follows the log from an LSN on, waiting for records that are not there yet.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// let dir = tempfile::tempdir().expect("a temporary directory");
/// let log = mmlog::Log::open(dir.path(), mmlog::Options::default().segment_size(1 << 20))?;
/// let mut tailer = log.tail_from(0);
/// assert!(tailer.next_timeout(Duration::from_millis(1))?.is_none());
/// log.append(b"news")?;
/// let record = tailer.next_timeout(Duration::from_secs(1))?.expect("the new record");
/// assert_eq!(record.payload(), b"news");
/// # Ok::<(), mmlog::Error>(())
/// ```
pub struct Tailer {
    iter: Iter,
    log: Arc<Inner>,
}

impl Log {
    /// A tailer from `lsn` on: it yields the records from `lsn`, then waits for new ones.
    /// On a read-only `Log`, it follows a writer in another process, across segment
    /// rotations, `truncate_front`, `truncate_back` and writer restarts.
    pub fn tail_from(&self, lsn: Lsn) -> Tailer {
        Tailer {
            iter: self.iter_from(lsn),
            log: Arc::clone(&self.inner),
        }
    }
}

impl Tailer {
    /// Yields only records that are durable (see `Iter::durable_only`): a record arrives
    /// once a sync has covered it.
    #[must_use]
    pub fn durable_only(mut self) -> Tailer {
        self.iter = self.iter.durable_only();
        self
    }

    /// The next record, waiting up to `timeout` for it; `Ok(None)` if none came in time.
    ///
    /// # Errors
    /// `Error::Corrupt` for a record that fails its checksum, `Error::LsnOutOfRange` if the
    /// records to read were freed by `truncate_front`, `Error::Truncated` if
    /// `truncate_back` (in this process or, for a read-only `Log`, by the writer in another)
    /// removed records this tailer had read (a new tailer from the cut goes on),
    /// `Error::Io` while following another process.
    /// After an error the tailer yields nothing more.
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<Option<Record>> {
        // `None`: no deadline (a timeout too long to represent, such as `Duration::MAX`).
        let deadline = Instant::now().checked_add(timeout);
        loop {
            // Take the wake value before looking, so a publish in between is not missed.
            let notify = self.log.notify();
            let seen = notify.map(|n| n.seq());
            if let Some(record) = self.iter.next().transpose()? {
                return Ok(Some(record));
            }
            if self.log.refresh()? {
                continue;
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return Ok(None);
            }
            let wait = deadline.map_or(POLL_MAX, |d| (d - now).min(POLL_MAX));
            match (notify, seen) {
                (Some(notify), Some(seen)) => notify.wait(seen, wait),
                // No writer has created the notify file yet: poll.
                _ => std::thread::sleep(wait.min(Duration::from_millis(5))),
            }
        }
    }
}

impl Inner {
    /// The notify file: the writer's, or for a reader, opened once a writer created it.
    fn notify(&self) -> Option<&sys::Notify> {
        if self.notify.get().is_none() {
            if let Some(notify) = sys::Notify::open(&self.dir) {
                let _ = self.notify.set(notify);
            }
        }
        self.notify.get()
    }

    pub(crate) fn newest_segment(&self) -> Option<Arc<Segment>> {
        self.segments
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .last()
            .cloned()
    }

    /// For a read-only log: takes in what the writer has published since. `Ok(true)` if
    /// anything new is visible. A writable log's view is always current.
    pub(crate) fn refresh(&self) -> Result<bool> {
        if self.writer.is_some() {
            return Ok(false);
        }
        let mut looked = self.follow.lock().unwrap_or_else(|p| p.into_inner());
        // The live area says what a running writer did. A writer that died halfway
        // through a rotation or a `truncate_back` and was restarted leaves it stale (its
        // recovery seals the segment in the file only), so now and then the files
        // themselves are looked at too: the newest segment's trailer and the listing.
        let on_disk = looked.elapsed() >= DISK_CHECK_EVERY;
        if on_disk {
            *looked = Instant::now();
        }
        let mut progress = false;
        if let Some(newest) = self.newest_segment() {
            progress |= self.follow_segment(&newest, on_disk)?;
            // The writer's durable LSN, capped by what this reader has validated.
            let durable = newest
                .live_durable()
                .min(self.next_lsn.load(Ordering::Acquire));
            progress |= self.durable_lsn.fetch_max(durable, Ordering::AcqRel) < durable;
            if !newest.is_sealed() && !on_disk {
                return Ok(progress);
            }
        }
        progress |= self.discover_segments()?;
        Ok(progress)
    }

    /// Validates and publishes (locally) the records the writer published in `segment`.
    /// With `on_disk`, its trailer is read even if the live area does not say it is
    /// sealed (see `refresh`).
    fn follow_segment(&self, segment: &Segment, on_disk: bool) -> Result<bool> {
        if segment.is_sealed() {
            return Ok(false);
        }
        let (live_end, _, live_sealed) = segment.live_published();
        let mut target = live_end;
        // A trailer's end is authoritative: a batch cut there by `truncate_back` is kept.
        let mut trailer_end = None;
        let mut sealed = live_sealed;
        if live_sealed || on_disk {
            // The trailer has the final word: `truncate_back` may have cut the segment
            // below what this reader has seen.
            if let Some(t) = segment.read_trailer() {
                if t.records_end < segment.committed_end() {
                    segment.cut(t.records_end, t.next_lsn);
                    self.note_cut(t.next_lsn);
                    return Ok(true);
                }
                // A stale live area (a writer that died) may lag behind the trailer.
                target = if live_sealed {
                    t.records_end.min(live_end)
                } else {
                    t.records_end
                };
                trailer_end = Some(t.records_end);
                sealed = true;
            }
        }
        let start = segment.committed_end();
        let mut progress = false;
        if target > start {
            let bytes = segment.published(target);
            let rel_end = target - format::RECORDS_START;
            let mut offset = start;
            let mut lsn = segment.next_lsn();
            let seed = segment.seed();
            let mut kept = (offset, lsn);
            // At most (target - start) / RECORD_HEADER_LEN steps.
            while offset < target {
                let rel = offset - format::RECORDS_START;
                let Ok(rec) = format::decode_record(bytes, rel, rel_end, seed, lsn) else {
                    // Not what the writer published: a writer restarted over this segment.
                    // Keep what is valid and look again later.
                    break;
                };
                segment.note_record(IndexPoint { lsn, offset });
                offset += rec.footprint();
                if rec.kind == format::KIND_DATA {
                    let Some(next) = lsn.checked_add(1) else {
                        break;
                    };
                    lsn = next;
                }
                if rec.batch_left == 0 || trailer_end == Some(offset) {
                    kept = (offset, lsn);
                }
            }
            if kept.0 > start {
                segment.publish(kept.0, kept.1);
                self.next_lsn.fetch_max(kept.1, Ordering::AcqRel);
                progress = true;
            }
        }
        if sealed && segment.committed_end() >= target {
            segment.mark_sealed();
            progress = true;
        }
        Ok(progress)
    }

    /// For a follower: the writer's `truncate_back` removed every record from `cut` on.
    /// This reader's view ends there too, and its iterators that had read further say
    /// `Error::Truncated` (as in the writer's process) instead of splicing two histories.
    fn note_cut(&self, cut: Lsn) {
        self.next_lsn.fetch_min(cut, Ordering::AcqRel);
        self.durable_lsn.fetch_min(cut, Ordering::AcqRel);
        let mut cuts = self.truncations.lock().unwrap_or_else(|p| p.into_inner());
        cuts.push(cut);
        self.truncation_count
            .store(cuts.len() as u64, Ordering::Release);
    }

    /// For a follower whose newest segment is sealed: takes in a `truncate_back` by the
    /// writer, once it is complete.
    ///
    /// The writer deletes the segments after the cut (newest first), then rewrites the
    /// trailer of the segment the cut falls in, then creates the segment that starts at
    /// the cut, possibly under the name of one it deleted. Seen halfway, the deleted
    /// segments only bound the cut from above, so nothing is taken in until the segment
    /// starting where the kept ones now end is there: then the segments gone or replaced
    /// are dropped, the newest kept one is lowered to its trailer, and the cut is noted.
    /// Called with the segment list locked.
    fn follow_truncate_back(
        &self,
        segments: &mut Vec<Arc<Segment>>,
        listed: &[(Lsn, PathBuf, u64)],
    ) {
        let Some(first_listed) = listed.first().map(|(lsn, _, _)| *lsn) else {
            // Nothing listed: the writer is between deleting and creating; look later.
            return;
        };
        let listed_at = |lsn: Lsn| listed.iter().any(|(l, _, _)| *l == lsn);
        // The same file under the same name, by the listing's own inode number (a `stat`
        // after the listing could see a deletion the listing predates). Some file systems
        // (FUSE) list no real inode numbers: where the listing's differs, a `stat` of the
        // name decides.
        let still_there = |s: &Segment| {
            listed.iter().any(|(l, path, ino)| {
                *l == s.base_lsn()
                    && match s.inode() {
                        Some(mine) if mine == *ino => true,
                        Some(mine) => std::fs::metadata(path)
                            .is_ok_and(|m| std::os::unix::fs::MetadataExt::ino(&m) == mine),
                        None => false,
                    }
            })
        };
        let mut keep = segments.len();
        while let Some(last) = keep.checked_sub(1).and_then(|i| segments.get(i)) {
            let base = last.base_lsn();
            // `truncate_back` always leaves a segment named at or below every base it
            // removed: one below the first listed name was freed by `truncate_front`
            // (`discover_segments` drops it).
            if base < first_listed {
                break;
            }
            // A name can be reused (a segment deleted, then created again at the cut,
            // possibly followed by more since): compare the files themselves.
            if still_there(last) {
                break;
            }
            keep -= 1;
        }
        let (kept, gone) = segments.split_at(keep);
        let trailer = kept
            .last()
            .and_then(|last| last.read_trailer().filter(|t| t.next_lsn < last.next_lsn()));
        let (end, cut) = match (kept.last(), &trailer, gone.first()) {
            (_, None, None) => return,
            (_, Some(t), _) => (t.next_lsn, t.next_lsn),
            (Some(last), None, Some(first_gone)) => (last.next_lsn(), first_gone.base_lsn()),
            (None, None, Some(first_gone)) => (first_gone.base_lsn(), first_gone.base_lsn()),
        };
        if !listed_at(end) {
            // Halfway: look again later.
            return;
        }
        if let (Some(last), Some(t)) = (kept.last(), trailer) {
            last.cut(t.records_end, t.next_lsn);
        }
        for segment in gone {
            // Records read from it stay valid (the mapping holds the file); it just ends.
            segment.cut(segment.committed_end(), segment.next_lsn());
        }
        segments.truncate(keep);
        self.note_cut(cut);
    }

    /// Finds segments the writer created (or deleted) since the last look.
    fn discover_segments(&self) -> Result<bool> {
        let listed = dir::list_segment_files(&self.dir)?;
        let mut progress = false;
        let mut segments = self.segments.write().unwrap_or_else(|p| p.into_inner());
        let truncations = self.truncation_count.load(Ordering::Acquire);
        self.follow_truncate_back(&mut segments, &listed);
        progress |= self.truncation_count.load(Ordering::Acquire) != truncations;
        // `truncate_front` by the writer: drop what no longer exists (records read from
        // them stay valid: they hold their segment).
        if let Some((first_listed, _, _)) = listed.first() {
            if segments
                .last()
                .is_some_and(|last| last.is_sealed() && last.next_lsn() < *first_listed)
            {
                // It freed every segment this reader knows and the ones after them, up
                // to the first listed: start again from there (a tailer behind it gets
                // `LsnOutOfRange`, as in the writer's process).
                segments.clear();
                self.first_lsn.store(*first_listed, Ordering::Release);
                progress = true;
            }
            let gone = segments
                .iter()
                .take_while(|s| s.base_lsn() < *first_listed && segments.len() > 1)
                .count()
                .min(segments.len().saturating_sub(1));
            if gone > 0 {
                segments.drain(..gone);
                if let Some(first) = segments.first() {
                    self.first_lsn.store(first.base_lsn(), Ordering::Release);
                }
            }
        }
        // At most one step per listed file; each step must move to a higher LSN (a sealed
        // segment that ends where it starts would otherwise be found again and again).
        for _ in 0..listed.len() {
            let next_base = match segments.last() {
                Some(last) if last.is_sealed() && last.next_lsn() > last.base_lsn() => {
                    last.next_lsn()
                }
                Some(_) => break,
                None => listed.first().map_or(0, |(lsn, _, _)| *lsn),
            };
            let Some((_, path, _)) = listed.iter().find(|(lsn, _, _)| *lsn == next_base) else {
                break;
            };
            let Some(segment) = open_follower_segment(path, next_base)? else {
                break;
            };
            let segment = Arc::new(segment);
            segments.push(Arc::clone(&segment));
            if segments.len() == 1 {
                self.first_lsn.store(next_base, Ordering::Release);
            }
            drop(segments);
            self.follow_segment(&segment, false)?;
            progress = true;
            segments = self.segments.write().unwrap_or_else(|p| p.into_inner());
        }
        Ok(progress)
    }
}

/// Maps a segment the writer created after this reader opened. `None` if its header is not
/// readable yet (the writer syncs the header before naming the file, so this is rare).
fn open_follower_segment(path: &std::path::Path, base: Lsn) -> Result<Option<Segment>> {
    use std::os::unix::fs::FileExt;
    let file = match dir::open_segment(path) {
        Ok(file) => file,
        // Listed, then deleted before this open: the writer's `truncate_back` at work.
        // Look again later.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error("open segment", path)(e)),
    };
    let file_len = file
        .metadata()
        .map_err(io_error("stat segment", path))?
        .len();
    let mut header_page = vec![0u8; usize::try_from(file_len.min(format::PAGE_LEN)).unwrap_or(0)];
    file.read_exact_at(&mut header_page, 0)
        .map_err(io_error("read segment header", path))?;
    let probe = Probe {
        path: path.to_path_buf(),
        name_lsn: base,
        file_len,
        header_page,
        trailer: Vec::new(),
    };
    let Ok(meta) = recovery::check_header(&probe) else {
        return Ok(None);
    };
    let mut trailer = vec![0u8; format::TRAILER_LEN];
    file.read_exact_at(&mut trailer, format::trailer_offset(meta.segment_len))
        .map_err(io_error("read segment trailer", path))?;
    // Sealed already: its trailer says where it ends (records are read lazily, with
    // their checksums). Otherwise it is followed through its live area.
    let recovered = match format::decode_trailer(&trailer, meta.seed(), meta.segment_len, base) {
        Ok(Some(t)) => Recovered {
            meta,
            committed_end: t.records_end,
            next_lsn: t.next_lsn,
            sealed: true,
            index: None,
        },
        _ => Recovered {
            meta,
            committed_end: format::RECORDS_START,
            next_lsn: base,
            sealed: false,
            index: Some(Vec::new()),
        },
    };
    Segment::from_file(path.to_path_buf(), file, recovered, false).map(Some)
}
