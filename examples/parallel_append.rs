//! Appends N records (default 1,000,000) of 128 bytes split over T threads (default 2), no
//! sync, and prints records/s: used to profile W7, e.g.
//! `perf record -g target/release/examples/parallel_append /tmp/mmlog-par 1000000 2`.
use std::time::Instant;

use mmlog::{Log, Options};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "mmlog-example".into());
    let count: u64 = args
        .next()
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let threads: u64 = args.next().map(|n| n.parse()).transpose()?.unwrap_or(2);
    let _ = std::fs::remove_dir_all(&dir);
    let log = Log::open(&dir, Options::default())?;
    let payload = [0x5au8; 128];
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for _ in 0..count / threads {
                    log.append(&payload).expect("append");
                }
            });
        }
    });
    let elapsed = started.elapsed();
    println!(
        "{} records over {threads} threads in {elapsed:?}: {:.0} records/s",
        count,
        count as f64 / elapsed.as_secs_f64()
    );
    log.close()?;
    Ok(())
}
