//! Tailers: a tailer yields records in order as they are appended, wakes when a record is
//! committed, follows rotations, and a read-only `Log` follows a writer (here in the same
//! process through a second, independent open — the same path as another process: shared
//! file mappings and a futex in the header page).
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::util::*;
use mmlog::Log;

/// The tailer's next record, which must arrive within 10 s.
#[track_caller]
fn arrives(tailer: &mut mmlog::Tailer) -> mmlog::Record {
    tailer
        .next_timeout(Duration::from_secs(10))
        .unwrap()
        .expect("a record within 10 s")
}

/// The tailer's next records are `lsns`, each holding `payload(lsn)`.
#[track_caller]
fn arrive_in_order(
    tailer: &mut mmlog::Tailer,
    lsns: Range<u64>,
    payload: impl Fn(u64) -> Vec<u8>,
    what: &str,
) {
    for lsn in lsns {
        let r = arrives(tailer);
        assert_eq!((r.lsn(), r.payload()), (lsn, &payload(lsn)[..]), "{what}");
    }
}

/// A writer on a new log in `dir` holding `count` records, `record(0..count)`.
fn writer_with(dir: &Path, count: u64, record: impl Fn(u64) -> Vec<u8>) -> Log {
    let writer = open(dir);
    for i in 0..count {
        writer.append(&record(i)).unwrap();
    }
    writer
}

/// Appends `record(lsn)` until the active segment holds at least `count` records.
fn fill_active(writer: &Log, count: u64, record: impl Fn(u64) -> Vec<u8>) {
    while writer.next_lsn() - writer.stats().segments.last().unwrap().base_lsn < count {
        writer.append(&record(writer.next_lsn())).unwrap();
    }
}

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
        let r = arrives(&mut tailer);
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
    assert_eq!(arrives(&mut tailer).payload(), b"before");

    let payload = |i: u64| format!("{i}:").repeat(40).into_bytes();
    let appender = std::thread::spawn(move || {
        for i in 1..1500u64 {
            writer.append(&payload(i)).unwrap();
        }
        writer
    });
    for i in 1..1500u64 {
        let r = arrives(&mut tailer);
        assert_eq!((r.lsn(), r.payload()), (i, &payload(i)[..]));
    }
    let writer = appender.join().unwrap();
    assert!(writer.stats().rotations > 0);

    // truncate_front by the writer: the follower keeps going.
    writer.truncate_front(1000).unwrap();
    writer.append(b"after front").unwrap();
    assert_eq!(arrives(&mut tailer).payload(), b"after front");

    // The writer restarts (close, reopen in a "new process"); the follower sees the new
    // writer's records.
    writer.close().unwrap();
    let writer = open(dir.path());
    writer.append(b"new writer").unwrap();
    assert_eq!(arrives(&mut tailer).payload(), b"new writer");
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

/// A follower (a read-only `Log`, as in another process) follows the writer's
/// `truncate_back`: a tailer that had read removed records says `Error::Truncated`, one
/// positioned at the cut goes on with the new records, and the follower's view becomes the
/// writer's log again, never the old records. Three kinds of cut: inside the active
/// segment, inside an older segment (the active one deleted), and at a segment's first
/// record (that segment deleted and a new one created under its name).
#[test]
#[cfg_attr(miri, ignore)]
fn a_follower_follows_truncate_back() {
    const RECORDS: u64 = 300;
    let old = |i: u64| format!("old-{i}-{}", "o".repeat(700)).into_bytes();
    let new = |i: u64| format!("new-{i}-{}", "n".repeat(600)).into_bytes();
    for kind in [
        "inside the active segment",
        "inside an older segment",
        "at a segment base",
        "at a segment base, then a rotation before the follower looks",
    ] {
        // Records appended after the cut before the follower looks.
        let after = if kind.ends_with("looks") { 150 } else { 50 };
        let dir = tempfile::tempdir().unwrap();
        let writer = writer_with(dir.path(), RECORDS, old);
        writer.sync().unwrap();
        let segments = writer.stats().segments;
        assert!(segments.len() >= 4, "{kind}: {} segments", segments.len());
        let active = segments.last().unwrap();
        let older = &segments[segments.len() - 3];
        let cut = match kind {
            "inside the active segment" => active.base_lsn + (RECORDS - active.base_lsn) / 2,
            "inside an older segment" => older.base_lsn + 3,
            _ => older.base_lsn,
        };
        let follower = Log::open(dir.path(), small().read_only(true)).unwrap();
        let mut read_all_of_it = follower.tail_from(0);
        arrive_in_order(&mut read_all_of_it, 0..RECORDS, old, kind);
        let mut at_cut = follower.tail_from(cut - 1);
        assert_eq!(arrives(&mut at_cut).payload(), old(cut - 1));

        let rotations = writer.stats().rotations;
        writer.truncate_back(cut).unwrap();
        for i in cut..cut + after {
            assert_eq!(writer.append(&new(i)).unwrap(), i);
        }
        writer.sync().unwrap();
        if after > 50 {
            assert!(writer.stats().rotations > rotations, "{kind}: no rotation");
        }

        match read_all_of_it.next_timeout(Duration::from_secs(10)) {
            Err(mmlog::Error::Truncated { cut: c, .. }) => assert_eq!(c, cut, "{kind}"),
            other => panic!("{kind}: a tailer past the cut got {other:?}"),
        }
        arrive_in_order(&mut at_cut, cut..cut + after, new, kind);
        assert_eq!(follower.next_lsn(), writer.next_lsn(), "{kind}");
        assert_eq!(read_all(&follower), read_all(&writer), "{kind}");
        // More records, across a rotation, still arrive.
        for i in cut + after..cut + 300 {
            writer.append(&new(i)).unwrap();
        }
        arrive_in_order(&mut at_cut, cut + after..cut + 300, new, kind);
    }
}

/// A follower's tailer that had not yet reached the cut of a `truncate_back` goes on from
/// the kept records straight to the new ones: it never yields a removed record, although
/// the removed bytes are still in the file (the cut is a trailer) and in its view until
/// it next looks. (Found by audit: it yielded every removed record of its view first,
/// then `Error::Truncated`.)
#[test]
#[cfg_attr(miri, ignore)]
fn a_follower_behind_a_cut_never_yields_a_removed_record() {
    let old = |i: u64| format!("old-{i}-{}", "o".repeat(700)).into_bytes();
    let new = |i: u64| format!("new-{i}").into_bytes();
    for kind in ["inside the active segment", "inside an older segment"] {
        let dir = tempfile::tempdir().unwrap();
        let writer = writer_with(dir.path(), 300, old);
        fill_active(&writer, 30, old);
        let segments = writer.stats().segments;
        assert!(segments.len() >= 3, "{kind}: {} segments", segments.len());
        let segment = match kind {
            "inside the active segment" => segments.last().unwrap(),
            _ => &segments[segments.len() - 2],
        };
        assert!(segment.next_lsn - segment.base_lsn > 20, "{kind}");
        let cut = segment.base_lsn + 10;
        let follower = Log::open(dir.path(), small().read_only(true)).unwrap();
        let mut tailer = follower.tail_from(0);
        arrive_in_order(&mut tailer, 0..cut - 5, old, kind);
        writer.truncate_back(cut).unwrap();
        for i in cut..cut + 10 {
            assert_eq!(writer.append(&new(i)).unwrap(), i);
        }
        arrive_in_order(&mut tailer, cut - 5..cut, old, kind);
        arrive_in_order(
            &mut tailer,
            cut..cut + 10,
            new,
            &format!("{kind}: a removed record was yielded"),
        );
    }
}

/// A follower that did not look while the writer cut its tail back and then freed the cut
/// segment with `truncate_front`: the follower reads the cut from the freed segment's own
/// mapping (its name is gone) and goes on. A tailer past the cut gets `Error::Truncated`;
/// one before it reads the kept records, then the new ones. (Found by review: the
/// follower stopped for good, the freed segment's trailer being unreadable by name.)
#[test]
#[cfg_attr(miri, ignore)]
fn a_follower_takes_in_a_cut_whose_segment_was_freed_since() {
    let old = |i: u64| format!("old-{i}-{}", "o".repeat(700)).into_bytes();
    let new = |i: u64| format!("new-{i}").into_bytes();
    for read_past_cut in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let writer = writer_with(dir.path(), 300, old);
        fill_active(&writer, 30, old);
        let segments = writer.stats().segments;
        let cut = segments[segments.len() - 2].base_lsn + 10;
        let follower = Log::open(dir.path(), small().read_only(true)).unwrap();
        let mut tailer = follower.tail_from(0);
        let upto = if read_past_cut { cut + 5 } else { cut - 5 };
        arrive_in_order(&mut tailer, 0..upto, old, "before the cut");
        writer.truncate_back(cut).unwrap();
        for i in cut..cut + 10 {
            assert_eq!(writer.append(&new(i)).unwrap(), i);
        }
        let first = writer.truncate_front(cut).unwrap();
        assert!(first <= cut, "the new segment at the cut is kept");
        if read_past_cut {
            match tailer.next_timeout(Duration::from_secs(10)) {
                Err(mmlog::Error::Truncated { cut: c, .. }) => assert_eq!(c, cut),
                other => panic!("a tailer past the cut got {other:?}"),
            }
        } else {
            arrive_in_order(&mut tailer, upto..cut, old, "kept");
            arrive_in_order(&mut tailer, cut..cut + 10, new, "a removed record");
        }
        let mut fresh = follower.tail_from(cut);
        arrive_in_order(&mut fresh, cut..cut + 10, new, "a tailer from the cut");
        assert_eq!(follower.next_lsn(), writer.next_lsn());
    }
}

/// A live area that says a sealed segment was cut to nothing while its file and trailer
/// say otherwise (left stale, or damaged) hides no record from read-only readers: only a
/// cut the files confirm caps them. (Found by review: every read-only reader stopped at
/// that segment, and `mmlog cat` printed a prefix and exited 0.)
#[test]
#[cfg_attr(miri, ignore)]
fn a_stale_live_area_hides_no_record_from_followers() {
    use std::os::unix::fs::FileExt;
    let dir = tempfile::tempdir().unwrap();
    let record = |i: u64| format!("stale-{i}-{}", "s".repeat(700)).into_bytes();
    let writer = writer_with(dir.path(), 300, record);
    writer.sync().unwrap();
    let segment = writer.stats().segments[1].clone();
    assert!(segment.sealed);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&segment.path)
        .unwrap();
    // What the writer stores when it cuts a segment to nothing.
    let end = mmlog::format::RECORDS_START;
    file.write_all_at(&end.to_ne_bytes(), mmlog::format::LIVE_PUBLISHED_END)
        .unwrap();
    file.write_all_at(
        &segment.base_lsn.to_ne_bytes(),
        mmlog::format::LIVE_PUBLISHED_LSN,
    )
    .unwrap();
    file.write_all_at(&1u32.to_ne_bytes(), mmlog::format::LIVE_SEALED)
        .unwrap();
    drop(file);
    let reader = Log::open(dir.path(), small().read_only(true)).unwrap();
    assert_eq!(read_all(&reader).len(), 300);
    arrive_in_order(&mut reader.tail_from(0), 0..300, record, "a hidden record");
}

/// A `truncate_back` interrupted after deleting the newest segment (here the next
/// deletion fails; a kill there leaves the same files): the segments it did not delete
/// are whole, for the restarted writer and for read-only readers alike.
#[test]
#[cfg_attr(miri, ignore)]
fn an_interrupted_truncate_back_leaves_readers_the_whole_log() {
    let dir = tempfile::tempdir().unwrap();
    let record = |i: u64| format!("kept-{i}-{}", "k".repeat(700)).into_bytes();
    let kept_path;
    {
        let writer = writer_with(dir.path(), 300, record);
        let segments = writer.stats().segments;
        let kept = &segments[segments.len() - 2];
        kept_path = kept.path.clone();
        // Its deletion fails: a directory stands at its name meanwhile.
        std::fs::rename(&kept.path, kept.path.with_extension("aside")).unwrap();
        std::fs::create_dir(&kept.path).unwrap();
        assert!(writer.truncate_back(kept.base_lsn).is_err());
    }
    std::fs::remove_dir(&kept_path).unwrap();
    std::fs::rename(kept_path.with_extension("aside"), &kept_path).unwrap();
    let writer = open(dir.path());
    let next = writer.next_lsn();
    assert!(next > 0);
    let reader = Log::open(dir.path(), small().read_only(true)).unwrap();
    assert_eq!(reader.next_lsn(), next);
    assert!(
        read_all(&reader) == read_all(&writer),
        "readers see a shorter log"
    );
}

/// A follower that fell behind retention: the writer's `truncate_front` freed every
/// segment it knows and the ones after them. Its tailer gets `LsnOutOfRange` once it has
/// read what its mapped segment holds (as in the writer's process), and the follower
/// takes in the log as it now is. (Found by audit: it stopped for good, seeing nothing
/// new and no error.)
#[test]
#[cfg_attr(miri, ignore)]
fn a_follower_behind_truncate_front_is_told_and_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let record = |i: u64| format!("behind-{i}-{}", "b".repeat(500)).into_bytes();
    let writer = writer_with(dir.path(), 300, record);
    let follower = Log::open(dir.path(), small().read_only(true)).unwrap();
    let mut tailer = follower.tail_from(0);
    arrive_in_order(&mut tailer, 0..10, record, "before truncate_front");
    for i in 300..600 {
        writer.append(&record(i)).unwrap();
    }
    let first = writer.truncate_front(writer.next_lsn() - 10).unwrap();
    assert!(
        first > 300,
        "every segment the follower knows is freed: first {first}"
    );
    for i in 600..605 {
        writer.append(&record(i)).unwrap();
    }
    let mut read = 10;
    let error = loop {
        match tailer.next_timeout(Duration::from_secs(10)) {
            Ok(Some(r)) => {
                assert_eq!((r.lsn(), r.payload()), (read, &record(read)[..]));
                read += 1;
            }
            Ok(None) => panic!("the tailer behind truncate_front heard nothing in 10 s"),
            Err(e) => break e,
        }
    };
    assert!(
        matches!(error, mmlog::Error::LsnOutOfRange { lsn, first: f, .. } if lsn == read && f == first),
        "{error:?}"
    );
    arrive_in_order(
        &mut follower.tail_from(first),
        first..605,
        record,
        "after truncate_front",
    );
    assert_eq!(follower.first_lsn(), first);
    assert_eq!(follower.next_lsn(), 605);
}

/// A follower tailing while the writer keeps appending and cutting its tail back: it never
/// hangs, every record it yields carries its own LSN, it never yields a record from a
/// history it was told was cut, and at the end it reads exactly the writer's log.
#[test]
#[cfg_attr(miri, ignore)]
fn a_follower_tails_through_repeated_truncate_back() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let writer = open(dir.path());
    // The payload names its LSN and the writer's generation (truncate_back calls so far).
    let payload = |lsn: u64, generation: u64| {
        format!("{lsn}:{generation}:{}", "p".repeat((lsn % 900) as usize)).into_bytes()
    };
    writer.append(&payload(0, 0)).unwrap();
    writer.sync().unwrap();
    let follower = Log::open(dir.path(), small().read_only(true)).unwrap();
    let done = AtomicBool::new(false);
    // Every cut the writer makes, noted before it makes it.
    let cuts_made = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        s.spawn(|| {
            for generation in 1..=60u64 {
                for _ in 0..40 {
                    let lsn = writer.next_lsn();
                    writer.append(&payload(lsn, generation)).unwrap();
                }
                // Mostly near the tail; now and then several segments back.
                let back = if generation % 15 == 0 {
                    300
                } else {
                    1 + generation % 35
                };
                let cut = writer.next_lsn().saturating_sub(back);
                cuts_made.lock().unwrap().push(cut);
                writer.truncate_back(cut).unwrap();
                if generation % 10 == 0 {
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
            writer.sync().unwrap();
            done.store(true, Ordering::Release);
        });
        let mut tailer = follower.tail_from(0);
        let (mut yielded, mut cuts) = (0u64, 0u64);
        let mut reported = Vec::new();
        let mut expected = 0u64;
        let mut last_generation = 0u64;
        loop {
            match tailer.next_timeout(Duration::from_millis(100)) {
                Ok(Some(r)) => {
                    let text = String::from_utf8_lossy(r.payload()).into_owned();
                    let mut parts = text.split(':');
                    let lsn: u64 = parts.next().unwrap().parse().unwrap();
                    let generation: u64 = parts.next().unwrap().parse().unwrap();
                    assert_eq!((r.lsn(), lsn), (expected, expected), "{text:.40}");
                    // Generations only grow along what one tailer reads without an error:
                    // an older one after a newer one would be a spliced history.
                    assert!(
                        generation >= last_generation,
                        "lsn {lsn}: {generation} after {last_generation}"
                    );
                    last_generation = generation;
                    expected += 1;
                    yielded += 1;
                }
                Ok(None) if done.load(Ordering::Acquire) => break,
                Ok(None) => {}
                Err(mmlog::Error::Truncated { cut, .. }) => {
                    assert!(cut < expected, "cut {cut} at {expected}");
                    // The writer's own cut, never a bound seen halfway through one.
                    assert!(
                        cuts_made.lock().unwrap().contains(&cut),
                        "cut {cut} was never made"
                    );
                    // Each cut is reported once: a second report would tell a tailer that
                    // records it read after the first one are gone.
                    reported.push(cut);
                    let times = |v: &[u64]| v.iter().filter(|&&c| c == cut).count();
                    assert!(
                        times(&reported) <= times(&cuts_made.lock().unwrap()),
                        "cut {cut} reported {} times (reports: {reported:?}, made: {:?})",
                        times(&reported),
                        cuts_made.lock().unwrap()
                    );
                    cuts += 1;
                    expected = cut;
                    tailer = follower.tail_from(cut);
                }
                Err(e) => panic!("follower: {e}"),
            }
        }
        println!("follower: {yielded} records yielded, {cuts} cuts reported");
        assert!(cuts > 0, "the tailer must have met some cuts");
    });
    assert_eq!(read_all(&follower), read_all(&writer));
}

/// `truncate_front` by the writer is not a cut for a follower: a tailer that has read
/// everything goes on with the next record (the records freed were below it).
#[test]
#[cfg_attr(miri, ignore)]
fn a_follower_is_not_cut_by_truncate_front() {
    let dir = tempfile::tempdir().unwrap();
    let record = |i: u64| format!("front-{i}-{}", "f".repeat(700)).into_bytes();
    let writer = writer_with(dir.path(), 300, record);
    writer.sync().unwrap();
    let follower = Log::open(dir.path(), small().read_only(true)).unwrap();
    let mut tailer = follower.tail_from(0);
    arrive_in_order(&mut tailer, 0..300, record, "before truncate_front");
    // Append until a new segment starts, so that every segment the follower knows is
    // sealed, then free them all.
    let rotations = writer.stats().rotations;
    while writer.stats().rotations == rotations {
        writer.append(&record(writer.next_lsn())).unwrap();
    }
    let next = writer.next_lsn();
    let first_kept = writer.truncate_front(next).unwrap();
    assert_eq!(first_kept, writer.stats().segments[0].base_lsn);
    assert!(first_kept > 0 && first_kept < next);
    arrive_in_order(&mut tailer, 300..next, record, "after truncate_front");
    writer.append(&record(next)).unwrap();
    arrive_in_order(&mut tailer, next..next + 1, record, "a new record");
    assert_eq!(follower.next_lsn(), writer.next_lsn());
}

/// A writer that died halfway through sealing a segment (a rotation or a `truncate_back`)
/// and was restarted leaves the sealed segment's live area saying "not sealed": its
/// recovery seals it in the file only. A follower must still find the trailer and the next
/// segment (here the seal is written by hand, as the dead writer's recovery would).
#[test]
#[cfg_attr(miri, ignore)]
fn a_follower_finds_a_segment_sealed_in_the_file_only() {
    use mmlog::format;
    let dir = tempfile::tempdir().unwrap();
    let record = |i: u64| format!("sealed-by-hand-{i}").into_bytes();
    let first = open(dir.path());
    for i in 0..10 {
        first.append(&record(i)).unwrap();
    }
    first.close().unwrap();
    let follower = Log::open(dir.path(), small().read_only(true)).unwrap();
    let mut tailer = follower.tail_from(0);
    for i in 0..10 {
        let r = arrives(&mut tailer);
        assert_eq!(r.payload(), record(i));
    }
    // Seal segment 0 in the file, leaving its live area alone.
    let path = segment_name(dir.path(), 0);
    let meta = format::decode_segment_header(&read_at(&path, 0, 4096)).unwrap();
    let records_end = format::RECORDS_START
        + (0..10)
            .map(|i| format::record_footprint(record(i).len() as u64))
            .sum::<u64>();
    let index_crc = format::encode_index(&[], meta.seed(), &mut []);
    let trailer = format::encode_trailer(
        meta.seed(),
        &format::TrailerMeta {
            next_lsn: 10,
            records_end,
            index_count: 0,
            index_crc,
        },
    );
    write_at(&path, format::trailer_offset(meta.segment_len), &trailer);
    // The restarted writer keeps the sealed segment and appends to a new one.
    let second = open(dir.path());
    assert_eq!(
        second.stats().segments.len(),
        2,
        "the hand-made seal was taken"
    );
    for i in 10..13 {
        assert_eq!(second.append(&record(i)).unwrap(), i);
    }
    for i in 10..13 {
        let r = arrives(&mut tailer);
        assert_eq!((r.lsn(), r.payload()), (i, &record(i)[..]));
    }
}
