//! Measures tailer wake-up latency: from the writer's `append` returning to a tailer
//! holding the record, in-process (a thread on the same `Log`) and cross-process (a child
//! process following with a read-only `Log`). Each payload carries the wall-clock time of
//! its append; the reader subtracts it from the time it sees the record.
//!
//! `cargo run --release --example tail_latency [RECORDS]`
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mmlog::{Log, Options};

fn now_ns() -> u64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn payload_time(payload: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&payload[..8]);
    u64::from_le_bytes(b)
}

fn summary(name: &str, mut us: Vec<f64>) {
    us.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| us[((us.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{name:<14} n={:<6} p50 {:>8.1} us   p99 {:>8.1} us   max {:>8.1} us",
        us.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    );
}

fn follow(dir: &str, count: u64) -> Result<(), Box<dyn std::error::Error>> {
    let log = Log::open(dir, Options::default().read_only(true))?;
    let mut tailer = log.tail_from(log.next_lsn());
    println!("ready");
    std::io::stdout().flush()?;
    let mut out = Vec::new();
    while (out.len() as u64) < count {
        let Some(r) = tailer.next_timeout(Duration::from_secs(10))? else {
            break;
        };
        let seen = now_ns();
        out.push(seen.saturating_sub(payload_time(r.payload())));
    }
    for ns in out {
        println!("{ns}");
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("follow") {
        return follow(&args[2], args[3].parse()?);
    }
    let count: u64 = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(2000);
    let dir = std::env::temp_dir().join(format!("mmlog-tail-latency-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let log = Arc::new(Log::open(&dir, Options::default())?);

    // Cross-process follower.
    let mut child = Command::new(std::env::current_exe()?)
        .args([
            "follow",
            dir.to_str().unwrap_or_default(),
            &count.to_string(),
        ])
        .stdout(Stdio::piped())
        .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
    let ready = lines.next().transpose()?;
    assert_eq!(ready.as_deref(), Some("ready"));

    // In-process follower.
    let inproc = {
        let log = Arc::clone(&log);
        let start = log.next_lsn();
        std::thread::spawn(move || {
            let mut tailer = log.tail_from(start);
            let mut out = Vec::new();
            while (out.len() as u64) < count {
                match tailer.next_timeout(Duration::from_secs(10)) {
                    Ok(Some(r)) => out.push(now_ns().saturating_sub(payload_time(r.payload()))),
                    _ => break,
                }
            }
            out
        })
    };

    // The writer: one record every 500 us, so that the followers are asleep when it comes.
    for _ in 0..count {
        std::thread::sleep(Duration::from_micros(500));
        let mut payload = [0u8; 64];
        payload[..8].copy_from_slice(&now_ns().to_le_bytes());
        log.append(&payload)?;
    }
    let inproc = inproc.join().map_err(|_| "in-process follower panicked")?;
    let cross: Vec<u64> = lines
        .map_while(Result::ok)
        .filter_map(|l| l.parse().ok())
        .collect();
    child.wait()?;
    let to_us = |v: Vec<u64>| {
        v.into_iter()
            .map(|ns| ns as f64 / 1000.0)
            .collect::<Vec<_>>()
    };
    println!("tailer wake-up latency, append returned -> tailer has the record ({count} records, one per 500 us):");
    summary("in-process", to_us(inproc));
    summary("cross-process", to_us(cross));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
