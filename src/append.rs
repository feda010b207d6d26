//! Appending: `append`, `append_batch`, `reserve` / `Reservation::commit`,
//! `append_durable`.
//!
//! The steady-state append makes no syscall: it copies the payload into the mapping,
//! writes the header, and publishes the new end with a release store. Only a rotation (a
//! new segment) and a sync call the operating system.

use std::ops::{Deref, DerefMut, Range};
use std::sync::atomic::Ordering;
use std::sync::MutexGuard;
use std::thread::ThreadId;

use crate::error::{Error, Result};
use crate::format::{self, IndexPoint, RecordFields};
use crate::log::{lock, Inner, Log, Writer};
use crate::options::SyncPolicy;
use crate::segment::Claim;
use crate::sequencer::{Abandoned, Entry};
use crate::Lsn;

impl Log {
    /// Appends one record; returns its LSN. When it returns, the record and every record
    /// before it are in the mapping, visible to readers, and survive a crash of the
    /// process; the record survives a power loss once synced.
    ///
    /// Many threads may append at once: each claims its place under the writer lock (a
    /// few stores), then copies and checksums its payload outside any lock. An append
    /// claimed behind another thread's that is still copying returns once that one is
    /// written too.
    ///
    /// # Errors
    /// `Error::RecordTooLarge` if it cannot fit in a segment; `Error::ReadOnly`;
    /// `Error::Poisoned`; `Error::NoSpace` when a new segment cannot be preallocated;
    /// `Error::Deadlock` if a rotation is due while this thread holds a reservation;
    /// with `SyncPolicy::Always`, the errors of `sync`.
    pub fn append(&self, payload: &[u8]) -> Result<Lsn> {
        let inner = &*self.inner;
        let seen = inner.truncations_seen();
        let footprint = inner.footprint(payload.len() as u64)?;
        let len = payload.len() as u64;
        let mut w = inner.claim_lock(footprint, 1, None)?;
        // No other append in flight and a small record: copying it under the lock costs
        // less than taking the lock a second time to publish it, and with nothing before
        // it, it is published at once (no queue entry).
        if payload.len() <= INLINE_MAX && w.pending.is_empty() {
            let offset = w.offset;
            let mut claim = w.claim_inline(footprint);
            let lsn = claim.lsn;
            write_record(&mut claim, 0, lsn, payload, 0);
            claim.release();
            inner.publish_inline(&mut w, IndexPoint { lsn, offset }, len);
            // Unlocked before a sync (`SyncPolicy::Always`) takes the lock again.
            drop(w);
            self.after_append(lsn, seen)?;
            return Ok(lsn);
        }
        let mut claim = w.claim(inner, footprint, 1, len, None);
        let lsn = claim.lsn;
        drop(w);
        write_record(&mut claim, 0, lsn, payload, 0);
        let lsn = inner.complete(claim)?;
        self.after_append(lsn, seen)?;
        Ok(lsn)
    }

    /// Appends records atomically: after a crash either all of them are there or none.
    /// Returns their LSNs. The batch must fit in one segment.
    ///
    /// # Errors
    /// As `append`; `Error::RecordTooLarge` if the whole batch does not fit in a segment
    /// (`len` is the batch's bytes on disk); `Error::InvalidOptions` for more than
    /// `BATCH_RECORDS_MAX` records.
    pub fn append_batch(&self, payloads: &[&[u8]]) -> Result<Range<Lsn>> {
        let inner = &*self.inner;
        let seen = inner.truncations_seen();
        if payloads.len() > format::BATCH_RECORDS_MAX {
            return Err(Error::InvalidOptions(format!(
                "a batch of {} records exceeds BATCH_RECORDS_MAX ({})",
                payloads.len(),
                format::BATCH_RECORDS_MAX
            )));
        }
        let mut footprint = 0u64;
        let mut bytes = 0u64;
        for p in payloads {
            footprint += inner.footprint(p.len() as u64)?;
            bytes += p.len() as u64;
        }
        let capacity = format::records_end(inner.options.segment_len()) - format::RECORDS_START;
        if footprint > capacity {
            return Err(Error::RecordTooLarge {
                len: footprint,
                max: capacity,
            });
        }
        if payloads.is_empty() {
            let w = inner.lock_writer()?;
            return Ok(w.next_lsn..w.next_lsn);
        }
        let count = payloads.len() as u64;
        let mut claim = inner.claim(footprint, count, bytes, None)?;
        let last = payloads.len() - 1;
        let mut at = 0usize;
        for (i, p) in payloads.iter().enumerate() {
            let left =
                u16::try_from(last - i).expect("batch size checked against BATCH_RECORDS_MAX");
            let lsn = claim.lsn + i as u64;
            at += write_record(&mut claim, at, lsn, p, left);
        }
        // One claim, so one publication: readers see all of the batch or none of it.
        let start = inner.complete(claim)?;
        let range = start..start + count;
        self.after_append(range.end - 1, seen)?;
        Ok(range)
    }

    /// Reserves room for a record of `len` bytes and returns a window of the mapping to
    /// write the payload in place. `commit` makes it a record; dropping it leaves no
    /// record and takes no LSN.
    ///
    /// Other threads keep appending while a reservation is held: they copy and checksum
    /// their records in parallel, but their appends return (and their records become
    /// visible) only once it is committed or dropped, because dropping it moves their LSNs
    /// down by one; a segment rotation waits for it too. On the thread that holds it, a
    /// call that would wait for it (an append, a sync of a later record, `truncate_back`,
    /// committing a later reservation first) returns `Error::Deadlock` instead.
    ///
    /// # Errors
    /// As `append`.
    ///
    /// # Examples
    /// ```
    /// let dir = tempfile::tempdir().expect("a temporary directory");
    /// let log = mmlog::Log::open(dir.path(), mmlog::Options::default().segment_size(1 << 20))?;
    /// let mut r = log.reserve(5)?;
    /// r.copy_from_slice(b"hello");
    /// let lsn = r.commit()?;
    /// assert_eq!(log.iter_from(lsn).next().unwrap()?.payload(), b"hello");
    /// # Ok::<(), mmlog::Error>(())
    /// ```
    pub fn reserve(&self, len: usize) -> Result<Reservation<'_>> {
        let inner = &*self.inner;
        let footprint = inner.footprint(len as u64)?;
        let owner = std::thread::current().id();
        let claim = inner.claim(footprint, 1, len as u64, Some(owner))?;
        Ok(Reservation {
            log: self,
            claim: Some(claim),
            len,
        })
    }

    /// Appends one record and returns once it is durable.
    ///
    /// # Errors
    /// As `append` and `sync_to`: `Error::Truncated` if a concurrent `truncate_back`
    /// removed the record before it was durable.
    pub fn append_durable(&self, payload: &[u8]) -> Result<Lsn> {
        let seen = self.inner.truncations_seen();
        let lsn = self.append(payload)?;
        if self.inner.options.sync_policy != SyncPolicy::Always {
            self.inner.sync_until(lsn + 1, seen)?;
        }
        Ok(lsn)
    }

    /// With `SyncPolicy::Always`, makes the records up to `last` durable; `seen` is
    /// `truncations_seen()` from before they were appended.
    fn after_append(&self, last: Lsn, seen: u64) -> Result<()> {
        if self.inner.options.sync_policy == SyncPolicy::Always {
            self.inner.sync_until(last + 1, seen)?;
        }
        Ok(())
    }
}

/// Payloads up to this size are copied under the writer lock when no other append is in
/// flight (see `Log::append`); larger ones, and all when appends overlap, outside it.
const INLINE_MAX: usize = 512;

/// Writes the record `lsn` with `payload` at `at` inside the claim and seals it. Returns
/// its footprint.
fn write_record(
    claim: &mut Claim<'_>,
    at: usize,
    lsn: Lsn,
    payload: &[u8],
    batch_left: u16,
) -> usize {
    let len = format::RECORD_HEADER_LEN + payload.len();
    let (epoch, seed) = (claim.epoch, claim.seed);
    let window = claim
        .bytes_mut()
        .get_mut(at..at + len)
        .expect("the claim holds the record");
    window
        .get_mut(format::RECORD_HEADER_LEN..)
        .expect("the window holds the payload")
        .copy_from_slice(payload);
    let fields = RecordFields {
        lsn,
        epoch,
        batch_left,
        kind: format::KIND_DATA,
    };
    format::seal_record(&fields, seed, window);
    usize::try_from(format::record_footprint(payload.len() as u64))
        .expect("record footprints fit in usize")
}

impl Inner {
    /// Bytes a record of `len` takes, or `RecordTooLarge`.
    fn footprint(&self, len: u64) -> Result<u64> {
        let max = format::payload_len_max(self.options.segment_len());
        if len > max {
            return Err(Error::RecordTooLarge { len, max });
        }
        Ok(format::record_footprint(len))
    }

    /// Claims room for `count` records taking `footprint` bytes, rotating first if they do
    /// not fit in the active segment.
    fn claim(
        &self,
        footprint: u64,
        count: u64,
        bytes: u64,
        owner: Option<ThreadId>,
    ) -> Result<Claim<'_>> {
        let mut w = self.claim_lock(footprint, count, owner)?;
        Ok(w.claim(self, footprint, count, bytes, owner))
    }

    /// Locks the writer with room for `count` records of `footprint` bytes in the active
    /// segment (rotating if needed), ready for `Writer::claim`.
    fn claim_lock(
        &self,
        footprint: u64,
        count: u64,
        owner: Option<ThreadId>,
    ) -> Result<MutexGuard<'_, Writer>> {
        let w = self.lock_writer()?;
        if owner.is_none() && w.pending.held_by_current(None) {
            // It could only complete after the reservation, which this thread holds.
            return Err(Error::Deadlock(
                "an append on a thread that holds a reservation",
            ));
        }
        self.make_room(w, footprint, count)
    }

    /// Rotates to a new segment if `footprint` bytes do not fit in the active one; the
    /// rotation waits until every claim in the active segment is published.
    fn make_room<'a>(
        &'a self,
        mut w: MutexGuard<'a, Writer>,
        footprint: u64,
        count: u64,
    ) -> Result<MutexGuard<'a, Writer>> {
        loop {
            if w.next_lsn.checked_add(count).is_none() {
                // LSNs are u64: a log cannot hold a record numbered u64::MAX or beyond.
                return Err(Error::LsnOutOfRange {
                    lsn: w.next_lsn,
                    first: self.first_lsn.load(Ordering::Acquire),
                    next: w.next_lsn,
                });
            }
            let end = format::records_end(w.active.meta.segment_len);
            if w.offset + footprint <= end {
                return Ok(w);
            }
            if w.offset == format::RECORDS_START {
                // An empty active segment smaller than the configured size (it was created
                // with an older `segment_size`): rotating would leave an empty segment
                // under the same name as the next one.
                return Err(Error::RecordTooLarge {
                    len: footprint,
                    max: end - format::RECORDS_START,
                });
            }
            if w.pending.is_empty() {
                self.rotate(&mut w)?;
                return Ok(w);
            }
            w = self.wait_for_writers(w, "an append that needs a new segment")?;
        }
    }

    /// Completes a claim whose records are written and sealed, and publishes every claim
    /// that is now complete, in order. Returns the claim's first LSN once the claim is
    /// published: then it and every record before it are complete in the mapping, visible
    /// to readers and safe from a crash of the process. Behind an outstanding reservation
    /// it first waits for it: dropping it would move this claim's LSN down (then its
    /// records are resealed here), so the LSN is not final before.
    fn complete(&self, claim: Claim<'_>) -> Result<Lsn> {
        let mut w = self.claimed_writer();
        while w.pending.reservation_before(claim.id) {
            if w.pending.held_by_current(Some(claim.id)) {
                drop(w);
                self.abandon(claim);
                return Err(Error::Deadlock(
                    "committing a reservation made after another one it still holds",
                ));
            }
            w = self.wait_publication(w);
        }
        let id = claim.id;
        let lsn = self.finish(&mut w, claim);
        // Earlier claims still being written by other threads hold this one back (they
        // make no call that could wait for this thread: a reservation's holder gets
        // `Error::Deadlock` instead). Returning before they are written would acknowledge
        // a record that a crash now could cut off with the hole before it.
        while !w.pending.published(id) {
            w = self.wait_publication(w);
        }
        Ok(lsn)
    }

    /// The writer lock, for a claim (which only a writable log hands out).
    fn claimed_writer(&self) -> MutexGuard<'_, Writer> {
        lock(
            self.writer
                .as_ref()
                .expect("a claim comes from a writable log"),
        )
    }

    /// Completes a claim with no outstanding reservation before it (its LSN is final),
    /// resealing it first if that LSN moved, and publishes what is ready.
    fn finish(&self, w: &mut Writer, mut claim: Claim<'_>) -> Lsn {
        let lsn = w.pending.get(claim.id).lsn;
        if lsn != claim.lsn {
            // Rare: a reservation claimed before this one was dropped.
            let seed = claim.seed;
            format::renumber_records(claim.bytes_mut(), lsn, seed);
        }
        let id = claim.id;
        claim.release();
        w.pending.complete(id);
        self.publish_ready(w);
        lsn
    }

    /// Gives up a claim that will not be committed (a dropped reservation): its range is
    /// given back, or becomes padding if other claims follow it.
    fn abandon(&self, mut claim: Claim<'_>) {
        // Never leave a half-written payload in unused space.
        claim.bytes_mut().fill(0);
        let mut w = self.claimed_writer();
        match w.pending.abandon(claim.id) {
            Abandoned::GivenBack { offset, count } => {
                claim.release();
                w.offset = offset;
                w.next_lsn -= count;
            }
            Abandoned::Padding { count, .. } => {
                // Its header is written when it is published: its LSN may still move.
                claim.release();
                w.next_lsn -= count;
            }
        }
        self.publish_ready(&mut w);
    }

    /// Publishes the complete claims at the front of the queue, and wakes whoever waits
    /// for that.
    fn publish_ready(&self, w: &mut Writer) {
        let (mut count, mut bytes) = (0u64, 0u64);
        let (active, epoch) = (&w.active, w.epoch);
        let last = w.pending.advance(|e| {
            if e.count == 0 {
                // An abandoned reservation (zeroed by its thread): padding, which readers
                // skip, carrying the LSN of the next record.
                active.write(e.offset, &padding(e, epoch, active.seed()));
            } else {
                active.note_record(IndexPoint {
                    lsn: e.lsn,
                    offset: e.offset,
                });
            }
            count += e.count;
            bytes += e.bytes;
        });
        if let Some(last) = last {
            self.published_to(w, last.end, last.lsn + last.count, count, bytes);
        }
        if w.waiters > 0 {
            self.published.notify_all();
        }
    }

    /// Publishes the one record just written at `point` under the writer lock, claimed
    /// with `Writer::claim_inline` (so nothing is pending before it).
    fn publish_inline(&self, w: &mut Writer, point: IndexPoint, bytes: u64) {
        w.active.note_record(point);
        self.published_to(w, w.offset, point.lsn + 1, 1, bytes);
        if w.waiters > 0 {
            self.published.notify_all();
        }
    }

    /// The records of the active segment up to `end` (LSNs below `next`) are published:
    /// `count` records of `bytes` payload bytes more. Tells readers, tailers and the
    /// group-commit leader.
    fn published_to(&self, w: &Writer, end: u64, next: Lsn, count: u64, bytes: u64) {
        w.active.publish(end, next);
        self.next_lsn.store(next, Ordering::Release);
        // Only the writer (under its lock) updates these: a load and a store, no locked
        // read-modify-write on the append path.
        let c = &self.counters;
        c.appends
            .store(c.appends.load(Ordering::Relaxed) + count, Ordering::Relaxed);
        c.bytes
            .store(c.bytes.load(Ordering::Relaxed) + bytes, Ordering::Relaxed);
        self.wake_tailers();
    }
}

/// The padding record filling the range of entry `e`.
fn padding(e: &Entry, epoch: u32, seed: u32) -> Vec<u8> {
    let len = usize::try_from(e.end - e.offset).expect("segment offsets fit in usize");
    let mut bytes = vec![0u8; len];
    let fields = RecordFields {
        lsn: e.lsn,
        epoch,
        batch_left: 0,
        kind: format::KIND_PADDING,
    };
    format::seal_record(&fields, seed, &mut bytes);
    bytes
}

/// Room for one record inside the mapping, written in place. Derefs to the payload
/// window (`&mut [u8]` of the reserved length).
///
/// `commit` turns it into a record; dropping it uncommitted (also by a panic) leaves no
/// record and takes no LSN. See `Log::reserve` for what waits while it is held.
pub struct Reservation<'a> {
    log: &'a Log,
    claim: Option<Claim<'a>>,
    len: usize,
}

impl<'a> Reservation<'a> {
    fn claim(&mut self) -> &mut Claim<'a> {
        self.claim
            .as_mut()
            .expect("a live reservation holds its claim")
    }

    /// Turns the reservation into a record; returns its LSN.
    ///
    /// # Errors
    /// `Error::Poisoned` if a sync failed meanwhile (the reservation is dropped); with
    /// `SyncPolicy::Always`, the errors of `sync`.
    pub fn commit(mut self) -> Result<Lsn> {
        self.log.inner.check_poisoned()?;
        // (`truncate_back` waits for outstanding reservations: none can cut this record
        // before it is published.)
        let seen = self.log.inner.truncations_seen();
        let len = self.len;
        let claim = self.claim();
        let fields = RecordFields {
            lsn: claim.lsn,
            epoch: claim.epoch,
            batch_left: 0,
            kind: format::KIND_DATA,
        };
        let seed = claim.seed;
        let window = claim
            .bytes_mut()
            .get_mut(..format::RECORD_HEADER_LEN + len)
            .expect("the claim holds the record");
        format::seal_record(&fields, seed, window);
        let claim = self
            .claim
            .take()
            .expect("a live reservation holds its claim");
        let lsn = self.log.inner.complete(claim)?;
        self.log.after_append(lsn, seen)?;
        Ok(lsn)
    }
}

impl Deref for Reservation<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        let claim = self
            .claim
            .as_ref()
            .expect("a live reservation holds its claim");
        claim
            .bytes()
            .get(format::RECORD_HEADER_LEN..format::RECORD_HEADER_LEN + self.len)
            .unwrap_or(&[])
    }
}

impl DerefMut for Reservation<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        let len = self.len;
        self.claim()
            .bytes_mut()
            .get_mut(format::RECORD_HEADER_LEN..format::RECORD_HEADER_LEN + len)
            .expect("the claim holds the payload")
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if let Some(claim) = self.claim.take() {
            self.log.inner.abandon(claim);
        }
    }
}
