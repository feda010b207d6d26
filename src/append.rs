//! Appending: `append`, `append_batch`, `reserve` / `Reservation::commit`,
//! `append_durable`.
//!
//! The steady-state append makes no syscall: it copies the payload into the mapping,
//! writes the header, and publishes the new end with a release store. Only a rotation (a
//! new segment) and a sync call the operating system.

use std::ops::{Deref, DerefMut, Range};
use std::sync::atomic::Ordering;
use std::sync::MutexGuard;

use crate::error::{Error, Result};
use crate::format::{self, IndexPoint, RecordFields};
use crate::log::{Inner, Log, Writer};
use crate::options::SyncPolicy;
use crate::Lsn;

impl Log {
    /// Appends one record; returns its LSN. The record is visible to readers and survives
    /// a crash of the process when this returns; it survives a power loss once synced.
    ///
    /// # Errors
    /// `Error::RecordTooLarge` if it cannot fit in a segment; `Error::ReadOnly`;
    /// `Error::Poisoned`; `Error::NoSpace` when a new segment cannot be preallocated;
    /// with `SyncPolicy::Always`, the errors of `sync`.
    pub fn append(&self, payload: &[u8]) -> Result<Lsn> {
        let inner = &*self.inner;
        let footprint = inner.footprint(payload.len() as u64)?;
        let lsn = {
            let mut w = inner.lock_writer()?;
            inner.make_room(&mut w, footprint, 1)?;
            let lsn = write_record(&mut w, payload, 0);
            inner.publish(&w, 1, payload.len() as u64);
            lsn
        };
        self.after_append(lsn)?;
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
        let range = {
            let mut w = inner.lock_writer()?;
            if payloads.is_empty() {
                return Ok(w.next_lsn..w.next_lsn);
            }
            inner.make_room(&mut w, footprint, payloads.len() as u64)?;
            let start = w.next_lsn;
            let last = payloads.len() - 1;
            for (i, p) in payloads.iter().enumerate() {
                let left =
                    u16::try_from(last - i).expect("batch size checked against BATCH_RECORDS_MAX");
                write_record(&mut w, p, left);
            }
            // One publish for the whole batch: readers see all of it or none of it.
            inner.publish(&w, payloads.len() as u64, bytes);
            start..w.next_lsn
        };
        if let Some(last) = range.end.checked_sub(1) {
            self.after_append(last)?;
        }
        Ok(range)
    }

    /// Reserves room for a record of `len` bytes and returns a window of the mapping to
    /// write the payload in place. `commit` makes it a record; dropping it leaves nothing
    /// and takes no LSN. Other appends wait while a reservation is held.
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
        let mut w = inner.lock_writer()?;
        inner.make_room(&mut w, footprint, 1)?;
        Ok(Reservation {
            log: self,
            guard: Some(w),
            len,
        })
    }

    /// Appends one record and returns once it is durable.
    ///
    /// # Errors
    /// As `append` and `sync_to`.
    pub fn append_durable(&self, payload: &[u8]) -> Result<Lsn> {
        let lsn = self.append(payload)?;
        if self.inner.options.sync_policy != SyncPolicy::Always {
            self.inner.sync_until(lsn + 1)?;
        }
        Ok(lsn)
    }

    fn after_append(&self, last: Lsn) -> Result<()> {
        if self.inner.options.sync_policy == SyncPolicy::Always {
            self.inner.sync_until(last + 1)?;
        }
        Ok(())
    }
}

/// Writes one record at the writer's position and advances it (not yet published).
fn write_record(w: &mut Writer, payload: &[u8], batch_left: u16) -> Lsn {
    let lsn = w.next_lsn;
    let record = w.record_window_mut(payload.len());
    record
        .get_mut(format::RECORD_HEADER_LEN..)
        .expect("the window holds the payload")
        .copy_from_slice(payload);
    finish_record(w, payload.len(), batch_left);
    lsn
}

/// Seals the record whose payload is in place at the writer's position (header and
/// checksum, computed over the bytes in the mapping as readers will see them), then
/// advances the position and the LSN.
fn finish_record(w: &mut Writer, len: usize, batch_left: u16) {
    let fields = RecordFields {
        lsn: w.next_lsn,
        epoch: w.epoch,
        batch_left,
        kind: format::KIND_DATA,
    };
    let seed = w.active.seed();
    format::seal_record(&fields, seed, w.record_window_mut(len));
    let offset = w.offset;
    w.active.note_record(IndexPoint {
        lsn: w.next_lsn,
        offset,
    });
    w.offset += format::record_footprint(len as u64);
    w.next_lsn += 1;
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

    /// Rotates to a new segment if `footprint` bytes do not fit in the active one.
    fn make_room(&self, w: &mut MutexGuard<'_, Writer>, footprint: u64, count: u64) -> Result<()> {
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
            return Ok(());
        }
        if w.offset == format::RECORDS_START {
            // An empty active segment smaller than the configured size (it was created
            // with an older `segment_size`): rotating would leave an empty segment under
            // the same name as the next one.
            return Err(Error::RecordTooLarge {
                len: footprint,
                max: end - format::RECORDS_START,
            });
        }
        self.rotate(w)
    }

    /// Publishes the records written since the last publish.
    fn publish(&self, w: &Writer, count: u64, bytes: u64) {
        w.active.publish(w.offset, w.next_lsn);
        self.next_lsn.store(w.next_lsn, Ordering::Release);
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

/// Room for one record inside the mapping, written in place. Derefs to the payload
/// window (`&mut [u8]` of the reserved length).
///
/// `commit` turns it into a record; dropping it uncommitted leaves no record and takes no
/// LSN. While it lives, other appends on the same log wait; so do `sync` and the
/// truncations: calling them on the thread that holds the reservation deadlocks. Commit or
/// drop it first.
pub struct Reservation<'a> {
    log: &'a Log,
    guard: Option<MutexGuard<'a, Writer>>,
    len: usize,
}

impl Reservation<'_> {
    fn writer(&self) -> &Writer {
        self.guard
            .as_ref()
            .expect("a live reservation holds the writer lock")
    }

    /// Turns the reservation into a record; returns its LSN.
    ///
    /// # Errors
    /// `Error::Poisoned` if a sync failed meanwhile; with `SyncPolicy::Always`, the errors
    /// of `sync`.
    pub fn commit(mut self) -> Result<Lsn> {
        self.log.inner.check_poisoned()?;
        let mut w = self
            .guard
            .take()
            .expect("a live reservation holds the writer lock");
        let lsn = w.next_lsn;
        finish_record(&mut w, self.len, 0);
        self.log.inner.publish(&w, 1, self.len as u64);
        drop(w);
        self.log.after_append(lsn)?;
        Ok(lsn)
    }
}

impl Deref for Reservation<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        let window = self.writer().record_window(self.len);
        window.get(format::RECORD_HEADER_LEN..).unwrap_or(&[])
    }
}

impl DerefMut for Reservation<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        let len = self.len;
        let window = self
            .guard
            .as_mut()
            .expect("a live reservation holds the writer lock")
            .record_window_mut(len);
        window
            .get_mut(format::RECORD_HEADER_LEN..)
            .expect("the window holds the payload")
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if self.guard.is_some() {
            // Uncommitted: leave zeros, not a half-written payload, in unused space.
            self.deref_mut().fill(0);
        }
    }
}
