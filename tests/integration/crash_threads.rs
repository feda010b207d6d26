//! Crash safety with many appending threads, through real processes: a child process (this
//! test binary, running the ignored `crash_child` entry point) appends from several threads
//! at once with `append`, `append_batch` and `reserve`/`commit`, and prints each LSN its
//! call returned; the parent kills it with SIGKILL at a random moment, reopens the log and
//! checks that every acknowledged record is there byte for byte (the contract: a record
//! whose append returned survives a crash of the process), that LSNs are dense, that every
//! other record is one a thread sent, and that each thread's records keep their order.
//!
//! This catches an append that returns while an earlier record (another thread's, still
//! being copied) is incomplete: a kill then leaves a hole before the acknowledged record,
//! and recovery keeps only the prefix before the hole.
//!
//! Default: 60 crash points. `MMLOG_CRASH_ROUNDS=N` sets the rounds, `MMLOG_SEED` the seed.
//! The test prints crash points, records acknowledged and acknowledged records lost.
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use mmlog::{Log, Options};

const ROUNDS_DEFAULT: u64 = 60;
const THREADS: u64 = 4;
/// Operations per thread per round (the kill comes first, most of the time).
const OPS: u64 = 100_000;
const SEGMENT: u64 = 1 << 20;

/// A number derived from `z` alone (the first draw of the tests' splitmix64).
fn mix(z: u64) -> u64 {
    crate::util::Rng::new(z).next_u64()
}

/// The payload thread `thread` sends as its `k`-th record in `round`: it names itself, then
/// filler; mostly small, sometimes up to 64 KiB (a long copy that later appends overlap).
fn payload(seed: u64, round: u64, thread: u64, k: u64) -> Vec<u8> {
    let r = mix(seed ^ round << 40 ^ thread << 32 ^ k);
    let len = match r % 16 {
        0 => (r >> 8) % (64 << 10),
        1..=3 => (r >> 8) % 4096,
        _ => (r >> 8) % 200,
    } as usize;
    let mut out = format!("{round}:{thread}:{k}:").into_bytes();
    out.extend((0..len).map(|i| b'a' + ((r >> (i % 48)) as u8).wrapping_add(i as u8) % 26));
    out
}

/// Parses a payload's name: `(round, thread, k)`.
fn name(bytes: &[u8]) -> Option<(u64, u64, u64)> {
    let text = std::str::from_utf8(bytes.get(..bytes.len().min(64))?).ok()?;
    let mut parts = text.splitn(4, ':');
    let mut next = || parts.next()?.parse::<u64>().ok();
    Some((next()?, next()?, next()?))
}

/// The child: appends from `THREADS` threads until killed, printing `ack LSN THREAD K` for
/// each record whose call returned. Run only by the parent test (through the environment).
#[test]
#[ignore = "the child process of kill_9_of_many_appending_threads_loses_no_acknowledged_record"]
fn crash_child() {
    let (Ok(dir), Ok(round), Ok(seed)) = (
        std::env::var("MMLOG_CRASH_CHILD_DIR"),
        std::env::var("MMLOG_CRASH_CHILD_ROUND"),
        std::env::var("MMLOG_CRASH_CHILD_SEED"),
    ) else {
        return;
    };
    let (round, seed): (u64, u64) = (round.parse().unwrap(), seed.parse().unwrap());
    let log = Log::open(&dir, Options::default().segment_size(SEGMENT)).expect("open");
    let out = std::sync::Mutex::new(std::io::stdout());
    let ack = |lsn: u64, thread: u64, k: u64| {
        let mut out = out.lock().unwrap();
        writeln!(out, "ack {lsn} {thread} {k}").unwrap();
        out.flush().unwrap();
    };
    std::thread::scope(|s| {
        for thread in 0..THREADS {
            let (log, ack) = (&log, &ack);
            s.spawn(move || {
                let mut k = 0;
                while k < OPS {
                    match mix(seed ^ round ^ thread << 20 ^ k) % 4 {
                        0 => {
                            let batch: Vec<Vec<u8>> = (k..k + 3)
                                .map(|k| payload(seed, round, thread, k))
                                .collect();
                            let refs: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
                            let lsns = log.append_batch(&refs).expect("append_batch");
                            for (i, lsn) in lsns.enumerate() {
                                ack(lsn, thread, k + i as u64);
                            }
                            k += 3;
                        }
                        1 => {
                            let p = payload(seed, round, thread, k);
                            let mut r = log.reserve(p.len()).expect("reserve");
                            r.copy_from_slice(&p);
                            ack(r.commit().expect("commit"), thread, k);
                            k += 1;
                        }
                        _ => {
                            let lsn = log
                                .append(&payload(seed, round, thread, k))
                                .expect("append");
                            ack(lsn, thread, k);
                            k += 1;
                        }
                    }
                }
            });
        }
    });
}

/// Checks the records of `log` from `from` on: dense LSNs, each one a thread sent (the
/// acknowledged ones where they were acknowledged), each thread's in order. Returns the
/// LSN after the last.
fn check(
    log: &Log,
    seed: u64,
    acked: &HashMap<u64, (u64, u64, u64)>,
    seen: &mut HashMap<(u64, u64), u64>,
    from: u64,
) -> u64 {
    let mut next = from;
    for record in log.iter_from(from) {
        let record = record.expect("every record reads back");
        let lsn = record.lsn();
        assert_eq!(lsn, next, "dense LSNs");
        next += 1;
        let (r, t, k) = name(record.payload())
            .unwrap_or_else(|| panic!("LSN {lsn} holds no record that was sent"));
        assert!(
            record.payload() == payload(seed, r, t, k),
            "LSN {lsn} is not what thread {t} sent"
        );
        if let Some(&at) = acked.get(&lsn) {
            assert_eq!(at, (r, t, k), "LSN {lsn} changed");
        }
        if let Some(previous) = seen.insert((r, t), k) {
            assert!(
                previous < k,
                "thread {t}'s records out of order at LSN {lsn}"
            );
        }
    }
    next
}

#[test]
#[cfg_attr(miri, ignore)]
fn kill_9_of_many_appending_threads_loses_no_acknowledged_record() {
    let (rounds, seed) = crate::util::crash_settings(ROUNDS_DEFAULT, 0x7468_7265_6164);
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path().join("log");
    let exe = std::env::current_exe().expect("the test binary");
    // Every acknowledgement so far: LSN -> (round, thread, k).
    let mut acked: HashMap<u64, (u64, u64, u64)> = HashMap::new();
    let (mut crash_points, mut lost) = (0u64, 0u64);
    // Each thread's last record seen: (round, thread) -> k.
    let mut seen: HashMap<(u64, u64), u64> = HashMap::new();
    // Records below this LSN were checked in an earlier round.
    let mut checked = 0u64;
    for round in 0..rounds {
        let mut child = Command::new(&exe)
            .args([
                "--ignored",
                "--exact",
                "crash_threads::crash_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("MMLOG_CRASH_CHILD_DIR", &dir)
            .env("MMLOG_CRASH_CHILD_ROUND", round.to_string())
            .env("MMLOG_CRASH_CHILD_SEED", seed.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the child");
        let stdout = child.stdout.take().unwrap();
        let (started, first_ack) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut acks = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let Some(rest) = line.strip_prefix("ack ") else {
                    continue;
                };
                let v: Vec<u64> = rest.split(' ').map(|x| x.parse().unwrap()).collect();
                acks.push((v[0], v[1], v[2]));
                if acks.len() == 1 {
                    let _ = started.send(());
                }
            }
            acks
        });
        let r = mix(seed ^ round);
        if r.is_multiple_of(4) {
            // A quarter of the kills come early: while the child recovers the last crash.
            std::thread::sleep(Duration::from_micros(r % 5000));
        } else {
            // The others while the threads append: once they do, after 0 to 40 ms.
            let _ = first_ack.recv_timeout(Duration::from_secs(30));
            std::thread::sleep(Duration::from_micros((r >> 8) % 40_000));
        }
        child.kill().expect("SIGKILL the child");
        let status = child.wait().expect("the child ends");
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9),
            "round {round}: the child ended before the kill ({status:?}; run it alone to see why)"
        );
        let acks = reader.join().unwrap();
        crash_points += 1;
        for (lsn, thread, k) in acks {
            assert!(
                acked.insert(lsn, (round, thread, k)).is_none(),
                "round {round}: LSN {lsn} acknowledged twice"
            );
        }
        if !dir.exists() {
            assert!(acked.is_empty(), "round {round}: acknowledged, but no log");
            continue;
        }
        // Reopen (recovering the crash) and check the records not checked before.
        let log = Log::open(&dir, Options::default().segment_size(SEGMENT)).expect("reopen");
        let next = check(&log, seed, &acked, &mut seen, checked);
        let missing = acked.keys().filter(|&&lsn| lsn >= next).count() as u64;
        if missing > 0 {
            lost += missing;
            eprintln!("round {round}: {missing} acknowledged records lost (the log holds {next})");
        }
        // A record seen once is never lost or changed later.
        assert!(
            next >= checked,
            "round {round}: records {next}..{checked} are gone"
        );
        checked = next;
        log.close().expect("close");
    }
    // Everything again, from LSN 0: nothing seen in any round changed or went away.
    let log = Log::open(&dir, Options::default().segment_size(SEGMENT)).expect("reopen");
    seen.clear();
    assert_eq!(check(&log, seed, &acked, &mut seen, 0), checked);
    eprintln!(
        "crash test with {THREADS} threads (seed {seed:#x}): {crash_points} crash points, {} records acknowledged, {lost} acknowledged records lost",
        acked.len()
    );
    assert_eq!(lost, 0, "acknowledged records were lost");
    assert!(
        acked.len() as u64 > rounds,
        "the kills came too early to test anything"
    );
}
