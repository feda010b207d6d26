//! What two threads appending to one log can gain over one on this machine, without
//! mmlog: the floor under W7 (non-durable appends from 1 and 2 threads).
//!
//! Each "record" is 144 bytes (a 16-byte header and a 128-byte payload, as mmlog lays out
//! a 128-byte record): copy the payload, checksum it, write the header. Three layouts,
//! each run with 1 and then 2 threads over the same number of records:
//! - `private`: each thread fills its own half of the buffer; nothing is shared.
//! - `counter`: as `private`, plus one shared `fetch_add` per record (the cheapest way to
//!   hand out LSNs: an atomic tail as in Aeron's term appender).
//! - `one log`: the shared `fetch_add`, and the records of the two threads interleave in
//!   one buffer, as they do in one log (adjacent records share cache lines).
//!
//! Prints records/s and the ratio of 2 threads over 1 for each, the median of `RUNS`.
//! Usage: `cargo run --release --example contention_floor [RECORDS]`.
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Words of 8 bytes per record: a 16-byte header and a 128-byte payload.
const WORDS: usize = 18;
const RUNS: usize = 5;

#[derive(Clone, Copy, PartialEq)]
enum Layout {
    Private,
    Counter,
    OneLog,
}

/// Writes record `lsn` at record index `at` of `log`: payload, checksum, header. (Relaxed
/// atomic stores of whole words compile to plain stores: this is a copy, safely shared.)
fn write_record(log: &[AtomicU64], at: usize, lsn: u64, payload: &Payload) {
    let record = &log[at * WORDS..(at + 1) * WORDS];
    for (word, value) in record[2..].iter().zip(&payload.words) {
        word.store(*value, Ordering::Relaxed);
    }
    let crc = crc32fast::hash(&payload.bytes);
    record[1].store(
        (payload.bytes.len() as u64) << 32 | u64::from(crc),
        Ordering::Relaxed,
    );
    record[0].store(lsn, Ordering::Release);
}

/// One payload as words (to copy) and as bytes (to checksum).
struct Payload {
    words: [u64; WORDS - 2],
    bytes: [u8; (WORDS - 2) * 8],
}

/// Records per second with `threads` threads writing `records` records in `layout`.
fn run(layout: Layout, threads: usize, records: usize) -> f64 {
    let log: Vec<AtomicU64> = (0..records * WORDS).map(|_| AtomicU64::new(0)).collect();
    let tail = AtomicU64::new(0);
    let payload = Payload {
        words: [0x5a5a_5a5a_5a5a_5a5a; WORDS - 2],
        bytes: [0x5a; (WORDS - 2) * 8],
    };
    let per = records / threads;
    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let (log, tail, payload) = (&log, &tail, &payload);
            s.spawn(move || {
                for k in t * per..(t + 1) * per {
                    match layout {
                        Layout::Private => write_record(log, k, k as u64, payload),
                        Layout::Counter => {
                            let lsn = tail.fetch_add(1, Ordering::Relaxed);
                            write_record(log, k, lsn, payload);
                        }
                        Layout::OneLog => {
                            // The claim decides where the record goes, as in one log.
                            let lsn = tail.fetch_add(1, Ordering::Relaxed);
                            let at = usize::try_from(lsn).expect("fits");
                            write_record(log, at, lsn, payload);
                        }
                    }
                }
            });
        }
    });
    records as f64 / started.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let records: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(2_000_000);
    for (name, layout) in [
        ("private", Layout::Private),
        ("counter", Layout::Counter),
        ("one log", Layout::OneLog),
    ] {
        let mut one = Vec::new();
        let mut two = Vec::new();
        for _ in 0..RUNS {
            one.push(run(layout, 1, records));
            two.push(run(layout, 2, records));
        }
        let (one, two) = (median(one), median(two));
        println!(
            "{name:>8}: 1 thread {:>6.1} M records/s, 2 threads {:>6.1} M records/s: {:.2}x",
            one / 1e6,
            two / 1e6,
            two / one
        );
    }
    Ok(())
}
