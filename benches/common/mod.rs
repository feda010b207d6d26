//! Shared by the `append` and `read` benches: the workloads' sizes, deterministic
//! payloads, mmlog's options, and the buffered-I/O baseline (`[len u32 LE][crc32 u32 LE]
//! [payload]` through std `BufWriter` / `BufReader`, or `pread` for lookups), the same as
//! `mmlog bench` uses. The workload ids (W1, W1b, W2, W4, W6) are issue 5's.

// Each bench uses a part of this module.
#![allow(dead_code)]

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Duration;

use criterion::Criterion;
use mmlog::{Durability, Log, Options};

/// Records per iteration: appended then synced once, or read.
pub const RECORDS: u64 = 10_000;
/// Payload sizes in bytes: one parameter of each group.
pub const SIZES: [usize; 2] = [128, 4096];
/// W1's payload size.
pub const SMALL_LEN: usize = 128;
/// The payload size of W1b and W6.
pub const LARGE_LEN: usize = 4096;
/// W1b: records of `LARGE_LEN` per iteration (10 MiB of payload).
pub const RECORDS_LARGE: u64 = 2_560;
/// The baseline's record header: `[len u32 LE][crc32 u32 LE]`.
pub const HEADER_LEN: usize = 8;
/// The baseline's `BufWriter` / `BufReader` capacity.
pub const BUFFER_LEN: usize = 64 * 1024;
/// The segment size of the benches' logs (mmlog's default; a batch of the largest size
/// fits in one segment).
pub const SEGMENT_SIZE: u64 = 64 * 1024 * 1024;
/// Bytes of pseudo-random data that payloads are cut from.
const POOL_LEN: u64 = 1 << 20;
/// Record `i`'s payload starts at `i * POOL_STRIDE % POOL_LEN`: a prime, so neighbouring
/// records differ and start unaligned.
const POOL_STRIDE: u64 = 7919;

/// Short runs: 10 samples, 1 s warm-up, 3 s of measurement per benchmark (`--quick`
/// shortens them further).
pub fn criterion() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

/// Fewer, shorter samples for workloads whose every iteration waits for the disk (W2).
pub fn criterion_durable() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

/// The options of every log the benches open.
pub fn options() -> Options {
    Options::default()
        .segment_size(SEGMENT_SIZE)
        .durability(Durability::Msync)
}

/// Deterministic pseudo-random payloads cut from one pool, so the timed loops allocate
/// nothing.
pub struct Payloads {
    pool: Vec<u8>,
    size: usize,
}

impl Payloads {
    /// Payloads of `size` bytes.
    pub fn new(size: usize) -> Payloads {
        let mut pool = vec![0u8; POOL_LEN as usize + size];
        let mut state: u64 = 0x6d6d_6c6f_6762_656e; // a fixed seed
        for chunk in pool.chunks_mut(8) {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15); // splitmix64
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            let bytes = (z ^ (z >> 31)).to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Payloads { pool, size }
    }

    /// Record `i`'s payload.
    pub fn get(&self, i: u64) -> &[u8] {
        // Below POOL_LEN (1 MiB), so the cast cannot truncate.
        let start = (i.wrapping_mul(POOL_STRIDE) % POOL_LEN) as usize;
        &self.pool[start..start + self.size]
    }

    /// Payload bytes of `count` records.
    pub fn bytes(&self, count: u64) -> u64 {
        count * self.size as u64
    }
}

/// Sums a payload's bytes, so that a read touches every byte.
pub fn fold(payload: &[u8]) -> u64 {
    payload.iter().map(|&b| u64::from(b)).sum()
}

/// Appends records `0..count` to `log`, then syncs once.
pub fn append_mmlog(log: &Log, payloads: &Payloads, count: u64) -> mmlog::Result<()> {
    for i in 0..count {
        log.append(std::hint::black_box(payloads.get(i)))?;
    }
    log.sync().map(drop)
}

/// Writes one baseline record, `[len u32 LE][crc32 u32 LE][payload]`, to `writer`.
pub fn put_baseline(writer: &mut impl Write, payload: &[u8]) -> io::Result<()> {
    let len = u32::try_from(payload.len()).map_err(io::Error::other)?;
    writer.write_all(&len.to_le_bytes())?;
    writer.write_all(&crc32fast::hash(payload).to_le_bytes())?;
    writer.write_all(payload)
}

/// A fresh log in a fresh temporary directory (removed when the `TempDir` is dropped).
pub fn fresh_log() -> (Log, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let log = Log::open(dir.path(), options()).expect("open the log");
    (log, dir)
}

/// Writes one baseline record and makes it durable: write, flush, `fdatasync`.
pub fn put_durable_baseline(writer: &mut BufWriter<File>, payload: &[u8]) -> io::Result<()> {
    put_baseline(writer, payload)?;
    writer.flush()?;
    writer.get_ref().sync_data()
}

/// Runs `f(k)` on `threads` threads at once, `k` from 0, and waits for them all.
pub fn on_threads(threads: u64, f: impl Fn(u64) + Sync) {
    std::thread::scope(|s| {
        for k in 0..threads {
            let f = &f;
            s.spawn(move || f(k));
        }
    });
}

/// Writes records `0..count` to `file` as `[len u32 LE][crc32 u32 LE][payload]` through a
/// 64 KiB `BufWriter`, then flushes and `fdatasync`s.
pub fn append_baseline(file: &File, payloads: &Payloads, count: u64) -> io::Result<()> {
    let mut writer = BufWriter::with_capacity(BUFFER_LEN, file);
    for i in 0..count {
        put_baseline(&mut writer, std::hint::black_box(payloads.get(i)))?;
    }
    writer.flush()?;
    file.sync_data()
}

/// W6 for mmlog: `iter_from(lsn).next()`, then reads the payload: its byte sum.
pub fn lookup_mmlog(log: &Log, lsn: u64) -> mmlog::Result<u64> {
    let record = log
        .iter_from(lsn)
        .next()
        .ok_or(mmlog::Error::LsnOutOfRange {
            lsn,
            first: log.first_lsn(),
            next: log.next_lsn(),
        })??;
    assert_eq!(
        record.lsn(),
        lsn,
        "iter_from({lsn}) returned another record"
    );
    Ok(fold(record.payload()))
}

/// W6 for the baseline: `pread` of the header and the payload of record `lsn` of a file
/// of records of `payload_len` bytes each (its offset is what an offset table built by
/// scanning the file would hold), checked with crc32fast: its byte sum.
pub fn lookup_baseline(
    file: &File,
    payload_len: usize,
    lsn: u64,
    payload: &mut Vec<u8>,
) -> io::Result<u64> {
    let offset = lsn * (HEADER_LEN + payload_len) as u64;
    let mut header = [0u8; HEADER_LEN];
    file.read_exact_at(&mut header, offset)?;
    let [l0, l1, l2, l3, c0, c1, c2, c3] = header;
    let len = u32::from_le_bytes([l0, l1, l2, l3]) as usize;
    if len > 1 << 24 {
        return Err(io::Error::other(format!("record {lsn}: length {len}")));
    }
    payload.resize(len, 0);
    file.read_exact_at(payload, offset + HEADER_LEN as u64)?;
    if crc32fast::hash(payload) != u32::from_le_bytes([c0, c1, c2, c3]) {
        return Err(io::Error::other(format!("record {lsn}: checksum mismatch")));
    }
    Ok(fold(payload))
}

/// `count` LSNs below `bound`, pseudo-random from a fixed seed.
pub fn random_lsns(count: usize, bound: u64) -> Vec<u64> {
    let mut state: u64 = 0x6c6f_6f6b_7570_7321; // "lookups!"
    (0..count)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15); // splitmix64
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z ^ (z >> 31)) % bound
        })
        .collect()
}

/// Creates `path` and writes records `0..count` to it with `append_baseline`.
pub fn create_baseline(path: &Path, payloads: &Payloads, count: u64) -> io::Result<File> {
    let file = File::create(path)?;
    append_baseline(&file, payloads, count)?;
    Ok(file)
}

/// Reads every record of `log` (zero-copy, checksums checked by the engine): the record
/// count and the sum of the payload bytes.
pub fn read_mmlog(log: &Log) -> mmlog::Result<(u64, u64)> {
    let (mut count, mut sum) = (0u64, 0u64);
    for record in log.iter() {
        sum = sum.wrapping_add(fold(record?.payload()));
        count += 1;
    }
    Ok((count, sum))
}

/// Reads every baseline record from the start of `reader`'s file: `read_exact` into a
/// reused buffer, crc32fast check. The record count and the sum of the payload bytes.
pub fn read_baseline(
    reader: &mut BufReader<File>,
    payload: &mut Vec<u8>,
) -> io::Result<(u64, u64)> {
    reader.rewind()?;
    let (mut count, mut sum) = (0u64, 0u64);
    while !reader.fill_buf()?.is_empty() {
        let mut header = [0u8; 8];
        reader.read_exact(&mut header)?;
        let [l0, l1, l2, l3, c0, c1, c2, c3] = header;
        let len = u32::from_le_bytes([l0, l1, l2, l3]) as usize;
        if len > 1 << 24 {
            return Err(io::Error::other(format!("record {count}: length {len}")));
        }
        payload.resize(len, 0);
        reader.read_exact(payload)?;
        if crc32fast::hash(payload) != u32::from_le_bytes([c0, c1, c2, c3]) {
            return Err(io::Error::other(format!(
                "record {count}: checksum mismatch"
            )));
        }
        sum = sum.wrapping_add(fold(payload));
        count += 1;
    }
    Ok((count, sum))
}
