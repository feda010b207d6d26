//! Times the phases of a W1-like run (open, appends, sync): a profiling aid.
use std::time::Instant;

use mmlog::{Durability, Log, Options};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/tmp/mmlog-phases".into());
    let durability = match std::env::args().nth(2).as_deref() {
        Some("fdatasync") => Durability::Fdatasync,
        _ => Durability::Msync,
    };
    for _ in 0..3 {
        let _ = std::fs::remove_dir_all(&dir);
        let t = Instant::now();
        let log = Log::open(&dir, Options::default().durability(durability))?;
        let open = t.elapsed();
        let payload = [0x5au8; 128];
        // Let the background threads fault the first segment in (as a long-running
        // writer would have), so this measures the append path itself.
        std::thread::sleep(std::time::Duration::from_millis(200));
        let t = Instant::now();
        for _ in 0..1_000_000 {
            log.append(&payload)?;
        }
        let append = t.elapsed();
        let t = Instant::now();
        log.sync()?;
        let sync = t.elapsed();
        println!(
            "open {open:?} appends {append:?} ({:.0} ns each) sync {sync:?} rotations {}",
            append.as_nanos() as f64 / 1e6,
            log.stats().rotations
        );
        log.close()?;
    }
    Ok(())
}
