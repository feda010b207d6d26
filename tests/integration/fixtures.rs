//! Frozen v1 fixtures: a log written by format version 1 must stay readable, byte for
//! byte, by every later build. `tests/data/v1/` holds a log with a sealed segment and an
//! active one (64 KiB segments, a batch, a reserved record, a synced tail). Regenerate it
//! only together with a format version bump:
//! `MMLOG_WRITE_FIXTURES=1 cargo test --test integration fixtures`.
use std::path::{Path, PathBuf};

use mmlog::{Log, Options, Recovery};

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/v1")
}

/// The payload of record `lsn` in the fixture.
fn payload(lsn: u64) -> Vec<u8> {
    let len = (lsn * 37 % 900) as usize;
    (0..len).map(|i| (lsn as usize * 31 + i) as u8).collect()
}

const RECORDS: u64 = 150;

fn write_fixture(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    let log = Log::open(dir, Options::default().segment_size(64 * 1024)).unwrap();
    for lsn in 0..RECORDS - 3 {
        assert_eq!(log.append(&payload(lsn)).unwrap(), lsn);
    }
    let (a, b) = (payload(RECORDS - 3), payload(RECORDS - 2));
    log.append_batch(&[&a, &b]).unwrap();
    let last = payload(RECORDS - 1);
    let mut r = log.reserve(last.len()).unwrap();
    r.copy_from_slice(&last);
    r.commit().unwrap();
    log.close().unwrap();
    let _ = std::fs::remove_file(dir.join("LOCK"));
    let _ = std::fs::remove_file(dir.join("spare.tmp"));
    let _ = std::fs::remove_file(dir.join("notify"));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[test]
#[cfg_attr(miri, ignore)]
fn v1_fixture_reads_back_byte_for_byte() {
    if std::env::var_os("MMLOG_WRITE_FIXTURES").is_some() {
        write_fixture(&fixture_dir());
    }
    let names: Vec<String> = std::fs::read_dir(fixture_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        names.len() >= 2,
        "the fixture has a sealed and an active segment: {names:?}"
    );

    // Read-only open never writes: the frozen files stay as they are.
    let log = Log::open(fixture_dir(), Options::default().read_only(true)).unwrap();
    assert_eq!(log.next_lsn(), RECORDS);
    let mut count = 0;
    for (i, record) in log.iter().enumerate() {
        let record = record.unwrap();
        assert_eq!(record.lsn(), i as u64);
        assert_eq!(record.payload(), payload(i as u64).as_slice(), "record {i}");
        count += 1;
    }
    assert_eq!(count, RECORDS);
    let stats = log.stats();
    assert!(stats.segments.iter().any(|s| s.sealed));

    // A full check of every record (TruncateAtCorruption reads sealed segments too) finds
    // nothing wrong, and a writer can continue the log.
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&fixture_dir(), tmp.path());
    let log = Log::open(
        tmp.path(),
        Options::default()
            .segment_size(64 * 1024)
            .recovery(Recovery::TruncateAtCorruption),
    )
    .unwrap();
    assert!(log.recovery_report().corruption.is_none());
    assert_eq!(log.recovery_report().torn_bytes, 0);
    assert_eq!(log.append(b"next").unwrap(), RECORDS);
}
