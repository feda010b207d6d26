//! Ordering concurrent appends: claims, completion, publication.
//!
//! An append has three steps. Under the writer lock it *claims* a range of the active
//! segment and a tentative LSN (a few stores). Outside any lock it copies its payload into
//! the range and seals the record (header and CRC). Under the lock again it *completes*
//! the claim; completed claims at the front of the queue are *published* in order, so a
//! record becomes visible only when it and every record before it are complete.
//!
//! A reservation that is dropped (or whose thread panics) instead of committed is
//! *abandoned*: if nothing was claimed after it, its range is simply given back; otherwise
//! it becomes a padding record (no LSN, skipped by readers), and every claim after it
//! moves down one LSN, so LSNs stay dense. So the LSN of a claim is final only once no
//! reservation before it is outstanding: a claim behind one is written in parallel, but
//! completes (and its append returns its LSN) only after the reservation is resolved,
//! resealing its records first if their LSN moved. Dropping a reservation is rare; the
//! common path never reseals.
//!
//! This module is bookkeeping only: no I/O, no unsafe, no locks of its own (the writer
//! lock protects it). The `loom` model in `tests` checks the protocol built on it.

use std::collections::VecDeque;
use std::thread::ThreadId;

use crate::Lsn;

/// One claimed range of the active segment, in claim order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Claim number: grows by one per claim.
    pub(crate) id: u64,
    /// Where the range starts and ends in the active segment.
    pub(crate) offset: u64,
    pub(crate) end: u64,
    /// The LSN of its first record (padding: the LSN the next record takes).
    pub(crate) lsn: Lsn,
    /// Records in the range: 1, a batch's size, or 0 once abandoned (padding).
    pub(crate) count: u64,
    /// Payload bytes (for the counters).
    pub(crate) bytes: u64,
    /// Whether its bytes are complete.
    pub(crate) done: bool,
    /// The thread holding it, for a reservation: waiting for it on that thread would
    /// never end.
    pub(crate) owner: Option<ThreadId>,
}

/// What abandoning a claim did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Abandoned {
    /// It was the last claim: its range and LSNs are free again. The tail goes back to
    /// `offset`, the next LSN down by `count`.
    GivenBack { offset: u64, count: u64 },
    /// Later claims exist: the range becomes a padding record (written when it is
    /// published, with its final LSN); every later claim moved down `count` LSNs (their
    /// owners reseal when they complete).
    Padding { lsn: Lsn, count: u64 },
}

/// The claims not yet published, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    entries: VecDeque<Entry>,
    next_id: u64,
    /// Reservations neither committed nor abandoned.
    reservations: usize,
}

impl Pending {
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Records a new claim of `offset..end` holding `count` records from `lsn`; returns
    /// its id. `owner` is set for a reservation.
    pub(crate) fn claim(
        &mut self,
        offset: u64,
        end: u64,
        lsn: Lsn,
        count: u64,
        bytes: u64,
        owner: Option<ThreadId>,
    ) -> u64 {
        debug_assert!(self.entries.back().is_none_or(|e| e.end <= offset));
        let id = self.next_id;
        self.next_id += 1;
        if owner.is_some() {
            self.reservations += 1;
        }
        self.entries.push_back(Entry {
            id,
            offset,
            end,
            lsn,
            count,
            bytes,
            done: false,
            owner,
        });
        id
    }

    fn position(&self, id: u64) -> usize {
        // Ids are contiguous from the front (a given-back claim is the last one, and its
        // id is reused).
        let front = self.entries.front().map_or(self.next_id, |e| e.id);
        let i = usize::try_from(id - front).expect("pending claims fit in memory");
        debug_assert_eq!(self.entries.get(i).map(|e| e.id), Some(id));
        i
    }

    fn entry_mut(&mut self, id: u64) -> &mut Entry {
        let i = self.position(id);
        self.entries
            .get_mut(i)
            .expect("a pending claim is in the queue")
    }

    /// The claim `id` (not yet published).
    pub(crate) fn get(&self, id: u64) -> &Entry {
        self.entries
            .get(self.position(id))
            .expect("a pending claim is in the queue")
    }

    /// Marks claim `id` complete; returns its first LSN, final now (the caller has waited
    /// until `reservation_before(id)` is false).
    pub(crate) fn complete(&mut self, id: u64) -> Lsn {
        let e = self.entry_mut(id);
        debug_assert!(!e.done, "a claim completes once");
        e.done = true;
        let (lsn, reservation) = (e.lsn, e.owner.take().is_some());
        if reservation {
            self.reservations -= 1;
        }
        lsn
    }

    /// Abandons claim `id` (a reservation that will not be committed).
    pub(crate) fn abandon(&mut self, id: u64) -> Abandoned {
        let i = self.position(id);
        let e = self.entry_mut(id);
        debug_assert!(!e.done, "a completed claim cannot be abandoned");
        if e.owner.take().is_some() {
            self.reservations -= 1;
        }
        if i + 1 == self.entries.len() {
            let e = self.entries.pop_back().expect("the claim is the last one");
            self.next_id = e.id;
            return Abandoned::GivenBack {
                offset: e.offset,
                count: e.count,
            };
        }
        let e = self.entry_mut(id);
        let (lsn, count) = (e.lsn, e.count);
        e.count = 0;
        e.bytes = 0;
        e.done = true;
        for later in self.entries.range_mut(i + 1..) {
            // Only padding is complete behind a reservation (a claim waits for it); padding
            // gets its header when it is published, so it moves down too.
            debug_assert!(
                !later.done || later.count == 0,
                "a claim behind a reservation waits for it"
            );
            later.lsn -= count;
        }
        Abandoned::Padding { lsn, count }
    }

    /// Removes the complete claims at the front, oldest first, calling `f` for each.
    /// Returns the last one removed (the new published end), if any.
    pub(crate) fn advance(&mut self, mut f: impl FnMut(&Entry)) -> Option<Entry> {
        let mut last = None;
        while let Some(e) = self.entries.front().filter(|e| e.done).copied() {
            self.entries.pop_front();
            f(&e);
            last = Some(e);
        }
        last
    }

    /// Whether claim `id` (one this queue handed out) has been published: it has left
    /// the front of the queue. (Ids only grow past a published claim: an id is reused only
    /// for a claim given back from the back of the queue, which is pending.)
    pub(crate) fn published(&self, id: u64) -> bool {
        self.entries.front().is_none_or(|e| id < e.id)
    }

    /// The LSN after the last complete claim, if any is pending: every append that has
    /// returned lies below it.
    pub(crate) fn completed_next(&self) -> Option<Lsn> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.done)
            .map(|e| e.lsn + e.count)
    }

    /// Whether an outstanding reservation lies before claim `id`: its LSN is not final.
    pub(crate) fn reservation_before(&self, id: u64) -> bool {
        self.reservations > 0
            && self
                .entries
                .iter()
                .take_while(|e| e.id != id)
                .any(|e| e.owner.is_some())
    }

    /// Whether the calling thread holds an outstanding reservation before claim `before`
    /// (or at all, for `None`): waiting for it would never end. Looks up the thread only
    /// when some reservation is outstanding, so the common path pays nothing.
    #[inline]
    pub(crate) fn held_by_current(&self, before: Option<u64>) -> bool {
        self.reservations > 0 && self.held_by(std::thread::current().id(), before)
    }

    /// Whether thread `me` holds an outstanding reservation before claim `id` (or at all,
    /// for `None`).
    pub(crate) fn held_by(&self, me: ThreadId, before: Option<u64>) -> bool {
        self.reservations > 0
            && self
                .entries
                .iter()
                .take_while(|e| Some(e.id) != before)
                .any(|e| e.owner == Some(me))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(p: &mut Pending, offset: u64, lsn: Lsn, count: u64) -> u64 {
        p.claim(offset, offset + 32 * count, lsn, count, 8 * count, None)
    }

    fn me() -> ThreadId {
        std::thread::current().id()
    }

    #[test]
    fn publishes_in_claim_order_only_when_complete() {
        let mut p = Pending::default();
        let a = claim(&mut p, 4096, 0, 1);
        let b = claim(&mut p, 4128, 1, 2);
        assert_eq!(p.complete(b), 1);
        assert_eq!(p.advance(|_| {}), None, "b waits for a");
        assert!(
            !p.published(b),
            "complete is not published while a is written"
        );
        assert_eq!(p.completed_next(), Some(3));
        assert_eq!(p.complete(a), 0);
        let mut seen = Vec::new();
        let last = p.advance(|e| seen.push(e.id)).expect("both publish");
        assert_eq!(seen, vec![a, b]);
        assert!(p.published(a) && p.published(b));
        assert_eq!((last.end, last.lsn + last.count), (4192, 3));
        assert!(p.is_empty());
        assert_eq!(p.completed_next(), None);
        let c = claim(&mut p, 4192, 3, 1);
        assert!(p.published(b) && !p.published(c), "a later claim is not b");
    }

    #[test]
    fn the_last_claim_abandoned_is_given_back_and_its_id_reused() {
        let mut p = Pending::default();
        let a = claim(&mut p, 4096, 0, 1);
        let b = p.claim(4128, 4160, 1, 1, 8, Some(me()));
        assert_eq!(
            p.abandon(b),
            Abandoned::GivenBack {
                offset: 4128,
                count: 1
            }
        );
        assert!(!p.held_by(me(), None));
        let c = claim(&mut p, 4128, 1, 1);
        assert_eq!(c, b);
        p.complete(a);
        p.complete(c);
        assert_eq!(p.advance(|_| {}).map(|e| e.lsn), Some(1));
    }

    #[test]
    fn an_abandoned_claim_in_the_middle_becomes_padding_and_later_claims_move_down() {
        let mut p = Pending::default();
        let a = claim(&mut p, 4096, 0, 1);
        let r = p.claim(4128, 4160, 1, 1, 8, Some(me()));
        let b = claim(&mut p, 4160, 2, 3);
        let c = claim(&mut p, 4256, 5, 1);
        assert!(!p.reservation_before(a) && !p.reservation_before(r));
        assert!(p.reservation_before(b) && p.reservation_before(c));
        assert_eq!(p.abandon(r), Abandoned::Padding { lsn: 1, count: 1 });
        assert!(!p.reservation_before(c));
        assert_eq!(p.complete(b), 1, "b learns its new LSN when it completes");
        assert_eq!(p.complete(c), 4);
        p.complete(a);
        let mut seen = Vec::new();
        let last = p
            .advance(|e| seen.push((e.lsn, e.count)))
            .expect("all publish");
        assert_eq!(seen, vec![(0, 1), (1, 0), (1, 3), (4, 1)]);
        assert_eq!(last.lsn + last.count, 5, "dense: five records, LSNs 0..5");
    }

    #[test]
    fn held_by_sees_only_outstanding_reservations_of_that_thread() {
        let mut p = Pending::default();
        let r = p.claim(4096, 4128, 0, 1, 8, Some(me()));
        assert!(p.held_by(me(), None));
        let other = std::thread::spawn(|| std::thread::current().id())
            .join()
            .expect("thread");
        assert!(!p.held_by(other, None));
        let later = claim(&mut p, 4128, 1, 1);
        assert!(p.held_by(me(), Some(later)) && !p.held_by(me(), Some(r)));
        p.complete(r);
        assert!(!p.held_by(me(), None) && !p.held_by(me(), Some(later)));
        assert!(!p.reservation_before(later));
    }
}

/// A `loom` model of the append protocol built on `Pending`, as `append.rs` runs it: claim
/// under the lock, write outside it, complete under it (waiting behind an outstanding
/// reservation, rewriting the LSN if it moved), publish in order with a release store,
/// padding for an abandoned reservation written at publication; a reader loads the
/// published end with acquire and reads below it. Loom explores the interleavings and
/// fails on a data race (a write to a slot a reader may be reading), a deadlock, or a
/// broken check (LSNs not dense, a record returned with an LSN it does not keep).
///
/// `RUSTFLAGS="--cfg loom" cargo test --release --lib sequencer::loom`
#[cfg(all(test, loom))]
#[allow(unsafe_code)] // loom's `UnsafeCell` stands for the mapping; loom checks every access.
mod loom_model {
    use super::*;
    use loom::cell::UnsafeCell;
    use loom::sync::atomic::{AtomicUsize, Ordering};
    use loom::sync::{Arc, Condvar, Mutex};

    /// A slot holds one record: (LSN, value); value 0 is padding.
    struct Log {
        state: Mutex<State>,
        published: Condvar,
        slots: Vec<UnsafeCell<(u64, u64)>>,
        /// Slots published (release), for readers.
        end: AtomicUsize,
    }

    struct State {
        pending: Pending,
        tail: usize,
        next_lsn: u64,
    }

    struct Claim {
        id: u64,
        slot: usize,
        lsn: u64,
    }

    impl Log {
        fn new(slots: usize) -> Log {
            Log {
                state: Mutex::new(State {
                    pending: Pending::default(),
                    tail: 0,
                    next_lsn: 0,
                }),
                published: Condvar::new(),
                slots: (0..slots).map(|_| UnsafeCell::new((0, 0))).collect(),
                end: AtomicUsize::new(0),
            }
        }

        fn claim(&self, reservation: bool) -> Claim {
            let mut s = self.state.lock().unwrap();
            let slot = s.tail;
            let lsn = s.next_lsn;
            let owner = reservation.then(|| std::thread::current().id());
            let id = s
                .pending
                .claim(slot as u64, slot as u64 + 1, lsn, 1, 8, owner);
            s.tail += 1;
            s.next_lsn += 1;
            Claim { id, slot, lsn }
        }

        fn write(&self, claim: &Claim, value: u64) {
            self.slots[claim.slot].with_mut(|p| {
                // SAFETY: the claim is the only access to its slot (which loom verifies).
                unsafe { *p = (claim.lsn, value) }
            });
        }

        fn complete(&self, claim: Claim) -> u64 {
            let mut s = self.state.lock().unwrap();
            while s.pending.reservation_before(claim.id) {
                s = self.published.wait(s).unwrap();
            }
            let lsn = s.pending.get(claim.id).lsn;
            if lsn != claim.lsn {
                self.slots[claim.slot].with_mut(|p| {
                    // SAFETY: as in `write`: the owner still holds the claim.
                    unsafe { (*p).0 = lsn }
                });
            }
            s.pending.complete(claim.id);
            self.publish(&mut s);
            // As `Inner::complete`: return only once published.
            while !s.pending.published(claim.id) {
                s = self.published.wait(s).unwrap();
            }
            lsn
        }

        /// `complete`, then checks that a reader sees the record: it is visible when its
        /// append returns.
        fn commit(&self, claim: Claim, value: u64) -> (u64, u64) {
            let lsn = self.complete(claim);
            assert!(
                self.read().contains(&(lsn, value)),
                "a record is visible when its append returns"
            );
            (lsn, value)
        }

        fn abandon(&self, claim: Claim) {
            let mut s = self.state.lock().unwrap();
            match s.pending.abandon(claim.id) {
                Abandoned::GivenBack { offset, count } => {
                    s.tail = offset as usize;
                    s.next_lsn -= count;
                }
                Abandoned::Padding { count, .. } => s.next_lsn -= count,
            }
            self.publish(&mut s);
        }

        fn publish(&self, s: &mut State) {
            let slots = &self.slots;
            let last = s.pending.advance(|e| {
                if e.count == 0 {
                    slots[e.offset as usize].with_mut(|p| {
                        // SAFETY: an abandoned claim's slot belongs to the writer under
                        // the lock until published.
                        unsafe { *p = (e.lsn, 0) }
                    });
                }
            });
            if let Some(last) = last {
                self.end.store(last.end as usize, Ordering::Release);
            }
            self.published.notify_all();
        }

        /// Reads the published records; checks LSNs are dense; returns (LSN, value).
        fn read(&self) -> Vec<(u64, u64)> {
            let end = self.end.load(Ordering::Acquire);
            let mut out = Vec::new();
            let mut next = 0;
            for slot in &self.slots[..end] {
                // SAFETY: published slots are never written again.
                let (lsn, value) = slot.with(|p| unsafe { *p });
                assert_eq!(lsn, next, "dense LSNs");
                if value != 0 {
                    out.push((lsn, value));
                    next += 1;
                }
            }
            out
        }
    }

    /// An append, a reservation that is dropped or committed, and a reader.
    fn model(commit: bool) {
        loom::model(move || {
            let log = Arc::new(Log::new(3));
            let appender = {
                let log = Arc::clone(&log);
                loom::thread::spawn(move || {
                    let c = log.claim(false);
                    log.write(&c, 11);
                    log.commit(c, 11)
                })
            };
            let reserver = {
                let log = Arc::clone(&log);
                loom::thread::spawn(move || {
                    let c = log.claim(true);
                    log.write(&c, 22);
                    if commit {
                        Some(log.commit(c, 22))
                    } else {
                        log.abandon(c);
                        None
                    }
                })
            };
            let seen = log.read();
            let a = appender.join().unwrap();
            let r = reserver.join().unwrap();
            let all = log.read();
            assert!(all.starts_with(&seen), "a reader's view only grows");
            let mut expected: Vec<(u64, u64)> = std::iter::once(a).chain(r).collect();
            expected.sort_unstable();
            assert_eq!(
                all, expected,
                "each record once, at the LSN its call returned"
            );
        });
    }

    /// Two reservations (one dropped, one committed) and an append, with a reader.
    #[test]
    fn two_reservations_and_an_append() {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(3);
        builder.check(|| {
            let log = Arc::new(Log::new(3));
            let spawn = |value: u64, reservation: bool, keep: bool| {
                let log = Arc::clone(&log);
                loom::thread::spawn(move || {
                    let c = log.claim(reservation);
                    log.write(&c, value);
                    if keep {
                        Some(log.commit(c, value))
                    } else {
                        log.abandon(c);
                        None
                    }
                })
            };
            let threads = [
                spawn(11, false, true),
                spawn(22, true, false),
                spawn(33, true, true),
            ];
            let seen = log.read();
            let mut expected: Vec<(u64, u64)> = threads
                .into_iter()
                .filter_map(|t| t.join().unwrap())
                .collect();
            expected.sort_unstable();
            let all = log.read();
            assert!(all.starts_with(&seen), "a reader's view only grows");
            assert_eq!(
                all, expected,
                "each record once, at the LSN its call returned"
            );
        });
    }

    #[test]
    fn append_and_dropped_reservation() {
        model(false);
    }

    #[test]
    fn append_and_committed_reservation() {
        model(true);
    }
}
