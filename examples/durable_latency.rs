//! Latency of `append_durable` (128-byte records, one at a time) against write + fdatasync
//! of a plain file: a profiling aid for the W2 workload.
use std::io::Write;
use std::time::{Duration, Instant};

use mmlog::{Durability, Log, Options};

fn percentiles(mut v: Vec<Duration>) -> String {
    v.sort();
    let at = |q: f64| v[((v.len() - 1) as f64 * q) as usize];
    format!("p50 {:?} p99 {:?} max {:?}", at(0.5), at(0.99), at(1.0))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/tmp/mmlog-durable".into());
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base)?;
    #[allow(unused_mut)]
    let mut durabilities = vec![Durability::Msync, Durability::Fdatasync];
    #[cfg(feature = "io-uring")]
    durabilities.push(Durability::IoUring);
    for durability in durabilities {
        let dir = format!("{base}/{durability:?}");
        let log = Log::open(&dir, Options::default().durability(durability))?;
        std::thread::sleep(Duration::from_millis(300));
        let mut lat = Vec::new();
        for _ in 0..2000 {
            let t = Instant::now();
            log.append_durable(&[7u8; 128])?;
            lat.push(t.elapsed());
        }
        println!("mmlog {durability:?}: {}", percentiles(lat));
    }
    let mut file = std::fs::File::create(format!("{base}/plain"))?;
    let mut lat = Vec::new();
    for _ in 0..2000 {
        let t = Instant::now();
        file.write_all(&[7u8; 136])?;
        file.sync_data()?;
        lat.push(t.elapsed());
    }
    println!("write+fdatasync: {}", percentiles(lat));
    Ok(())
}
