//! `mmlog bench`: the engine and a buffered-I/O baseline side by side on the same
//! workloads, in a fresh directory, printed as one table with the ratios.
//!
//! Every workload is a row pair in `WORKLOADS`: a name, what is timed, and for each
//! engine an optional untimed `prepare` step and a timed `run` step. Runs are interleaved
//! (mmlog, baseline, mmlog, baseline, ...) so that drift of the machine (page cache,
//! writeback, thermal) hits both engines alike; each run gets a fresh directory that is
//! removed right after, so no run reads or overwrites another's files. The table quotes
//! the median of `REPETITIONS` runs.
//!
//! Adding a workload: write its `run` (and `prepare`) functions for both engines, then
//! add one `Workload` entry to `WORKLOADS`.

use std::fs::{self, File};
use std::hint::black_box;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mmlog::{Durability, Log, Options};

use crate::args::{BenchArgs, BENCH_SIZE_MAX};
use crate::{io_error, log_error, stdout_error, CliError};

/// Runs per engine and workload; the table quotes the median.
const REPETITIONS: usize = 3;
/// The baseline's `BufWriter` / `BufReader` capacity.
const BUFFER_LEN: usize = 64 * 1024;
/// The segment size of the bench's logs (mmlog's default).
const SEGMENT_SIZE: u64 = 64 * 1024 * 1024;
/// The baseline's record header: `[len u32 LE][crc32 u32 LE]`.
const BASELINE_HEADER_LEN: u64 = 8;
/// The baseline's file inside a run directory.
const BASELINE_FILE: &str = "baseline.log";
/// Bytes of pseudo-random data that payloads are cut from.
const POOL_LEN: u64 = 1 << 20;
/// Record `i`'s payload starts at `i * POOL_STRIDE % POOL_LEN` in the pool: a prime, so
/// neighbouring records differ and the start offsets are not aligned.
const POOL_STRIDE: u64 = 7919;

/// An untimed step that readies a run directory (e.g. writes the records a read reads).
type Prepare = fn(&Spec, &Path) -> Result<(), CliError>;
/// The timed step: does the work and says how long it took and what it saw.
type Run = fn(&Spec, &Path) -> Result<Sample, CliError>;

/// One engine's side of a workload.
struct Engine {
    /// The label in the table's engine column.
    name: &'static str,
    /// Untimed setup in the fresh run directory, if the workload needs any.
    prepare: Option<Prepare>,
    /// The timed work.
    run: Run,
}

/// One workload: a row pair of the table.
struct Workload {
    /// The label in the table's workload column.
    name: &'static str,
    /// What is timed, for both engines, printed under the table.
    timed: &'static str,
    /// The engine.
    mmlog: Engine,
    /// The buffered-I/O baseline.
    baseline: Engine,
}

/// The workloads, in table order. More come in later issues (the W numbers are the
/// contract's): add an entry here.
const WORKLOADS: &[Workload] = &[
    Workload {
        name: "W1 append",
        timed: "open, append every record, one sync (mmlog: Durability::Msync, 64 MiB \
                segments; baseline: BufWriter 64 KiB writing [len u32][crc32 u32][payload], \
                flush, fdatasync, with the directory fsynced after the file is created)",
        mmlog: Engine {
            name: "mmlog",
            prepare: None,
            run: append_mmlog,
        },
        baseline: Engine {
            name: "bufwriter+fdatasync",
            prepare: None,
            run: append_baseline,
        },
    },
    Workload {
        name: "W4 read",
        timed: "open and read every record of a log written and synced beforehand (page \
                cache warm), checking checksums and summing payload bytes (mmlog: read-only \
                open, zero-copy iteration, checksums checked by the engine; baseline: \
                BufReader 64 KiB, read_exact into a reused buffer, crc32fast)",
        mmlog: Engine {
            name: "mmlog",
            prepare: Some(prepare_mmlog),
            run: read_mmlog,
        },
        baseline: Engine {
            name: "bufreader+crc32",
            prepare: Some(prepare_baseline),
            run: read_baseline,
        },
    },
];

/// Runs `mmlog bench`.
///
/// # Errors
/// `CliError::Usage` for a `--dir` that is not a directory; `CliError::Log` and
/// `CliError::Io` when a run fails; `CliError::Corrupt` when records read back differ from
/// the records written.
pub fn run(args: &BenchArgs) -> Result<(), CliError> {
    let size = usize::try_from(args.size)
        .map_err(|_| CliError::Usage(format!("--size {} is too large", args.size)))?;
    let spec = Spec::new(args.record_count(), size);
    let parent = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let root = BenchDir::create(&parent)?;
    let fs_type = fs::read_to_string("/proc/mounts")
        .ok()
        .and_then(|mounts| mount_fs_type(&mounts, root.path()));

    let stdout = io::stdout();
    let mut out = stdout.lock();
    print_header(&mut out, args, &spec, root.path(), fs_type.as_deref()).map_err(stdout_error)?;

    let mut rows = Vec::with_capacity(WORKLOADS.len());
    for workload in WORKLOADS {
        rows.push(measure(workload, &spec, &root)?);
    }
    print_table(&mut out, &spec, &rows).map_err(stdout_error)?;
    root.remove()
}

/// What every run of every workload does: `count` records of `size` bytes.
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

/// What a timed run reports.
struct Sample {
    /// The whole timed span, from before the open to the end of the work.
    elapsed: Duration,
    /// The part of `elapsed` spent opening (for mmlog: `Log::open`, which recovers).
    open: Duration,
    /// Records written or read.
    records: u64,
    /// For reads: the sum of every payload byte read.
    folded: Option<u64>,
}

/// The options of every log the bench opens.
fn mmlog_options() -> Options {
    Options::default()
        .segment_size(SEGMENT_SIZE)
        .durability(Durability::Msync)
}

/// W1 for mmlog: open, append every record, one sync.
fn append_mmlog(spec: &Spec, dir: &Path) -> Result<Sample, CliError> {
    let start = Instant::now();
    let log = Log::open(dir, mmlog_options())
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
    let records = log.next_lsn();
    log.close().map_err(log_error(|| {
        format!("closing the log in {}", dir.display())
    }))?;
    Ok(Sample {
        elapsed,
        open,
        records,
        folded: None,
    })
}

/// W1 for the baseline: `[len u32 LE][crc32 u32 LE][payload]` through a `BufWriter`, then
/// `flush` and `fdatasync`.
fn append_baseline(spec: &Spec, dir: &Path) -> Result<Sample, CliError> {
    let path = dir.join(BASELINE_FILE);
    let len = u32::try_from(spec.size)
        .map_err(|_| CliError::Usage(format!("--size {} does not fit in u32", spec.size)))?
        .to_le_bytes();
    let start = Instant::now();
    let file = File::create(&path).map_err(io_error("create file", &path))?;
    // Like mmlog's open: the new file's name must be durable, or a power loss can lose it
    // together with every record in it.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error("fsync directory", dir))?;
    let open = start.elapsed();
    let mut writer = BufWriter::with_capacity(BUFFER_LEN, file);
    for i in 0..spec.count {
        let payload = spec.payloads.get(i);
        let crc = crc32fast::hash(payload).to_le_bytes();
        let header = [
            len[0], len[1], len[2], len[3], crc[0], crc[1], crc[2], crc[3],
        ];
        writer
            .write_all(&header)
            .and_then(|()| writer.write_all(payload))
            .map_err(io_error("write", &path))?;
    }
    writer.flush().map_err(io_error("write", &path))?;
    let file = writer
        .into_inner()
        .map_err(|e| io_error("write", &path)(e.into_error()))?;
    file.sync_data().map_err(io_error("fdatasync", &path))?;
    let elapsed = start.elapsed();
    Ok(Sample {
        elapsed,
        open,
        records: spec.count,
        folded: None,
    })
}

/// Writes and syncs the records a mmlog read workload reads.
fn prepare_mmlog(spec: &Spec, dir: &Path) -> Result<(), CliError> {
    append_mmlog(spec, dir).map(drop)
}

/// Writes and syncs the records a baseline read workload reads.
fn prepare_baseline(spec: &Spec, dir: &Path) -> Result<(), CliError> {
    append_baseline(spec, dir).map(drop)
}

/// W4 for mmlog: open read-only and iterate, folding each zero-copy payload.
fn read_mmlog(_spec: &Spec, dir: &Path) -> Result<Sample, CliError> {
    let start = Instant::now();
    let log = Log::open(dir, mmlog_options().read_only(true)).map_err(log_error(|| {
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
    log.close().map_err(log_error(|| {
        format!("closing the log in {}", dir.display())
    }))?;
    Ok(Sample {
        elapsed,
        open,
        records,
        folded: Some(black_box(sum)),
    })
}

/// W4 for the baseline: `BufReader` + `read_exact` into a reused buffer + crc32fast check.
fn read_baseline(_spec: &Spec, dir: &Path) -> Result<Sample, CliError> {
    let path = dir.join(BASELINE_FILE);
    let start = Instant::now();
    let file = File::open(&path).map_err(io_error("open file", &path))?;
    let open = start.elapsed();
    let mut reader = BufReader::with_capacity(BUFFER_LEN, file);
    let mut payload = Vec::new();
    let mut records = 0u64;
    let mut offset = 0u64;
    let mut sum = 0u64;
    // Bounded: every pass consumes at least BASELINE_HEADER_LEN bytes of the file, and
    // the loop ends at its end.
    while !reader
        .fill_buf()
        .map_err(io_error("read", &path))?
        .is_empty()
    {
        let mut header = [0u8; BASELINE_HEADER_LEN as usize];
        reader
            .read_exact(&mut header)
            .map_err(io_error("read", &path))?;
        let [l0, l1, l2, l3, c0, c1, c2, c3] = header;
        let len = u32::from_le_bytes([l0, l1, l2, l3]);
        let stored = u32::from_le_bytes([c0, c1, c2, c3]);
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
            .map_err(io_error("read", &path))?;
        let computed = crc32fast::hash(&payload);
        if computed != stored {
            return Err(CliError::Corrupt(format!(
                "{}: record {records} at byte {offset} fails its checksum (stored \
                 {stored:#010x}, computed {computed:#010x})",
                path.display()
            )));
        }
        sum = sum.wrapping_add(fold(&payload));
        records += 1;
        offset += BASELINE_HEADER_LEN + u64::from(len);
    }
    let elapsed = start.elapsed();
    Ok(Sample {
        elapsed,
        open,
        records,
        folded: Some(black_box(sum)),
    })
}

/// The median, fastest and slowest of one engine's runs.
struct Summary {
    median: Duration,
    min: Duration,
    max: Duration,
    /// The median of the runs' open times (taken on its own, not the median run's).
    open_median: Duration,
}

impl Summary {
    fn of(samples: &[Sample]) -> Summary {
        let mut times: Vec<Duration> = samples.iter().map(|s| s.elapsed).collect();
        let mut opens: Vec<Duration> = samples.iter().map(|s| s.open).collect();
        times.sort_unstable();
        opens.sort_unstable();
        Summary {
            median: times.get(times.len() / 2).copied().unwrap_or_default(),
            min: times.first().copied().unwrap_or_default(),
            max: times.last().copied().unwrap_or_default(),
            open_median: opens.get(opens.len() / 2).copied().unwrap_or_default(),
        }
    }
}

/// One workload's measured row pair.
struct Row {
    workload: &'static Workload,
    mmlog: Summary,
    baseline: Summary,
}

/// Runs `workload` `REPETITIONS` times per engine, interleaved, and summarizes.
fn measure(workload: &'static Workload, spec: &Spec, root: &BenchDir) -> Result<Row, CliError> {
    let mut mmlog = Vec::with_capacity(REPETITIONS);
    let mut baseline = Vec::with_capacity(REPETITIONS);
    for repetition in 1..=REPETITIONS {
        let a = run_once(workload, &workload.mmlog, repetition, spec, root)?;
        let b = run_once(workload, &workload.baseline, repetition, spec, root)?;
        // Progress on stderr, so that stdout carries the header and the table only.
        eprintln!(
            "{}: run {repetition}/{REPETITIONS}: {} {}, {} {}",
            workload.name,
            workload.mmlog.name,
            format_duration(a.elapsed),
            workload.baseline.name,
            format_duration(b.elapsed)
        );
        mmlog.push(a);
        baseline.push(b);
    }
    Ok(Row {
        workload,
        mmlog: Summary::of(&mmlog),
        baseline: Summary::of(&baseline),
    })
}

/// One run in a fresh directory, removed afterwards; checks what the run saw.
fn run_once(
    workload: &Workload,
    engine: &Engine,
    repetition: usize,
    spec: &Spec,
    root: &BenchDir,
) -> Result<Sample, CliError> {
    let label = format!(
        "{}-{}-{repetition}",
        workload.name.replace(' ', "-").to_lowercase(),
        engine.name
    );
    let dir = root.fresh(&label)?;
    if let Some(prepare) = engine.prepare {
        prepare(spec, &dir)?;
    }
    let sample = (engine.run)(spec, &dir)?;
    if sample.records != spec.count {
        return Err(CliError::Corrupt(format!(
            "{} with {}: saw {} records in {}, expected {}",
            workload.name,
            engine.name,
            sample.records,
            dir.display(),
            spec.count
        )));
    }
    if let Some(sum) = sample.folded {
        if sum != spec.expected_sum {
            return Err(CliError::Corrupt(format!(
                "{} with {}: the payloads read from {} differ from those written (byte sum \
                 {sum}, expected {})",
                workload.name,
                engine.name,
                dir.display(),
                spec.expected_sum
            )));
        }
    }
    fs::remove_dir_all(&dir).map_err(io_error("remove directory", &dir))?;
    Ok(sample)
}

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

    /// Creates the fresh directory of one run.
    fn fresh(&self, label: &str) -> Result<PathBuf, CliError> {
        let path = self.path.join(label);
        fs::create_dir(&path).map_err(io_error("create directory", &path))?;
        Ok(path)
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

/// Prints what the bench runs and where.
fn print_header(
    out: &mut impl Write,
    args: &BenchArgs,
    spec: &Spec,
    dir: &Path,
    fs_type: Option<&str>,
) -> io::Result<()> {
    writeln!(
        out,
        "mmlog bench: {} records of {} bytes per run; median of {REPETITIONS} interleaved runs \
         per engine, each in a fresh directory",
        group_digits(spec.count),
        spec.size
    )?;
    writeln!(
        out,
        "directory: {} (file system: {})",
        dir.display(),
        fs_type.unwrap_or("unknown")
    )?;
    if fs_type == Some("tmpfs") {
        writeln!(
            out,
            "warning: this directory is on tmpfs, where syncs reach no disk: durability \
             numbers here mean nothing; pass --dir on a real disk"
        )?;
    }
    match args.threads {
        Some(threads) if threads > 1 => writeln!(
            out,
            "note: --threads {threads}: multi-threaded workloads are not implemented yet (a \
             later issue); every workload below runs on one thread"
        )?,
        _ => writeln!(out, "threads: 1")?,
    }
    writeln!(out)?;
    out.flush()
}

/// The table's columns: workload, engine, median, open, spread, records/s, MB/s, ratio.
const COLUMNS: usize = 8;

/// Prints the table and, under it, what each workload times.
fn print_table(out: &mut impl Write, spec: &Spec, rows: &[Row]) -> io::Result<()> {
    let mut cells: Vec<[String; COLUMNS]> = vec![[
        "workload".into(),
        "engine".into(),
        "median".into(),
        "open".into(),
        "spread".into(),
        "records/s".into(),
        "MB/s".into(),
        "mmlog/baseline".into(),
    ]];
    for row in rows {
        let ratio = ratio(row.baseline.median, row.mmlog.median);
        cells.push(line(
            row.workload.name,
            row.workload.mmlog.name,
            &row.mmlog,
            spec,
            ratio,
        ));
        cells.push(line(
            "",
            row.workload.baseline.name,
            &row.baseline,
            spec,
            String::new(),
        ));
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
    writeln!(out)?;
    let legend = "median: median wall time of the runs, open included; open: median time of \
                  the open alone; spread: (slowest - fastest) / median; records/s and MB/s \
                  (10^6 payload bytes per second) from the median; mmlog/baseline: mmlog's \
                  throughput over the baseline's (above 1: mmlog is faster).";
    for text in wrap(legend, FOOTNOTE_WIDTH) {
        writeln!(out, "{text}")?;
    }
    for row in rows {
        let note = format!("{}: {}.", row.workload.name, row.workload.timed);
        for text in wrap(&note, FOOTNOTE_WIDTH) {
            writeln!(out, "{text}")?;
        }
    }
    out.flush()
}

/// One line of the table.
fn line(
    workload: &str,
    engine: &str,
    summary: &Summary,
    spec: &Spec,
    ratio: String,
) -> [String; COLUMNS] {
    let seconds = summary.median.as_secs_f64();
    let spread = if seconds > 0.0 {
        format!(
            "{:.1}%",
            summary.max.saturating_sub(summary.min).as_secs_f64() / seconds * 100.0
        )
    } else {
        "-".into()
    };
    // f64 holds the counts exactly up to 2^53, far beyond what a run writes.
    let per_second = |n: u64| {
        if seconds > 0.0 {
            n as f64 / seconds
        } else {
            0.0
        }
    };
    [
        workload.into(),
        engine.into(),
        format_duration(summary.median),
        format_duration(summary.open_median),
        spread,
        // Rounded to a whole number of records per second; the cast saturates.
        group_digits(per_second(spec.count).round() as u64),
        format!("{:.1}", per_second(spec.bytes()) / 1e6),
        ratio,
    ]
}

/// The mmlog/baseline throughput ratio for the same work: the baseline's time over
/// mmlog's.
fn ratio(baseline: Duration, mmlog: Duration) -> String {
    if mmlog.is_zero() {
        "-".into()
    } else {
        format!("{:.2}x", baseline.as_secs_f64() / mmlog.as_secs_f64())
    }
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

/// A duration in ms below one second, in s above.
fn format_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{:.1} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.3} s", d.as_secs_f64())
    }
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
    fn the_median_is_the_middle_run() {
        let ms = Duration::from_millis;
        let sample = |elapsed, open| Sample {
            elapsed: ms(elapsed),
            open: ms(open),
            records: 1,
            folded: None,
        };
        let s = Summary::of(&[sample(30, 1), sample(10, 3), sample(20, 2)]);
        assert_eq!((s.min, s.median, s.max), (ms(10), ms(20), ms(30)));
        assert_eq!(s.open_median, ms(2));
    }

    #[test]
    fn a_small_run_completes_and_reads_back_what_it_wrote() {
        let spec = Spec::new(1000, 100);
        let parent = std::env::temp_dir();
        let root = BenchDir::create(&parent).expect("a bench directory");
        for workload in WORKLOADS {
            let row = measure(workload, &spec, &root).expect("the workload runs");
            assert!(row.mmlog.min <= row.mmlog.max);
        }
        let path = root.path().to_path_buf();
        root.remove().expect("removed");
        assert!(!path.exists());
    }
}
