//! Recovery from damage at rest, torn tails, and a failed sync.
//!
//! Promises checked:
//! - Corruption in data that was certainly durable (a sealed segment, or records below a
//!   persisted durable mark) makes `open` fail with `Error::Corrupt` naming the segment
//!   file and the offset of the damage under `Recovery::Strict`, and changes no segment
//!   file; `Recovery::TruncateAtCorruption` opens, keeps exactly the valid prefix (byte for
//!   byte), says so in `recovery_report().corruption`, and what it dropped never comes
//!   back after more appends and another open.
//! - A sealed segment is trusted at a `Strict` open without reading its records, so damage
//!   in one is found when reading: the iterator yields `Error::Corrupt` at the damaged
//!   record and never a record with wrong bytes.
//! - Bad segment headers (flipped bit, bad magic, unknown version), short files, zero-length
//!   and random-bytes files named like segments, and a missing middle segment are
//!   `Error::Corrupt` under `Strict`, never a panic or SIGBUS.
//! - A torn tail beyond the durable mark is cut and reported in `torn_bytes`, not an
//!   error, and the cut records never come back.
//! - A failed sync poisons the log: every later append or sync (and `close`) fails; a
//!   reopen recovers every record that was durable before.
//!
//! How: a log of 150 records of 1000 bytes in 64 KiB segments (52 records each: segments
//! at LSN 0 and 52 are sealed, the one at 104 is active) is closed cleanly, then bytes of
//! its files are changed with `pwrite`, and the log is opened again. Record offsets are
//! computed from the format constants and double-checked against the LSN stored in each
//! record header before damaging anything.

use std::ops::Range;
use std::path::{Path, PathBuf};

use mmlog::format::{record_footprint, RECORDS_START, RECORD_HEADER_LEN};
use mmlog::{CorruptReason, Error, Log, Lsn, Recovery};

use crate::util::{
    flip_bit, payload, read_all, read_at, segment_files, segment_name, small, write_at, Rng,
    SMALL_SEGMENT,
};

/// Records in the fixture, and their payload length (footprint 1024 bytes, no padding).
const RECORDS: u64 = 150;
const RECORD_LEN: usize = 1000;

/// One segment of the fixture.
#[derive(Debug, Clone)]
struct Seg {
    path: PathBuf,
    base: Lsn,
    next: Lsn,
}

/// A cleanly closed log of `RECORDS` records over three segments.
struct Fixture {
    dir: tempfile::TempDir,
    records: Vec<Vec<u8>>,
    segments: Vec<Seg>,
}

#[derive(Debug, Clone, Copy)]
enum Place {
    /// The first segment (sealed).
    First,
    /// The middle segment (sealed).
    Middle,
    /// The last segment, the one being appended to when the log was closed.
    Active,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture::with(RECORDS)
    }

    /// `count` records appended, then `close`.
    fn with(count: u64) -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = Log::open(dir.path(), small()).expect("open a fresh log");
        let records: Vec<Vec<u8>> = (0..count).map(|n| payload(n, RECORD_LEN)).collect();
        for (n, p) in records.iter().enumerate() {
            assert_eq!(log.append(p).expect("append"), n as u64);
        }
        let segments = segments_of(&log);
        log.close().expect("close");
        let fx = Fixture {
            dir,
            records,
            segments,
        };
        if count == RECORDS {
            let bases: Vec<Lsn> = fx.segments.iter().map(|s| s.base).collect();
            assert_eq!(
                bases,
                [0, 52, 104],
                "fixture layout changed: 1000-byte records in 64 KiB segments"
            );
        }
        fx
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn segment(&self, place: Place) -> Seg {
        let i = match place {
            Place::First => 0,
            Place::Middle => 1,
            Place::Active => self.segments.len() - 1,
        };
        self.segments[i].clone()
    }

    /// The byte range of record `lsn` in its segment file, checked against the LSN field
    /// of the header found there.
    fn record_range(&self, lsn: Lsn) -> (PathBuf, Range<u64>) {
        let seg = self
            .segments
            .iter()
            .find(|s| (s.base..s.next).contains(&lsn))
            .expect("lsn in the fixture");
        let footprint = record_footprint(RECORD_LEN as u64);
        let start = RECORDS_START + (lsn - seg.base) * footprint;
        let stored = read_at(&seg.path, start + 8, 8);
        assert_eq!(
            u64::from_le_bytes(stored.try_into().expect("8 bytes")),
            lsn,
            "record {lsn} is not at offset {start} of {}",
            seg.path.display()
        );
        (seg.path.clone(), start..start + footprint)
    }

    fn prefix(&self, next: Lsn) -> Vec<(Lsn, Vec<u8>)> {
        (0..next)
            .map(|n| (n, self.records[n as usize].clone()))
            .collect()
    }
}

fn segments_of(log: &Log) -> Vec<Seg> {
    log.stats()
        .segments
        .iter()
        .map(|s| Seg {
            path: s.path.clone(),
            base: s.base_lsn,
            next: s.next_lsn,
        })
        .collect()
}

fn truncating() -> mmlog::Options {
    small().recovery(Recovery::TruncateAtCorruption)
}

/// A `Strict` open, writable or read-only, must fail with `Corrupt` naming `segment` and
/// an offset in `offsets`, and leave every segment file as it was. Returns the reason.
fn expect_corrupt(dir: &Path, segment: &Path, offsets: Range<u64>) -> CorruptReason {
    let read_only = refused_open(dir, segment, offsets.clone(), true);
    let reason = refused_open(dir, segment, offsets, false);
    assert_eq!(read_only, reason, "read-only and writable opens disagree");
    reason
}

fn refused_open(dir: &Path, segment: &Path, offsets: Range<u64>, read_only: bool) -> CorruptReason {
    let before = segment_files(dir);
    let err = match Log::open(dir, small().read_only(read_only)) {
        Ok(log) => panic!(
            "open succeeded over damage in {} (LSNs {}..{})",
            segment.display(),
            log.first_lsn(),
            log.next_lsn()
        ),
        Err(e) => e,
    };
    let message = err.to_string();
    let Error::Corrupt {
        segment: found,
        offset,
        reason,
    } = err
    else {
        panic!(
            "expected Error::Corrupt for {} (read_only {read_only}), got {message}",
            segment.display()
        )
    };
    assert_eq!(found, segment, "Corrupt names the wrong file: {message}");
    assert!(
        offsets.contains(&offset),
        "Corrupt offset {offset} outside {offsets:?}: {message}"
    );
    let name = segment.file_name().expect("file name").to_string_lossy();
    assert!(
        message.contains(&*name),
        "message does not name the file: {message}"
    );
    assert!(
        segment_files(dir) == before,
        "a refused open changed segment files"
    );
    reason
}

/// A `TruncateAtCorruption` open keeps exactly records `0..next`, reports the corruption,
/// continues at `next`, and a later `Strict` open finds nothing dropped coming back.
fn expect_truncated(fx: &Fixture, next: Lsn) {
    // Read-only first: the same prefix, and nothing on disk changes.
    let before = segment_files(fx.dir());
    let ro = Log::open(fx.dir(), truncating().read_only(true))
        .unwrap_or_else(|e| panic!("read-only TruncateAtCorruption open: {e}"));
    assert_eq!(ro.next_lsn(), next, "read-only kept prefix");
    assert!(
        read_all(&ro) == fx.prefix(next),
        "read-only kept records differ"
    );
    drop(ro);
    assert!(segment_files(fx.dir()) == before, "a read-only open wrote");

    let log = Log::open(fx.dir(), truncating())
        .unwrap_or_else(|e| panic!("TruncateAtCorruption open: {e}"));
    let report = log.recovery_report().clone();
    let said = report
        .corruption
        .clone()
        .unwrap_or_else(|| panic!("corruption not reported: {report:?}"));
    assert!(
        said.contains(".seg: ") && said.contains(" at byte ") && said.ends_with("were dropped"),
        "the report names the file, the offset and what was done: {said}"
    );
    assert!(
        !said.contains("TruncateAtCorruption"),
        "the report suggests what was just done: {said}"
    );
    assert_eq!(log.first_lsn(), 0, "first_lsn");
    assert_eq!(log.next_lsn(), next, "kept prefix: {report:?}");
    assert!(read_all(&log) == fx.prefix(next), "kept records differ");
    assert_eq!(report.records_recovered, next, "records_recovered");
    let marker = b"after the cut".to_vec();
    assert_eq!(log.append(&marker).expect("append after the cut"), next);
    log.close().expect("close");

    let log = Log::open(fx.dir(), small()).unwrap_or_else(|e| panic!("Strict reopen: {e}"));
    assert_eq!(log.recovery_report().corruption, None, "still corrupt");
    let mut expected = fx.prefix(next);
    expected.push((next, marker));
    assert!(read_all(&log) == expected, "dropped records came back");
    log.close().expect("close");
}

/// A `Strict` open succeeds (the sealed segment is not read), and reading yields every
/// record before `lsn` intact, then `Corrupt` at `lsn` naming the file, then nothing.
fn expect_read_error(fx: &Fixture, lsn: Lsn, segment: &Path, offsets: Range<u64>) {
    let log = Log::open(fx.dir(), small()).unwrap_or_else(|e| panic!("Strict open: {e}"));
    assert_eq!(
        log.next_lsn(),
        RECORDS,
        "a sealed segment is trusted at open"
    );
    let mut iter = log.iter();
    for n in 0..lsn {
        let record = iter
            .next()
            .expect("a record")
            .unwrap_or_else(|e| panic!("record {n} before the damage: {e}"));
        assert_eq!(record.lsn(), n);
        assert!(
            record.payload() == &fx.records[n as usize][..],
            "record {n} differs"
        );
    }
    let check = |item: Option<mmlog::Result<mmlog::Record>>, what: &str| match item {
        Some(Err(Error::Corrupt {
            segment: found,
            offset,
            ..
        })) => {
            assert_eq!(found, segment, "{what}: Corrupt names the wrong file");
            assert!(
                offsets.contains(&offset),
                "{what}: offset {offset} outside {offsets:?}"
            );
        }
        Some(Err(e)) => panic!("{what}: expected Corrupt, got {e}"),
        Some(Ok(r)) => panic!("{what}: damaged record {} was returned", r.lsn()),
        None => panic!("{what}: iteration ended silently at the damage"),
    };
    check(iter.next(), "iter");
    assert!(iter.next().is_none(), "iteration continues after an error");
    check(log.iter_from(lsn).next(), "iter_from(damaged)");
    // Reading past the damage either fails or returns the right bytes, never wrong ones.
    for item in log.iter_from(lsn + 1).take(3) {
        match item {
            Ok(r) => assert!(
                r.payload() == &fx.records[r.lsn() as usize][..],
                "record {} after the damage has wrong bytes",
                r.lsn()
            ),
            Err(Error::Corrupt { .. }) => break,
            Err(e) => panic!("iter_from past the damage: {e}"),
        }
    }
    log.close().expect("close");
}

#[derive(Debug, Clone, Copy)]
enum RecordDamage {
    /// One bit of the payload.
    PayloadBit,
    /// One bit of the header's length field (the length then runs past the segment).
    HeaderBit,
    /// The 512-byte sector holding the record's header, zeroed.
    ZeroedSector,
}

/// Damages record 10 of the sealed middle segment or of the active one.
fn record_damage(place: Place, damage: RecordDamage) {
    let fx = Fixture::new();
    let lsn = fx.segment(place).base + 10;
    let (path, range) = fx.record_range(lsn);
    match damage {
        RecordDamage::PayloadBit => {
            flip_bit(&path, range.start + RECORD_HEADER_LEN as u64 + 300, 3)
        }
        RecordDamage::HeaderBit => flip_bit(&path, range.start + 6, 0),
        RecordDamage::ZeroedSector => write_at(&path, range.start, &[0u8; 512]),
    }
    match place {
        // After a clean close the durable mark covers every record of the active segment.
        Place::Active => {
            expect_corrupt(fx.dir(), &path, range);
        }
        _ => expect_read_error(&fx, lsn, &path, range),
    }
    expect_truncated(&fx, lsn);
}

#[test]
#[cfg_attr(miri, ignore)]
fn payload_bit_flip_in_the_active_segment() {
    record_damage(Place::Active, RecordDamage::PayloadBit);
}

#[test]
#[cfg_attr(miri, ignore)]
fn payload_bit_flip_in_a_sealed_segment() {
    record_damage(Place::Middle, RecordDamage::PayloadBit);
}

#[test]
#[cfg_attr(miri, ignore)]
fn record_header_bit_flip_in_the_active_segment() {
    record_damage(Place::Active, RecordDamage::HeaderBit);
}

#[test]
#[cfg_attr(miri, ignore)]
fn record_header_bit_flip_in_a_sealed_segment() {
    record_damage(Place::Middle, RecordDamage::HeaderBit);
}

#[test]
#[cfg_attr(miri, ignore)]
fn zeroed_sector_in_the_active_segment() {
    record_damage(Place::Active, RecordDamage::ZeroedSector);
}

#[test]
#[cfg_attr(miri, ignore)]
fn zeroed_sector_in_a_sealed_segment() {
    record_damage(Place::Middle, RecordDamage::ZeroedSector);
}

#[derive(Debug, Clone, Copy)]
enum HeaderDamage {
    /// `set_len` to half the segment length.
    Truncated,
    /// The first eight bytes replaced.
    BadMagic,
    /// The u32 version at byte 8 set to 2.
    Version,
    /// One bit of the salt (covered by the header checksum).
    HeaderBit,
}

/// Damages a whole segment in `place`: `Strict` refuses; `TruncateAtCorruption` keeps the
/// segments before it (the recovery rules drop a segment with a bad header or short file
/// as a whole, and everything after it).
fn header_damage(place: Place, damage: HeaderDamage) {
    let fx = Fixture::new();
    let seg = fx.segment(place);
    let (offsets, check): (Range<u64>, fn(&CorruptReason) -> bool) = match damage {
        HeaderDamage::Truncated => {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(&seg.path)
                .expect("open segment");
            file.set_len(SMALL_SEGMENT / 2).expect("truncate segment");
            (0..SMALL_SEGMENT + 1, |r| {
                matches!(
                    r,
                    CorruptReason::SegmentTooShort {
                        expected: SMALL_SEGMENT,
                        found
                    } if *found == SMALL_SEGMENT / 2
                )
            })
        }
        HeaderDamage::BadMagic => {
            write_at(&seg.path, 0, b"NOTMMLOG");
            (
                0..8,
                |r| matches!(r, CorruptReason::BadMagic { found } if found == b"NOTMMLOG"),
            )
        }
        HeaderDamage::Version => {
            write_at(&seg.path, 8, &2u32.to_le_bytes());
            (8..12, |r| {
                matches!(r, CorruptReason::UnsupportedVersion { found: 2, .. })
            })
        }
        HeaderDamage::HeaderBit => {
            flip_bit(&seg.path, 33, 5);
            (0..64, |r| matches!(r, CorruptReason::HeaderChecksum { .. }))
        }
    };
    let reason = expect_corrupt(fx.dir(), &seg.path, offsets);
    assert!(
        check(&reason),
        "{damage:?} in {place:?}: unexpected reason {reason:?}"
    );
    expect_truncated(&fx, seg.base);
}

#[test]
#[cfg_attr(miri, ignore)]
fn truncated_segment_file() {
    for place in [Place::First, Place::Middle, Place::Active] {
        header_damage(place, HeaderDamage::Truncated);
    }
}

#[test]
#[cfg_attr(miri, ignore)]
fn bad_magic() {
    for place in [Place::First, Place::Middle, Place::Active] {
        header_damage(place, HeaderDamage::BadMagic);
    }
}

#[test]
#[cfg_attr(miri, ignore)]
fn unknown_format_version() {
    for place in [Place::First, Place::Middle, Place::Active] {
        header_damage(place, HeaderDamage::Version);
    }
}

#[test]
#[cfg_attr(miri, ignore)]
fn segment_header_bit_flip() {
    for place in [Place::First, Place::Middle, Place::Active] {
        header_damage(place, HeaderDamage::HeaderBit);
    }
}

#[test]
#[cfg_attr(miri, ignore)]
fn zero_length_file_named_like_a_segment() {
    let fx = Fixture::new();
    // Sorts between the middle and the active segment.
    let junk = segment_name(fx.dir(), fx.segment(Place::Middle).base + 5);
    std::fs::File::create(&junk).expect("create junk");
    expect_corrupt(fx.dir(), &junk, 0..SMALL_SEGMENT);
    expect_truncated(&fx, fx.segment(Place::Active).base);
}

#[test]
#[cfg_attr(miri, ignore)]
fn random_bytes_file_named_like_a_segment() {
    let fx = Fixture::new();
    let junk = segment_name(fx.dir(), RECORDS + 7);
    std::fs::write(&junk, Rng::new(99).bytes(SMALL_SEGMENT as usize)).expect("write junk");
    expect_corrupt(fx.dir(), &junk, 0..SMALL_SEGMENT);
    expect_truncated(&fx, RECORDS);
}

#[test]
#[cfg_attr(miri, ignore)]
fn missing_middle_segment() {
    let fx = Fixture::new();
    let middle = fx.segment(Place::Middle);
    let active = fx.segment(Place::Active);
    std::fs::remove_file(&middle.path).expect("remove the middle segment");
    let reason = expect_corrupt(fx.dir(), &active.path, 0..SMALL_SEGMENT);
    assert!(
        matches!(reason, CorruptReason::MissingSegment { expected, found } if expected == middle.base && found == active.base),
        "{reason:?}"
    );
    expect_truncated(&fx, middle.base);
}

/// Appends `more` records after `durable` synced ones and drops the log without `close`
/// (a killed process: the unsynced records sit in the page cache), then returns the
/// fixture. The durable mark on disk is `durable`.
fn unsynced_tail(durable: u64, more: u64) -> Fixture {
    let fx = Fixture::with(durable);
    let log = Log::open(fx.dir(), small()).expect("reopen");
    let mut records = fx.records.clone();
    for n in durable..durable + more {
        let p = payload(n, RECORD_LEN);
        assert_eq!(log.append(&p).expect("append"), n);
        records.push(p);
    }
    let segments = segments_of(&log);
    drop(log);
    Fixture {
        records,
        segments,
        ..fx
    }
}

/// Checks the open after a torn tail: no error, cut at `cut`, torn bytes reported, and
/// the cut records never come back.
fn expect_torn_cut(fx: &Fixture, durable: Lsn, cut: Lsn, tail_end: u64) {
    let log = Log::open(fx.dir(), small())
        .unwrap_or_else(|e| panic!("a torn tail beyond the durable mark is not corruption: {e}"));
    let report = log.recovery_report().clone();
    assert_eq!(report.corruption, None, "{report:?}");
    assert_eq!(report.durable_mark, durable, "{report:?}");
    assert_eq!(
        log.next_lsn(),
        cut,
        "the valid prefix ends at the damage: {report:?}"
    );
    assert!(
        report.torn_bytes > 0 && report.torn_bytes <= tail_end,
        "torn_bytes {} not in 1..={tail_end}",
        report.torn_bytes
    );
    assert!(read_all(&log) == fx.prefix(cut), "kept records differ");
    let marker = b"new record after the cut".to_vec();
    assert_eq!(log.append(&marker).expect("append"), cut);
    log.close().expect("close");
    let log = Log::open(fx.dir(), small()).expect("reopen");
    let mut expected = fx.prefix(cut);
    expected.push((cut, marker));
    assert!(read_all(&log) == expected, "cut records came back");
    log.close().expect("close");
}

#[test]
#[cfg_attr(miri, ignore)]
fn torn_tail_beyond_the_durable_mark_is_cut_not_corruption() {
    let fx = unsynced_tail(20, 10);
    // A bit of record 25's payload never reached the disk.
    let (path, range) = fx.record_range(25);
    flip_bit(&path, range.start + RECORD_HEADER_LEN as u64 + 500, 0);
    let tail_end = (30 - 25) * record_footprint(RECORD_LEN as u64);
    expect_torn_cut(&fx, 20, 25, tail_end);
}

#[test]
#[cfg_attr(miri, ignore)]
fn torn_tail_in_a_segment_sealed_after_the_durable_mark_is_cut_not_corruption() {
    // 60 unsynced records after 20 durable ones: the segment at 0 was sealed (trailer
    // written through the mapping, never synced) and appends went on in the one at 52.
    let fx = unsynced_tail(20, 60);
    assert_eq!(fx.segments.len(), 2, "the unsynced tail crosses a rotation");
    // The 4 KiB page holding record 40 never reached the disk (records 40..44 are zero),
    // but the trailer page did: a power loss persists unsynced pages in any order.
    let (path, range) = fx.record_range(40);
    assert_eq!(range.start % 4096, 0, "record 40 starts a page");
    write_at(&path, range.start, &[0u8; 4096]);
    let tail_end = SMALL_SEGMENT;
    expect_torn_cut(&fx, 20, 40, tail_end);
}

#[test]
#[cfg_attr(miri, ignore)]
fn failed_sync_poisons_until_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let records: Vec<Vec<u8>> = (0..80).map(|n| payload(n, RECORD_LEN)).collect();
    let log = Log::open(dir.path(), small()).expect("open");
    for p in &records[..60] {
        log.append(p).expect("append");
    }
    assert_eq!(log.sync().expect("sync"), 60);
    for p in &records[60..70] {
        log.append(p).expect("append");
    }
    log.inject_sync_failure();
    let err = log.sync().expect_err("the injected sync failure");
    assert!(matches!(err, Error::Io { .. }), "the failed sync: {err}");
    assert_eq!(log.durable_lsn(), 60, "a failed sync made nothing durable");

    let poisoned = |what: &str, r: mmlog::Result<()>| match r {
        Err(Error::Poisoned) => {}
        Err(e) => panic!("{what} after a failed sync: expected Poisoned, got {e}"),
        Ok(()) => panic!("{what} after a failed sync succeeded"),
    };
    poisoned("append", log.append(b"x").map(drop));
    poisoned("append_batch", log.append_batch(&[b"x", b"y"]).map(drop));
    poisoned("reserve", log.reserve(3).map(drop));
    poisoned("append_durable", log.append_durable(b"x").map(drop));
    poisoned("sync", log.sync().map(drop));
    poisoned("sync_to", log.sync_to(65));
    poisoned("truncate_back", log.truncate_back(65));
    assert_eq!(log.next_lsn(), 70, "refused appends took LSNs");
    drop(log);

    let log = Log::open(dir.path(), small()).expect("reopen after poisoning");
    let next = log.next_lsn();
    assert!(
        (60..=70).contains(&next),
        "reopen has {next} records; 60 were durable, 70 appended"
    );
    let expected: Vec<(Lsn, Vec<u8>)> = (0..next)
        .map(|n| (n, records[n as usize].clone()))
        .collect();
    assert!(read_all(&log) == expected, "records after reopen differ");
    // Reopened: appends and syncs work again.
    for (n, p) in records.iter().enumerate().skip(next as usize) {
        assert_eq!(log.append(p).expect("append after reopen"), n as u64);
    }
    assert_eq!(log.sync().expect("sync after reopen"), 80);
    log.close().expect("close");
}

#[test]
#[cfg_attr(miri, ignore)]
fn close_after_a_failed_sync_is_an_error() {
    // `close` syncs; on a poisoned log that sync cannot succeed, so `close` must not
    // report success (a caller would take the unsynced records for durable). This is the
    // only place the failure of a background `SyncPolicy::Interval` flush can surface.
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), small()).expect("open");
    log.append(b"durable").expect("append");
    log.sync().expect("sync");
    log.append(b"not durable").expect("append");
    log.inject_sync_failure();
    log.sync().expect_err("the injected sync failure");
    match log.close() {
        Err(Error::Poisoned) => {}
        Err(e) => panic!("close of a poisoned log: expected Poisoned, got {e}"),
        Ok(()) => panic!("close of a poisoned log reported success"),
    }
}

/// A FIFO under a segment's name: every open says so at once (an open of a FIFO would
/// block until some writer opened it).
#[test]
#[cfg_attr(miri, ignore)]
fn fifo_named_like_a_segment_is_refused_not_waited_on() {
    let fx = Fixture::new();
    let fifo = segment_name(fx.dir(), RECORDS + 3);
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("run mkfifo");
    assert!(made.success(), "mkfifo failed");
    for read_only in [false, true] {
        let dir = fx.dir().to_path_buf();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let opened = Log::open(&dir, small().read_only(read_only)).map(drop);
            let _ = tx.send(opened);
        });
        match rx.recv_timeout(std::time::Duration::from_secs(20)) {
            Ok(Err(Error::Io { path, source, .. })) => {
                assert_eq!(path, fifo);
                assert!(
                    source.to_string().contains("not a regular file"),
                    "{source}"
                );
            }
            Ok(other) => panic!("open over a FIFO (read_only {read_only}): {other:?}"),
            Err(_) => panic!("open over a FIFO (read_only {read_only}) hung"),
        }
    }
}
