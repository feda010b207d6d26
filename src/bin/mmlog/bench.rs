//! `mmlog bench`: the engine, a buffered-I/O baseline and the machine's limit side by side
//! on the workloads of issue 5 (W1 ... W6), printed as one table with the ratios and, under
//! it, each target of the issue with PASS or MISS.
//!
//! Three engines, each a row of the table:
//! - `mmlog`: the public API only, like any embedder (`Durability::Msync`, 64 MiB segments).
//! - `baseline`: what a careful user writes by hand: a 64 KiB `BufWriter<File>` writing
//!   `[len u32][crc32 u32][payload]`, made durable with `flush` + `sync_data`, read back
//!   with a 64 KiB `BufReader` and `read_exact` into a reused buffer, checked with
//!   crc32fast.
//! - `limit`: a file mapped with every page preallocated and faulted in before the clock
//!   starts; records are memcpy'd into it with the same 8-byte header and crc32fast, made
//!   durable with msync, and read back in place. Nothing on this machine writes records
//!   faster, so it tells how much of the machine an engine leaves on the table.
//!
//! Runs are interleaved (mmlog, baseline, limit, mmlog, ...) so that drift of the machine
//! (page cache, writeback, other processes) hits every engine alike, and the table quotes
//! medians. Every write run gets a fresh directory that is removed right after; reads and
//! opens use files written once per workload (W5's larger log is kept for W6).
//!
//! Every workload is an entry of `WORKLOADS`: its id, what it reports and times, and the
//! function that measures it. Adding one: write that function (it builds one `Contender`
//! per engine and calls `interleave`), add the entry, and add its target to `targets`.

use std::cell::{Cell, RefCell};
use std::fs::{self, File, OpenOptions};
use std::hint::black_box;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use memmap2::{MmapMut, MmapOptions};
use mmlog::{Durability, Log, Options};

use crate::args::{BenchArgs, BENCH_SIZE_MAX};
use crate::{io_error, log_error, stdout_error, CliError};

/// Runs per engine of a workload whose runs take long (writes, syncs, scans of GiBs).
const REPETITIONS: usize = 3;
/// Runs per engine of a workload whose runs are cheap (reads, opens, lookups).
const REPETITIONS_CHEAP: usize = 5;
/// The baseline's `BufWriter` / `BufReader` capacity.
const BUFFER_LEN: usize = 64 * 1024;
/// The segment size of the bench's logs (mmlog's default).
const SEGMENT_SIZE: u64 = 64 * MIB;
/// The record header of the baseline and the limit: `[len u32 LE][crc32 u32 LE]`.
const HEADER_LEN: usize = 8;
/// The payload length of W1b, W5 and W6.
const LARGE_LEN: usize = 4096;
/// The page size the limit row faults in.
const PAGE_LEN: usize = 4096;
/// The baseline's file inside its directory.
const BASELINE_FILE: &str = "baseline.log";
/// The limit row's file inside its directory.
const LIMIT_FILE: &str = "limit.map";
/// Bytes of pseudo-random data that payloads are cut from.
const POOL_LEN: u64 = 1 << 20;
/// Record `i`'s payload starts at `i * POOL_STRIDE % POOL_LEN` in the pool: a prime, so
/// neighbouring records differ and the start offsets are not aligned.
const POOL_STRIDE: u64 = 7919;
/// Free space W5 wants beyond its own files (mmlog's and the baseline's logs of both
/// sizes): 2 GiB, so the default run (2 x (1 + 8) GiB of logs) needs 20 GiB free.
const OPEN_HEADROOM: u64 = 2 * GIB;
/// W5's "within noise": the larger log's median open may exceed the slowest open of the
/// smaller log by at most this factor.
const NOISE_FACTOR: f64 = 1.10;
/// The seed of W6's random LSNs.
const LOOKUP_SEED: u64 = 0x6c6f_6f6b_7570_7321; // "lookups!"

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

/// One workload of issue 5: one or more row groups of the table.
struct Workload {
    /// The issue's id, e.g. "W1a".
    id: &'static str,
    /// What is timed and reported, printed under the table.
    note: &'static str,
    /// Runs the workload and returns its rows.
    measure: fn(&Bench) -> Result<Vec<Row>, CliError>,
}

/// The workloads, in table order (the ids are issue 5's).
const WORKLOADS: &[Workload] = &[
    Workload {
        id: "W1",
        note: "--records appends of --size bytes, then one sync; timed from the open (mmlog: \
               Log::open, which creates the first segment; baseline: File::create and an \
               fsync of the directory; limit: nothing, its file is ready) to the end of the \
               sync. mmlog/limit includes mmlog's open (the open column).",
        measure: w1_append,
    },
    Workload {
        id: "W1a",
        note: "W1 without the sync and without the open: the append path alone (baseline: \
               BufWriter writes, no flush). records/s from a pass timed as a whole; p50, p99, \
               p99.9 and max from a second pass in a fresh log that times every append with \
               Instant (whose cost, in the header, is included).",
        measure: w1a_append_path,
    },
    Workload {
        id: "W1b",
        note: "as W1 with 4 KiB payloads.",
        measure: w1b_append_large,
    },
    Workload {
        id: "W2",
        note: "durable appends of --size bytes, each durable before the next (mmlog: \
               append_durable; baseline: write + flush + sync_data per record; limit: memcpy \
               + msync of the record's pages); a run stops early at its time limit (header). \
               Latency per append; records/s over the run.",
        measure: w2_durable_append,
    },
    Workload {
        id: "W3",
        note: "T threads, each appending durable records of --size bytes (mmlog: \
               append_durable on one shared Log, whose syncs group-commit; baseline: one \
               Mutex<BufWriter<File>>, write + flush + sync_data per record under the lock); \
               a run stops at its record count or time limit (header), whichever comes \
               first. syncs/rec: mmlog's Stats::syncs over records.",
        measure: w3_concurrent_durable,
    },
    Workload {
        id: "W7",
        note: "--records appends of --size bytes split over 1 and then 2 threads, no sync \
               (mmlog: append on one shared Log; baseline: one Mutex<BufWriter<File>>, \
               write under the lock, one flush at the end). records/s over the run.",
        measure: w7_parallel_append,
    },
    Workload {
        id: "W8",
        note: "one thread appends (no durability) --size bytes per record, timing each \
               append, alone and then beside a second thread that makes records durable one \
               at a time as fast as it can (mmlog: append_durable; baseline: write + flush + \
               sync_data under the same Mutex<BufWriter<File>>). Latency per append of the \
               first thread.",
        measure: w8_append_beside_syncs,
    },
    Workload {
        id: "W4",
        note: "open and read every record of a W1 log written and synced beforehand (page \
               cache warm), checking checksums and summing payload bytes (mmlog: read-only \
               open, zero-copy iteration; baseline: BufReader, read_exact into a reused \
               buffer, crc32fast; limit: open, map, read in place, crc32fast).",
        measure: w4_read,
    },
    Workload {
        id: "W5",
        note: "open a log of 4 KiB records written beforehand (mmlog ro: Log::open \
               read-only; mmlog rw: Log::open writable, which also recovers the active \
               segment and starts its background threads; baseline: open the file and scan \
               it to its end checking checksums, which is how a BufWriter log finds where \
               to append after a crash).",
        measure: w5_open,
    },
    Workload {
        id: "W6",
        note: "lookups of random LSNs in W5's larger log, page cache warm, each log opened \
               afresh per run (mmlog: iter_from(lsn).next(), read the payload; baseline: \
               pread of header and payload at the record's offset, crc32fast; the offset \
               comes from the table the W5 scan builds, here lsn x 4104 as records are of \
               one size). Latency per lookup.",
        measure: w6_lookup,
    },
];

/// Runs `mmlog bench`.
///
/// # Errors
/// `CliError::Usage` for a `--dir` that is not a directory or is on tmpfs (without
/// `--allow-tmpfs`); `CliError::Log` and `CliError::Io` when a run fails;
/// `CliError::Corrupt` when records read back differ from the records written.
pub fn run(args: &BenchArgs) -> Result<(), CliError> {
    let config = Config::from_args(args)?;
    let parent = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let root = BenchDir::create(&parent)?;
    let fs_type = fs::read_to_string("/proc/mounts")
        .ok()
        .and_then(|mounts| mount_fs_type(&mounts, root.path()));
    if fs_type.as_deref() == Some("tmpfs") && !args.allow_tmpfs {
        return Err(CliError::Usage(format!(
            "{} is on tmpfs, where syncs reach no disk and durability numbers mean nothing; \
             pass --dir with a directory on a real disk, or --allow-tmpfs to run anyway",
            parent.display()
        )));
    }
    let bench = Bench::new(config, root);

    let stdout = io::stdout();
    let mut out = stdout.lock();
    print_header(&mut out, &bench, fs_type.as_deref()).map_err(stdout_error)?;

    let mut rows = Vec::new();
    for workload in WORKLOADS {
        if !bench.config.selected(workload.id) {
            bench.skip(workload.id, "left out by --only".into());
            continue;
        }
        rows.extend((workload.measure)(&bench)?);
    }
    print_table(&mut out, &rows).map_err(stdout_error)?;
    print_notes(&mut out, &bench).map_err(stdout_error)?;
    print_targets(&mut out, &targets(&bench, &rows)).map_err(stdout_error)?;
    let Bench { root, lookup, .. } = bench;
    // The fixtures live inside the root: remove them first, so their own cleanup does not
    // report the root's removal.
    drop(lookup);
    root.remove()
}

/// What one `mmlog bench` run does: from the command line, or tiny in the tests.
struct Config {
    /// W1, W1a, W4: records per run (`--records`).
    count: u64,
    /// W1, W1a, W2, W3, W4: payload bytes per record (`--size`).
    size: usize,
    /// W1b: records of `LARGE_LEN` bytes per run.
    large_count: u64,
    /// W2: durable appends per run, unless the run reaches `durable_budget` first.
    durable_count: u64,
    /// W2: the time after which a run stops early.
    durable_budget: Duration,
    /// W3: the thread counts (`--threads`, or 1, 2, 4, 8, 16).
    threads: Vec<usize>,
    /// W3: durable appends per thread, unless the run reaches `threads_budget` first.
    per_thread: u64,
    /// W3: the time after which a run stops early.
    threads_budget: Duration,
    /// W5: the bytes of payload of the two logs, smaller first.
    open_sizes: [u64; 2],
    /// W5: free space wanted beyond the logs.
    open_headroom: u64,
    /// W6: lookups per run.
    lookups: u64,
    /// The segment size of every mmlog log.
    segment_size: u64,
    /// Runs per engine of expensive workloads.
    repetitions: usize,
    /// Runs per engine of cheap workloads.
    repetitions_cheap: usize,
    /// `--quick`.
    quick: bool,
    /// `--only`: the workload ids to run (empty: all).
    only: Vec<String>,
}

impl Config {
    fn from_args(args: &BenchArgs) -> Result<Config, CliError> {
        let size = usize::try_from(args.size)
            .map_err(|_| CliError::Usage(format!("--size {} is too large", args.size)))?;
        let threads = match args.threads {
            Some(t) => vec![usize::try_from(t)
                .map_err(|_| CliError::Usage(format!("--threads {t} is too large")))?],
            None => vec![1, 2, 4, 8, 16],
        };
        let quick = args.quick;
        Ok(Config {
            count: args.record_count(),
            size,
            large_count: if quick { 25_000 } else { 100_000 },
            durable_count: if quick { 500 } else { 2_000 },
            durable_budget: if quick {
                Duration::from_secs(1)
            } else {
                Duration::from_secs(4)
            },
            threads,
            per_thread: if quick { 500 } else { 2_000 },
            threads_budget: if quick {
                Duration::from_millis(250)
            } else {
                Duration::from_millis(1500)
            },
            open_sizes: if quick {
                [256 * MIB, 2 * GIB]
            } else {
                [GIB, 8 * GIB]
            },
            open_headroom: OPEN_HEADROOM,
            lookups: 10_000,
            segment_size: SEGMENT_SIZE,
            repetitions: REPETITIONS,
            repetitions_cheap: if quick {
                REPETITIONS
            } else {
                REPETITIONS_CHEAP
            },
            quick,
            only: args
                .only
                .iter()
                .flat_map(|ids| ids.split(','))
                .map(|id| id.trim().to_ascii_uppercase())
                .filter(|id| !id.is_empty())
                .collect(),
        })
    }

    /// Whether `--only` lets workload `id` run.
    fn selected(&self, id: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o.eq_ignore_ascii_case(id))
    }

    /// The options of every log the bench opens.
    fn options(&self) -> Options {
        Options::default()
            .segment_size(self.segment_size)
            .durability(Durability::Msync)
    }
}

/// The state of one bench run, shared by the workloads.
struct Bench {
    config: Config,
    /// W5's larger log, kept for W6. Declared before `root`, so that it is dropped (and
    /// its directories removed) first.
    lookup: RefCell<Option<OpenFixture>>,
    root: BenchDir,
    /// W1, W1a, W4: `count` records of `size` bytes; its payloads serve W2 and W3 too.
    small: Spec,
    /// What a pair of `Instant::now()` calls costs here, in ns (included in latencies).
    clock_ns: f64,
    /// Names the scratch directories.
    scratch_count: Cell<u64>,
    /// Workloads that did not run, and why.
    skipped: RefCell<Vec<(&'static str, String)>>,
}

impl Bench {
    fn new(config: Config, root: BenchDir) -> Bench {
        let small = Spec::new(config.count, config.size);
        Bench {
            config,
            lookup: RefCell::new(None),
            root,
            small,
            clock_ns: clock_cost_ns(),
            scratch_count: Cell::new(0),
            skipped: RefCell::new(Vec::new()),
        }
    }

    /// A fresh directory for one run or fixture, removed when the result is dropped.
    fn scratch(&self, what: &str) -> Result<Scratch, CliError> {
        let n = self.scratch_count.get() + 1;
        self.scratch_count.set(n);
        let name: String = what
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let path = self.root.path().join(format!("{n:04}-{name}"));
        fs::create_dir(&path).map_err(io_error("create directory", &path))?;
        Ok(Scratch { path })
    }

    fn skip(&self, id: &'static str, reason: String) {
        eprintln!("{id}: skipped: {reason}");
        self.skipped.borrow_mut().push((id, reason));
    }

    fn skipped(&self, id: &str) -> Option<String> {
        self.skipped
            .borrow()
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, reason)| reason.clone())
    }
}

/// A directory removed (with everything in it) when dropped.
struct Scratch {
    path: PathBuf,
}

impl Scratch {
    fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        match fs::remove_dir_all(&self.path) {
            Ok(()) => {}
            // Already gone with the bench's directory.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => eprintln!(
                "mmlog: warning: could not remove {}: {e}",
                self.path.display()
            ),
        }
    }
}

/// What a write or read workload does: `count` records of `size` bytes.
struct Spec {
    count: u64,
    size: usize,
    payloads: Payloads,
    /// The sum of every payload byte of all `count` records: what a read must see.
    expected_sum: u64,
}

impl Spec {
    fn new(count: u64, size: usize) -> Spec {
        let payloads = Payloads::new(size);
        let expected_sum = (0..count).fold(0u64, |sum, i| sum.wrapping_add(fold(payloads.get(i))));
        Spec {
            count,
            size,
            payloads,
            expected_sum,
        }
    }

    /// Payload bytes of one run.
    fn bytes(&self) -> u64 {
        // usize is at most 64 bits on every platform Rust supports.
        self.count.saturating_mul(self.size as u64)
    }
}

/// Deterministic pseudo-random payloads, cut from one pool so the timed loops allocate
/// nothing.
struct Payloads {
    pool: Vec<u8>,
    size: usize,
}

impl Payloads {
    fn new(size: usize) -> Payloads {
        // The pool holds POOL_LEN start offsets plus room for the last payload.
        let mut pool = vec![0u8; (POOL_LEN as usize).saturating_add(size)];
        let mut state: u64 = 0x6d6d_6c6f_6762_656e; // "mmlogben": a fixed seed
        for chunk in pool.chunks_mut(8) {
            let bytes = splitmix64(&mut state).to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Payloads { pool, size }
    }

    /// Record `i`'s payload.
    fn get(&self, i: u64) -> &[u8] {
        // Below POOL_LEN (1 MiB), so the cast cannot truncate.
        let start = (i.wrapping_mul(POOL_STRIDE) % POOL_LEN) as usize;
        &self.pool[start..start + self.size]
    }
}

/// One step of the splitmix64 generator: fast, fixed, and good enough for test data.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Sums a payload's bytes: what the read workloads do with each record, so that every
/// byte is touched and the compiler cannot drop the reads.
fn fold(payload: &[u8]) -> u64 {
    payload.iter().map(|&b| u64::from(b)).sum()
}

/// What a pair of `Instant::now()` calls costs, in ns: the floor of every latency below.
fn clock_cost_ns() -> f64 {
    const CALLS: u32 = 100_000;
    let start = Instant::now();
    for _ in 0..CALLS {
        black_box(Instant::now().elapsed());
    }
    start.elapsed().as_secs_f64() * 1e9 / f64::from(CALLS)
}

// ---------------------------------------------------------------------------------------
// Samples, summaries, interleaving
// ---------------------------------------------------------------------------------------

/// Which engine a row measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Mmlog,
    Baseline,
    Limit,
}

/// What a workload's ratios and spread are computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Headline {
    /// Records per second (higher is better).
    Throughput,
    /// The median latency per operation (lower is better).
    Latency,
    /// The timed span (lower is better).
    Time,
}

/// What one timed run measured.
#[derive(Debug, Default)]
struct Sample {
    /// The timed span.
    elapsed: Duration,
    /// The part of `elapsed` spent opening the log or creating the file, where it has one.
    open: Option<Duration>,
    /// Records written or read (0: the workload reports no rates).
    records: u64,
    /// Payload bytes written or read (0: no MB/s).
    bytes: u64,
    /// Per-operation latencies, where the workload times each operation.
    latency: Option<Percentiles>,
    /// Syncs performed, where the workload counts them.
    syncs: Option<u64>,
}

impl Sample {
    fn records_per_second(&self) -> Option<f64> {
        let seconds = self.elapsed.as_secs_f64();
        // f64 holds the counts exactly up to 2^53, far beyond what a run does.
        (self.records > 0 && seconds > 0.0).then(|| self.records as f64 / seconds)
    }

    fn bytes_per_second(&self) -> Option<f64> {
        let seconds = self.elapsed.as_secs_f64();
        (self.bytes > 0 && seconds > 0.0).then(|| self.bytes as f64 / seconds)
    }

    /// The value of the headline metric (records/s, p50 in ns, or seconds).
    fn headline(&self, headline: Headline) -> Option<f64> {
        match headline {
            Headline::Throughput => self.records_per_second(),
            Headline::Latency => self.latency.map(|l| l.p50.as_secs_f64() * 1e9),
            Headline::Time => Some(self.elapsed.as_secs_f64()),
        }
    }

    /// One line of progress.
    fn describe(&self) -> String {
        let mut text = format_duration(self.elapsed);
        if let Some(rate) = self.records_per_second() {
            text.push_str(&format!(
                ", {} records/s",
                group_digits(rate.round() as u64)
            ));
        }
        if let Some(l) = self.latency {
            text.push_str(&format!(
                ", p50 {} p99 {}",
                format_duration(l.p50),
                format_duration(l.p99)
            ));
        }
        text
    }
}

/// Latency percentiles of one run (nearest rank).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Percentiles {
    p50: Duration,
    p99: Duration,
    p999: Duration,
    max: Duration,
}

impl Percentiles {
    /// The percentiles of `ns`, one latency per operation; `None` for no operations.
    fn of(mut ns: Vec<u64>) -> Option<Percentiles> {
        ns.sort_unstable();
        let at = |per_mille: u64| Duration::from_nanos(nearest_rank(&ns, per_mille));
        (!ns.is_empty()).then(|| Percentiles {
            p50: at(500),
            p99: at(990),
            p999: at(999),
            max: at(1000),
        })
    }
}

/// The nearest-rank percentile (`per_mille` of 1000) of `sorted`, which is not empty.
fn nearest_rank(sorted: &[u64], per_mille: u64) -> u64 {
    let n = sorted.len() as u64;
    let rank = (per_mille * n).div_ceil(1000).clamp(1, n);
    // rank <= n, the length of a slice, so it fits in usize.
    sorted[(rank - 1) as usize]
}

/// The nanoseconds of `d`, saturating.
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The median of `values` (the lower middle for an even count); `None` when empty.
fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    values.get(values.len().saturating_sub(1) / 2).copied()
}

/// The medians of one engine's runs of one workload.
#[derive(Debug)]
struct Summary {
    elapsed: Duration,
    elapsed_max: Duration,
    open: Option<Duration>,
    records_per_second: Option<f64>,
    bytes_per_second: Option<f64>,
    /// Each percentile's median over the runs.
    latency: Option<Percentiles>,
    syncs_per_record: Option<f64>,
    /// The median of the headline metric (records/s, p50 in ns, or seconds).
    headline: Option<f64>,
    /// (largest - smallest) / median of the headline metric.
    spread: Option<f64>,
}

impl Summary {
    fn of(samples: &[Sample], headline: Headline) -> Summary {
        let mut times: Vec<Duration> = samples.iter().map(|s| s.elapsed).collect();
        times.sort_unstable();
        let of = |f: &dyn Fn(&Sample) -> Option<f64>| -> Option<f64> {
            let values: Vec<f64> = samples.iter().filter_map(f).collect();
            (values.len() == samples.len())
                .then_some(values)
                .and_then(median)
        };
        let duration = |f: &dyn Fn(&Sample) -> Option<Duration>| {
            of(&|s| f(s).map(|d| d.as_secs_f64())).map(Duration::from_secs_f64)
        };
        let latency = samples.iter().all(|s| s.latency.is_some()).then(|| {
            let pick = |f: fn(&Percentiles) -> Duration| {
                duration(&|s| s.latency.as_ref().map(f)).unwrap_or_default()
            };
            Percentiles {
                p50: pick(|l| l.p50),
                p99: pick(|l| l.p99),
                p999: pick(|l| l.p999),
                max: pick(|l| l.max),
            }
        });
        let values: Vec<f64> = samples
            .iter()
            .filter_map(|s| s.headline(headline))
            .collect();
        let (low, high) = values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        let middle = median(values);
        Summary {
            elapsed: times
                .get(times.len().saturating_sub(1) / 2)
                .copied()
                .unwrap_or_default(),
            elapsed_max: times.last().copied().unwrap_or_default(),
            open: duration(&|s| s.open),
            records_per_second: of(&Sample::records_per_second),
            bytes_per_second: of(&Sample::bytes_per_second),
            latency,
            syncs_per_record: of(&|s| {
                s.syncs
                    .filter(|_| s.records > 0)
                    .map(|n| n as f64 / s.records as f64)
            }),
            headline: middle,
            spread: middle.filter(|&m| m > 0.0).map(|m| (high - low) / m),
        }
    }
}

/// One row of the table: one engine on one workload.
#[derive(Debug)]
struct Row {
    workload: String,
    engine: &'static str,
    kind: Kind,
    headline: Headline,
    summary: Summary,
}

impl Row {
    /// The headline as a speed: higher is better, so a ratio above 1 favours the numerator.
    fn speed(&self) -> Option<f64> {
        let value = self.summary.headline.filter(|&v| v > 0.0)?;
        Some(match self.headline {
            Headline::Throughput => value,
            Headline::Latency | Headline::Time => 1.0 / value,
        })
    }

    /// This row's speed over `other`'s.
    fn ratio_to(&self, other: &Row) -> Option<f64> {
        Some(self.speed()? / other.speed()?)
    }
}

/// One engine's side of a workload.
struct Contender<'a> {
    workload: String,
    engine: &'static str,
    kind: Kind,
    headline: Headline,
    repetitions: usize,
    /// One timed run; the argument is the 0-based repetition.
    run: Box<dyn FnMut(usize) -> Result<Sample, CliError> + 'a>,
}

impl<'a> Contender<'a> {
    fn new(
        workload: &str,
        engine: &'static str,
        kind: Kind,
        headline: Headline,
        repetitions: usize,
        run: impl FnMut(usize) -> Result<Sample, CliError> + 'a,
    ) -> Contender<'a> {
        Contender {
            workload: workload.to_string(),
            engine,
            kind,
            headline,
            repetitions,
            run: Box::new(run),
        }
    }
}

/// mmlog against the baseline on one workload: same headline, same repetitions.
fn mmlog_vs_baseline<'a>(
    workload: &str,
    headline: Headline,
    repetitions: usize,
    mmlog: impl FnMut(usize) -> Result<Sample, CliError> + 'a,
    baseline: impl FnMut(usize) -> Result<Sample, CliError> + 'a,
) -> Result<Vec<Row>, CliError> {
    interleave(vec![
        Contender::new(workload, "mmlog", Kind::Mmlog, headline, repetitions, mmlog),
        Contender::new(
            workload,
            "baseline",
            Kind::Baseline,
            headline,
            repetitions,
            baseline,
        ),
    ])
}

/// Runs the contenders in rounds (each one once per round, in order, until it has had its
/// repetitions) and returns their rows, in the contenders' order.
fn interleave(mut contenders: Vec<Contender<'_>>) -> Result<Vec<Row>, CliError> {
    let rounds = contenders.iter().map(|c| c.repetitions).max().unwrap_or(0);
    let mut samples: Vec<Vec<Sample>> = contenders
        .iter()
        .map(|c| Vec::with_capacity(c.repetitions))
        .collect();
    for round in 0..rounds {
        for (c, runs) in contenders.iter_mut().zip(&mut samples) {
            if round >= c.repetitions {
                continue;
            }
            let sample = (c.run)(round)?;
            // Progress on stderr, so that stdout carries the header and the table only.
            eprintln!(
                "{} {}: run {}/{}: {}",
                c.workload,
                c.engine,
                round + 1,
                c.repetitions,
                sample.describe()
            );
            runs.push(sample);
        }
    }
    Ok(contenders
        .into_iter()
        .zip(samples)
        .map(|(c, runs)| Row {
            summary: Summary::of(&runs, c.headline),
            workload: c.workload,
            engine: c.engine,
            kind: c.kind,
            headline: c.headline,
        })
        .collect())
}

// ---------------------------------------------------------------------------------------
// W1, W1b: append then one sync
// ---------------------------------------------------------------------------------------

const W1: &str = "W1 append";
const W1A: &str = "W1a append path";
const W1B: &str = "W1b append 4 KiB";
const W2: &str = "W2 durable append";
const W4: &str = "W4 read";
const W6: &str = "W6 iter_from";

fn w1_append(bench: &Bench) -> Result<Vec<Row>, CliError> {
    append_then_sync(bench, W1, &bench.small)
}

fn w1b_append_large(bench: &Bench) -> Result<Vec<Row>, CliError> {
    let spec = Spec::new(bench.config.large_count, LARGE_LEN);
    append_then_sync(bench, W1B, &spec)
}

/// W1 and W1b: every engine appends every record of `spec`, then syncs once.
fn append_then_sync(bench: &Bench, workload: &str, spec: &Spec) -> Result<Vec<Row>, CliError> {
    let repetitions = bench.config.repetitions;
    let limit_dir = bench.scratch(&format!("{workload} limit"))?;
    let mut limit = LimitFile::create(limit_dir.path(), spec.count, spec.size)?;
    let contenders = vec![
        Contender::new(
            workload,
            "mmlog",
            Kind::Mmlog,
            Headline::Throughput,
            repetitions,
            |_| {
                let dir = bench.scratch(&format!("{workload} mmlog"))?;
                append_mmlog(&bench.config, spec, dir.path())
            },
        ),
        Contender::new(
            workload,
            "baseline",
            Kind::Baseline,
            Headline::Throughput,
            repetitions,
            |_| {
                let dir = bench.scratch(&format!("{workload} baseline"))?;
                append_baseline(spec, dir.path())
            },
        ),
        Contender::new(
            workload,
            "limit",
            Kind::Limit,
            Headline::Throughput,
            repetitions,
            |_| {
                limit.fault_in();
                let start = Instant::now();
                let end = limit.put_all(spec);
                limit.flush_range(0, end)?;
                Ok(Sample {
                    elapsed: start.elapsed(),
                    records: spec.count,
                    bytes: spec.bytes(),
                    ..Sample::default()
                })
            },
        ),
    ];
    interleave(contenders)
}

/// mmlog: open, append every record, one sync; the log is closed after the timing.
fn append_mmlog(config: &Config, spec: &Spec, dir: &Path) -> Result<Sample, CliError> {
    let start = Instant::now();
    let log = Log::open(dir, config.options())
        .map_err(log_error(|| format!("opening a log in {}", dir.display())))?;
    let open = start.elapsed();
    for i in 0..spec.count {
        log.append(spec.payloads.get(i)).map_err(log_error(|| {
            format!("appending to the log in {}", dir.display())
        }))?;
    }
    log.sync().map_err(log_error(|| {
        format!("syncing the log in {}", dir.display())
    }))?;
    let elapsed = start.elapsed();
    expect_records("mmlog", dir, log.next_lsn(), spec.count)?;
    log.close().map_err(log_error(|| {
        format!("closing the log in {}", dir.display())
    }))?;
    Ok(Sample {
        elapsed,
        open: Some(open),
        records: spec.count,
        bytes: spec.bytes(),
        ..Sample::default()
    })
}

/// The baseline: `[len u32 LE][crc32 u32 LE][payload]` through a `BufWriter`, then
/// `flush` and `fdatasync`.
fn append_baseline(spec: &Spec, dir: &Path) -> Result<Sample, CliError> {
    let path = dir.join(BASELINE_FILE);
    let start = Instant::now();
    let file = create_baseline_file(&path, dir)?;
    let open = start.elapsed();
    let mut writer = BufWriter::with_capacity(BUFFER_LEN, file);
    for i in 0..spec.count {
        put_baseline(&mut writer, spec.payloads.get(i)).map_err(io_error("write", &path))?;
    }
    writer.flush().map_err(io_error("write", &path))?;
    writer
        .get_ref()
        .sync_data()
        .map_err(io_error("fdatasync", &path))?;
    Ok(Sample {
        elapsed: start.elapsed(),
        open: Some(open),
        records: spec.count,
        bytes: spec.bytes(),
        ..Sample::default()
    })
}

/// Creates the baseline's file and makes its name durable, like mmlog's open does for its
/// first segment (or a power loss can lose the file with every record in it).
fn create_baseline_file(path: &Path, dir: &Path) -> Result<File, CliError> {
    let file = File::create(path).map_err(io_error("create file", path))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error("fsync directory", dir))?;
    Ok(file)
}

/// Writes one baseline record: `[len u32 LE][crc32 u32 LE][payload]`.
fn put_baseline(writer: &mut impl Write, payload: &[u8]) -> io::Result<()> {
    let len = u32::try_from(payload.len())
        .map_err(io::Error::other)?
        .to_le_bytes();
    let crc = crc32fast::hash(payload).to_le_bytes();
    let header = [
        len[0], len[1], len[2], len[3], crc[0], crc[1], crc[2], crc[3],
    ];
    writer.write_all(&header)?;
    writer.write_all(payload)
}

/// An error unless a run saw `expected` records.
fn expect_records(engine: &str, place: &Path, found: u64, expected: u64) -> Result<(), CliError> {
    if found == expected {
        Ok(())
    } else {
        Err(CliError::Corrupt(format!(
            "{engine}: saw {found} records in {}, expected {expected}",
            place.display()
        )))
    }
}

/// An error unless a read saw the payload bytes that were written.
fn expect_sum(engine: &str, place: &Path, found: u64, expected: u64) -> Result<(), CliError> {
    if found == expected {
        Ok(())
    } else {
        Err(CliError::Corrupt(format!(
            "{engine}: the payloads read from {} differ from those written (byte sum \
             {found}, expected {expected})",
            place.display()
        )))
    }
}

// ---------------------------------------------------------------------------------------
// W1a: the append path alone
// ---------------------------------------------------------------------------------------

fn w1a_append_path(bench: &Bench) -> Result<Vec<Row>, CliError> {
    let spec = &bench.small;
    let config = &bench.config;
    let repetitions = config.repetitions_cheap;
    let limit_dir = bench.scratch("w1a limit")?;
    let mut limit = LimitFile::create(limit_dir.path(), spec.count, spec.size)?;
    // The logs are dropped, not closed: nothing here needs their records to reach the
    // disk, and their dirty pages go with the removed files.
    let mmlog_pass = |timed_each: bool| -> Result<(Duration, Vec<u64>), CliError> {
        let dir = bench.scratch("w1a mmlog")?;
        let log = Log::open(dir.path(), config.options()).map_err(log_error(|| {
            format!("opening a log in {}", dir.path().display())
        }))?;
        let failed = || format!("appending to the log in {}", dir.path().display());
        let mut ns = Vec::with_capacity(if timed_each { spec.count as usize } else { 0 });
        let start = Instant::now();
        if timed_each {
            for i in 0..spec.count {
                let t = Instant::now();
                log.append(spec.payloads.get(i))
                    .map_err(log_error(failed))?;
                ns.push(nanos(t.elapsed()));
            }
        } else {
            for i in 0..spec.count {
                log.append(spec.payloads.get(i))
                    .map_err(log_error(failed))?;
            }
        }
        let elapsed = start.elapsed();
        expect_records("mmlog", dir.path(), log.next_lsn(), spec.count)?;
        Ok((elapsed, ns))
    };
    let baseline_pass = |timed_each: bool| -> Result<(Duration, Vec<u64>), CliError> {
        let dir = bench.scratch("w1a baseline")?;
        let path = dir.path().join(BASELINE_FILE);
        let file = create_baseline_file(&path, dir.path())?;
        let mut writer = BufWriter::with_capacity(BUFFER_LEN, file);
        let mut ns = Vec::with_capacity(if timed_each { spec.count as usize } else { 0 });
        let start = Instant::now();
        for i in 0..spec.count {
            let t = timed_each.then(Instant::now);
            put_baseline(&mut writer, spec.payloads.get(i)).map_err(io_error("write", &path))?;
            if let Some(t) = t {
                ns.push(nanos(t.elapsed()));
            }
        }
        let elapsed = start.elapsed();
        // Unflushed: the bytes still buffered are not needed.
        drop(writer.into_parts());
        Ok((elapsed, ns))
    };
    let sample = |(elapsed, _): (Duration, Vec<u64>), (_, ns): (Duration, Vec<u64>)| Sample {
        elapsed,
        records: spec.count,
        bytes: spec.bytes(),
        latency: Percentiles::of(ns),
        ..Sample::default()
    };
    let contenders = vec![
        Contender::new(
            W1A,
            "mmlog",
            Kind::Mmlog,
            Headline::Throughput,
            repetitions,
            |_| Ok(sample(mmlog_pass(false)?, mmlog_pass(true)?)),
        ),
        Contender::new(
            W1A,
            "baseline",
            Kind::Baseline,
            Headline::Throughput,
            repetitions,
            |_| Ok(sample(baseline_pass(false)?, baseline_pass(true)?)),
        ),
        Contender::new(
            W1A,
            "limit",
            Kind::Limit,
            Headline::Throughput,
            repetitions,
            |_| {
                limit.fault_in();
                let start = Instant::now();
                limit.put_all(spec);
                let elapsed = start.elapsed();
                // The pages are still dirty and writable: the second pass takes no fault
                // either.
                let mut ns = Vec::with_capacity(spec.count as usize);
                let mut offset = 0;
                for i in 0..spec.count {
                    let t = Instant::now();
                    offset = limit.put(offset, spec.payloads.get(i));
                    ns.push(nanos(t.elapsed()));
                }
                Ok(sample((elapsed, Vec::new()), (Duration::ZERO, ns)))
            },
        ),
    ];
    interleave(contenders)
}

// ---------------------------------------------------------------------------------------
// W2: each append durable before the next
// ---------------------------------------------------------------------------------------

fn w2_durable_append(bench: &Bench) -> Result<Vec<Row>, CliError> {
    let config = &bench.config;
    let payloads = &bench.small.payloads;
    let (count, budget, size) = (config.durable_count, config.durable_budget, config.size);
    let limit_dir = bench.scratch("w2 limit")?;
    let mut limit = LimitFile::create(limit_dir.path(), count, size)?;
    let sample = |elapsed: Duration, ns: Vec<u64>, syncs: u64| {
        let records = ns.len() as u64;
        Sample {
            elapsed,
            records,
            bytes: records * size as u64,
            latency: Percentiles::of(ns),
            syncs: Some(syncs),
            ..Sample::default()
        }
    };
    let contenders = vec![
        Contender::new(
            W2,
            "mmlog",
            Kind::Mmlog,
            Headline::Latency,
            config.repetitions,
            |_| {
                let dir = bench.scratch("w2 mmlog")?;
                let log = Log::open(dir.path(), config.options()).map_err(log_error(|| {
                    format!("opening a log in {}", dir.path().display())
                }))?;
                let syncs = log.stats().syncs;
                let mut ns = Vec::with_capacity(count as usize);
                let start = Instant::now();
                while (ns.len() as u64) < count && start.elapsed() < budget {
                    let t = Instant::now();
                    log.append_durable(payloads.get(ns.len() as u64))
                        .map_err(log_error(|| {
                            format!("appending to the log in {}", dir.path().display())
                        }))?;
                    ns.push(nanos(t.elapsed()));
                }
                let elapsed = start.elapsed();
                let records = ns.len() as u64;
                expect_records("mmlog", dir.path(), log.durable_lsn(), records)?;
                let syncs = log.stats().syncs - syncs;
                drop(log);
                Ok(sample(elapsed, ns, syncs))
            },
        ),
        Contender::new(
            W2,
            "baseline",
            Kind::Baseline,
            Headline::Latency,
            config.repetitions,
            |_| {
                let dir = bench.scratch("w2 baseline")?;
                let path = dir.path().join(BASELINE_FILE);
                let file = create_baseline_file(&path, dir.path())?;
                let mut writer = BufWriter::with_capacity(BUFFER_LEN, file);
                let mut ns = Vec::with_capacity(count as usize);
                let start = Instant::now();
                while (ns.len() as u64) < count && start.elapsed() < budget {
                    let t = Instant::now();
                    put_baseline(&mut writer, payloads.get(ns.len() as u64))
                        .and_then(|()| writer.flush())
                        .map_err(io_error("write", &path))?;
                    writer
                        .get_ref()
                        .sync_data()
                        .map_err(io_error("fdatasync", &path))?;
                    ns.push(nanos(t.elapsed()));
                }
                let syncs = ns.len() as u64;
                Ok(sample(start.elapsed(), ns, syncs))
            },
        ),
        Contender::new(
            W2,
            "limit",
            Kind::Limit,
            Headline::Latency,
            config.repetitions,
            |_| {
                limit.fault_in();
                let mut ns = Vec::with_capacity(count as usize);
                let mut offset = 0;
                let start = Instant::now();
                while (ns.len() as u64) < count && start.elapsed() < budget {
                    let t = Instant::now();
                    let end = limit.put(offset, payloads.get(ns.len() as u64));
                    limit.flush_range(offset, end)?;
                    ns.push(nanos(t.elapsed()));
                    offset = end;
                }
                let syncs = ns.len() as u64;
                Ok(sample(start.elapsed(), ns, syncs))
            },
        ),
    ];
    interleave(contenders)
}

// ---------------------------------------------------------------------------------------
// W3: concurrent durable appends
// ---------------------------------------------------------------------------------------

/// The label of W3's rows at `threads` threads.
fn w3_label(threads: usize) -> String {
    match threads {
        1 => "W3 1 thread".to_string(),
        t => format!("W3 {t} threads"),
    }
}

fn w3_concurrent_durable(bench: &Bench) -> Result<Vec<Row>, CliError> {
    let mut rows = Vec::new();
    for &threads in &bench.config.threads {
        let workload = w3_label(threads);
        rows.extend(mmlog_vs_baseline(
            &workload,
            Headline::Throughput,
            bench.config.repetitions,
            |_| concurrent_mmlog(bench, threads),
            |_| concurrent_baseline(bench, threads),
        )?);
    }
    Ok(rows)
}

/// Runs `body(thread)` on `threads` threads that start together; returns the time from
/// the start to the last thread's end and the sum of what the bodies returned.
fn on_threads<E: Send>(
    threads: usize,
    body: impl Fn(u64) -> Result<u64, E> + Sync,
) -> Result<(Duration, u64), E> {
    let barrier = Barrier::new(threads + 1);
    let (elapsed, results) = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads as u64)
            .map(|thread| {
                let (barrier, body) = (&barrier, &body);
                scope.spawn(move || -> Result<u64, E> {
                    barrier.wait();
                    body(thread)
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let results: Vec<Result<u64, E>> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect();
        (start.elapsed(), results)
    });
    let mut total = 0;
    for result in results {
        total += result?;
    }
    Ok((elapsed, total))
}

/// Runs `threads` threads that each call `append_one(thread, i)` for `i` in
/// `0..per_thread` until the time limit, starting together; returns the time from the
/// start to the last thread's end and the number of records appended.
fn run_threads<E: Send>(
    config: &Config,
    threads: usize,
    append_one: impl Fn(u64, u64) -> Result<(), E> + Sync,
) -> Result<(Duration, u64), E> {
    on_threads(threads, |thread| {
        let deadline = Instant::now() + config.threads_budget;
        let mut done = 0;
        while done < config.per_thread && Instant::now() < deadline {
            append_one(thread, done)?;
            done += 1;
        }
        Ok(done)
    })
}

fn concurrent_mmlog(bench: &Bench, threads: usize) -> Result<Sample, CliError> {
    let config = &bench.config;
    let dir = bench.scratch("w3 mmlog")?;
    let log = Log::open(dir.path(), config.options()).map_err(log_error(|| {
        format!("opening a log in {}", dir.path().display())
    }))?;
    let syncs = log.stats().syncs;
    let payloads = &bench.small.payloads;
    let (elapsed, records) = run_threads(config, threads, |thread, i| {
        log.append_durable(payloads.get(thread * config.per_thread + i))
            .map(drop)
    })
    .map_err(log_error(|| {
        format!("appending to the log in {}", dir.path().display())
    }))?;
    let syncs = log.stats().syncs - syncs;
    expect_records("mmlog", dir.path(), log.next_lsn(), records)?;
    expect_records("mmlog (durable)", dir.path(), log.durable_lsn(), records)?;
    drop(log);
    Ok(Sample {
        elapsed,
        records,
        bytes: records * config.size as u64,
        syncs: Some(syncs),
        ..Sample::default()
    })
}

fn concurrent_baseline(bench: &Bench, threads: usize) -> Result<Sample, CliError> {
    let config = &bench.config;
    let dir = bench.scratch("w3 baseline")?;
    let path = dir.path().join(BASELINE_FILE);
    let file = create_baseline_file(&path, dir.path())?;
    let writer = Mutex::new(BufWriter::with_capacity(BUFFER_LEN, file));
    let payloads = &bench.small.payloads;
    let (elapsed, records) = run_threads(config, threads, |thread, i| {
        // A panic elsewhere cannot leave a half-written record in the buffer that matters
        // here: the bench stops at the panic.
        let mut writer = writer.lock().unwrap_or_else(|p| p.into_inner());
        put_baseline(&mut *writer, payloads.get(thread * config.per_thread + i))?;
        writer.flush()?;
        writer.get_ref().sync_data()
    })
    .map_err(io_error("write and fdatasync", &path))?;
    Ok(Sample {
        elapsed,
        records,
        bytes: records * config.size as u64,
        syncs: Some(records),
        ..Sample::default()
    })
}

// ---------------------------------------------------------------------------------------
// W7: non-durable appends from 1 and 2 threads
// ---------------------------------------------------------------------------------------

fn w7_label(threads: usize) -> String {
    match threads {
        1 => "W7 append, 1 thread".to_string(),
        t => format!("W7 append, {t} threads"),
    }
}

fn w7_parallel_append(bench: &Bench) -> Result<Vec<Row>, CliError> {
    let mut rows = Vec::new();
    for threads in [1, 2] {
        let workload = w7_label(threads);
        rows.extend(mmlog_vs_baseline(
            &workload,
            Headline::Throughput,
            bench.config.repetitions_cheap,
            |_| parallel_mmlog(bench, threads),
            |_| parallel_baseline(bench, threads),
        )?);
    }
    Ok(rows)
}

/// Runs `threads` threads that each call `append_one(i)` for their share of `0..count`
/// (thread t takes i = t, t + threads, ...), starting together; returns the time from the
/// start to the last thread's end.
fn split_threads<E: Send>(
    threads: usize,
    count: u64,
    append_one: impl Fn(u64) -> Result<(), E> + Sync,
) -> Result<Duration, E> {
    let (elapsed, _) = on_threads(threads, |thread| {
        let mut i = thread;
        while i < count {
            append_one(i)?;
            i += threads as u64;
        }
        Ok(0)
    })?;
    Ok(elapsed)
}

fn parallel_mmlog(bench: &Bench, threads: usize) -> Result<Sample, CliError> {
    let config = &bench.config;
    let spec = &bench.small;
    let dir = bench.scratch("w7 mmlog")?;
    let log = Log::open(dir.path(), config.options()).map_err(log_error(|| {
        format!("opening a log in {}", dir.path().display())
    }))?;
    let elapsed = split_threads(threads, spec.count, |i| {
        log.append(spec.payloads.get(i)).map(drop)
    })
    .map_err(log_error(|| {
        format!("appending to the log in {}", dir.path().display())
    }))?;
    expect_records("mmlog", dir.path(), log.next_lsn(), spec.count)?;
    drop(log);
    Ok(Sample {
        elapsed,
        records: spec.count,
        bytes: spec.bytes(),
        ..Sample::default()
    })
}

fn parallel_baseline(bench: &Bench, threads: usize) -> Result<Sample, CliError> {
    let spec = &bench.small;
    let dir = bench.scratch("w7 baseline")?;
    let path = dir.path().join(BASELINE_FILE);
    let file = create_baseline_file(&path, dir.path())?;
    let writer = Mutex::new(BufWriter::with_capacity(BUFFER_LEN, file));
    let elapsed = split_threads(threads, spec.count, |i| {
        let mut writer = writer.lock().unwrap_or_else(|p| p.into_inner());
        put_baseline(&mut *writer, spec.payloads.get(i))
    })
    .map_err(io_error("write", &path))?;
    writer
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .flush()
        .map_err(io_error("write", &path))?;
    Ok(Sample {
        elapsed,
        records: spec.count,
        bytes: spec.bytes(),
        ..Sample::default()
    })
}

// ---------------------------------------------------------------------------------------
// W8: append latency beside a thread that syncs
// ---------------------------------------------------------------------------------------

const W8_ALONE: &str = "W8 append alone";
const W8_BESIDE: &str = "W8 append beside syncs";

fn w8_append_beside_syncs(bench: &Bench) -> Result<Vec<Row>, CliError> {
    let mut rows = Vec::new();
    for (workload, syncer) in [(W8_ALONE, false), (W8_BESIDE, true)] {
        rows.extend(mmlog_vs_baseline(
            workload,
            Headline::Latency,
            bench.config.repetitions,
            |_| beside_mmlog(bench, syncer),
            |_| beside_baseline(bench, syncer),
        )?);
    }
    Ok(rows)
}

/// Appends the W8 records on this thread, timing each, while `neighbour` runs on another
/// thread (if given) until the appends are done. Returns the appends' span and latencies.
fn beside<E: Send>(
    count: u64,
    mut append_one: impl FnMut(u64) -> Result<(), E>,
    neighbour: Option<&(dyn Fn() -> Result<(), E> + Sync)>,
) -> Result<(Duration, Vec<u64>), E> {
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let helper = neighbour.map(|f| {
            let stop = &stop;
            scope.spawn(move || -> Result<(), E> {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    f()?;
                }
                Ok(())
            })
        });
        // Let the neighbour get going first.
        std::thread::sleep(Duration::from_millis(if helper.is_some() { 5 } else { 0 }));
        let mut ns = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
        let start = Instant::now();
        let mut result = Ok(());
        for i in 0..count {
            let t = Instant::now();
            if let Err(e) = append_one(i) {
                result = Err(e);
                break;
            }
            ns.push(nanos(t.elapsed()));
        }
        let elapsed = start.elapsed();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(h) = helper {
            h.join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        }
        result.map(|()| (elapsed, ns))
    })
}

/// W8's records per run: enough appends to span many syncs.
fn w8_count(bench: &Bench) -> u64 {
    bench.config.count.min(200_000)
}

fn beside_mmlog(bench: &Bench, syncer: bool) -> Result<Sample, CliError> {
    let config = &bench.config;
    let spec = &bench.small;
    let count = w8_count(bench);
    let dir = bench.scratch("w8 mmlog")?;
    let log = Log::open(dir.path(), config.options()).map_err(log_error(|| {
        format!("opening a log in {}", dir.path().display())
    }))?;
    let durable = spec.payloads.get(0);
    let neighbour = || log.append_durable(durable).map(drop);
    let syncs = log.stats().syncs;
    let (elapsed, ns) = beside(
        count,
        |i| log.append(spec.payloads.get(i)).map(drop),
        syncer.then_some(&neighbour as &(dyn Fn() -> mmlog::Result<()> + Sync)),
    )
    .map_err(log_error(|| {
        format!("appending to the log in {}", dir.path().display())
    }))?;
    let syncs = log.stats().syncs - syncs;
    drop(log);
    Ok(Sample {
        elapsed,
        records: count,
        bytes: count * spec.size as u64,
        latency: Percentiles::of(ns),
        syncs: Some(syncs),
        ..Sample::default()
    })
}

fn beside_baseline(bench: &Bench, syncer: bool) -> Result<Sample, CliError> {
    let spec = &bench.small;
    let count = w8_count(bench);
    let dir = bench.scratch("w8 baseline")?;
    let path = dir.path().join(BASELINE_FILE);
    let file = create_baseline_file(&path, dir.path())?;
    let writer = Mutex::new(BufWriter::with_capacity(BUFFER_LEN, file));
    let durable = spec.payloads.get(0);
    let neighbour = || -> io::Result<()> {
        let mut w = writer.lock().unwrap_or_else(|p| p.into_inner());
        put_baseline(&mut *w, durable)?;
        w.flush()?;
        w.get_ref().sync_data()
    };
    let (elapsed, ns) = beside(
        count,
        |i| {
            let mut w = writer.lock().unwrap_or_else(|p| p.into_inner());
            put_baseline(&mut *w, spec.payloads.get(i))
        },
        syncer.then_some(&neighbour as &(dyn Fn() -> io::Result<()> + Sync)),
    )
    .map_err(io_error("write and fdatasync", &path))?;
    Ok(Sample {
        elapsed,
        records: count,
        bytes: count * spec.size as u64,
        latency: Percentiles::of(ns),
        ..Sample::default()
    })
}

// ---------------------------------------------------------------------------------------
// W4: read every record
// ---------------------------------------------------------------------------------------

fn w4_read(bench: &Bench) -> Result<Vec<Row>, CliError> {
    let spec = &bench.small;
    let config = &bench.config;
    // Written once, read by every run: the page cache is warm, as after W1.
    let mmlog_dir = bench.scratch("w4 mmlog")?;
    append_mmlog(config, spec, mmlog_dir.path())?;
    let baseline_dir = bench.scratch("w4 baseline")?;
    append_baseline(spec, baseline_dir.path())?;
    let limit_dir = bench.scratch("w4 limit")?;
    {
        let mut limit = LimitFile::create(limit_dir.path(), spec.count, spec.size)?;
        let end = limit.put_all(spec);
        limit.flush_range(0, end)?;
    }
    let contenders = vec![
        Contender::new(
            W4,
            "mmlog",
            Kind::Mmlog,
            Headline::Throughput,
            config.repetitions_cheap,
            |_| read_mmlog(config, spec, mmlog_dir.path()),
        ),
        Contender::new(
            W4,
            "baseline",
            Kind::Baseline,
            Headline::Throughput,
            config.repetitions_cheap,
            |_| read_baseline(spec, baseline_dir.path()),
        ),
        Contender::new(
            W4,
            "limit",
            Kind::Limit,
            Headline::Throughput,
            config.repetitions_cheap,
            |_| read_limit(spec, limit_dir.path()),
        ),
    ];
    interleave(contenders)
}

/// mmlog: open read-only and iterate, folding each zero-copy payload.
fn read_mmlog(config: &Config, spec: &Spec, dir: &Path) -> Result<Sample, CliError> {
    let start = Instant::now();
    let log = Log::open(dir, config.options().read_only(true)).map_err(log_error(|| {
        format!("opening the log in {}", dir.display())
    }))?;
    let open = start.elapsed();
    let mut records = 0u64;
    let mut sum = 0u64;
    for record in log.iter() {
        let record = record.map_err(log_error(|| {
            format!("reading the log in {}", dir.display())
        }))?;
        sum = sum.wrapping_add(fold(record.payload()));
        records += 1;
    }
    let elapsed = start.elapsed();
    drop(log);
    expect_records("mmlog", dir, records, spec.count)?;
    expect_sum("mmlog", dir, black_box(sum), spec.expected_sum)?;
    Ok(Sample {
        elapsed,
        open: Some(open),
        records,
        bytes: spec.bytes(),
        ..Sample::default()
    })
}

/// The baseline: `BufReader` + `read_exact` into a reused buffer + crc32fast check.
fn read_baseline(spec: &Spec, dir: &Path) -> Result<Sample, CliError> {
    let path = dir.join(BASELINE_FILE);
    let start = Instant::now();
    let file = File::open(&path).map_err(io_error("open file", &path))?;
    let open = start.elapsed();
    let mut sum = 0u64;
    let records = scan_baseline(file, &path, |payload| {
        sum = sum.wrapping_add(fold(payload));
    })?;
    let elapsed = start.elapsed();
    expect_records("baseline", &path, records, spec.count)?;
    expect_sum("baseline", &path, black_box(sum), spec.expected_sum)?;
    Ok(Sample {
        elapsed,
        open: Some(open),
        records,
        bytes: spec.bytes(),
        ..Sample::default()
    })
}

/// Reads every baseline record of `file` with a 64 KiB `BufReader`, checking each
/// checksum, and hands each payload to `each`; returns the record count.
fn scan_baseline(file: File, path: &Path, mut each: impl FnMut(&[u8])) -> Result<u64, CliError> {
    let mut reader = BufReader::with_capacity(BUFFER_LEN, file);
    let mut payload = Vec::new();
    let mut records = 0u64;
    let mut offset = 0u64;
    // Bounded: every pass consumes at least HEADER_LEN bytes of the file, and the loop
    // ends at its end.
    while !reader
        .fill_buf()
        .map_err(io_error("read", path))?
        .is_empty()
    {
        let mut header = [0u8; HEADER_LEN];
        reader
            .read_exact(&mut header)
            .map_err(io_error("read", path))?;
        let (len, stored) = split_header(header);
        if u64::from(len) > BENCH_SIZE_MAX {
            return Err(CliError::Corrupt(format!(
                "{}: record {records} at byte {offset} claims {len} bytes, more than the \
                 largest the bench writes ({BENCH_SIZE_MAX})",
                path.display()
            )));
        }
        // u32 fits in usize on every platform this crate builds for (64-bit Unix).
        payload.resize(len as usize, 0);
        reader
            .read_exact(&mut payload)
            .map_err(io_error("read", path))?;
        check_crc(path, records, offset, &payload, stored)?;
        each(&payload);
        records += 1;
        offset += HEADER_LEN as u64 + u64::from(len);
    }
    Ok(records)
}

/// `[len u32 LE][crc32 u32 LE]` as (len, crc).
fn split_header(header: [u8; HEADER_LEN]) -> (u32, u32) {
    let [l0, l1, l2, l3, c0, c1, c2, c3] = header;
    (
        u32::from_le_bytes([l0, l1, l2, l3]),
        u32::from_le_bytes([c0, c1, c2, c3]),
    )
}

/// An error unless `payload`'s checksum is `stored`.
fn check_crc(
    path: &Path,
    record: u64,
    offset: u64,
    payload: &[u8],
    stored: u32,
) -> Result<(), CliError> {
    let computed = crc32fast::hash(payload);
    if computed == stored {
        Ok(())
    } else {
        Err(CliError::Corrupt(format!(
            "{}: record {record} at byte {offset} fails its checksum (stored {stored:#010x}, \
             computed {computed:#010x})",
            path.display()
        )))
    }
}

/// The limit: open, map, and read the records in place.
fn read_limit(spec: &Spec, dir: &Path) -> Result<Sample, CliError> {
    let start = Instant::now();
    let limit = LimitFile::open(dir)?;
    let open = start.elapsed();
    let mut sum = 0u64;
    let records = limit.scan(|payload| sum = sum.wrapping_add(fold(payload)))?;
    let elapsed = start.elapsed();
    expect_records("limit", &limit.path, records, spec.count)?;
    expect_sum("limit", &limit.path, black_box(sum), spec.expected_sum)?;
    Ok(Sample {
        elapsed,
        open: Some(open),
        records,
        bytes: spec.bytes(),
        ..Sample::default()
    })
}

// ---------------------------------------------------------------------------------------
// The limit row: a preallocated, faulted-in mapping
// ---------------------------------------------------------------------------------------

/// A file of the bench's own, mapped read-write: the limit row's storage.
struct LimitFile {
    path: PathBuf,
    map: MmapMut,
    /// Kept open while mapped (not needed by the mapping, but it states the ownership).
    _file: File,
}

impl LimitFile {
    /// Creates `dir/LIMIT_FILE` with room for `count` records of `size` bytes, maps it,
    /// and writes every page through the mapping and syncs it, so that the blocks are
    /// allocated and later runs only overwrite them.
    fn create(dir: &Path, count: u64, size: usize) -> Result<LimitFile, CliError> {
        let path = dir.join(LIMIT_FILE);
        let record_len = (HEADER_LEN + size) as u64;
        let len = count
            .checked_mul(record_len)
            .and_then(|n| usize::try_from(n).ok())
            .map(|n| n.next_multiple_of(PAGE_LEN).max(PAGE_LEN))
            .ok_or_else(|| {
                CliError::Usage(format!(
                    "{count} records of {size} bytes do not fit in one mapping"
                ))
            })?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io_error("create file", &path))?;
        file.set_len(len as u64)
            .map_err(io_error("set the length of", &path))?;
        let map = map_limit_file(&file, len, &path)?;
        let mut limit = LimitFile {
            path,
            map,
            _file: file,
        };
        limit.fault_in();
        limit.flush_range(0, len)?;
        Ok(limit)
    }

    /// Maps the existing `dir/LIMIT_FILE`.
    fn open(dir: &Path) -> Result<LimitFile, CliError> {
        let path = dir.join(LIMIT_FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io_error("open file", &path))?;
        let len = file.metadata().map_err(io_error("stat", &path))?.len();
        let len = usize::try_from(len)
            .map_err(|_| CliError::Usage(format!("{} is too large to map", path.display())))?;
        let map = map_limit_file(&file, len, &path)?;
        Ok(LimitFile {
            path,
            map,
            _file: file,
        })
    }

    /// Writes every page once, leaving its bytes as they are: afterwards every page is
    /// mapped, writable and dirty, so no write of a timed run takes a page fault.
    fn fault_in(&mut self) {
        for page in self.map.chunks_mut(PAGE_LEN) {
            page[0] = black_box(page[0]);
        }
    }

    /// Writes one record at `offset`; returns the offset after it. The file was sized for
    /// the records a workload writes, so a record past its end is a bug of the bench.
    fn put(&mut self, offset: usize, payload: &[u8]) -> usize {
        // The bench's payloads are at most BENCH_SIZE_MAX (16 MiB) long.
        let len = (payload.len() as u32).to_le_bytes();
        let crc = crc32fast::hash(payload).to_le_bytes();
        let header = [
            len[0], len[1], len[2], len[3], crc[0], crc[1], crc[2], crc[3],
        ];
        let start = offset + HEADER_LEN;
        let end = start + payload.len();
        self.map[offset..start].copy_from_slice(&header);
        self.map[start..end].copy_from_slice(payload);
        end
    }

    /// Writes every record of `spec` from offset 0; returns the offset after the last.
    fn put_all(&mut self, spec: &Spec) -> usize {
        let mut offset = 0;
        for i in 0..spec.count {
            offset = self.put(offset, spec.payloads.get(i));
        }
        offset
    }

    /// msync of the pages holding bytes `start..end`.
    fn flush_range(&self, start: usize, end: usize) -> Result<(), CliError> {
        self.map
            .flush_range(start, end - start)
            .map_err(io_error("msync", &self.path))
    }

    /// Reads the records in place, checking each checksum, and hands each payload to
    /// `each`; returns the record count. A zero length ends the records (the bench never
    /// writes an empty one; the file's tail is zeros).
    fn scan(&self, mut each: impl FnMut(&[u8])) -> Result<u64, CliError> {
        let mut records = 0u64;
        let mut offset = 0usize;
        // Bounded: every pass moves at least HEADER_LEN + 1 bytes forward.
        while let Some(header) = self.map.get(offset..offset + HEADER_LEN) {
            let mut bytes = [0u8; HEADER_LEN];
            bytes.copy_from_slice(header);
            let (len, stored) = split_header(bytes);
            if len == 0 {
                break;
            }
            let start = offset + HEADER_LEN;
            let payload = usize::try_from(len)
                .ok()
                .and_then(|len| self.map.get(start..start.checked_add(len)?))
                .ok_or_else(|| {
                    CliError::Corrupt(format!(
                        "{}: record {records} at byte {offset} claims {len} bytes, past \
                         the end of the file",
                        self.path.display()
                    ))
                })?;
            check_crc(&self.path, records, offset as u64, payload, stored)?;
            each(payload);
            records += 1;
            offset = start + payload.len();
        }
        Ok(records)
    }
}

/// Maps `len` bytes of `file` read-write: the only `unsafe` of the binary.
#[allow(unsafe_code)]
fn map_limit_file(file: &File, len: usize, path: &Path) -> Result<MmapMut, CliError> {
    // SAFETY: a file mapping is undefined behaviour to use (and can raise SIGBUS) if the
    // file is changed or shrunk behind the mapping's back. This file is the bench's own:
    // created with `create_new` in the bench's private, freshly made directory (or, for
    // `open`, a file the bench created there earlier and no longer maps), set to at least
    // `len` bytes before mapping, and never truncated, written through another handle or
    // removed while this mapping lives (the `LimitFile` owning the map is dropped before
    // its directory is removed). No other process knows its name.
    unsafe { MmapOptions::new().len(len).map_mut(file) }.map_err(io_error("mmap", path))
}

// ---------------------------------------------------------------------------------------
// W5: open a large log; W6: look records up in it
// ---------------------------------------------------------------------------------------

/// A log and a baseline file of `count` records of `LARGE_LEN` bytes, written once.
struct OpenFixture {
    size: u64,
    count: u64,
    mmlog: Scratch,
    baseline: Scratch,
}

impl OpenFixture {
    fn baseline_path(&self) -> PathBuf {
        self.baseline.path().join(BASELINE_FILE)
    }

    /// Writes both, mmlog's with appends and one sync at the end, the baseline's through
    /// a `BufWriter` with one `fdatasync` at the end.
    fn write(bench: &Bench, size: u64, payloads: &Payloads) -> Result<OpenFixture, CliError> {
        let count = size / LARGE_LEN as u64;
        let label = format_size(size);
        let mmlog = bench.scratch(&format!("w5 mmlog {label}"))?;
        let dir = mmlog.path();
        let start = Instant::now();
        let log = Log::open(dir, bench.config.options())
            .map_err(log_error(|| format!("opening a log in {}", dir.display())))?;
        for i in 0..count {
            log.append(payloads.get(i)).map_err(log_error(|| {
                format!("appending to the log in {}", dir.display())
            }))?;
        }
        log.close().map_err(log_error(|| {
            format!("closing the log in {}", dir.display())
        }))?;
        let mmlog_time = start.elapsed();

        let baseline = bench.scratch(&format!("w5 baseline {label}"))?;
        let path = baseline.path().join(BASELINE_FILE);
        let start = Instant::now();
        let file = create_baseline_file(&path, baseline.path())?;
        let mut writer = BufWriter::with_capacity(BUFFER_LEN, file);
        for i in 0..count {
            put_baseline(&mut writer, payloads.get(i)).map_err(io_error("write", &path))?;
        }
        writer.flush().map_err(io_error("write", &path))?;
        writer
            .get_ref()
            .sync_data()
            .map_err(io_error("fdatasync", &path))?;
        eprintln!(
            "W5: wrote {} records of 4 KiB ({label}) once: mmlog in {}, baseline in {}",
            group_digits(count),
            format_duration(mmlog_time),
            format_duration(start.elapsed())
        );
        Ok(OpenFixture {
            size,
            count,
            mmlog,
            baseline,
        })
    }
}

/// The label of W5's rows for a log of `size` bytes.
fn w5_label(size: u64) -> String {
    format!("W5 open {}", format_size(size))
}

fn w5_open(bench: &Bench) -> Result<Vec<Row>, CliError> {
    let config = &bench.config;
    let [small, large] = config.open_sizes;
    // mmlog's and the baseline's files of both sizes (records take a little more room
    // than their payloads, which the headroom covers).
    let needed = 2 * (small + large) + config.open_headroom;
    match free_bytes(bench.root.path()) {
        Ok(free) if free >= needed => {}
        Ok(free) => {
            let reason = format!(
                "{} free on the bench's file system, {} wanted (logs of {} and {} for mmlog \
                 and the baseline, plus {} headroom)",
                format_size(free),
                format_size(needed),
                format_size(small),
                format_size(large),
                format_size(config.open_headroom)
            );
            bench.skip("W5", reason);
            bench.skip("W6", "it looks records up in W5's log".into());
            return Ok(Vec::new());
        }
        Err(why) => {
            bench.skip("W5", format!("the free space is unknown ({why})"));
            bench.skip("W6", "it looks records up in W5's log".into());
            return Ok(Vec::new());
        }
    }
    let payloads = Payloads::new(LARGE_LEN);
    let fixtures = [
        OpenFixture::write(bench, small, &payloads)?,
        OpenFixture::write(bench, large, &payloads)?,
    ];
    // One untimed open of each kind first: the first open after the logs were written
    // meets the writeback of their last pages and cold metadata, which is not what
    // varies with the log's size.
    for fixture in &fixtures {
        open_mmlog(config, fixture, true)?;
        open_mmlog(config, fixture, false)?;
        open_baseline(fixture)?;
    }
    let mut contenders = Vec::new();
    for fixture in &fixtures {
        let workload = w5_label(fixture.size);
        contenders.push(Contender::new(
            &workload,
            "mmlog ro",
            Kind::Mmlog,
            Headline::Time,
            config.repetitions_cheap,
            |_| open_mmlog(config, fixture, true),
        ));
        contenders.push(Contender::new(
            &workload,
            "mmlog rw",
            Kind::Mmlog,
            Headline::Time,
            config.repetitions_cheap,
            |_| open_mmlog(config, fixture, false),
        ));
        contenders.push(Contender::new(
            &workload,
            "baseline",
            Kind::Baseline,
            Headline::Time,
            config.repetitions,
            |_| open_baseline(fixture),
        ));
    }
    let rows = interleave(contenders)?;
    let [_, large] = fixtures;
    *bench.lookup.borrow_mut() = Some(large);
    Ok(rows)
}

/// mmlog: `Log::open`, read-only or writable; the log is closed after the timing.
fn open_mmlog(config: &Config, fixture: &OpenFixture, read_only: bool) -> Result<Sample, CliError> {
    let dir = fixture.mmlog.path();
    let start = Instant::now();
    let log = Log::open(dir, config.options().read_only(read_only)).map_err(log_error(|| {
        format!("opening the log in {}", dir.display())
    }))?;
    let elapsed = start.elapsed();
    expect_records(
        "mmlog",
        dir,
        log.next_lsn() - log.first_lsn(),
        fixture.count,
    )?;
    log.close().map_err(log_error(|| {
        format!("closing the log in {}", dir.display())
    }))?;
    Ok(Sample {
        elapsed,
        ..Sample::default()
    })
}

/// The baseline: open the file and scan it to its end, checking every checksum.
fn open_baseline(fixture: &OpenFixture) -> Result<Sample, CliError> {
    let path = fixture.baseline_path();
    let start = Instant::now();
    let file = File::open(&path).map_err(io_error("open file", &path))?;
    let records = scan_baseline(file, &path, |_| {})?;
    let elapsed = start.elapsed();
    expect_records("baseline", &path, records, fixture.count)?;
    Ok(Sample {
        elapsed,
        ..Sample::default()
    })
}

/// The free bytes of the file system holding `path`, from `df` (std has no statvfs, and
/// the binary stays free of unsafe code but for the limit row's mapping).
fn free_bytes(path: &Path) -> Result<u64, String> {
    let output = Command::new("df")
        .arg("-Pk")
        .arg(path)
        .output()
        .map_err(|e| format!("could not run df: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "df failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    parse_df(&String::from_utf8_lossy(&output.stdout))
        .ok_or_else(|| "could not read df's output".to_string())
}

/// The available bytes in `df -Pk` output: the fourth field of the second line, in KiB.
fn parse_df(text: &str) -> Option<u64> {
    let line = text.lines().nth(1)?;
    let available: u64 = line.split_whitespace().nth(3)?.parse().ok()?;
    available.checked_mul(KIB)
}

fn w6_lookup(bench: &Bench) -> Result<Vec<Row>, CliError> {
    let fixture = bench.lookup.borrow();
    let Some(fixture) = fixture.as_ref() else {
        // W5 recorded why.
        return Ok(Vec::new());
    };
    let config = &bench.config;
    let repetitions = config.repetitions_cheap;
    let payloads = Payloads::new(LARGE_LEN);
    let mut state = LOOKUP_SEED;
    let rounds: Vec<Vec<u64>> = (0..repetitions)
        .map(|_| {
            (0..config.lookups)
                .map(|_| splitmix64(&mut state) % fixture.count)
                .collect()
        })
        .collect();
    let expected: Vec<u64> = rounds
        .iter()
        .map(|lsns| {
            lsns.iter()
                .fold(0u64, |sum, &lsn| sum.wrapping_add(fold(payloads.get(lsn))))
        })
        .collect();
    // Warm the page cache for every record looked up, with logs and files opened apart
    // from the timed ones: the timed runs start with a warm cache but fresh mappings.
    for lsns in &rounds {
        lookup_mmlog(config, fixture, lsns)?;
        lookup_baseline(fixture, lsns)?;
    }
    let check = |engine: &str, place: &Path, round: usize, (ns, sum): (Vec<u64>, u64)| {
        expect_sum(engine, place, sum, expected[round])?;
        let elapsed = Duration::from_nanos(ns.iter().sum());
        Ok(Sample {
            elapsed,
            records: ns.len() as u64,
            latency: Percentiles::of(ns),
            ..Sample::default()
        })
    };
    mmlog_vs_baseline(
        W6,
        Headline::Latency,
        repetitions,
        |round| {
            let result = lookup_mmlog(config, fixture, &rounds[round])?;
            check("mmlog", fixture.mmlog.path(), round, result)
        },
        |round| {
            let result = lookup_baseline(fixture, &rounds[round])?;
            check("baseline", &fixture.baseline_path(), round, result)
        },
    )
}

/// Opens the log read-only (untimed) and looks up each LSN: `iter_from(lsn).next()`, then
/// reads the payload. The latency of each lookup and the sum of the payload bytes.
fn lookup_mmlog(
    config: &Config,
    fixture: &OpenFixture,
    lsns: &[u64],
) -> Result<(Vec<u64>, u64), CliError> {
    let dir = fixture.mmlog.path();
    let log = Log::open(dir, config.options().read_only(true)).map_err(log_error(|| {
        format!("opening the log in {}", dir.display())
    }))?;
    let mut ns = Vec::with_capacity(lsns.len());
    let mut sum = 0u64;
    for &lsn in lsns {
        let start = Instant::now();
        let record = log
            .iter_from(lsn)
            .next()
            .ok_or_else(|| {
                CliError::Corrupt(format!(
                    "mmlog: no record {lsn} in {}, which holds {}",
                    dir.display(),
                    fixture.count
                ))
            })?
            .map_err(log_error(|| {
                format!("reading the log in {}", dir.display())
            }))?;
        let folded = fold(record.payload());
        ns.push(nanos(start.elapsed()));
        if record.lsn() != lsn {
            return Err(CliError::Corrupt(format!(
                "mmlog: iter_from({lsn}) in {} returned record {}",
                dir.display(),
                record.lsn()
            )));
        }
        sum = sum.wrapping_add(folded);
    }
    Ok((ns, black_box(sum)))
}

/// Opens the baseline file (untimed) and reads each record with `pread` at its offset,
/// checking its checksum. The latency of each lookup and the sum of the payload bytes.
fn lookup_baseline(fixture: &OpenFixture, lsns: &[u64]) -> Result<(Vec<u64>, u64), CliError> {
    let path = fixture.baseline_path();
    let file = File::open(&path).map_err(io_error("open file", &path))?;
    let record_len = (HEADER_LEN + LARGE_LEN) as u64;
    let mut payload = Vec::new();
    let mut ns = Vec::with_capacity(lsns.len());
    let mut sum = 0u64;
    for &lsn in lsns {
        let start = Instant::now();
        let offset = lsn * record_len;
        let mut header = [0u8; HEADER_LEN];
        file.read_exact_at(&mut header, offset)
            .map_err(io_error("read", &path))?;
        let (len, stored) = split_header(header);
        if u64::from(len) > BENCH_SIZE_MAX {
            return Err(CliError::Corrupt(format!(
                "{}: record {lsn} at byte {offset} claims {len} bytes",
                path.display()
            )));
        }
        payload.resize(len as usize, 0);
        file.read_exact_at(&mut payload, offset + HEADER_LEN as u64)
            .map_err(io_error("read", &path))?;
        check_crc(&path, lsn, offset, &payload, stored)?;
        let folded = fold(&payload);
        ns.push(nanos(start.elapsed()));
        sum = sum.wrapping_add(folded);
    }
    Ok((ns, black_box(sum)))
}

// ---------------------------------------------------------------------------------------
// The targets of issue 5
// ---------------------------------------------------------------------------------------

/// One target's outcome.
struct Verdict {
    id: &'static str,
    target: String,
    /// `Some(met)` when measured; `None` when not (the text says why).
    met: Option<bool>,
    measured: String,
}

fn find<'a>(rows: &'a [Row], workload: &str, engine: &str) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.workload == workload && r.engine == engine)
}

/// Why a target could not be judged: the workload was skipped or a row is missing.
fn unmeasured(bench: &Bench, id: &'static str, target: String, why: Option<String>) -> Verdict {
    let measured = match bench.skipped(id) {
        Some(reason) => format!("not measured: {id} was skipped ({reason})"),
        None => format!(
            "not measured{}",
            why.map(|w| format!(": {w}")).unwrap_or_default()
        ),
    };
    Verdict {
        id,
        target,
        met: None,
        measured,
    }
}

/// A ratio target: `mmlog`'s speed over `other`'s at least `min`.
fn ratio_target(
    bench: &Bench,
    rows: &[Row],
    id: &'static str,
    workload: &str,
    other: &str,
    min: f64,
    target: String,
) -> Verdict {
    let ratio = find(rows, workload, "mmlog")
        .zip(find(rows, workload, other))
        .and_then(|(m, o)| m.ratio_to(o));
    match ratio {
        Some(ratio) => Verdict {
            id,
            target,
            met: Some(ratio >= min),
            measured: format!("{ratio:.2}x"),
        },
        None => unmeasured(bench, id, target, None),
    }
}

/// Every target of issue 5, judged on this run's medians.
fn targets(bench: &Bench, rows: &[Row]) -> Vec<Verdict> {
    let mut verdicts = vec![ratio_target(
        bench,
        rows,
        "W1",
        W1,
        "baseline",
        1.3,
        "records/s at least 1.3x the baseline's".into(),
    )];
    let mut limit = ratio_target(
        bench,
        rows,
        "W1",
        W1,
        "limit",
        0.9,
        "records/s at least 0.9x the limit's".into(),
    );
    if let (Some(m), Some(l)) = (find(rows, W1, "mmlog"), find(rows, W1, "limit")) {
        if let Some(open) = m.summary.open {
            let without = m.summary.elapsed.saturating_sub(open).as_secs_f64();
            if without > 0.0 {
                limit.measured.push_str(&format!(
                    " ({:.2}x without mmlog's open)",
                    l.summary.elapsed.as_secs_f64() / without
                ));
            }
        }
    }
    verdicts.push(limit);
    verdicts.push(ratio_target(
        bench,
        rows,
        "W1a",
        W1A,
        "limit",
        0.8,
        "append path records/s at least 0.8x the limit's".into(),
    ));
    let stall = "p99.9 per append under 20x its p50".to_string();
    verdicts.push(
        match find(rows, W1A, "mmlog").and_then(|r| r.summary.latency) {
            Some(l) if !l.p50.is_zero() => {
                let times = l.p999.as_secs_f64() / l.p50.as_secs_f64();
                Verdict {
                    id: "W1a",
                    target: stall,
                    met: Some(times < 20.0),
                    measured: format!(
                        "p99.9 {} = {times:.1}x p50 {} (max {})",
                        format_duration(l.p999),
                        format_duration(l.p50),
                        format_duration(l.max)
                    ),
                }
            }
            _ => unmeasured(bench, "W1a", stall, None),
        },
    );
    let durable = "p50 at most 0.8x the baseline's".to_string();
    verdicts.push(
        match (
            find(rows, W2, "mmlog").and_then(|r| r.summary.latency),
            find(rows, W2, "baseline").and_then(|r| r.summary.latency),
        ) {
            (Some(m), Some(b)) if !b.p50.is_zero() => {
                let times = m.p50.as_secs_f64() / b.p50.as_secs_f64();
                Verdict {
                    id: "W2",
                    target: durable,
                    met: Some(times <= 0.8),
                    measured: format!(
                        "{times:.2}x ({} vs {})",
                        format_duration(m.p50),
                        format_duration(b.p50)
                    ),
                }
            }
            _ => unmeasured(bench, "W2", durable, None),
        },
    );
    let w3 = w3_label(8);
    let mut concurrent = ratio_target(
        bench,
        rows,
        "W3",
        &w3,
        "baseline",
        6.0,
        "durable records/s at 8 threads at least 6x the baseline's".into(),
    );
    if concurrent.met.is_none() && !bench.config.threads.contains(&8) {
        concurrent.measured = format!(
            "not measured: --threads {} leaves out 8 threads",
            bench
                .config
                .threads
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        );
    }
    if let Some(s) = find(rows, &w3, "mmlog").and_then(|r| r.summary.syncs_per_record) {
        concurrent
            .measured
            .push_str(&format!(" ({s:.3} syncs per record)"));
    }
    verdicts.push(concurrent);
    verdicts.push(ratio_target(
        bench,
        rows,
        "W4",
        W4,
        "baseline",
        2.0,
        "records/s at least 2x the baseline's".into(),
    ));
    verdicts.extend(open_targets(bench, rows));
    let lookup = "p99 under 50 µs".to_string();
    verdicts.push(
        match find(rows, W6, "mmlog").and_then(|r| r.summary.latency) {
            Some(l) => Verdict {
                id: "W6",
                target: lookup,
                met: Some(l.p99 < Duration::from_micros(50)),
                measured: format!(
                    "p99 {} (p50 {})",
                    format_duration(l.p99),
                    format_duration(l.p50)
                ),
            },
            None => unmeasured(bench, "W6", lookup, None),
        },
    );
    let scaling = "records/s with 2 threads at least 1.0x mmlog's with 1 thread".to_string();
    verdicts.push(
        match find(rows, &w7_label(2), "mmlog")
            .zip(find(rows, &w7_label(1), "mmlog"))
            .and_then(|(two, one)| two.ratio_to(one))
        {
            Some(ratio) => Verdict {
                id: "W7",
                target: scaling,
                met: Some(ratio >= 1.0),
                measured: format!("{ratio:.2}x"),
            },
            None => unmeasured(bench, "W7", scaling, None),
        },
    );
    let beside = "p99 of an append beside syncs below mmlog's W2 p50 (no sync in it)".to_string();
    verdicts.push(
        match find(rows, W8_BESIDE, "mmlog")
            .and_then(|r| r.summary.latency)
            .zip(find(rows, W2, "mmlog").and_then(|r| r.summary.latency))
        {
            Some((l, sync)) => Verdict {
                id: "W8",
                target: beside,
                met: Some(l.p99 < sync.p50),
                measured: format!(
                    "p99 {} (p99.9 {}) against a sync's p50 {}",
                    format_duration(l.p99),
                    format_duration(l.p999),
                    format_duration(sync.p50)
                ),
            },
            None => unmeasured(
                bench,
                "W8",
                beside,
                (!bench.config.selected("W2")).then(|| "needs W2".to_string()),
            ),
        },
    );
    verdicts
}

/// W5's targets, for the read-only and the writable open.
fn open_targets(bench: &Bench, rows: &[Row]) -> Vec<Verdict> {
    let [small, large] = bench.config.open_sizes;
    let (small_label, large_label) = (w5_label(small), w5_label(large));
    let mut verdicts = Vec::new();
    for engine in ["mmlog ro", "mmlog rw"] {
        let target = format!(
            "{engine}: {} opens as fast as {} (median at most {NOISE_FACTOR:.2}x the \
             slowest {} run)",
            format_size(large),
            format_size(small),
            format_size(small)
        );
        verdicts.push(
            match (
                find(rows, &small_label, engine),
                find(rows, &large_label, engine),
            ) {
                (Some(s), Some(l)) => {
                    let bound = s.summary.elapsed_max.as_secs_f64() * NOISE_FACTOR;
                    Verdict {
                        id: "W5",
                        target,
                        met: Some(l.summary.elapsed.as_secs_f64() <= bound),
                        measured: format!(
                            "{} vs {} (slowest {})",
                            format_duration(l.summary.elapsed),
                            format_duration(s.summary.elapsed),
                            format_duration(s.summary.elapsed_max)
                        ),
                    }
                }
                _ => unmeasured(bench, "W5", target, None),
            },
        );
    }
    for engine in ["mmlog ro", "mmlog rw"] {
        let target = format!(
            "{engine}: open of {} at most 0.05x the baseline's",
            format_size(large)
        );
        verdicts.push(
            match (
                find(rows, &large_label, engine),
                find(rows, &large_label, "baseline"),
            ) {
                (Some(m), Some(b)) if !b.summary.elapsed.is_zero() => {
                    let times = m.summary.elapsed.as_secs_f64() / b.summary.elapsed.as_secs_f64();
                    Verdict {
                        id: "W5",
                        target,
                        met: Some(times <= 0.05),
                        measured: format!(
                            "{times:.4}x ({} vs {})",
                            format_duration(m.summary.elapsed),
                            format_duration(b.summary.elapsed)
                        ),
                    }
                }
                _ => unmeasured(bench, "W5", target, None),
            },
        );
    }
    verdicts
}

// ---------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------

/// Prints what the bench runs, where, and on what.
fn print_header(out: &mut impl Write, bench: &Bench, fs_type: Option<&str>) -> io::Result<()> {
    let c = &bench.config;
    writeln!(
        out,
        "mmlog bench{}: medians of interleaved runs ({} per engine, {} for cheap workloads), \
         each write run in a fresh directory",
        if c.quick { " --quick" } else { "" },
        c.repetitions,
        c.repetitions_cheap
    )?;
    let free = free_bytes(bench.root.path())
        .map(|b| format!("{} free", format_size(b)))
        .unwrap_or_else(|_| "free space unknown".into());
    writeln!(
        out,
        "directory: {} (file system: {}, {free})",
        bench.root.path().display(),
        fs_type.unwrap_or("unknown")
    )?;
    if fs_type == Some("tmpfs") {
        writeln!(
            out,
            "warning: tmpfs (--allow-tmpfs): syncs reach no disk, so durability numbers here \
             mean nothing"
        )?;
    }
    writeln!(out, "machine: {}", machine())?;
    writeln!(
        out,
        "clock: a pair of Instant::now() calls costs {:.0} ns here; per-operation latencies \
         include it",
        bench.clock_ns
    )?;
    let threads: Vec<String> = c.threads.iter().map(ToString::to_string).collect();
    let workloads = format!(
        "W1, W1a, W4: {} records of {} B (--records, --size); W1b: {} records of 4 KiB; W2: \
         {} durable appends of {} B, at most {} per run; W3: {} thread(s) (--threads), {} \
         durable appends of {} B per thread, at most {} per run; W5: logs of {} and {} of \
         4 KiB records; W6: {} lookups per run.",
        group_digits(c.count),
        c.size,
        group_digits(c.large_count),
        group_digits(c.durable_count),
        c.size,
        format_duration(c.durable_budget),
        threads.join(", "),
        group_digits(c.per_thread),
        c.size,
        format_duration(c.threads_budget),
        format_size(c.open_sizes[0]),
        format_size(c.open_sizes[1]),
        group_digits(c.lookups)
    );
    for text in wrap(&workloads, FOOTNOTE_WIDTH) {
        writeln!(out, "{text}")?;
    }
    writeln!(out)?;
    out.flush()
}

/// "2 CPUs, 23.4 GiB RAM, Linux 6.18.44": what `/proc` says, where it says it.
fn machine() -> String {
    let cpus = std::thread::available_parallelism()
        .map(|n| format!("{n} CPUs"))
        .unwrap_or_else(|_| "CPUs unknown".into());
    let memory = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(format!("{:.1} GiB RAM", kib as f64 / (1024.0 * 1024.0)))
        })
        .unwrap_or_else(|| "RAM unknown".into());
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|r| format!("Linux {}", r.trim()))
        .unwrap_or_else(|_| std::env::consts::OS.to_string());
    format!("{cpus}, {memory}, {kernel}")
}

/// The table's columns.
const HEADINGS: [&str; 14] = [
    "workload",
    "engine",
    "median",
    "open",
    "records/s",
    "MB/s",
    "p50",
    "p99",
    "p99.9",
    "max",
    "syncs/rec",
    "spread",
    "vs baseline",
    "vs limit",
];
const COLUMNS: usize = HEADINGS.len();

/// Prints the table.
fn print_table(out: &mut impl Write, rows: &[Row]) -> io::Result<()> {
    let mut cells: Vec<[String; COLUMNS]> = vec![HEADINGS.map(String::from)];
    let mut previous: Option<&str> = None;
    for row in rows {
        let first = previous != Some(row.workload.as_str());
        previous = Some(row.workload.as_str());
        let ratio = |kind: Kind| {
            if row.kind != Kind::Mmlog {
                return String::new();
            }
            rows.iter()
                .find(|r| r.workload == row.workload && r.kind == kind)
                .and_then(|other| row.ratio_to(other))
                .map(|r| format!("{r:.2}x"))
                .unwrap_or_default()
        };
        let s = &row.summary;
        let latency = |f: fn(&Percentiles) -> Duration| {
            s.latency
                .as_ref()
                .map(f)
                .map(format_duration)
                .unwrap_or_default()
        };
        cells.push([
            if first {
                row.workload.clone()
            } else {
                String::new()
            },
            row.engine.to_string(),
            format_duration(s.elapsed),
            s.open.map(format_duration).unwrap_or_default(),
            s.records_per_second
                .map(|r| group_digits(r.round() as u64))
                .unwrap_or_default(),
            s.bytes_per_second
                .map(|b| format!("{:.1}", b / 1e6))
                .unwrap_or_default(),
            latency(|l| l.p50),
            latency(|l| l.p99),
            latency(|l| l.p999),
            latency(|l| l.max),
            s.syncs_per_record
                .map(|n| format!("{n:.3}"))
                .unwrap_or_default(),
            s.spread
                .map(|f| format!("{:.1}%", f * 100.0))
                .unwrap_or_default(),
            ratio(Kind::Baseline),
            ratio(Kind::Limit),
        ]);
    }
    let mut widths = [0usize; COLUMNS];
    for line in &cells {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for line in &cells {
        let mut text = String::new();
        for (column, (cell, &width)) in line.iter().zip(&widths).enumerate() {
            if column > 0 {
                text.push_str("  ");
            }
            // The two text columns align left, the numbers right.
            if column < 2 {
                text.push_str(&format!("{cell:<width$}"));
            } else {
                text.push_str(&format!("{cell:>width$}"));
            }
        }
        writeln!(out, "{}", text.trim_end())?;
    }
    writeln!(out)
}

/// Prints what the columns and the workloads mean, and what was skipped.
fn print_notes(out: &mut impl Write, bench: &Bench) -> io::Result<()> {
    let legend = "median: median of the runs' timed spans; open: median time of the open \
                  within it; records/s, MB/s (10^6 payload bytes per second): medians over \
                  the runs; p50 ... max: each the median over the runs of that percentile \
                  per operation; syncs/rec: syncs per record; spread: (largest - smallest) \
                  / median of the workload's headline (records/s; p50 for W2 and W6; the \
                  open time for W5); vs baseline, vs limit: mmlog's headline over theirs as \
                  a speed (above 1: mmlog is faster). baseline: BufWriter/BufReader 64 KiB, \
                  [len u32][crc32 u32][payload], flush + fdatasync; limit: a preallocated \
                  mapping faulted in before timing, memcpy of [len u32][crc32 u32][payload], \
                  msync.";
    for text in wrap(legend, FOOTNOTE_WIDTH) {
        writeln!(out, "{text}")?;
    }
    for workload in WORKLOADS {
        let note = match bench.skipped(workload.id) {
            Some(reason) => format!("{}: skipped: {reason}.", workload.id),
            None => format!("{}: {}", workload.id, workload.note),
        };
        for text in wrap(&note, FOOTNOTE_WIDTH) {
            writeln!(out, "{text}")?;
        }
    }
    writeln!(out)
}

/// Prints each target with PASS, MISS or n/a.
fn print_targets(out: &mut impl Write, verdicts: &[Verdict]) -> io::Result<()> {
    writeln!(out, "Targets of issue 5 (this run):")?;
    for v in verdicts {
        let outcome = match v.met {
            Some(true) => "PASS",
            Some(false) => "MISS",
            None => "n/a ",
        };
        let lead = format!("{outcome}  {:<4} ", v.id);
        let indent = " ".repeat(lead.chars().count());
        let text = format!("{}: {}", v.target, v.measured);
        for (i, line) in wrap(&text, FOOTNOTE_WIDTH - indent.len())
            .iter()
            .enumerate()
        {
            writeln!(out, "{}{line}", if i == 0 { &lead } else { &indent })?;
        }
    }
    out.flush()
}

/// The width the notes under the table are wrapped to.
const FOOTNOTE_WIDTH: usize = 96;

/// Splits `text` into lines of at most `width` characters at spaces (a longer word gets
/// a line of its own).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        if !current.is_empty() && current.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

/// `1234567` as `"1,234,567"`.
fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A duration with three significant digits or so: ns, µs, ms or s.
fn format_duration(d: Duration) -> String {
    let ns = d.as_secs_f64() * 1e9;
    if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.1} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.1} ms", ns / 1e6)
    } else {
        format!("{:.3} s", ns / 1e9)
    }
}

/// A byte count in the largest binary unit that divides it (or with one decimal).
fn format_size(bytes: u64) -> String {
    for (unit, name) in [(GIB, "GiB"), (MIB, "MiB"), (KIB, "KiB")] {
        if bytes >= unit {
            return if bytes.is_multiple_of(unit) {
                format!("{} {name}", bytes / unit)
            } else {
                format!("{:.1} {name}", bytes as f64 / unit as f64)
            };
        }
    }
    format!("{bytes} B")
}

// ---------------------------------------------------------------------------------------
// The bench's directory
// ---------------------------------------------------------------------------------------

/// The bench's own directory: a fresh subdirectory of the temporary directory or
/// `--dir`, removed when the bench ends (also on error).
struct BenchDir {
    path: PathBuf,
    removed: bool,
}

impl BenchDir {
    /// Creates a fresh `mmlog-bench-<pid>-<n>` directory inside `parent`.
    fn create(parent: &Path) -> Result<BenchDir, CliError> {
        if !parent.is_dir() {
            return Err(CliError::Usage(format!(
                "{} is not a directory; pass an existing directory with --dir",
                parent.display()
            )));
        }
        let pid = std::process::id();
        // Bounded: a stale directory of an earlier process with the same pid takes one
        // attempt each.
        for attempt in 0..100 {
            let path = parent.join(format!("mmlog-bench-{pid}-{attempt}"));
            match fs::create_dir(&path) {
                Ok(()) => {
                    // Owned from here on, so that it is removed even if resolving fails.
                    let mut dir = BenchDir {
                        path,
                        removed: false,
                    };
                    // Resolved, so that /proc/mounts' absolute mount points match it.
                    dir.path =
                        fs::canonicalize(&dir.path).map_err(io_error("resolve", &dir.path))?;
                    return Ok(dir);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_error("create directory", &path)(e)),
            }
        }
        Err(CliError::Usage(format!(
            "{} already holds 100 mmlog-bench-{pid}-* directories; remove them",
            parent.display()
        )))
    }

    fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the directory and everything in it.
    fn remove(mut self) -> Result<(), CliError> {
        self.removed = true;
        fs::remove_dir_all(&self.path).map_err(io_error("remove directory", &self.path))
    }
}

impl Drop for BenchDir {
    fn drop(&mut self) {
        // Only on an error path: `remove` reports its own failure.
        if !self.removed {
            if let Err(e) = fs::remove_dir_all(&self.path) {
                eprintln!(
                    "mmlog: warning: could not remove {}: {e}",
                    self.path.display()
                );
            }
        }
    }
}

/// The file system type of `path` from the text of `/proc/mounts`: the entry with the
/// longest mount point that contains `path` (the last one wins among equals, as a later
/// mount hides an earlier one at the same point).
fn mount_fs_type(mounts: &str, path: &Path) -> Option<String> {
    let mut best: Option<(usize, &str)> = None;
    for line in mounts.lines() {
        let mut fields = line.split_whitespace();
        let (Some(_device), Some(mount_point), Some(fs_type)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let mount_point = unescape_mount_field(mount_point);
        let mount_point = Path::new(&mount_point);
        if path.starts_with(mount_point) {
            let depth = mount_point.components().count();
            if best.is_none_or(|(d, _)| depth >= d) {
                best = Some((depth, fs_type));
            }
        }
    }
    best.map(|(_, fs_type)| fs_type.to_string())
}

/// Undoes `/proc/mounts`' octal escapes (`\040` for a space, `\011`, `\012`, `\134`).
fn unescape_mount_field(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|_| b == b'\\')
            .and_then(|digits| std::str::from_utf8(digits).ok())
            .and_then(|digits| u8::from_str_radix(digits, 8).ok());
        match octal {
            Some(value) => {
                out.push(value);
                i += 4;
            }
            None => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTS: &str = "\
/dev/vda / ext4 rw,relatime 0 0
tmpfs /tmp tmpfs rw 0 0
/dev/vdb /tmp/my\\040disk xfs rw 0 0
tmpfs /dev/shm tmpfs rw 0 0
/dev/vdc /dev/shm ext4 rw 0 0
";

    #[test]
    fn the_longest_mount_point_wins() {
        let fs = |p: &str| mount_fs_type(MOUNTS, Path::new(p));
        assert_eq!(fs("/work/main").as_deref(), Some("ext4"));
        assert_eq!(fs("/tmp/x").as_deref(), Some("tmpfs"));
        assert_eq!(fs("/tmp/my disk/x").as_deref(), Some("xfs"));
        // A component-wise prefix, not a string prefix.
        assert_eq!(fs("/tmpfoo").as_deref(), Some("ext4"));
        // The later mount at the same point hides the earlier one.
        assert_eq!(fs("/dev/shm/x").as_deref(), Some("ext4"));
        assert_eq!(mount_fs_type("", Path::new("/x")), None);
    }

    #[test]
    fn mount_escapes_are_undone() {
        assert_eq!(unescape_mount_field("/a\\040b\\134c"), "/a b\\c");
        assert_eq!(unescape_mount_field("/plain"), "/plain");
        assert_eq!(unescape_mount_field("/bad\\09"), "/bad\\09");
        assert_eq!(unescape_mount_field("/end\\"), "/end\\");
    }

    #[test]
    fn notes_wrap_at_spaces() {
        assert_eq!(wrap("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(wrap("aaaaaaa b", 5), ["aaaaaaa", "b"]);
        assert_eq!(wrap("", 5), Vec::<String>::new());
    }

    #[test]
    fn digits_are_grouped_by_three() {
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(1000), "1,000");
        assert_eq!(group_digits(1_234_567), "1,234,567");
    }

    #[test]
    fn durations_and_sizes_read_well() {
        assert_eq!(format_duration(Duration::from_nanos(85)), "85 ns");
        assert_eq!(format_duration(Duration::from_nanos(12_340)), "12.3 µs");
        assert_eq!(format_duration(Duration::from_micros(4_560)), "4.6 ms");
        assert_eq!(format_duration(Duration::from_millis(1_234)), "1.234 s");
        assert_eq!(format_size(8 * GIB), "8 GiB");
        assert_eq!(format_size(256 * MIB), "256 MiB");
        assert_eq!(format_size(GIB + GIB / 2), "1.5 GiB");
        assert_eq!(format_size(100), "100 B");
    }

    #[test]
    fn payloads_are_deterministic_and_differ() {
        let a = Payloads::new(128);
        let b = Payloads::new(128);
        assert_eq!(a.get(5), b.get(5));
        assert_ne!(a.get(5), a.get(6));
        assert_eq!(a.get(3).len(), 128);
        // The largest start offset still leaves room for a whole payload.
        assert_eq!(a.get(u64::MAX).len(), 128);
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let p = Percentiles::of((1..=1000).rev().collect()).expect("not empty");
        let ns = Duration::from_nanos;
        assert_eq!(
            (p.p50, p.p99, p.p999, p.max),
            (ns(500), ns(990), ns(999), ns(1000))
        );
        let one = Percentiles::of(vec![7]).expect("not empty");
        assert_eq!((one.p50, one.max), (ns(7), ns(7)));
        assert_eq!(Percentiles::of(Vec::new()), None);
        assert_eq!(nearest_rank(&[1, 2], 500), 1);
        assert_eq!(nearest_rank(&[1, 2], 501), 2);
    }

    #[test]
    fn summaries_take_medians_and_ratios_favour_the_faster() {
        let ms = Duration::from_millis;
        let sample = |elapsed, open| Sample {
            elapsed: ms(elapsed),
            open: Some(ms(open)),
            records: 100,
            ..Sample::default()
        };
        let s = Summary::of(
            &[sample(30, 1), sample(10, 3), sample(20, 2)],
            Headline::Throughput,
        );
        assert_eq!((s.elapsed, s.elapsed_max), (ms(20), ms(30)));
        assert_eq!(s.spread, Some((10_000.0 - 100_000.0 / 30.0) / 5000.0));
        assert_eq!(s.open, Some(ms(2)));
        assert_eq!(s.records_per_second, Some(5000.0));
        assert_eq!(s.bytes_per_second, None);
        assert_eq!(s.latency, None);
        let row = |workload: &str, kind, elapsed| Row {
            workload: workload.into(),
            engine: "x",
            kind,
            headline: Headline::Time,
            summary: Summary::of(&[sample(elapsed, 0)], Headline::Time),
        };
        let fast = row("w", Kind::Mmlog, 10);
        let slow = row("w", Kind::Baseline, 40);
        let ratio = fast.ratio_to(&slow).expect("both measured");
        assert!((ratio - 4.0).abs() < 1e-9, "{ratio}");
    }

    #[test]
    fn df_output_parses() {
        let text = "Filesystem     1024-blocks     Used Available Capacity Mounted on\n\
                    /dev/vda         264091588 16000000  78643200      18% /\n";
        assert_eq!(parse_df(text), Some(78_643_200 * 1024));
        assert_eq!(parse_df("Filesystem\n"), None);
        assert_eq!(parse_df(""), None);
    }

    /// A tiny configuration that runs every workload in well under a second of work.
    fn tiny() -> Config {
        Config {
            count: 1000,
            size: 100,
            large_count: 50,
            durable_count: 10,
            durable_budget: Duration::from_secs(5),
            threads: vec![1, 3],
            per_thread: 5,
            threads_budget: Duration::from_secs(5),
            open_sizes: [256 * KIB, 512 * KIB],
            open_headroom: 0,
            lookups: 20,
            segment_size: 128 * KIB,
            repetitions: 1,
            repetitions_cheap: 2,
            quick: true,
            only: Vec::new(),
        }
    }

    #[test]
    fn a_small_run_completes_and_reads_back_what_it_wrote() {
        let root = BenchDir::create(&std::env::temp_dir()).expect("a bench directory");
        let path = root.path().to_path_buf();
        let bench = Bench::new(tiny(), root);
        let mut rows = Vec::new();
        for workload in WORKLOADS {
            rows.extend((workload.measure)(&bench).expect("the workload runs"));
        }
        let skipped = bench.skipped.borrow().clone();
        let expected = if skipped.is_empty() { 35 } else { 27 };
        assert_eq!(rows.len(), expected, "rows; skipped: {skipped:?}");
        for row in &rows {
            assert!(row.summary.elapsed <= row.summary.elapsed_max, "{row:?}");
            assert!(row.summary.headline.is_some(), "{row:?}");
        }
        let w3 = find(&rows, &w3_label(3), "mmlog").expect("W3 at 3 threads");
        assert!(w3.summary.syncs_per_record.is_some(), "{w3:?}");
        for (workload, engine) in [(w7_label(2), "mmlog"), (W8_BESIDE.to_string(), "baseline")] {
            assert!(
                find(&rows, &workload, engine).is_some(),
                "{workload} {engine}"
            );
        }
        let verdicts = targets(&bench, &rows);
        assert_eq!(verdicts.len(), 14);
        assert!(verdicts.iter().all(|v| v.id != "W8" || v.met.is_some()));
        let mut text = Vec::new();
        print_table(&mut text, &rows).expect("printed");
        print_notes(&mut text, &bench).expect("printed");
        print_targets(&mut text, &verdicts).expect("printed");
        let text = String::from_utf8(text).expect("UTF-8");
        assert!(text.contains("W1a append path"), "{text}");
        // W3 at 8 threads did not run: that target says so.
        assert!(text.contains("leaves out 8 threads"), "{text}");
        let Bench { root, lookup, .. } = bench;
        drop(lookup);
        root.remove().expect("removed");
        assert!(!path.exists());
    }
}
