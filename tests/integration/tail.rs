//! Tailers: a tailer yields records in order as they are appended, wakes when a record is
//! committed, follows rotations, and a read-only `Log` follows a writer (here in the same
//! process through a second, independent open — the same path as another process: shared
//! file mappings and a futex in the header page).
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::util::*;
use mmlog::Log;

#[test]
#[cfg_attr(miri, ignore)]
fn in_process_tailer_wakes_on_commit_and_follows_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(open(dir.path()));
    let writer = {
        let log = Arc::clone(&log);
        std::thread::spawn(move || {
            for i in 0..2000u64 {
                log.append(format!("r{i}").repeat(20).as_bytes()).unwrap();
                if i % 100 == 0 {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        })
    };
    let mut tailer = log.tail_from(0);
    for i in 0..2000u64 {
        let r = tailer
            .next_timeout(Duration::from_secs(10))
            .unwrap()
            .expect("the writer appends it within the timeout");
        assert_eq!(r.lsn(), i);
        assert_eq!(r.payload(), format!("r{i}").repeat(20).as_bytes());
    }
    writer.join().unwrap();
    assert!(log.stats().rotations > 0, "the test must cross a rotation");
    let start = Instant::now();
    assert!(tailer
        .next_timeout(Duration::from_millis(20))
        .unwrap()
        .is_none());
    assert!(start.elapsed() >= Duration::from_millis(20));
}

#[test]
#[cfg_attr(miri, ignore)]
fn read_only_log_follows_a_writer_across_rotation_truncation_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let writer = open(dir.path());
    writer.append(b"before").unwrap();
    let reader = Log::open(dir.path(), small().read_only(true)).unwrap();
    let mut tailer = reader.tail_from(0);
    let next = |t: &mut mmlog::Tailer| {
        t.next_timeout(Duration::from_secs(10))
            .unwrap()
            .expect("a record within the timeout")
    };
    assert_eq!(next(&mut tailer).payload(), b"before");

    let payload = |i: u64| format!("{i}:").repeat(40).into_bytes();
    let appender = std::thread::spawn(move || {
        for i in 1..1500u64 {
            writer.append(&payload(i)).unwrap();
        }
        writer
    });
    for i in 1..1500u64 {
        let r = next(&mut tailer);
        assert_eq!((r.lsn(), r.payload()), (i, &payload(i)[..]));
    }
    let writer = appender.join().unwrap();
    assert!(writer.stats().rotations > 0);

    // truncate_front by the writer: the follower keeps going.
    writer.truncate_front(1000).unwrap();
    writer.append(b"after front").unwrap();
    assert_eq!(next(&mut tailer).payload(), b"after front");

    // The writer restarts (close, reopen in a "new process"); the follower sees the new
    // writer's records.
    writer.close().unwrap();
    let writer = open(dir.path());
    writer.append(b"new writer").unwrap();
    assert_eq!(next(&mut tailer).payload(), b"new writer");
    assert_eq!(reader.next_lsn(), writer.next_lsn());
}

/// `durable_only()`: an iterator or tailer stops at `durable_lsn()` and goes on after a
/// sync, in-process and in a read-only follower; a plain tailer does not wait for syncs.
#[test]
#[cfg_attr(miri, ignore)]
fn durable_only_readers_see_a_record_only_after_a_sync() {
    let dir = tempfile::tempdir().unwrap();
    let writer = Arc::new(open(dir.path()));
    writer.append(b"zero").unwrap();
    writer.sync().unwrap();
    let reader = Log::open(dir.path(), small().read_only(true)).unwrap();
    let mut local = writer.tail_from(0).durable_only();
    let mut remote = reader.tail_from(0).durable_only();
    let mut plain = writer.tail_from(0);
    let short = Duration::from_millis(30);
    for t in [&mut local, &mut remote, &mut plain] {
        assert_eq!(t.next_timeout(short).unwrap().unwrap().payload(), b"zero");
    }
    writer.append(b"one").unwrap();
    writer.append_batch(&[b"two", b"three"]).unwrap();
    assert_eq!(plain.next_timeout(short).unwrap().unwrap().lsn(), 1);
    assert!(
        local.next_timeout(short).unwrap().is_none(),
        "not durable yet"
    );
    assert!(
        remote.next_timeout(short).unwrap().is_none(),
        "not durable yet"
    );
    assert_eq!(writer.iter().durable_only().count(), 1);
    assert_eq!(writer.iter().count(), 4);

    // A sync from another thread wakes both durable-only tailers.
    let syncer = {
        let writer = Arc::clone(&writer);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            writer.sync().unwrap();
        })
    };
    for t in [&mut local, &mut remote] {
        let lsns: Vec<u64> = (0..3)
            .map(|_| {
                t.next_timeout(Duration::from_secs(10))
                    .unwrap()
                    .expect("durable after the sync")
                    .lsn()
            })
            .collect();
        assert_eq!(lsns, vec![1, 2, 3]);
    }
    syncer.join().unwrap();
    assert_eq!(
        reader.durable_lsn(),
        4,
        "the follower learns the writer's durable LSN"
    );
    assert_eq!(writer.iter().durable_only().count(), 4);
}
