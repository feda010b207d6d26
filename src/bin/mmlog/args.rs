//! The command line, parsed with clap derive: one variant of `Command` per subcommand.
//!
//! Usage errors (unknown flags, values out of range) are reported by clap on stderr and
//! exit with code 2, matching the contract's "2: usage or I/O error".

use std::path::PathBuf;

use clap::{ArgGroup, Parser, Subcommand, ValueEnum};
use mmlog::{SEGMENT_SIZE_MAX, SEGMENT_SIZE_MIN};

/// Records per workload in a default `mmlog bench` run.
pub const BENCH_RECORDS_DEFAULT: u64 = 1_000_000;
/// Records per workload with `mmlog bench --quick`.
pub const BENCH_RECORDS_QUICK: u64 = 200_000;
/// The largest record `mmlog bench --size` accepts (16 MiB): it fits easily in the
/// bench's 64 MiB segments, and the baseline stores lengths as `u32`.
pub const BENCH_SIZE_MAX: u64 = 16 * 1024 * 1024;

/// mmlog: a memory-mapped, zero-copy, append-only write-ahead log.
///
/// Exit codes: 0 success, 1 the log is corrupt (or a command found corruption), 2 usage
/// or I/O error.
#[derive(Debug, Parser)]
#[command(name = "mmlog", version, about, long_about)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Append records read from stdin, one per line, and print each one's LSN once it is
    /// acknowledged.
    Append(AppendArgs),
    /// Print records as `LSN<TAB>payload` lines (read-only; works while a writer runs).
    Cat(CatArgs),
    /// Check every segment and record and list every problem (read-only).
    Verify(VerifyArgs),
    /// Print the segments with their LSN ranges and sizes, and the first, next and
    /// durable LSN (read-only).
    Stat(StatArgs),
    /// Remove whole segments at the front (retention) or every record from an LSN on
    /// (takes the writer lock: refused while a writer runs).
    Truncate(TruncateArgs),
    /// Run the engine, a buffered-I/O baseline (std BufWriter + fdatasync) and the
    /// machine's limit (a prefaulted mapping) side by side on the workloads of issue 5 and
    /// print one table with the ratios and the targets met or missed.
    Bench(BenchArgs),
}

/// `mmlog append DIR [--sync none|each|every:N] [--durability msync|fdatasync|io-uring]
/// [--segment-size BYTES]`.
#[derive(Debug, clap::Args)]
pub struct AppendArgs {
    /// The log directory (created if missing).
    pub dir: PathBuf,

    /// When a record is acknowledged (its LSN printed): `each` after it is durable (one
    /// sync per record); `every:N` after a sync every N records and at the end of stdin;
    /// `none` as soon as it is in the log (it survives a crash of the process but not
    /// necessarily a power loss; the log is still synced once when stdin ends).
    #[arg(long, value_name = "none|each|every:N", default_value = "each", value_parser = parse_sync)]
    pub sync: SyncMode,

    /// How a sync reaches the disk.
    #[arg(long, value_enum, default_value_t = DurabilityArg::Msync)]
    pub durability: DurabilityArg,

    /// Size of new segment files, a multiple of 4096 [default: the size of the log's
    /// newest segment, or 64 MiB for a new log].
    #[arg(
        long,
        value_name = "BYTES",
        value_parser = clap::value_parser!(u64).range(SEGMENT_SIZE_MIN..=SEGMENT_SIZE_MAX)
    )]
    pub segment_size: Option<u64>,
}

/// `mmlog append --sync`: when a record is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// Acknowledge once the record is in the log; never sync before stdin ends.
    None,
    /// Acknowledge once the record is durable: one sync per record.
    Each,
    /// Sync after every N records (and at the end of stdin), then acknowledge them.
    Every(u64),
}

/// Parses `none`, `each` or `every:N` (N at least 1).
fn parse_sync(text: &str) -> Result<SyncMode, String> {
    match text {
        "none" => Ok(SyncMode::None),
        "each" => Ok(SyncMode::Each),
        _ => {
            let count = text
                .strip_prefix("every:")
                .ok_or_else(|| format!("expected none, each or every:N, found {text:?}"))?;
            match count.parse::<u64>() {
                Ok(0) => Err("every:N needs N of at least 1".to_string()),
                Ok(n) => Ok(SyncMode::Every(n)),
                Err(_) => Err(format!(
                    "every:N needs a whole number N of at least 1, found {count:?}"
                )),
            }
        }
    }
}

/// `mmlog append --durability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DurabilityArg {
    /// msync of the dirty range of the mapping.
    Msync,
    /// fdatasync of the segment file.
    Fdatasync,
    /// io_uring (needs mmlog built with the `io-uring` feature).
    IoUring,
}

/// `mmlog cat DIR [--from LSN] [--follow] [--hex]`.
#[derive(Debug, clap::Args)]
pub struct CatArgs {
    /// The log directory.
    pub dir: PathBuf,

    /// Start at this LSN [default: the first record].
    #[arg(long, value_name = "LSN")]
    pub from: Option<u64>,

    /// Keep printing new records as they arrive, like `tail -f` (stop with Ctrl-C).
    #[arg(long)]
    pub follow: bool,

    /// Print payloads as lowercase hex instead of their raw bytes.
    #[arg(long)]
    pub hex: bool,
}

/// `mmlog verify DIR`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The log directory.
    pub dir: PathBuf,
}

/// `mmlog stat DIR`.
#[derive(Debug, clap::Args)]
pub struct StatArgs {
    /// The log directory.
    pub dir: PathBuf,
}

/// `mmlog truncate DIR --front LSN | --back LSN`.
#[derive(Debug, clap::Args)]
#[command(group(ArgGroup::new("end").required(true).args(["front", "back"])))]
pub struct TruncateArgs {
    /// The log directory.
    pub dir: PathBuf,

    /// Free every segment whose records all lie below LSN (retention; whole segments
    /// only, so some records below LSN may remain).
    #[arg(long, value_name = "LSN")]
    pub front: Option<u64>,

    /// Remove every record at or after LSN, durably.
    #[arg(long, value_name = "LSN")]
    pub back: Option<u64>,
}

/// `mmlog bench [--dir DIR] [--records N] [--size BYTES] [--threads T] [--quick]
/// [--allow-tmpfs]`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Run in a fresh subdirectory of DIR (which must exist) instead of the system's
    /// temporary directory; the subdirectory is removed afterwards. Use a directory on the
    /// disk you care about: tmpfs is refused (see --allow-tmpfs). W5 writes logs of 1 and
    /// 8 GiB (256 MiB and 2 GiB with --quick) for mmlog and the baseline each, and is
    /// skipped when the file system has less than that plus 2 GiB free.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Records per run of W1, W1a and W4 [default: 1000000, or 200000 with --quick].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub records: Option<u64>,

    /// Payload bytes per record of W1, W1a, W2, W3 and W4 (W1b, W5 and W6 use 4 KiB).
    #[arg(
        long,
        value_name = "BYTES",
        default_value_t = 128,
        value_parser = clap::value_parser!(u64).range(1..=BENCH_SIZE_MAX)
    )]
    pub size: u64,

    /// Run W3 (concurrent durable appends) with T threads only [default: 1, 2, 4, 8 and
    /// 16 threads].
    #[arg(long, value_name = "T", value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub threads: Option<u64>,

    /// A shorter run (about a minute): fewer records per workload (200000 for W1, W1a
    /// and W4 unless --records is given), shorter time limits for W2 and W3, logs of
    /// 256 MiB and 2 GiB for W5.
    #[arg(long)]
    pub quick: bool,

    /// Run even if the directory is on tmpfs, where syncs reach no disk and the numbers
    /// of the durable workloads mean nothing.
    #[arg(long)]
    pub allow_tmpfs: bool,

    /// Run only these workloads, by id, comma-separated (e.g. W3,W7); targets of the
    /// others are reported as not measured.
    #[arg(long, value_name = "IDS")]
    pub only: Option<String>,
}

impl BenchArgs {
    /// The number of records per workload, after `--quick` and `--records`.
    pub fn record_count(&self) -> u64 {
        match (self.records, self.quick) {
            (Some(count), _) => count,
            (None, true) => BENCH_RECORDS_QUICK,
            (None, false) => BENCH_RECORDS_DEFAULT,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn quick_only_changes_the_default_record_count() {
        let parse = |argv: &[&str]| match Args::try_parse_from(argv) {
            Ok(Args {
                command: Command::Bench(bench),
            }) => bench,
            Ok(other) => panic!("{argv:?} parsed as {other:?}"),
            Err(e) => panic!("{argv:?} did not parse: {e}"),
        };
        assert_eq!(
            parse(&["mmlog", "bench"]).record_count(),
            BENCH_RECORDS_DEFAULT
        );
        assert_eq!(
            parse(&["mmlog", "bench", "--quick"]).record_count(),
            BENCH_RECORDS_QUICK
        );
        assert_eq!(
            parse(&["mmlog", "bench", "--quick", "--records", "7"]).record_count(),
            7
        );
    }

    #[test]
    fn sync_modes_parse() {
        assert_eq!(parse_sync("none"), Ok(SyncMode::None));
        assert_eq!(parse_sync("each"), Ok(SyncMode::Each));
        assert_eq!(parse_sync("every:3"), Ok(SyncMode::Every(3)));
        for bad in [
            "", "every", "every:", "every:0", "every:-1", "every:x", "Each", "all",
        ] {
            assert!(parse_sync(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn append_defaults_to_sync_each_and_msync() {
        match Args::try_parse_from(["mmlog", "append", "d"]) {
            Ok(Args {
                command: Command::Append(a),
            }) => {
                assert_eq!(a.sync, SyncMode::Each);
                assert_eq!(a.durability, DurabilityArg::Msync);
                assert_eq!(a.segment_size, None);
            }
            other => panic!("append did not parse: {other:?}"),
        }
        match Args::try_parse_from(["mmlog", "append", "d", "--durability", "io-uring"]) {
            Ok(Args {
                command: Command::Append(a),
            }) => assert_eq!(a.durability, DurabilityArg::IoUring),
            other => panic!("--durability io-uring did not parse: {other:?}"),
        }
    }

    #[test]
    fn truncate_takes_exactly_one_end() {
        for argv in [
            &["mmlog", "truncate", "d"][..],
            &["mmlog", "truncate", "d", "--front", "1", "--back", "2"],
        ] {
            let err = Args::try_parse_from(argv).expect_err("needs exactly one of them");
            assert_eq!(err.exit_code(), 2, "{argv:?}");
        }
        assert!(Args::try_parse_from(["mmlog", "truncate", "d", "--back", "2"]).is_ok());
    }

    #[test]
    fn out_of_range_values_are_usage_errors() {
        for argv in [
            &["mmlog", "bench", "--records", "0"][..],
            &["mmlog", "bench", "--size", "0"],
            &["mmlog", "bench", "--threads", "0"],
            &["mmlog", "bench", "--size", "16777217"],
            &["mmlog", "append", "d", "--segment-size", "4096"],
            &["mmlog", "append", "d", "--sync", "every:0"],
            &["mmlog", "cat", "d", "--from", "x"],
            &["mmlog", "cat", "d", "--from", "-1"],
        ] {
            let err = Args::try_parse_from(argv).expect_err("out of range");
            assert_eq!(err.exit_code(), 2, "{argv:?}");
        }
    }
}
