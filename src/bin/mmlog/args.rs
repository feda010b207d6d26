//! The command line, parsed with clap derive: one variant of `Command` per subcommand.
//!
//! Usage errors (unknown flags, values out of range) are reported by clap on stderr and
//! exit with code 2, matching the contract's "2: usage or I/O error".

use std::path::PathBuf;

use clap::{Parser, Subcommand};

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
    /// Run the engine and a buffered-I/O baseline (std BufWriter + fdatasync) side by side
    /// on the same workloads and print one table with the ratios.
    Bench(BenchArgs),
}

/// `mmlog bench [--dir DIR] [--records N] [--size BYTES] [--threads T] [--quick]`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Run in a fresh subdirectory of DIR (which must exist) instead of the system's
    /// temporary directory; the subdirectory is removed afterwards. Use a directory on the
    /// disk you care about: numbers on tmpfs say nothing about durability.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Records per workload [default: 1000000, or 200000 with --quick].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub records: Option<u64>,

    /// Payload bytes per record.
    #[arg(
        long,
        value_name = "BYTES",
        default_value_t = 128,
        value_parser = clap::value_parser!(u64).range(1..=BENCH_SIZE_MAX)
    )]
    pub size: u64,

    /// Threads for multi-threaded workloads (not implemented yet: every workload runs on
    /// one thread, and the output says so).
    #[arg(long, value_name = "T", value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub threads: Option<u64>,

    /// A shorter run (200000 records unless --records is given).
    #[arg(long)]
    pub quick: bool,
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
    fn out_of_range_values_are_usage_errors() {
        for argv in [
            &["mmlog", "bench", "--records", "0"][..],
            &["mmlog", "bench", "--size", "0"],
            &["mmlog", "bench", "--threads", "0"],
            &["mmlog", "bench", "--size", "16777217"],
        ] {
            let err = Args::try_parse_from(argv).expect_err("out of range");
            assert_eq!(err.exit_code(), 2, "{argv:?}");
        }
    }
}
