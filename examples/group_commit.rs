//! Durable appends from many threads (each `append_durable`, 128 bytes): records per second
//! and syncs per record, to see how well concurrent callers share syncs.
use std::sync::Arc;
use std::time::Instant;

use mmlog::{Log, Options};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("mmlog-group-{}", std::process::id()));
    for threads in [1usize, 2, 4, 8, 16] {
        let _ = std::fs::remove_dir_all(&dir);
        let log = Arc::new(Log::open(&dir, Options::default())?);
        std::thread::sleep(std::time::Duration::from_millis(200));
        let per = 4000 / threads;
        let start = Instant::now();
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let log = Arc::clone(&log);
                std::thread::spawn(move || {
                    for _ in 0..per {
                        log.append_durable(&[1u8; 128]).expect("append_durable");
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().map_err(|_| "thread panicked")?;
        }
        let secs = start.elapsed().as_secs_f64();
        let n = (per * threads) as f64;
        println!(
            "{threads:>2} threads: {:>8.0} records/s, {:.3} syncs per record",
            n / secs,
            log.stats().syncs as f64 / n
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
