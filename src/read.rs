//! `Record`, `Iter`: reading records in place from the mapping.

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::format::{self, RECORDS_START};
use crate::log::Inner;
use crate::segment::Segment;
use crate::Lsn;

/// One record: its LSN and its payload, a slice of the mapped segment (never a copy).
///
/// A `Record` keeps its segment mapped, so the payload stays valid as long as the record
/// lives, even if `truncate_front` deletes the file meanwhile.
#[derive(Clone)]
pub struct Record {
    segment: Arc<Segment>,
    lsn: Lsn,
    payload_offset: u64,
    len: usize,
}

impl Record {
    /// The record's log sequence number.
    pub fn lsn(&self) -> Lsn {
        self.lsn
    }

    /// The payload: a slice of the mapping, checksum-verified when the record was read.
    pub fn payload(&self) -> &[u8] {
        self.segment.record_bytes(self.payload_offset, self.len)
    }
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("lsn", &self.lsn)
            .field("len", &self.len)
            .finish()
    }
}

/// An iterator over committed records, checking each checksum.
///
/// It follows the log as it grows: after it returns `None`, a later `next` returns records
/// appended since. After an error it returns `None`.
pub struct Iter {
    log: Arc<Inner>,
    segment: Option<Arc<Segment>>,
    offset: u64,
    lsn: Lsn,
    pending_error: Option<Error>,
    failed: bool,
    /// `truncate_back` calls seen so far (see `Inner::truncations`).
    truncations_seen: u64,
    /// Yield only records below the log's durable LSN.
    durable_only: bool,
    /// The last answer of `cut_confirmed`: (segment, live end) and whether the files
    /// confirmed the cut.
    cut_verdict: Option<((usize, u64), bool)>,
}

/// Where a record starts in its segment.
pub(crate) struct Position {
    pub(crate) offset: u64,
}

fn corrupt(segment: &Segment, defect: format::Defect) -> Error {
    Error::Corrupt {
        segment: segment.path.clone(),
        offset: defect.offset + RECORDS_START,
        reason: defect.reason,
    }
}

/// Finds the record `lsn` in `segment` (`lsn` may be its `next_lsn`: the end position),
/// through the sparse index, then by walking record headers. A walk takes at most
/// `committed_len / RECORD_HEADER_LEN` steps.
pub(crate) fn locate(segment: &Segment, lsn: Lsn) -> Result<Position> {
    let window = segment.committed();
    let (mut offset, mut cur) = match segment.index_floor(lsn) {
        Some(p) => (p.offset, p.lsn),
        None => (RECORDS_START, segment.base_lsn()),
    };
    let seed = segment.seed();
    let end = RECORDS_START + window.len() as u64;
    while cur < lsn {
        let rel = offset - RECORDS_START;
        let rec = format::decode_record(window, rel, end - RECORDS_START, seed, cur)
            .map_err(|d| corrupt(segment, d))?;
        offset += rec.footprint();
        if rec.kind == format::KIND_DATA {
            // `decode_record` checked `rec.lsn == cur`, and a segment never holds a record
            // at u64::MAX that would need a successor (recovery stops before it).
            cur = cur.saturating_add(1);
        }
    }
    // Padding before the record itself is skipped by the reader.
    Ok(Position { offset })
}

impl Iter {
    /// Yields only records that are durable: it stops (returns `None` for now) at
    /// `durable_lsn()`, and goes on when a sync moves it. For consumers that must never
    /// act on a record a power loss could take back. On a read-only `Log` following a
    /// writer in another process, the writer's durable LSN is read from the segment's
    /// live area.
    ///
    /// # Examples
    /// ```
    /// let dir = tempfile::tempdir().expect("a temporary directory");
    /// let log = mmlog::Log::open(dir.path(), mmlog::Options::default().segment_size(1 << 20))?;
    /// log.append(b"not yet durable")?;
    /// assert!(log.iter().durable_only().next().is_none());
    /// log.sync()?;
    /// assert_eq!(log.iter().durable_only().count(), 1);
    /// # Ok::<(), mmlog::Error>(())
    /// ```
    #[must_use]
    pub fn durable_only(mut self) -> Iter {
        self.durable_only = true;
        self
    }

    /// An iterator from `lsn`, positioned now: the segment it starts in stays mapped for
    /// it even if `truncate_front` deletes it before the first `next`.
    pub(crate) fn new(log: Arc<Inner>, lsn: Lsn, pending_error: Option<Error>) -> Iter {
        let truncations_seen = log.truncation_count.load(Ordering::Acquire);
        let mut iter = Iter {
            truncations_seen,
            log,
            segment: None,
            offset: 0,
            lsn,
            pending_error,
            failed: false,
            durable_only: false,
            cut_verdict: None,
        };
        if iter.pending_error.is_none() {
            if let Err(e) = iter.position() {
                iter.pending_error = Some(e);
            }
        }
        iter
    }

    /// Positions the iterator in the segment that holds `self.lsn`. `Ok(false)` when no
    /// segment holds it yet.
    fn position(&mut self) -> Result<bool> {
        let Some(segment) = self.log.segment_for(self.lsn) else {
            let first = self
                .log
                .first_lsn
                .load(std::sync::atomic::Ordering::Acquire);
            if self.lsn < first {
                // `truncate_front` freed the records this iterator was about to read.
                return Err(Error::LsnOutOfRange {
                    lsn: self.lsn,
                    first,
                    next: self.log.next_lsn.load(std::sync::atomic::Ordering::Acquire),
                });
            }
            return Ok(false);
        };
        // Nothing at `self.lsn` yet: the segment ends before it (it is sealed, or
        // `truncate_back` moved the end below an iterator that had read further).
        let next = segment.next_lsn();
        if next < self.lsn || (segment.is_sealed() && next == self.lsn) {
            return Ok(false);
        }
        let pos = if self.lsn == segment.base_lsn() {
            Position {
                offset: RECORDS_START,
            }
        } else {
            locate(&segment, self.lsn)?
        };
        self.offset = pos.offset;
        self.segment = Some(segment);
        Ok(true)
    }

    /// After a `truncate_back`: an error if it cut below where this iterator is (it has
    /// read records that are gone), else re-find the segment by LSN (it may be retired).
    fn check_truncations(&mut self) -> Result<()> {
        let count = self.log.truncation_count.load(Ordering::Acquire);
        if count == self.truncations_seen {
            return Ok(());
        }
        let cuts = self
            .log
            .truncations
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let start = usize::try_from(self.truncations_seen).unwrap_or(usize::MAX);
        let lowest = cuts.get(start..).and_then(|new| new.iter().min().copied());
        self.truncations_seen = cuts.len() as u64;
        drop(cuts);
        self.segment = None;
        match lowest {
            Some(cut) if cut < self.lsn => Err(Error::Truncated { lsn: self.lsn, cut }),
            _ => Ok(()),
        }
    }

    /// Whether the files confirm the cut a follower's live area shows for `segment` (see
    /// `Segment::cut_on_disk`); asked once per segment and live end.
    fn cut_confirmed(&mut self, segment: &Arc<Segment>, live_end: u64, view_end: u64) -> bool {
        let key = (Arc::as_ptr(segment) as usize, live_end);
        if let Some((k, verdict)) = self.cut_verdict {
            if k == key {
                return verdict;
            }
        }
        let verdict = segment.cut_on_disk(view_end);
        self.cut_verdict = Some((key, verdict));
        verdict
    }

    fn step(&mut self) -> Result<Option<Record>> {
        self.check_truncations()?;
        loop {
            if self.segment.is_none() && !self.position()? {
                return Ok(None);
            }
            let Some(segment) = self.segment.clone() else {
                return Ok(None);
            };
            let sealed = segment.is_sealed();
            let window = segment.committed();
            let mut end = RECORDS_START + window.len() as u64;
            // A follower (a read-only `Log`) reads no further than the writer's live area
            // allows: a `truncate_back` in the writer's process lowers it at once, while
            // this reader's view is lowered only when it next looks (`refresh`). Records
            // past it are removed: until this reader has taken the cut in, there is
            // nothing to read.
            let capped = self.log.writer.is_none() && {
                let (live_end, _, live_sealed) = segment.live_published();
                live_sealed && live_end < end && self.cut_confirmed(&segment, live_end, end) && {
                    end = end.min(live_end.max(RECORDS_START));
                    true
                }
            };
            if self.offset < end {
                if self.durable_only && self.lsn >= self.log.durable_lsn.load(Ordering::Acquire) {
                    return Ok(None);
                }
                let rel = self.offset - RECORDS_START;
                let rec = format::decode_record(
                    window,
                    rel,
                    end - RECORDS_START,
                    segment.seed(),
                    self.lsn,
                )
                .map_err(|d| corrupt(&segment, d))?;
                let at = self.offset;
                self.offset += rec.footprint();
                if rec.kind != format::KIND_DATA {
                    continue;
                }
                let lsn = self.lsn;
                self.lsn = self.lsn.saturating_add(1);
                return Ok(Some(Record {
                    segment,
                    lsn,
                    payload_offset: at + format::RECORD_HEADER_LEN as u64,
                    len: usize::try_from(rec.len).expect("record lengths fit in usize"),
                }));
            }
            if !sealed || capped {
                return Ok(None);
            }
            // The segment is finished: continue in the one that starts at our LSN.
            self.segment = None;
        }
    }
}

impl Iterator for Iter {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Result<Record>> {
        if let Some(e) = self.pending_error.take() {
            self.failed = true;
            return Some(Err(e));
        }
        if self.failed {
            return None;
        }
        match self.step() {
            Ok(Some(record)) => Some(Ok(record)),
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}
