//! Many writers on one `Arc<Log>`: the contract's "`Log` is `Send + Sync`", "LSNs are
//! dense", "a dropped reservation leaves no record and takes no LSN", and group commit.
//!
//! The stress test runs T threads (2 to 16), each appending its own records with `append`,
//! `append_batch` and `reserve` (dropping some reservations, some after writing into
//! them) into small segments so that rotations happen under contention. Every payload
//! names its thread and sequence number and is derived from them, so the check can say:
//! each record appears exactly once, byte for byte, at the LSN its call returned; LSNs
//! are dense; each thread's records keep their order; a reopen gives the same log.
//! `MMLOG_STRESS_RECORDS=N` sets the records per thread (default 1,500), `MMLOG_SEED` the
//! seed.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use mmlog::{Durability, Error, Log, SyncPolicy};

use crate::power_loss::{
    crash_image, env_u64, remove_dir, scratch_root, snapshot, write_image, DiskModel,
};
use crate::util::{read_all, small, Rng};

/// Runs `f(t)` for `t` in `0..threads` on as many threads, started together; returns the
/// results in thread order.
fn together<T: Send>(threads: u32, f: impl Fn(u32) -> T + Sync) -> Vec<T> {
    let start = Barrier::new(threads as usize);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (start, f) = (&start, &f);
                scope.spawn(move || {
                    start.wait();
                    f(t)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a test thread"))
            .collect()
    })
}

/// Closes a log that no other thread holds any more (its writers were joined).
fn close(log: Arc<Log>) {
    Arc::try_unwrap(log)
        .ok()
        .expect("the writer threads are joined: this is the only handle")
        .close()
        .expect("close");
}

/// The payload of record `seq` of `thread`: an 8-byte tag, then bytes derived from it.
fn payload(thread: u32, seq: u32, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len.max(8));
    out.extend_from_slice(&thread.to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    let mut x = u64::from(thread) << 32 | u64::from(seq);
    while out.len() < len {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        out.push((x >> 56) as u8);
    }
    out
}

fn tag(p: &[u8]) -> (u32, u32) {
    let t = u32::from_le_bytes(p[0..4].try_into().expect("4 bytes"));
    let s = u32::from_le_bytes(p[4..8].try_into().expect("4 bytes"));
    (t, s)
}

fn random_len(rng: &mut Rng) -> usize {
    let n = if rng.below(50) == 0 {
        8 + rng.below(20_000)
    } else {
        8 + rng.below(600)
    };
    usize::try_from(n).expect("small")
}

/// One writer thread: appends `records` records of its own; returns (seq, lsn) of each.
fn writer(log: &Log, thread: u32, records: u32, seed: u64) -> Vec<(u32, u64)> {
    let mut rng = Rng::new(seed ^ (u64::from(thread) << 40));
    let mut acked = Vec::new();
    let mut seq = 0u32;
    while seq < records {
        match rng.below(10) {
            0..=4 => {
                let p = payload(thread, seq, random_len(&mut rng));
                let lsn = log.append(&p).expect("append");
                acked.push((seq, lsn));
                seq += 1;
            }
            5 | 6 => {
                let n = u32::try_from(1 + rng.below(4))
                    .expect("small")
                    .min(records - seq);
                let ps: Vec<Vec<u8>> = (0..n)
                    .map(|i| {
                        payload(
                            thread,
                            seq + i,
                            8 + usize::try_from(rng.below(500)).expect("small"),
                        )
                    })
                    .collect();
                let refs: Vec<&[u8]> = ps.iter().map(Vec::as_slice).collect();
                let range = log.append_batch(&refs).expect("append_batch");
                assert_eq!(range.end - range.start, u64::from(n));
                for (i, lsn) in range.enumerate() {
                    acked.push((seq + u32::try_from(i).expect("small"), lsn));
                }
                seq += n;
            }
            7 | 8 => {
                let p = payload(thread, seq, random_len(&mut rng));
                let mut r = log.reserve(p.len()).expect("reserve");
                r.copy_from_slice(&p);
                if rng.below(4) == 0 {
                    // Hold it a moment, so others claim behind it.
                    std::thread::yield_now();
                }
                let lsn = r.commit().expect("commit");
                acked.push((seq, lsn));
                seq += 1;
            }
            _ => {
                // A dropped reservation: written into (partly or wholly), then abandoned.
                let len = random_len(&mut rng);
                let mut r = log.reserve(len).expect("reserve");
                let bogus = payload(u32::MAX, seq, len);
                let upto = usize::try_from(rng.below(len as u64 + 1)).expect("small");
                r[..upto].copy_from_slice(&bogus[..upto]);
                if rng.below(4) == 0 {
                    std::thread::yield_now();
                }
                drop(r);
            }
        }
    }
    acked
}

/// Checks the log holds exactly the acknowledged records, dense, in per-thread order.
fn check_log(log: &Log, acked: &[Vec<(u32, u64)>], what: &str) {
    let records = read_all(log);
    let total: usize = acked.iter().map(Vec::len).sum();
    assert_eq!(records.len(), total, "{what}: record count");
    let first = log.first_lsn();
    let mut at = vec![Vec::new(); acked.len()];
    for (i, (lsn, p)) in records.iter().enumerate() {
        assert_eq!(*lsn, first + i as u64, "{what}: LSNs are dense");
        assert!(p.len() >= 8, "{what}: record {lsn} is not one of ours");
        let (t, s) = tag(p);
        let t_i = usize::try_from(t).expect("small");
        assert!(t_i < acked.len(), "{what}: record {lsn} has thread {t}");
        assert_eq!(*p, payload(t, s, p.len()), "{what}: record {lsn} bytes");
        at[t_i].push((s, *lsn));
    }
    for (t, (got, want)) in at.iter().zip(acked).enumerate() {
        assert_eq!(
            got, want,
            "{what}: thread {t}'s records, in order, at the LSNs its calls returned"
        );
    }
}

fn stress(threads: u32) {
    let records = u32::try_from(env_u64("MMLOG_STRESS_RECORDS").unwrap_or(1_500)).expect("fits");
    let seed = env_u64("MMLOG_SEED").unwrap_or(0x5eed_0004) ^ u64::from(threads);
    println!("stress: {threads} threads x {records} records, MMLOG_SEED={seed:#x}");
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Arc::new(Log::open(dir.path(), small()).expect("open"));
    let acked = together(threads, |t| writer(&log, t, records, seed));
    let stats = log.stats();
    println!(
        "stress: {threads} threads: {} records, {} rotations",
        stats.next_lsn, stats.rotations
    );
    assert!(stats.rotations > 0, "the test must rotate segments");
    check_log(&log, &acked, "live");
    close(log);
    let log = Log::open(dir.path(), small()).expect("reopen");
    check_log(&log, &acked, "after reopen");
}

#[test]
fn stress_2_threads() {
    stress(2);
}

#[test]
fn stress_4_threads() {
    stress(4);
}

#[test]
fn stress_8_threads() {
    stress(8);
}

#[test]
fn stress_16_threads() {
    stress(16);
}

#[test]
fn an_append_behind_a_held_reservation_returns_once_it_is_dropped_with_the_lsn_it_keeps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Arc::new(Log::open(dir.path(), small()).expect("open"));
    log.append(b"zero").expect("append");
    let r = log.reserve(100).expect("reserve");
    let returned = Arc::new(AtomicBool::new(false));
    let other = {
        let (log, returned) = (Arc::clone(&log), Arc::clone(&returned));
        std::thread::spawn(move || {
            let lsn = log.append(b"behind").expect("append");
            returned.store(true, Ordering::SeqCst);
            lsn
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        !returned.load(Ordering::SeqCst),
        "the append's LSN depends on the reservation: it cannot return yet"
    );
    assert_eq!(
        log.next_lsn(),
        1,
        "nothing after the reservation is visible"
    );
    assert_eq!(read_all(&log).len(), 1);
    drop(r);
    let lsn = other.join().expect("thread");
    assert_eq!(lsn, 1, "the dropped reservation took no LSN");
    assert_eq!(
        read_all(&log),
        vec![(0, b"zero".to_vec()), (1, b"behind".to_vec())]
    );
    let next = log.append(b"two").expect("append");
    assert_eq!(next, 2);
    close(log);
    let log = Log::open(dir.path(), small()).expect("reopen");
    let got = read_all(&log);
    assert_eq!(got.len(), 3);
    assert_eq!(got[1], (1, b"behind".to_vec()));
    assert_eq!(log.stats().next_lsn, 3);
}

/// The contract: after `append` returns, the record is in the mapping and visible to
/// readers. An append claimed behind another thread's append that is still copying a
/// large payload returns only once that one is written too.
#[test]
fn an_append_returns_only_once_every_earlier_record_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), mmlog::Options::default()).unwrap();
    let big = vec![0x42u8; 32 << 20];
    let done = AtomicBool::new(false);
    let (big_lsn, checked) = std::thread::scope(|s| {
        let writer = s.spawn(|| {
            let lsn = log.append(&big).unwrap();
            done.store(true, Ordering::Release);
            lsn
        });
        let mut checked = 0u64;
        while !done.load(Ordering::Acquire) {
            let lsn = log.append(b"small").unwrap();
            let record = log
                .iter_from(lsn)
                .next()
                .unwrap_or_else(|| panic!("LSN {lsn} is not visible when its append returns"))
                .unwrap();
            assert_eq!((record.lsn(), record.payload()), (lsn, &b"small"[..]));
            checked += 1;
        }
        (writer.join().unwrap(), checked)
    });
    assert!(checked > 0, "no small append ran beside the large one");
    let record = log.iter_from(big_lsn).next().unwrap().unwrap();
    assert!(record.payload() == big.as_slice());
}

#[test]
fn an_append_behind_a_committed_reservation_keeps_its_lsn() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Arc::new(Log::open(dir.path(), small()).expect("open"));
    let mut r = log.reserve(3).expect("reserve");
    let other = {
        let log = Arc::clone(&log);
        std::thread::spawn(move || log.append(b"behind").expect("append"))
    };
    std::thread::sleep(Duration::from_millis(20));
    r.copy_from_slice(b"res");
    assert_eq!(r.commit().expect("commit"), 0);
    assert_eq!(other.join().expect("thread"), 1);
    assert_eq!(
        read_all(&log),
        vec![(0, b"res".to_vec()), (1, b"behind".to_vec())]
    );
}

#[test]
fn waiting_on_your_own_reservation_is_an_error_not_a_hang() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), small()).expect("open");
    log.append(b"zero").expect("append");
    let r = log.reserve(10).expect("reserve");
    assert!(matches!(log.append(b"x"), Err(Error::Deadlock(_))));
    assert!(matches!(log.append_durable(b"x"), Err(Error::Deadlock(_))));
    assert!(matches!(log.truncate_back(0), Err(Error::Deadlock(_))));
    // Two reservations committed in the wrong order: the second is dropped.
    let r2 = log.reserve(4).expect("a second reservation");
    assert!(matches!(r2.commit(), Err(Error::Deadlock(_))));
    drop(r);
    assert_eq!(log.append(b"one").expect("append"), 1);
    assert_eq!(
        read_all(&log),
        vec![(0, b"zero".to_vec()), (1, b"one".to_vec())]
    );
}

/// Ends the test process (a hang fails the run instead of stalling it) unless dropped
/// within `secs` seconds; dropped on panic too, so an ordinary failure stays one.
struct Watchdog(Arc<AtomicBool>);

impl Watchdog {
    fn start(secs: u64, what: &'static str) -> Watchdog {
        let done = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&done);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(secs));
            if !flag.load(Ordering::Acquire) {
                eprintln!("watchdog: {what} (after {secs} s)");
                std::process::exit(101);
            }
        });
        Watchdog(done)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// `truncate_back` on one thread waits for a reservation held by another; the holder syncs
/// an earlier record before it commits. The sync must not wait for `truncate_back` (which
/// once held the sync lock while waiting: a deadlock). A watchdog ends the test process
/// if it hangs. (The 200 ms pause lets `truncate_back` start waiting first; were it late,
/// the test would pass without testing the case.)
#[test]
fn a_reservation_holder_can_sync_while_truncate_back_waits_for_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Arc::new(Log::open(dir.path(), small()).expect("open"));
    log.append(b"zero").expect("append");
    log.append(b"one").expect("append");
    let _watchdog = Watchdog::start(
        60,
        "a reservation holder's sync waited for truncate_back: deadlock",
    );
    let mut r = log.reserve(3).expect("reserve");
    r.copy_from_slice(b"two");
    let truncate = {
        let log = Arc::clone(&log);
        std::thread::spawn(move || log.truncate_back(1))
    };
    // Let `truncate_back` start waiting for the reservation.
    std::thread::sleep(Duration::from_millis(200));
    log.sync_to(1).expect("sync an earlier record");
    assert!(log.durable_lsn() >= 2, "records 0 and 1 are durable");
    assert_eq!(r.commit().expect("commit"), 2);
    truncate
        .join()
        .expect("truncate_back thread")
        .expect("truncate_back");
    assert_eq!(read_all(&log), vec![(0, b"zero".to_vec())]);
}

/// `truncate_back` removes records that other threads are making durable. A durable
/// append whose record was removed returns `Error::Truncated`; one that returns `Ok` has
/// its record at its LSN (checked when no `truncate_back` ran meanwhile); nothing spins or
/// hangs (a sync whose target was cut away once looped forever). A watchdog ends the test
/// process if it hangs.
#[test]
fn durable_appends_racing_truncate_back_never_hang_or_lie() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), small().durability(Durability::Fdatasync)).expect("open");
    let _watchdog = Watchdog::start(60, "a durable append racing truncate_back hung");
    let started = AtomicU64::new(0);
    let finished = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let (oks, cut_off, checked) = std::thread::scope(|s| {
        let appenders: Vec<_> = (0..2u32)
            .map(|t| {
                let (log, started, finished) = (&log, &started, &finished);
                s.spawn(move || {
                    let (mut oks, mut cut_off, mut checked) = (0u64, 0u64, 0u64);
                    for i in 0..150u32 {
                        let p = payload(t, i, 40);
                        // No `truncate_back` in flight at the start, none started since.
                        let before = (
                            finished.load(Ordering::SeqCst),
                            started.load(Ordering::SeqCst),
                        );
                        match log.append_durable(&p) {
                            Ok(lsn) => {
                                let record = log.iter_from(lsn).next();
                                let durable = log.durable_lsn();
                                let after = (
                                    finished.load(Ordering::SeqCst),
                                    started.load(Ordering::SeqCst),
                                );
                                if before.0 == before.1 && after == before {
                                    let record = record
                                        .expect("a durable record is there")
                                        .unwrap_or_else(|e| panic!("LSN {lsn} reads back: {e}"));
                                    assert_eq!(record.payload(), &p[..], "LSN {lsn}");
                                    assert!(durable > lsn, "LSN {lsn} is durable");
                                    checked += 1;
                                }
                                oks += 1;
                            }
                            Err(Error::Truncated { .. }) => cut_off += 1,
                            Err(e) => panic!("append_durable: {e}"),
                        }
                    }
                    (oks, cut_off, checked)
                })
            })
            .collect();
        // Stops the truncator even if an appender panics (or the scope would wait forever).
        struct Stop<'a>(&'a AtomicBool);
        impl Drop for Stop<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let stop_on_exit = Stop(&stop);
        let truncator = s.spawn(|| {
            let mut rng = Rng::new(0x7a7a);
            while !stop.load(Ordering::SeqCst) {
                let next = log.next_lsn();
                let lsn = next.saturating_sub(rng.below(3)).max(log.first_lsn());
                started.fetch_add(1, Ordering::SeqCst);
                let result = log.truncate_back(lsn);
                finished.fetch_add(1, Ordering::SeqCst);
                match result {
                    Ok(()) | Err(Error::LsnOutOfRange { .. }) => {}
                    Err(e) => panic!("truncate_back({lsn}): {e}"),
                }
                std::thread::sleep(Duration::from_micros(rng.below(300)));
            }
        });
        let totals = appenders
            .into_iter()
            .map(|a| a.join().expect("appender"))
            .fold((0, 0, 0), |(a, b, c), (d, e, f)| (a + d, b + e, c + f));
        drop(stop_on_exit);
        truncator.join().expect("truncator");
        totals
    });
    println!(
        "durable appends racing truncate_back: {oks} durable ({checked} checked with no \
         truncate_back overlapping), {cut_off} cut off"
    );
    // Otherwise the race hid every call from the checks above.
    assert!(checked > 0, "no durable append ran clear of truncate_back");
}

#[test]
fn a_panic_while_holding_a_reservation_does_not_stall_others() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Arc::new(Log::open(dir.path(), small()).expect("open"));
    let holder = {
        let log = Arc::clone(&log);
        std::thread::spawn(move || {
            let mut r = log.reserve(64).expect("reserve");
            r[..5].copy_from_slice(b"doome");
            std::thread::sleep(Duration::from_millis(30));
            panic!("the producer fails while holding its reservation");
        })
    };
    let appender = {
        let log = Arc::clone(&log);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(5));
            log.append(b"after the panic").expect("append")
        })
    };
    assert!(holder.join().is_err(), "the holder panicked");
    assert_eq!(appender.join().expect("appender"), 0);
    assert_eq!(read_all(&log), vec![(0, b"after the panic".to_vec())]);
    log.sync().expect("sync");
}

/// Group commit: 8 threads each making 200 records durable share syncs, and each returned
/// LSN is below `durable_lsn()` when its call returns.
#[test]
fn eight_durable_appenders_share_syncs() {
    for durability in [Durability::Msync, Durability::Fdatasync] {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = Arc::new(Log::open(dir.path(), small().durability(durability)).expect("open"));
        together(8, |t| {
            for seq in 0..200u32 {
                let lsn = log
                    .append_durable(&payload(t, seq, 128))
                    .expect("append_durable");
                assert!(log.durable_lsn() > lsn, "returned before it was durable");
            }
        });
        let stats = log.stats();
        println!(
            "group commit ({durability:?}): {} records, {} syncs ({:.2} records per sync)",
            stats.appends,
            stats.syncs,
            stats.appends as f64 / stats.syncs.max(1) as f64
        );
        assert_eq!(stats.appends, 1600);
        assert!(
            stats.syncs * 4 < stats.appends * 3,
            "{} syncs for {} records: syncs are not shared",
            stats.syncs,
            stats.appends
        );
    }
}

/// A failed sync while many threads wait on syncs: every waiter gets `Error::Poisoned` (or
/// the leader the I/O error itself), nothing is acknowledged after it, and a reopen keeps
/// every record acknowledged before it.
#[test]
fn a_failed_sync_wakes_every_waiter_with_poisoned() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log =
        Arc::new(Log::open(dir.path(), small().durability(Durability::Fdatasync)).expect("open"));
    let failed = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(9));
    let handles: Vec<_> = (0..8u32)
        .map(|t| {
            let (log, start, failed) = (Arc::clone(&log), Arc::clone(&start), Arc::clone(&failed));
            std::thread::spawn(move || {
                start.wait();
                let mut acked = Vec::new();
                for seq in 0.. {
                    match log.append_durable(&payload(t, seq, 64)) {
                        Ok(lsn) => {
                            assert!(
                                !failed.load(Ordering::SeqCst) || log.durable_lsn() > lsn,
                                "acknowledged after the failure"
                            );
                            acked.push(lsn);
                        }
                        Err(Error::Poisoned) | Err(Error::Io { .. }) => return acked,
                        Err(e) => panic!("unexpected error: {e}"),
                    }
                }
                unreachable!()
            })
        })
        .collect();
    start.wait();
    std::thread::sleep(Duration::from_millis(30));
    let durable_before = log.durable_lsn();
    log.inject_sync_failure();
    failed.store(true, Ordering::SeqCst);
    let acked: Vec<u64> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("appender"))
        .collect();
    assert!(!acked.is_empty());
    assert!(matches!(log.sync(), Err(Error::Poisoned)));
    assert!(matches!(log.append(b"x"), Err(Error::Poisoned)));
    let durable = log.durable_lsn();
    assert!(durable >= durable_before);
    for lsn in &acked {
        assert!(
            *lsn < durable,
            "LSN {lsn} acknowledged but not below {durable}"
        );
    }
    drop(log);
    let log = Log::open(dir.path(), small()).expect("reopen");
    assert!(
        log.next_lsn() >= durable,
        "every acknowledged record came back"
    );
    let records = read_all(&log);
    for lsn in acked {
        let (_, p) = &records[usize::try_from(lsn).expect("small")];
        let (t, s) = tag(p);
        assert_eq!(*p, payload(t, s, 64));
    }
}

/// Power loss after concurrent durable appends: at points where every writer's call has
/// returned, the directory is the synced image (the engine acknowledged all of it); then
/// the threads append more without syncing, with reservations dropped and committed
/// among them; each crash image between the two must recover every acknowledged record
/// byte for byte, dense LSNs, and beyond that only records that were appended, each once.
#[test]
fn power_loss_after_concurrent_durable_appends_keeps_every_acknowledged_record() {
    let images_per_round = env_u64("MMLOG_GROUP_IMAGES").unwrap_or(60);
    let seed = env_u64("MMLOG_SEED").unwrap_or(0x6c6f_6704);
    let scratch = scratch_root();
    let mut tried = 0u64;
    for (round, durability) in [Durability::Msync, Durability::Fdatasync, Durability::Msync]
        .into_iter()
        .enumerate()
    {
        let dir = scratch.path().join(format!("log{round}"));
        let options = small()
            .durability(durability)
            .sync_policy(SyncPolicy::Manual);
        let log = Arc::new(Log::open(&dir, options.clone()).expect("open"));
        let mut disk = DiskModel::new(&dir);
        let run = |phase: u32, durable: bool| -> Vec<Vec<(u32, u64)>> {
            together(8, |t| {
                let base = phase * 1000;
                if durable {
                    (0..40)
                        .map(|i| {
                            let p = payload(t, base + i, 100 + (i as usize * 37) % 900);
                            (base + i, log.append_durable(&p).expect("append_durable"))
                        })
                        .collect()
                } else {
                    let acked = writer(&log, t, 60, seed ^ u64::from(phase));
                    acked.into_iter().map(|(s, l)| (base + s, l)).collect()
                }
            })
        };
        run(0, true);
        let durable_acked = log.next_lsn();
        assert_eq!(
            log.durable_lsn(),
            durable_acked,
            "every call returned durable"
        );
        let synced = disk.image();
        let records_synced = read_all(&log);
        // Not durable: the writer's random mix (records are compared by LSN below).
        run(1, false);
        let all = read_all(&log);
        let new = snapshot(&dir);
        for i in 0..images_per_round {
            let image = crash_image(&synced, &new, seed ^ (round as u64) << 32 ^ i);
            let crash_dir = scratch.path().join(format!("crash{round}-{i}"));
            write_image(&crash_dir, &image);
            let recovered = Log::open(&crash_dir, small().durability(durability))
                .unwrap_or_else(|e| panic!("image {round}/{i}: open failed: {e}"));
            let got = read_all(&recovered);
            assert!(
                got.len() as u64 >= durable_acked,
                "image {round}/{i}: {} records recovered, {durable_acked} were durable",
                got.len()
            );
            assert_eq!(
                got[..records_synced.len()],
                records_synced[..],
                "image {round}/{i}: durable records"
            );
            assert_eq!(
                got[..],
                all[..got.len()],
                "image {round}/{i}: records beyond the durable point are exactly those appended"
            );
            drop(recovered);
            remove_dir(&crash_dir);
            tried += 1;
        }
        close(log);
    }
    println!("group commit power loss: {tried} crash images, 0 violations");
}

/// Appenders that do not wait for durability keep appending while another thread syncs.
#[test]
fn appends_proceed_while_a_sync_is_in_flight() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log =
        Arc::new(Log::open(dir.path(), small().durability(Durability::Fdatasync)).expect("open"));
    let stop = Arc::new(AtomicBool::new(false));
    let syncs = Arc::new(AtomicU64::new(0));
    let syncer = {
        let (log, stop, syncs) = (Arc::clone(&log), Arc::clone(&stop), Arc::clone(&syncs));
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                log.append_durable(b"durable").expect("append_durable");
                syncs.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    let mut appended = 0u64;
    while syncs.load(Ordering::SeqCst) < 20 {
        log.append(&payload(1, 0, 64)).expect("append");
        appended += 1;
    }
    stop.store(true, Ordering::SeqCst);
    syncer.join().expect("syncer");
    assert!(
        appended > 20,
        "only {appended} appends during 20 syncs: appends wait for syncs"
    );
}
