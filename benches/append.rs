//! Appends (issue 5's W1, W1b, W2): mmlog (`Durability::Msync`) next to the baseline (std
//! `BufWriter` 64 KiB + `fdatasync`) in each group.
//!
//! - `append_sync` (W1): `RECORDS` appends of 128 bytes, then one sync, per iteration.
//! - `append_sync_4k` (W1b): `RECORDS_LARGE` appends of 4 KiB, then one sync.
//! - `append_durable` (W2): one append of 128 bytes made durable before it returns per
//!   iteration (mmlog: `append_durable`; baseline: write + flush + `fdatasync`); few
//!   samples, as every iteration waits for the disk.
//!
//! The logs and files of `append_sync*` are created fresh in the untimed setup of each
//! iteration and removed after it; `append_durable` appends to one log (or file) per
//! benchmark. `mmlog bench` runs the same workloads with the machine's limit as a third
//! row.
//!
//! `cargo bench --bench append` (add `-- --quick` for a shorter run).

mod common;

use std::fs::File;
use std::hint::black_box;
use std::io::BufWriter;

use criterion::{
    criterion_group, criterion_main, BatchSize, BenchmarkGroup, BenchmarkId, Criterion, Throughput,
};
use mmlog::Log;
use tempfile::TempDir;

use common::{Payloads, BUFFER_LEN, LARGE_LEN, RECORDS, RECORDS_LARGE, SMALL_LEN};

/// W1: many small appends, one sync.
fn append_sync(c: &mut Criterion) {
    let mut group = c.benchmark_group("append_sync");
    append_then_sync(&mut group, SMALL_LEN, RECORDS);
    group.finish();
}

/// W1b: 4 KiB appends, one sync.
fn append_sync_4k(c: &mut Criterion) {
    let mut group = c.benchmark_group("append_sync_4k");
    append_then_sync(&mut group, LARGE_LEN, RECORDS_LARGE);
    group.finish();
}

/// Both engines append `count` records of `size` bytes to a fresh log (or file), then
/// sync once.
fn append_then_sync(
    group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    size: usize,
    count: u64,
) {
    let payloads = Payloads::new(size);
    group.throughput(Throughput::Bytes(payloads.bytes(count)));

    group.bench_with_input(BenchmarkId::new("mmlog", size), &payloads, |b, payloads| {
        b.iter_batched(
            common::fresh_log,
            |(log, dir): (Log, TempDir)| {
                common::append_mmlog(&log, payloads, black_box(count)).expect("append and sync");
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
                    common::append_baseline(&file, payloads, black_box(count))
                        .expect("write and fdatasync");
                    (file, dir)
                },
                BatchSize::PerIteration,
            );
        },
    );
}

/// W2: the latency of one durable append.
fn append_durable(c: &mut Criterion) {
    let mut group = c.benchmark_group("append_durable");
    let payloads = Payloads::new(SMALL_LEN);
    group.throughput(Throughput::Elements(1));

    let dir = tempfile::tempdir().expect("a temporary directory");
    let log = Log::open(dir.path().join("log"), common::options()).expect("open the log");
    let mut i = 0u64;
    group.bench_function(BenchmarkId::new("mmlog", SMALL_LEN), |b| {
        b.iter(|| {
            i += 1;
            black_box(log.append_durable(payloads.get(i)).expect("append durably"))
        });
    });
    log.close().expect("close the log");

    let file = File::create(dir.path().join("baseline.log")).expect("create the baseline file");
    let mut writer = BufWriter::with_capacity(BUFFER_LEN, file);
    group.bench_function(BenchmarkId::new("bufwriter", SMALL_LEN), |b| {
        b.iter(|| {
            i += 1;
            common::put_durable_baseline(&mut writer, payloads.get(i))
                .expect("write, flush and fdatasync");
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = append_sync, append_sync_4k
}
criterion_group! {
    name = durable;
    config = common::criterion_durable();
    targets = append_durable
}
criterion_main!(benches, durable);
