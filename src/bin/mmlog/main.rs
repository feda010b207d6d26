//! `mmlog`: the command-line tool. It uses mmlog's public API only, like any embedder.
//!
//! Exit codes (see `CONTRACT.md`): 0 success, 1 the log is corrupt (or a command found
//! corruption), 2 usage or I/O error. Errors go to stderr as one sentence.

mod append;
mod args;
mod bench;
mod cat;
mod stat;
mod truncate;
mod verify;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use mmlog::{Log, Options};

use crate::args::{Args, Command};

fn main() -> ExitCode {
    // clap prints usage errors itself and exits with code 2 (0 for --help/--version).
    let args = Args::parse();
    let result = match args.command {
        Command::Append(append_args) => append::run(&append_args),
        // Their output only shows or describes the log: a reader that wanted no more of it
        // (`| head`) is not a failure (a truncation was done by then). `verify` handles it
        // itself: its exit code says what it found.
        Command::Cat(cat_args) => quiet_broken_pipe(cat::run(&cat_args)),
        Command::Verify(verify_args) => verify::run(&verify_args),
        Command::Stat(stat_args) => quiet_broken_pipe(stat::run(&stat_args)),
        Command::Truncate(truncate_args) => quiet_broken_pipe(truncate::run(&truncate_args)),
        Command::Bench(bench_args) => bench::run(&bench_args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("mmlog: {error}");
            error.exit_code()
        }
    }
}

/// `Ok` for a write to a pipe whose reader has gone; anything else as it is.
fn quiet_broken_pipe(result: Result<(), CliError>) -> Result<(), CliError> {
    match result {
        Err(e) if e.is_broken_pipe() => Ok(()),
        other => other,
    }
}

/// Why a command failed: the one error type of the binary.
#[derive(Debug)]
pub enum CliError {
    /// An mmlog call failed; `context` says what the command was doing.
    Log {
        /// What the command was doing, e.g. "appending to the log in /tmp/x".
        context: String,
        /// The library's error.
        source: mmlog::Error,
    },
    /// An I/O call of the binary itself failed (files of the baseline, stdout, ...).
    Io {
        /// The operation, e.g. "create file".
        op: &'static str,
        /// The path it was about, if any.
        path: Option<PathBuf>,
        /// The operating system's error.
        source: io::Error,
    },
    /// The arguments make no sense together (beyond what clap checks).
    Usage(String),
    /// Data read back differs from what was written, or fails its checksum.
    Corrupt(String),
}

impl CliError {
    /// The process exit code for this error: the one place errors map to 1 or 2.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Log {
                source: mmlog::Error::Corrupt { .. },
                ..
            }
            | CliError::Corrupt(_) => ExitCode::from(1),
            CliError::Log { .. } | CliError::Io { .. } | CliError::Usage(_) => ExitCode::from(2),
        }
    }

    /// Whether this is a write to a pipe whose reader has gone (`mmlog cat DIR | head`):
    /// the reader wanted no more, which is not an error of ours.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, CliError::Io { source, .. } if source.kind() == io::ErrorKind::BrokenPipe)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Log { context, source } => write!(f, "{context}: {}", describe(source)),
            CliError::Io {
                op,
                path: Some(path),
                source,
            } => write!(f, "{op} failed on {}: {source}", path.display()),
            CliError::Io {
                op,
                path: None,
                source,
            } => write!(f, "{op} failed: {source}"),
            CliError::Usage(what) | CliError::Corrupt(what) => f.write_str(what),
        }
    }
}

impl std::error::Error for CliError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CliError::Log { source, .. } => Some(source),
            CliError::Io { source, .. } => Some(source),
            CliError::Usage(_) | CliError::Corrupt(_) => None,
        }
    }
}

/// The library's message for `error`, with the hints that name Rust API calls replaced by
/// what a user of the command line can do.
fn describe(error: &mmlog::Error) -> String {
    match error {
        mmlog::Error::Corrupt {
            segment,
            offset,
            reason,
        } => format!(
            "{}: {reason} at byte {offset}; run `mmlog verify` on the directory to list every problem",
            segment.display()
        ),
        mmlog::Error::Locked { path } => format!(
            "another writer holds the lock on the log ({}); wait for it to finish, or read with `mmlog cat` meanwhile",
            path.display()
        ),
        mmlog::Error::RecordTooLarge { len, max } => format!(
            "a record of {len} bytes does not fit in a segment (at most {max} bytes); use a larger --segment-size"
        ),
        other => other.to_string(),
    }
}

/// The context of an error while opening the log in `dir`.
pub fn opening(dir: &Path) -> impl FnOnce(mmlog::Error) -> CliError + '_ {
    log_error(move || format!("cannot open the log in {}", dir.display()))
}

/// Opens the log in `dir` read-only (no lock, never writes), and refuses a directory that
/// holds no segment file: every log has at least one, so that is not a log at all.
///
/// # Errors
/// `CliError::Log` when the open fails (`Error::Corrupt` makes it exit 1);
/// `CliError::Usage` for a directory without segments.
pub fn open_read_only(dir: &Path) -> Result<Log, CliError> {
    let log =
        Log::open(dir, Options::default().read_only(true).create(false)).map_err(opening(dir))?;
    if log.stats().segments.is_empty() {
        return Err(no_log(dir));
    }
    Ok(log)
}

/// The error for a directory that holds no segment file.
pub fn no_log(dir: &Path) -> CliError {
    CliError::Usage(format!(
        "{} holds no mmlog log: it has no segment files (named like 00000000000000000000.seg)",
        dir.display()
    ))
}

/// `map_err` helper for an mmlog call: `log.sync().map_err(log_error(|| format!(...)))`.
pub fn log_error<C: FnOnce() -> String>(context: C) -> impl FnOnce(mmlog::Error) -> CliError {
    move |source| CliError::Log {
        context: context(),
        source,
    }
}

/// `map_err` helper for an I/O call on `path`: `.map_err(io_error("create file", &path))`.
pub fn io_error<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> CliError + 'a {
    move |source| CliError::Io {
        op,
        path: Some(path.to_path_buf()),
        source,
    }
}

/// `map_err` helper for writing the command's output to stdout.
pub fn stdout_error(source: io::Error) -> CliError {
    CliError::Io {
        op: "write to stdout",
        path: None,
        source,
    }
}
