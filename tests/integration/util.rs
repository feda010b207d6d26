//! Helpers shared by the integration tests.
#![allow(dead_code)]

use mmlog::{Log, Options};
use std::path::Path;

/// Small segments so that tests rotate often.
pub const SMALL_SEGMENT: u64 = 64 * 1024;

pub fn small() -> Options {
    Options::default().segment_size(SMALL_SEGMENT)
}

/// Every record of the log as (lsn, payload).
pub fn read_all(log: &Log) -> Vec<(u64, Vec<u8>)> {
    log.iter()
        .map(|r| {
            let r = r.expect("record reads back");
            (r.lsn(), r.payload().to_vec())
        })
        .collect()
}

pub fn open(dir: &Path) -> Log {
    Log::open(dir, small()).expect("open")
}

/// A small deterministic PRNG (splitmix64): the same seed gives the same test run.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Rng::below(0)");
        self.next_u64() % n
    }

    /// A number in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        assert!(lo <= hi, "Rng::between({lo}, {hi})");
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `percent / 100`.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(len);
        out
    }
}

/// The deterministic payload number `n` of `len` bytes (different `n`, different bytes).
pub fn payload(n: u64, len: usize) -> Vec<u8> {
    Rng::new(n.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ len as u64).bytes(len)
}

/// Reads `len` bytes at `offset` of the file at `path`.
pub fn read_at(path: &Path, offset: u64, len: usize) -> Vec<u8> {
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::open(path).expect("open file to read");
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, offset)
        .unwrap_or_else(|e| panic!("read {len} bytes at {offset} of {}: {e}", path.display()));
    buf
}

/// Overwrites the bytes at `offset` of the file at `path` (no sync: the page cache is
/// what the next open reads).
pub fn write_at(path: &Path, offset: u64, bytes: &[u8]) {
    use std::os::unix::fs::FileExt;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open file to write");
    file.write_all_at(bytes, offset)
        .unwrap_or_else(|e| panic!("write at {offset} of {}: {e}", path.display()));
}

/// Flips bit `bit` (0..8) of the byte at `offset` of the file at `path`.
pub fn flip_bit(path: &Path, offset: u64, bit: u8) {
    let byte = read_at(path, offset, 1)[0];
    write_at(path, offset, &[byte ^ (1 << bit)]);
}

/// The path of the segment file whose first LSN is `lsn` (20 digits, as mmlog names them).
pub fn segment_name(dir: &Path, lsn: u64) -> std::path::PathBuf {
    dir.join(format!("{lsn:020}.seg"))
}

/// Every `*.seg` file of `dir` with its contents, sorted by name.
pub fn segment_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("list log directory")
        .map(|e| e.expect("directory entry"))
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.ends_with(".seg")
                .then(|| (name, std::fs::read(e.path()).expect("read segment file")))
        })
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

/// The crash tests' settings: `MMLOG_CRASH_ROUNDS` (decimal) and `MMLOG_SEED` (hex, with
/// or without `0x`), or the defaults.
pub fn crash_settings(rounds_default: u64, seed_default: u64) -> (u64, u64) {
    let rounds = std::env::var("MMLOG_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(rounds_default);
    let seed = std::env::var("MMLOG_SEED")
        .ok()
        .and_then(|v| u64::from_str_radix(v.trim_start_matches("0x"), 16).ok())
        .unwrap_or(seed_default);
    (rounds, seed)
}
