//! Many writers and the append path alone (issue 4's workloads, issue 5's W1a and W5):
//! mmlog next to the baseline in each group.
//!
//! - `durable_threads` (W3): T threads (1, 2, 4, 8, 16) each make `DURABLE_PER_THREAD`
//!   records of 128 bytes durable one at a time, per iteration (mmlog: `append_durable` on
//!   one shared `Log`, whose syncs group-commit; baseline: one `Mutex<BufWriter<File>>`,
//!   write + flush + `fdatasync` per record under the lock). Throughput in records.
//! - `append_threads` (W7): `APPENDS` appends of 128 bytes split over 1, then 2 threads, no
//!   sync, into a fresh log (or file) per iteration (baseline: the same mutex, one flush at
//!   the end).
//! - `append_path` (W1a): `APPENDS` appends of 128 bytes into a fresh log per iteration,
//!   neither the open nor a sync timed (the baseline: buffered writes under its mutex).
//! - `append_beside_syncs` (W8): as `append_path`, while another thread makes records
//!   durable as fast as it can (mmlog: `append_durable` on the same log; baseline:
//!   write + flush + `fdatasync` under the same mutex). Appends that wait behind a sync
//!   show here (criterion reports the time of the whole pass, not per-append
//!   percentiles: `mmlog bench` has those).
//! - `open` (W5, scaled down): open a log of `OPEN_SMALL` and of `OPEN_LARGE` bytes of
//!   4 KiB records, read-only (mmlog), next to the baseline's open and scan of its file.
//!
//! `cargo bench --bench threads` (add `-- --quick` for a shorter run).

mod common;

use std::fs::File;
use std::hint::black_box;
use std::io::{BufReader, BufWriter, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use mmlog::{Log, Options};
use tempfile::TempDir;

use common::{Payloads, BUFFER_LEN, HEADER_LEN, LARGE_LEN, SMALL_LEN};

/// W7, W1a, W8: appends per iteration (a fresh log each: enough that the start of a new
/// segment, before its pages are faulted in ahead, weighs little, as in `mmlog bench`).
const APPENDS: u64 = 200_000;
/// W3: thread counts.
const THREADS: [u64; 5] = [1, 2, 4, 8, 16];
/// W3: durable records per thread per iteration.
const DURABLE_PER_THREAD: u64 = 20;
/// W5: the two log sizes (payload bytes), scaled down from 1 and 8 GiB so that the setup
/// stays short.
const OPEN_SMALL: u64 = 64 << 20;
const OPEN_LARGE: u64 = 512 << 20;
/// W5: the segment size of the open logs, so that the larger one has 128 segments as
/// W5's 8 GiB log has.
const OPEN_SEGMENT_SIZE: u64 = 4 << 20;

/// W3: concurrent durable appends.
fn durable_threads(c: &mut Criterion) {
    let mut group = c.benchmark_group("durable_threads");
    let payloads = Payloads::new(SMALL_LEN);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let log = Log::open(dir.path().join("log"), common::options()).expect("open the log");
    let file = File::create(dir.path().join("baseline.log")).expect("create the baseline file");
    let writer = Mutex::new(BufWriter::with_capacity(BUFFER_LEN, file));
    for threads in THREADS {
        group.throughput(Throughput::Elements(threads * DURABLE_PER_THREAD));
        group.bench_with_input(BenchmarkId::new("mmlog", threads), &threads, |b, &t| {
            b.iter(|| {
                common::on_threads(t, |k| {
                    for i in 0..DURABLE_PER_THREAD {
                        log.append_durable(payloads.get(k * 1000 + i))
                            .expect("append durably");
                    }
                });
            });
        });
        group.bench_with_input(BenchmarkId::new("bufwriter", threads), &threads, |b, &t| {
            b.iter(|| {
                common::on_threads(t, |k| {
                    for i in 0..DURABLE_PER_THREAD {
                        let mut w = writer.lock().expect("the baseline's lock");
                        common::put_durable_baseline(&mut w, payloads.get(k * 1000 + i))
                            .expect("write, flush and fdatasync");
                    }
                });
            });
        });
    }
    group.finish();
    log.close().expect("close the log");
}

/// W7: non-durable appends from 1 and 2 threads.
fn append_threads(c: &mut Criterion) {
    let mut group = c.benchmark_group("append_threads");
    let payloads = Payloads::new(SMALL_LEN);
    group.throughput(Throughput::Elements(APPENDS));
    for threads in [1u64, 2] {
        let per_thread = APPENDS / threads;
        group.bench_with_input(BenchmarkId::new("mmlog", threads), &threads, |b, &t| {
            b.iter_batched(
                common::fresh_log,
                |(log, dir): (Log, TempDir)| {
                    common::on_threads(t, |k| {
                        for i in 0..per_thread {
                            log.append(black_box(payloads.get(k * per_thread + i)))
                                .expect("append");
                        }
                    });
                    (log, dir)
                },
                BatchSize::PerIteration,
            );
        });
        group.bench_with_input(BenchmarkId::new("bufwriter", threads), &threads, |b, &t| {
            b.iter_batched(
                || {
                    let dir = tempfile::tempdir().expect("a temporary directory");
                    let file = File::create(dir.path().join("baseline.log"))
                        .expect("create the baseline file");
                    (Mutex::new(BufWriter::with_capacity(BUFFER_LEN, file)), dir)
                },
                |(writer, dir): (Mutex<BufWriter<File>>, TempDir)| {
                    common::on_threads(t, |k| {
                        for i in 0..per_thread {
                            let mut w = writer.lock().expect("the baseline's lock");
                            common::put_baseline(
                                &mut *w,
                                black_box(payloads.get(k * per_thread + i)),
                            )
                            .expect("write");
                        }
                    });
                    writer
                        .lock()
                        .expect("the baseline's lock")
                        .flush()
                        .expect("flush");
                    dir
                },
                BatchSize::PerIteration,
            );
        });
    }
    group.finish();
}

/// A thread making records durable as fast as it can until dropped (W8's second thread).
struct Syncer {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Syncer {
    fn start(mut sync_one: impl FnMut(u64) + Send + 'static) -> Syncer {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut i = 0;
            while !flag.load(Ordering::Relaxed) {
                i += 1;
                sync_one(i);
            }
        });
        Syncer {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().expect("the syncing thread");
        }
    }
}

/// W1a and W8: `APPENDS` appends into a fresh log (or file) per iteration, alone and
/// beside a thread that syncs the same log (or file) as fast as it can; neither the open
/// nor a sync is timed.
fn append_path(c: &mut Criterion) {
    for beside_syncs in [false, true] {
        let name = if beside_syncs {
            "append_beside_syncs"
        } else {
            "append_path"
        };
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Elements(APPENDS));
        let payloads = Arc::new(Payloads::new(SMALL_LEN));

        group.bench_function(BenchmarkId::new("mmlog", SMALL_LEN), |b| {
            b.iter_batched(
                || {
                    let (log, dir) = common::fresh_log();
                    let log = Arc::new(log);
                    let syncer = beside_syncs.then(|| {
                        let (log, payloads) = (Arc::clone(&log), Arc::clone(&payloads));
                        Syncer::start(move |i| {
                            log.append_durable(payloads.get(i)).expect("append durably");
                        })
                    });
                    (log, syncer, dir)
                },
                |(log, syncer, dir)| {
                    for i in 0..APPENDS {
                        log.append(black_box(payloads.get(i))).expect("append");
                    }
                    (syncer, log, dir)
                },
                BatchSize::PerIteration,
            );
        });

        group.bench_function(BenchmarkId::new("bufwriter", SMALL_LEN), |b| {
            b.iter_batched(
                || {
                    let dir = tempfile::tempdir().expect("a temporary directory");
                    let file = File::create(dir.path().join("baseline.log"))
                        .expect("create the baseline file");
                    let writer = Arc::new(Mutex::new(BufWriter::with_capacity(BUFFER_LEN, file)));
                    let syncer = beside_syncs.then(|| {
                        let (writer, payloads) = (Arc::clone(&writer), Arc::clone(&payloads));
                        Syncer::start(move |i| {
                            let mut w = writer.lock().expect("the baseline's lock");
                            common::put_durable_baseline(&mut w, payloads.get(i))
                                .expect("write, flush and fdatasync");
                        })
                    });
                    (writer, syncer, dir)
                },
                |(writer, syncer, dir)| {
                    for i in 0..APPENDS {
                        let mut w = writer.lock().expect("the baseline's lock");
                        common::put_baseline(&mut *w, black_box(payloads.get(i))).expect("write");
                    }
                    (syncer, writer, dir)
                },
                BatchSize::PerIteration,
            );
        });
        group.finish();
    }
}

/// W5, scaled down: the open of a small and a large log.
fn open(c: &mut Criterion) {
    let mut group = c.benchmark_group("open");
    let payloads = Payloads::new(LARGE_LEN);
    let dir = tempfile::tempdir().expect("a temporary directory");
    for bytes in [OPEN_SMALL, OPEN_LARGE] {
        let count = bytes / LARGE_LEN as u64;
        let path = dir.path().join(format!("log-{bytes}"));
        let options = || Options::default().segment_size(OPEN_SEGMENT_SIZE);
        let log = Log::open(&path, options()).expect("open the log");
        common::append_mmlog(&log, &payloads, count).expect("write the log");
        log.close().expect("close the log");
        let baseline = dir.path().join(format!("baseline-{bytes}.log"));
        common::create_baseline(&baseline, &payloads, count).expect("write the baseline");
        let label = format!("{} MiB", bytes >> 20);

        group.bench_with_input(BenchmarkId::new("mmlog", &label), &path, |b, path| {
            b.iter(|| {
                let log = Log::open(path, options().read_only(true)).expect("open read-only");
                black_box(log.next_lsn())
            });
        });
        group.bench_with_input(
            BenchmarkId::new("bufreader", &label),
            &baseline,
            |b, path| {
                b.iter(|| black_box(scan_baseline(path).expect("scan the baseline")));
            },
        );
    }
    group.finish();
}

/// The baseline's open: read the file to its end checking every record, as a BufWriter
/// log must to find where to append after a crash. Returns the record count.
fn scan_baseline(path: &std::path::Path) -> std::io::Result<u64> {
    let mut reader = BufReader::with_capacity(BUFFER_LEN, File::open(path)?);
    let mut header = [0u8; HEADER_LEN];
    let mut payload = Vec::new();
    let mut count = 0;
    loop {
        match reader.read_exact(&mut header) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(count),
            Err(e) => return Err(e),
        }
        let [l0, l1, l2, l3, c0, c1, c2, c3] = header;
        payload.resize(u32::from_le_bytes([l0, l1, l2, l3]) as usize, 0);
        reader.read_exact(&mut payload)?;
        if crc32fast::hash(&payload) != u32::from_le_bytes([c0, c1, c2, c3]) {
            return Ok(count);
        }
        count += 1;
    }
}

criterion_group! {
    name = durable;
    config = common::criterion_durable();
    targets = durable_threads
}
criterion_group! {
    name = benches;
    config = common::criterion();
    targets = append_threads, append_path, open
}
criterion_main!(durable, benches);
