//! Times opening a log of many sealed segments (read-only and writable): a profiling aid.
//! `cargo run --release --example open_phases -- DIR SEGMENTS SIZE` (default 2,000
//! segments of 64 KiB).
use std::time::Instant;

use mmlog::{Log, Options};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .unwrap_or_else(|| "/tmp/mmlog-open-phases".into());
    let segments: u64 = args.next().map_or(Ok(2000), |s| s.parse())?;
    let size: u64 = args.next().map_or(Ok(64 * 1024), |s| s.parse())?;
    let options = || Options::default().segment_size(size);
    let _ = std::fs::remove_dir_all(&dir);
    let log = Log::open(&dir, options())?;
    while (log.stats().segments.len() as u64) < segments {
        log.append(&[0x5au8; 4000])?;
    }
    log.close()?;
    for _ in 0..5 {
        let t = Instant::now();
        let ro = Log::open(&dir, options().read_only(true))?;
        let ro_open = t.elapsed();
        drop(ro);
        let t = Instant::now();
        let rw = Log::open(&dir, options())?;
        let rw_open = t.elapsed();
        rw.close()?;
        println!("{segments} segments: read-only open {ro_open:?}, writable open {rw_open:?}");
    }
    Ok(())
}
