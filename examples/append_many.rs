//! Appends N records (default 100,000) of 128 bytes, then syncs once: used to count the
//! syscalls of the append path, e.g.
//! `strace -c -f target/release/examples/append_many /tmp/mmlog-strace 100000`.
use mmlog::{Log, Options};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "mmlog-example".into());
    let count: u64 = args
        .next()
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(100_000);
    let _ = std::fs::remove_dir_all(&dir);
    let log = Log::open(&dir, Options::default())?;
    let payload = [0x5au8; 128];
    for _ in 0..count {
        log.append(&payload)?;
    }
    let durable = log.sync()?;
    log.close()?;
    println!("appended and synced {durable} records in {dir}");
    Ok(())
}
