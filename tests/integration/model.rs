//! Model test: seeded random operations against a `Vec<Vec<u8>>` model of the log.
//!
//! Promises checked: LSNs are dense and start at 0, also across restarts (clean `close`
//! and a process-crash-like drop without `close`); `append`, `append_batch` (atomic,
//! `RecordTooLarge` when the batch does not fit in a segment), `reserve` + `commit`, and an
//! uncommitted reservation leaves no record and takes no LSN; `sync` makes everything
//! durable; `truncate_front` frees exactly the segments whose records all lie below the
//! LSN; `truncate_back` leaves `next_lsn() == lsn` and removed records never come back;
//! `iter` / `iter_from` return exactly the committed records (and `LsnOutOfRange` outside
//! the log); an iterator follows the log as it grows; a `Record`'s payload stays valid
//! while it lives, even after its segment is truncated away; a read-only open sees what
//! the writer wrote; records larger than a segment are refused with `RecordTooLarge` and
//! leave the log unchanged; `close` releases the lock even while an iterator lives;
//! `truncate_back` inside an atomic batch keeps the batch's records before the cut.
//!
//! How: 64 KiB segments and payloads up to ~20 KiB (rarely a whole segment) so rotations
//! are frequent. After every step `next_lsn`, `first_lsn`, held records and a following
//! iterator are checked; every few steps the whole log, random `iter_from`s, the segment
//! list and a read-only view. Seeds are fixed by default; `MMLOG_SEED=<n>` replays one
//! seed, `MMLOG_MODEL_STEPS=<n>` changes the run length, and `MMLOG_MODEL_LONG=1` runs
//! many fresh seeds (from the clock) with longer runs. A failure panics with the seed
//! and the last operations.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};

use mmlog::format::{payload_len_max, record_footprint, records_end, RECORDS_START};
use mmlog::{Error, Iter, Log, Lsn, Record};

use crate::util::{small, Rng, SMALL_SEGMENT};

/// Seeds the default run uses: fixed, so a failure in CI replays locally.
const SEEDS_DEFAULT: [u64; 6] = [1, 2, 3, 4, 0x5EED_CAFE, 0xDEAD_BEEF_0042];
const STEPS_DEFAULT: usize = 500;
const SEEDS_LONG: usize = 64;
const STEPS_LONG: usize = 3000;
/// Operations kept for the failure message.
const TRACE_LEN: usize = 24;
/// Records (with their expected payloads) kept alive across operations.
const HELD_MAX: usize = 6;

#[test]
#[cfg_attr(miri, ignore)]
fn random_operations_match_the_model() {
    let (seeds, steps) = seeds_and_steps();
    for seed in seeds {
        let mut trace = VecDeque::new();
        let outcome = catch_unwind(AssertUnwindSafe(|| run(seed, steps, &mut trace)));
        if let Err(cause) = outcome {
            let cause = cause
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| cause.downcast_ref::<&str>().copied())
                .unwrap_or("(panic without a message)");
            let ops: Vec<String> = trace.into_iter().collect();
            panic!(
                "model test failed; replay with MMLOG_SEED={seed} MMLOG_MODEL_STEPS={steps}\n\
                 cause: {cause}\nlast operations (oldest first):\n  {}",
                ops.join("\n  ")
            );
        }
    }
}

/// Found while writing the model (its follower must be dropped before every `close`):
/// `close` "syncs, then releases the lock", but an `Iter` that outlives the `Log` keeps
/// the lock, so a reopen fails with `Error::Locked`.
#[test]
#[cfg_attr(miri, ignore)]
fn close_releases_the_lock_while_an_iterator_lives() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), small()).expect("open");
    log.append(b"a").expect("append");
    let iter = log.iter();
    log.close().expect("close");
    match Log::open(dir.path(), small()) {
        Ok(log) => log.close().expect("close"),
        Err(e) => panic!("reopen after close, with an iterator of the closed log alive: {e}"),
    }
    drop(iter);
}

/// Found by the model (seed 1): `truncate_back` into the middle of an atomic batch keeps
/// the batch's first records, but on disk they still say more records of their batch
/// follow. A crash (drop without `close`) before the next sync then loses them, and the
/// record appended after the cut, at reopen.
#[test]
#[cfg_attr(miri, ignore)]
fn truncate_back_inside_a_batch_survives_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), small()).expect("open");
    assert_eq!(log.append_batch(&[b"a", b"b", b"c"]).expect("batch"), 0..3);
    log.truncate_back(1).expect("truncate_back");
    assert_eq!(log.append(b"d").expect("append"), 1);
    drop(log); // a killed process: appended records survive it
    let log = Log::open(dir.path(), small()).expect("reopen");
    let all: Vec<(Lsn, Vec<u8>)> = crate::util::read_all(&log);
    assert_eq!(
        all,
        [(0, b"a".to_vec()), (1, b"d".to_vec())],
        "{:?}",
        log.recovery_report()
    );
}

/// The same cut, synced: `TruncateAtCorruption` checks every record of the sealed segment,
/// takes the cut batch for corruption and drops records that were made durable.
#[test]
#[cfg_attr(miri, ignore)]
fn truncate_back_inside_a_batch_is_not_corruption() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), small()).expect("open");
    assert_eq!(log.append_batch(&[b"a", b"b", b"c"]).expect("batch"), 0..3);
    log.truncate_back(1).expect("truncate_back");
    assert_eq!(log.append(b"d").expect("append"), 1);
    assert_eq!(log.sync().expect("sync"), 2);
    log.close().expect("close");
    let options = small().recovery(mmlog::Recovery::TruncateAtCorruption);
    let log = Log::open(dir.path(), options).expect("reopen");
    let all: Vec<(Lsn, Vec<u8>)> = crate::util::read_all(&log);
    assert_eq!(
        all,
        [(0, b"a".to_vec()), (1, b"d".to_vec())],
        "{:?}",
        log.recovery_report()
    );
    assert_eq!(log.recovery_report().corruption, None);
}

fn seeds_and_steps() -> (Vec<u64>, usize) {
    let env_num = |name: &str| {
        std::env::var(name).ok().map(|v| {
            let v = v.trim();
            let parsed = match v.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => v.parse(),
            };
            parsed.unwrap_or_else(|e| panic!("{name}={v:?} is not a number: {e}"))
        })
    };
    let long = std::env::var("MMLOG_MODEL_LONG").is_ok_and(|v| v != "0" && !v.is_empty());
    let steps = env_num("MMLOG_MODEL_STEPS")
        .map_or(if long { STEPS_LONG } else { STEPS_DEFAULT }, |n| {
            usize::try_from(n).expect("MMLOG_MODEL_STEPS fits in usize")
        });
    if let Some(seed) = env_num("MMLOG_SEED") {
        return (vec![seed], steps);
    }
    if long {
        let clock = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let mut rng = Rng::new(clock);
        let seeds = (0..SEEDS_LONG).map(|_| rng.next_u64()).collect();
        return (seeds, steps);
    }
    (SEEDS_DEFAULT.to_vec(), steps)
}

/// The model: the records from `first` on; record `first + i` is `records[i]`.
#[derive(Default)]
struct Model {
    first: Lsn,
    records: VecDeque<Vec<u8>>,
}

impl Model {
    fn next(&self) -> Lsn {
        self.first + self.records.len() as u64
    }

    fn get(&self, lsn: Lsn) -> &[u8] {
        let i = usize::try_from(lsn - self.first).expect("index fits in usize");
        &self.records[i]
    }
}

struct Harness<'t> {
    dir: tempfile::TempDir,
    log: Option<Log>,
    model: Model,
    rng: Rng,
    /// Records read earlier, kept alive, with the bytes they must still show.
    held: Vec<(Record, Vec<u8>)>,
    /// An iterator left open while the log grows, and the LSN it must yield next.
    follower: Option<(Iter, Lsn)>,
    /// Segment rotations over every incarnation of the log (so a run proves it rotated).
    rotations: u64,
    trace: &'t mut VecDeque<String>,
}

fn run(seed: u64, steps: usize, trace: &mut VecDeque<String>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), small()).expect("open a fresh log");
    let mut h = Harness {
        dir,
        log: Some(log),
        model: Model::default(),
        rng: Rng::new(seed),
        held: Vec::new(),
        follower: None,
        rotations: 0,
        trace,
    };
    h.check_step();
    for step in 0..steps {
        h.step();
        h.check_step();
        if step % 25 == 24 {
            h.check_full();
        }
    }
    h.check_full();
    h.reopen(true);
    h.check_full();
    eprintln!(
        "model seed {seed}: {steps} steps, {} rotations, LSNs {}..{} at the end",
        h.rotations,
        h.model.first,
        h.model.next()
    );
    if steps >= 200 {
        assert!(h.rotations > 0, "the run never rotated a segment");
    }
}

impl Harness<'_> {
    fn log(&self) -> &Log {
        self.log.as_ref().expect("the log is open between steps")
    }

    fn note(&mut self, op: String) {
        if self.trace.len() == TRACE_LEN {
            self.trace.pop_front();
        }
        self.trace.push_back(op);
    }

    /// A payload length: mostly small, sometimes up to 20 KiB, rarely (almost) a whole
    /// segment, sometimes empty.
    fn payload(&mut self) -> Vec<u8> {
        let max = payload_len_max(SMALL_SEGMENT);
        let len = match self.rng.below(100) {
            0..=4 => 0,
            5..=49 => self.rng.below(256),
            50..=79 => self.rng.below(4096),
            80..=98 => self.rng.between(4096, 20 * 1024),
            _ => max - self.rng.below(64),
        };
        self.rng
            .bytes(usize::try_from(len).expect("len fits in usize"))
    }

    fn random_lsn(&mut self) -> Lsn {
        self.rng.between(self.model.first, self.model.next())
    }

    fn step(&mut self) {
        match self.rng.below(100) {
            0..=29 => self.append(),
            30..=37 => self.append_batch(),
            38..=45 => self.reserve_commit(),
            46..=49 => self.reserve_drop(),
            50..=55 => self.sync(),
            56..=57 => self.truncate_front(),
            58..=61 => self.truncate_back(),
            64..=66 => self.reopen(true),
            67..=68 => self.reopen(false),
            69..=76 => self.check_iter_from(),
            77..=79 => self.too_large(),
            80..=82 => self.out_of_range(),
            83..=87 => self.start_follower(),
            88..=91 => self.hold_record(),
            92..=93 => self.full_segment_batch(),
            _ => self.append(),
        }
    }

    fn append(&mut self) {
        let p = self.payload();
        self.note(format!("append({} bytes)", p.len()));
        let lsn = self
            .log()
            .append(&p)
            .unwrap_or_else(|e| panic!("append of {} bytes: {e}", p.len()));
        assert_eq!(lsn, self.model.next(), "append returned the wrong LSN");
        self.model.records.push_back(p);
    }

    fn append_batch(&mut self) {
        let count = self.rng.below(6);
        let payloads: Vec<Vec<u8>> = (0..count).map(|_| self.payload()).collect();
        let lens: Vec<usize> = payloads.iter().map(Vec::len).collect();
        self.note(format!("append_batch({lens:?})"));
        self.batch(payloads);
    }

    /// Appends `payloads` as one batch; predicts `RecordTooLarge` from the format's sizes.
    fn batch(&mut self, payloads: Vec<Vec<u8>>) {
        let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
        let footprint: u64 = payloads
            .iter()
            .map(|p| record_footprint(p.len() as u64))
            .sum();
        let capacity = records_end(SMALL_SEGMENT) - RECORDS_START;
        let next = self.model.next();
        match self.log().append_batch(&refs) {
            Ok(range) => {
                assert!(
                    footprint <= capacity,
                    "a batch of {footprint} bytes on disk was accepted, but a segment holds {capacity}"
                );
                assert_eq!(range, next..next + payloads.len() as u64, "batch LSNs");
                self.model.records.extend(payloads);
            }
            Err(Error::RecordTooLarge { len, max }) => {
                assert!(
                    footprint > capacity,
                    "a batch of {footprint} bytes was refused as too large (len {len}, max {max})"
                );
                assert_eq!(self.log().next_lsn(), next, "a refused batch took LSNs");
            }
            Err(e) => panic!("append_batch: {e}"),
        }
    }

    /// A batch whose records fill a whole segment exactly, or overflow it by one byte.
    fn full_segment_batch(&mut self) {
        let capacity = records_end(SMALL_SEGMENT) - RECORDS_START;
        let header = record_footprint(0);
        let first = self.rng.between(0, 20 * 1024) & !7;
        let second = capacity - 2 * header - first + u64::from(self.rng.percent(30));
        self.note(format!(
            "append_batch([{first}, {second}]) at the segment capacity"
        ));
        let payloads = vec![
            self.rng.bytes(first as usize),
            self.rng.bytes(second as usize),
        ];
        self.batch(payloads);
    }

    fn reserve_commit(&mut self) {
        let p = self.payload();
        self.note(format!("reserve({}) + commit", p.len()));
        let mut r = self
            .log()
            .reserve(p.len())
            .unwrap_or_else(|e| panic!("reserve({}): {e}", p.len()));
        assert_eq!(r.len(), p.len(), "reservation window length");
        r.copy_from_slice(&p);
        let lsn = r.commit().unwrap_or_else(|e| panic!("commit: {e}"));
        assert_eq!(lsn, self.model.next(), "commit returned the wrong LSN");
        self.model.records.push_back(p);
    }

    fn reserve_drop(&mut self) {
        let garbage = self.payload();
        self.note(format!("reserve({}) + drop", garbage.len()));
        let mut r = self
            .log()
            .reserve(garbage.len())
            .unwrap_or_else(|e| panic!("reserve({}): {e}", garbage.len()));
        r.copy_from_slice(&garbage);
        drop(r);
        assert_eq!(
            self.log().next_lsn(),
            self.model.next(),
            "a dropped reservation took an LSN"
        );
    }

    fn sync(&mut self) {
        let next = self.model.next();
        match self.rng.below(3) {
            0 => {
                self.note("sync".into());
                let durable = self.log().sync().unwrap_or_else(|e| panic!("sync: {e}"));
                assert_eq!(durable, next, "sync returns durable_lsn, which is next_lsn");
            }
            1 if next > self.model.first => {
                let lsn = self.rng.between(self.model.first, next - 1);
                self.note(format!("sync_to({lsn})"));
                self.log()
                    .sync_to(lsn)
                    .unwrap_or_else(|e| panic!("sync_to({lsn}): {e}"));
                assert!(
                    self.log().durable_lsn() > lsn,
                    "sync_to({lsn}) left it non-durable"
                );
            }
            _ => {
                let p = self.payload();
                self.note(format!("append_durable({} bytes)", p.len()));
                let lsn = self
                    .log()
                    .append_durable(&p)
                    .unwrap_or_else(|e| panic!("append_durable: {e}"));
                assert_eq!(lsn, next, "append_durable returned the wrong LSN");
                assert!(
                    self.log().durable_lsn() > lsn,
                    "append_durable: not durable"
                );
                self.model.records.push_back(p);
            }
        }
    }

    fn truncate_front(&mut self) {
        // Mostly retention of the oldest quarter, sometimes anywhere (up to `next_lsn`).
        let lsn = if self.rng.percent(90) {
            let len = self.model.records.len() as u64;
            self.model.first + self.rng.between(0, len / 4)
        } else {
            self.random_lsn()
        };
        self.note(format!("truncate_front({lsn})"));
        self.follower = None;
        let old_first = self.model.first;
        let first = self
            .log()
            .truncate_front(lsn)
            .unwrap_or_else(|e| panic!("truncate_front({lsn}): {e}"));
        assert_eq!(
            first,
            self.log().first_lsn(),
            "truncate_front's return value"
        );
        assert!(
            (old_first..=lsn).contains(&first),
            "truncate_front({lsn}) moved first_lsn from {old_first} to {first}"
        );
        // Every segment whose records all lie below `lsn` is gone: the first one left is
        // the one being appended to, or holds a record at or after `lsn`.
        let segments = self.log().stats().segments;
        let head = segments.first().expect("a log always has a segment");
        assert!(
            segments.len() == 1 || head.next_lsn > lsn,
            "truncate_front({lsn}) kept segment {}..{} whose records all lie below it",
            head.base_lsn,
            head.next_lsn
        );
        let drop = usize::try_from(first - old_first).expect("fits in usize");
        self.model.records.drain(..drop);
        self.model.first = first;
    }

    fn truncate_back(&mut self) {
        // Mostly a short cut at the end (a Raft conflict), sometimes anywhere.
        let lsn = if self.rng.percent(85) {
            let len = self.model.records.len() as u64;
            self.model.next() - self.rng.between(0, len.min(8))
        } else {
            self.random_lsn()
        };
        self.note(format!("truncate_back({lsn})"));
        self.follower = None;
        self.log()
            .truncate_back(lsn)
            .unwrap_or_else(|e| panic!("truncate_back({lsn}): {e}"));
        assert_eq!(self.log().next_lsn(), lsn, "next_lsn after truncate_back");
        assert!(self.log().durable_lsn() <= lsn, "durable_lsn past the cut");
        let keep = usize::try_from(lsn - self.model.first).expect("fits in usize");
        self.model.records.truncate(keep);
    }

    /// Closes (or, `clean == false`, drops without closing, like a killed process: the
    /// page cache keeps what was appended) and reopens.
    fn reopen(&mut self, clean: bool) {
        self.note(if clean { "close + open" } else { "drop + open" }.into());
        // An iterator keeps the log's internals (and its lock) alive.
        self.follower = None;
        let log = self.log.take().expect("open");
        self.rotations += log.stats().rotations;
        if clean {
            log.close().unwrap_or_else(|e| panic!("close: {e}"));
        } else {
            drop(log);
        }
        let log = Log::open(self.dir.path(), small()).unwrap_or_else(|e| panic!("reopen: {e}"));
        let report = log.recovery_report().clone();
        assert_eq!(report.corruption, None, "reopen found corruption");
        assert_eq!(report.torn_bytes, 0, "reopen found torn bytes: {report:?}");
        assert_eq!(
            report.records_recovered,
            self.model.records.len() as u64,
            "records recovered: {report:?}"
        );
        assert_eq!(
            log.durable_lsn(),
            log.next_lsn(),
            "recovered records are durable"
        );
        self.log = Some(log);
    }

    fn check_iter_from(&mut self) {
        let lsn = self.random_lsn();
        let take = usize::try_from(self.rng.between(1, 100)).expect("fits");
        self.note(format!("iter_from({lsn}) take {take}"));
        let mut iter = self.log().iter_from(lsn);
        let mut expected = lsn;
        for item in iter.by_ref().take(take) {
            let record = item.unwrap_or_else(|e| panic!("iter_from({lsn}) at {expected}: {e}"));
            assert_eq!(
                record.lsn(),
                expected,
                "iter_from({lsn}) skipped or repeated"
            );
            assert!(
                record.payload() == self.model.get(expected),
                "iter_from({lsn}): payload of {expected} differs"
            );
            expected += 1;
        }
        if expected - lsn < take as u64 {
            assert_eq!(expected, self.model.next(), "iter_from({lsn}) ended early");
        }
    }

    fn too_large(&mut self) {
        let max = payload_len_max(SMALL_SEGMENT);
        let len = max + self.rng.between(1, 4096);
        let next = self.model.next();
        match self.rng.below(3) {
            0 => {
                self.note(format!("append({len} bytes) too large"));
                let err = self.log().append(&vec![7u8; len as usize]).unwrap_err();
                assert!(
                    matches!(err, Error::RecordTooLarge { len: l, max: m } if l == len && m == max),
                    "append of {len} bytes: {err}"
                );
            }
            1 => {
                self.note(format!("reserve({len}) too large"));
                let err = self.log().reserve(len as usize).err().expect("refused");
                assert!(
                    matches!(err, Error::RecordTooLarge { .. }),
                    "reserve({len}): {err}"
                );
            }
            _ => {
                // Three records of 20 KiB: each fits in a segment, the batch does not.
                let payloads: Vec<Vec<u8>> = (0..3).map(|_| self.rng.bytes(20 * 1024)).collect();
                self.note("append_batch(3 x 20 KiB) too large".into());
                self.batch(payloads);
            }
        }
        assert_eq!(self.log().next_lsn(), next, "a refused record took an LSN");
    }

    fn out_of_range(&mut self) {
        let (first, next) = (self.model.first, self.model.next());
        let beyond = next + self.rng.between(1, 10);
        self.note(format!("out of range: {beyond}, first {first}"));
        let log = self.log();
        assert!(
            matches!(log.iter_from(beyond).next(), Some(Err(Error::LsnOutOfRange { lsn, .. })) if lsn == beyond),
            "iter_from({beyond}) past next_lsn {next}"
        );
        assert!(
            matches!(log.truncate_front(beyond), Err(Error::LsnOutOfRange { .. })),
            "truncate_front({beyond})"
        );
        assert!(
            matches!(log.truncate_back(beyond), Err(Error::LsnOutOfRange { .. })),
            "truncate_back({beyond})"
        );
        assert!(
            matches!(log.sync_to(next), Err(Error::LsnOutOfRange { .. })),
            "sync_to({next}) of a record not appended yet"
        );
        if first > 0 {
            let below = first - 1;
            assert!(
                matches!(
                    log.iter_from(below).next(),
                    Some(Err(Error::LsnOutOfRange { .. }))
                ),
                "iter_from({below}) below first_lsn {first}"
            );
            assert!(
                matches!(log.truncate_back(below), Err(Error::LsnOutOfRange { .. })),
                "truncate_back({below}) below first_lsn {first}"
            );
        }
    }

    fn start_follower(&mut self) {
        let lsn = self.random_lsn();
        self.note(format!("follow from {lsn}"));
        let iter = self.log().iter_from(lsn);
        self.follower = Some((iter, lsn));
    }

    fn hold_record(&mut self) {
        if self.model.records.is_empty() {
            return;
        }
        let lsn = self.rng.between(self.model.first, self.model.next() - 1);
        self.note(format!("hold record {lsn}"));
        let record = self
            .log()
            .iter_from(lsn)
            .next()
            .expect("a record")
            .unwrap_or_else(|e| panic!("read {lsn}: {e}"));
        let expected = self.model.get(lsn).to_vec();
        if self.held.len() == HELD_MAX {
            let i = usize::try_from(self.rng.below(HELD_MAX as u64)).expect("fits");
            self.held.swap_remove(i);
        }
        self.held.push((record, expected));
    }

    /// Cheap checks after every step.
    fn check_step(&mut self) {
        let log = self.log.as_ref().expect("open");
        assert_eq!(log.next_lsn(), self.model.next(), "next_lsn");
        assert_eq!(log.first_lsn(), self.model.first, "first_lsn");
        assert!(
            log.durable_lsn() <= log.next_lsn(),
            "durable_lsn past next_lsn"
        );
        for (record, expected) in &self.held {
            assert!(
                record.payload() == &expected[..],
                "held record {} changed under its reader",
                record.lsn()
            );
        }
        if let Some((iter, expected)) = &mut self.follower {
            for item in iter.by_ref() {
                let record = item.unwrap_or_else(|e| panic!("follower at {expected}: {e}"));
                assert_eq!(record.lsn(), *expected, "follower skipped or repeated");
                assert!(
                    record.payload() == self.model.get(*expected),
                    "follower: payload of {expected} differs"
                );
                *expected += 1;
            }
            assert_eq!(*expected, self.model.next(), "follower stopped early");
        }
    }

    /// The whole log, random `iter_from`s, the segment list, and a read-only view.
    fn check_full(&mut self) {
        let log = self.log();
        let mut expected = self.model.first;
        for item in log.iter() {
            let record = item.unwrap_or_else(|e| panic!("iter at {expected}: {e}"));
            assert_eq!(record.lsn(), expected, "iter skipped or repeated");
            assert!(
                record.payload() == self.model.get(expected),
                "iter: payload of {expected} differs ({} bytes, expected {})",
                record.payload().len(),
                self.model.get(expected).len()
            );
            expected += 1;
        }
        assert_eq!(expected, self.model.next(), "iter ended early");

        let stats = log.stats();
        assert_eq!(stats.first_lsn, self.model.first, "stats.first_lsn");
        assert_eq!(stats.next_lsn, self.model.next(), "stats.next_lsn");
        let segments = &stats.segments;
        assert_eq!(
            segments.first().map(|s| s.base_lsn),
            Some(self.model.first),
            "the first segment starts at first_lsn"
        );
        assert_eq!(
            segments.last().map(|s| s.next_lsn),
            Some(self.model.next()),
            "the last segment ends at next_lsn"
        );
        for pair in segments.windows(2) {
            assert_eq!(
                pair[0].next_lsn, pair[1].base_lsn,
                "segments do not continue each other: {segments:?}"
            );
        }

        for _ in 0..3 {
            self.check_iter_from();
        }

        let ro = Log::open(self.dir.path(), small().read_only(true))
            .unwrap_or_else(|e| panic!("read-only open: {e}"));
        assert_eq!(ro.first_lsn(), self.model.first, "read-only first_lsn");
        assert_eq!(ro.next_lsn(), self.model.next(), "read-only next_lsn");
        let mut expected = self.model.first;
        for item in ro.iter() {
            let record = item.unwrap_or_else(|e| panic!("read-only iter at {expected}: {e}"));
            assert_eq!(record.lsn(), expected, "read-only iter skipped or repeated");
            assert!(
                record.payload() == self.model.get(expected),
                "read-only iter: payload of {expected} differs"
            );
            expected += 1;
        }
        assert_eq!(expected, self.model.next(), "read-only iter ended early");
    }
}
