//! Reads (issue 5's W4, W6): mmlog next to the baseline in each group.
//!
//! - `read_all` (W4): read every record of a log (or file) of `RECORDS` records prepared
//!   and synced once per size before measuring; mmlog's zero-copy iteration (checksums
//!   checked by the engine) next to the baseline (std `BufReader` 64 KiB + `read_exact`
//!   into a reused buffer + crc32fast). Both fold every payload byte into a sum, checked
//!   against the written data. The log and the file stay open across iterations (page
//!   cache warm, the mapping already faulted in); `mmlog bench` times the open as well.
//! - `iter_from` (W6): one lookup of a random LSN per iteration in a log of
//!   `LOOKUP_RECORDS` records of 4 KiB over many segments, reopened read-only so that the
//!   sealed segments' indexes come from their footers: mmlog's `iter_from(lsn).next()`
//!   and a read of the payload, next to the baseline's `pread` of header and payload at
//!   the record's offset + crc32fast.
//!
//! `cargo bench --bench read` (add `-- --quick` for a shorter run).

mod common;

use std::fs::File;
use std::hint::black_box;
use std::io::BufReader;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mmlog::Log;

use common::{Payloads, BUFFER_LEN, LARGE_LEN, RECORDS, SIZES};

/// W6: records in the lookup log (64 MiB of payload).
const LOOKUP_RECORDS: u64 = 16_384;
/// W6: the lookup log's segment size, so that it has 17 segments.
const LOOKUP_SEGMENT_SIZE: u64 = 4 * 1024 * 1024;
/// W6: distinct LSNs the iterations cycle through.
const LOOKUP_LSNS: usize = 4096;

fn read(c: &mut Criterion) {
    let mut group = c.benchmark_group("read_all");
    for size in SIZES {
        let payloads = Payloads::new(size);
        let expected = (
            RECORDS,
            (0..RECORDS).fold(0u64, |sum, i| {
                sum.wrapping_add(common::fold(payloads.get(i)))
            }),
        );
        let dir = tempfile::tempdir().expect("a temporary directory");
        group.throughput(Throughput::Bytes(payloads.bytes(RECORDS)));

        let log_dir = dir.path().join("log");
        {
            let log = Log::open(&log_dir, common::options()).expect("open the log");
            common::append_mmlog(&log, &payloads, RECORDS).expect("append and sync");
            log.close().expect("close the log");
        }
        let log =
            Log::open(&log_dir, common::options().read_only(true)).expect("open the log read-only");
        assert_eq!(common::read_mmlog(&log).expect("read the log"), expected);
        group.bench_function(BenchmarkId::new("mmlog", size), |b| {
            b.iter(|| black_box(common::read_mmlog(black_box(&log)).expect("read the log")));
        });

        let path = dir.path().join("baseline.log");
        common::create_baseline(&path, &payloads, RECORDS).expect("write the baseline file");
        let file = File::open(&path).expect("open the baseline file");
        let mut reader = BufReader::with_capacity(BUFFER_LEN, file);
        let mut payload = Vec::new();
        assert_eq!(
            common::read_baseline(&mut reader, &mut payload).expect("read the baseline file"),
            expected
        );
        group.bench_function(BenchmarkId::new("bufreader", size), |b| {
            b.iter(|| {
                black_box(
                    common::read_baseline(black_box(&mut reader), &mut payload)
                        .expect("read the baseline file"),
                )
            });
        });
    }
    group.finish();
}

/// W6: look up one random record.
fn iter_from(c: &mut Criterion) {
    let mut group = c.benchmark_group("iter_from");
    let payloads = Payloads::new(LARGE_LEN);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let options = common::options().segment_size(LOOKUP_SEGMENT_SIZE);
    let log_dir = dir.path().join("log");
    {
        let log = Log::open(&log_dir, options.clone()).expect("open the log");
        common::append_mmlog(&log, &payloads, LOOKUP_RECORDS).expect("append and sync");
        log.close().expect("close the log");
    }
    let path = dir.path().join("baseline.log");
    common::create_baseline(&path, &payloads, LOOKUP_RECORDS).expect("write the baseline file");
    let lsns = common::random_lsns(LOOKUP_LSNS, LOOKUP_RECORDS);
    group.throughput(Throughput::Elements(1));

    let log = Log::open(&log_dir, options.read_only(true)).expect("open the log read-only");
    assert!(
        log.stats().segments.len() > 2,
        "the lookup log spans segments"
    );
    let mut next = lsns.iter().copied().cycle();
    group.bench_function(BenchmarkId::new("mmlog", LARGE_LEN), |b| {
        b.iter(|| {
            let lsn = next.next().expect("cycles forever");
            black_box(common::lookup_mmlog(&log, black_box(lsn)).expect("look the record up"))
        });
    });

    let file = File::open(&path).expect("open the baseline file");
    let mut payload = Vec::new();
    for &lsn in &lsns[..16] {
        assert_eq!(
            common::lookup_baseline(&file, LARGE_LEN, lsn, &mut payload).expect("read"),
            common::lookup_mmlog(&log, lsn).expect("read"),
            "record {lsn}"
        );
    }
    let mut next = lsns.iter().copied().cycle();
    group.bench_function(BenchmarkId::new("pread", LARGE_LEN), |b| {
        b.iter(|| {
            let lsn = next.next().expect("cycles forever");
            black_box(
                common::lookup_baseline(&file, LARGE_LEN, black_box(lsn), &mut payload)
                    .expect("read the record"),
            )
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = read, iter_from
}
criterion_main!(benches);
