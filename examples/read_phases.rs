//! Times reading a log back (open, iterate with checksums): a profiling aid.
use std::time::Instant;

use mmlog::{Log, Options};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/tmp/mmlog-read-phases".into());
    let _ = std::fs::remove_dir_all(&dir);
    let log = Log::open(&dir, Options::default())?;
    for _ in 0..1_000_000 {
        log.append(&[0x5au8; 128])?;
    }
    log.close()?;
    for _ in 0..5 {
        let t = Instant::now();
        let log = Log::open(&dir, Options::default().read_only(true))?;
        let open = t.elapsed();
        let t = Instant::now();
        let mut sum = 0u64;
        for r in log.iter() {
            sum += u64::from(r?.payload()[0]);
        }
        let read = t.elapsed();
        println!(
            "open {open:?} read {read:?} ({:.1} ns/record) sum {sum}",
            read.as_nanos() as f64 / 1e6
        );
    }
    Ok(())
}
