//! W4 read: read every record of a log (or file) of `RECORDS` records prepared and synced
//! once per size before measuring; mmlog's zero-copy iteration (checksums checked by the
//! engine) next to the baseline (std `BufReader` 64 KiB + `read_exact` into a reused
//! buffer + crc32fast). Both fold every payload byte into a sum, checked against the
//! written data. The log and the file stay open across iterations (page cache warm, the
//! mapping already faulted in); `mmlog bench` times the open as well.
//!
//! `cargo bench --bench read` (add `-- --quick` for a shorter run).

mod common;

use std::fs::File;
use std::hint::black_box;
use std::io::BufReader;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mmlog::Log;

use common::{Payloads, BUFFER_LEN, RECORDS, SIZES};

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

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = read
}
criterion_main!(benches);
