//! W1 append: append a batch of `RECORDS` records, then one sync, per iteration, into a
//! log (or file) created fresh in the untimed setup; mmlog (`Durability::Msync`) next to
//! the baseline (std `BufWriter` 64 KiB + `fdatasync`). Creating and removing the log or
//! file is not timed.
//!
//! `cargo bench --bench append` (add `-- --quick` for a shorter run).

mod common;

use std::fs::File;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use mmlog::Log;
use tempfile::TempDir;

use common::{Payloads, RECORDS, SIZES};

fn append(c: &mut Criterion) {
    let mut group = c.benchmark_group("append_sync");
    for size in SIZES {
        let payloads = Payloads::new(size);
        group.throughput(Throughput::Bytes(payloads.bytes(RECORDS)));

        group.bench_with_input(BenchmarkId::new("mmlog", size), &payloads, |b, payloads| {
            b.iter_batched(
                || {
                    let dir = tempfile::tempdir().expect("a temporary directory");
                    let log = Log::open(dir.path(), common::options()).expect("open the log");
                    (log, dir)
                },
                |(log, dir): (Log, TempDir)| {
                    common::append_mmlog(&log, payloads, black_box(RECORDS))
                        .expect("append and sync");
                    // Returned, so closing and removing happen after the timing.
                    (log, dir)
                },
                BatchSize::PerIteration,
            );
        });

        group.bench_with_input(
            BenchmarkId::new("bufwriter", size),
            &payloads,
            |b, payloads| {
                b.iter_batched(
                    || {
                        let dir = tempfile::tempdir().expect("a temporary directory");
                        let file = File::create(dir.path().join("baseline.log"))
                            .expect("create the baseline file");
                        (file, dir)
                    },
                    |(file, dir): (File, TempDir)| {
                        common::append_baseline(&file, payloads, black_box(RECORDS))
                            .expect("write and fdatasync");
                        (file, dir)
                    },
                    BatchSize::PerIteration,
                );
            },
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = append
}
criterion_main!(benches);
