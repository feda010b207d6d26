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
