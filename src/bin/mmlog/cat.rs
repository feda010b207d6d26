//! `mmlog cat DIR [--from LSN] [--follow] [--hex]`: records as `LSN<TAB>payload` lines.
//!
//! Read-only: the log is opened without the lock and never written, so `cat` runs beside a
//! writer. Every record is checked against its checksum before it is printed; at the
//! first record that fails, `cat` prints what came before, nothing of that record, and
//! exits 1 naming the segment file and byte offset.

use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::Duration;

use mmlog::{Log, Lsn, Record};

use crate::args::CatArgs;
use crate::{log_error, open_read_only, stdout_error, CliError};

/// The capacity of the stdout buffer.
const STDOUT_BUFFER_LEN: usize = 64 * 1024;
/// With `--follow`: the longest wait for a new record before looking again. New records
/// wake the follower at once; this only bounds a sleep.
const FOLLOW_WAIT: Duration = Duration::from_secs(1);
/// With `--follow`: records written between two flushes while records keep coming.
const FOLLOW_FLUSH_RECORDS: usize = 256;

/// Runs `mmlog cat`. (`main` ends it quietly when the reader goes away: `| head`.)
///
/// # Errors
/// `CliError::Log` when the open fails or a record fails its checksum (`Error::Corrupt`,
/// exit 1); `CliError::Usage` for a `--from` outside the log or a directory that holds no
/// log; `CliError::Io` when stdout cannot be written.
pub fn run(args: &CatArgs) -> Result<(), CliError> {
    let dir = args.dir.as_path();
    let log = open_read_only(dir)?;
    let from = start(&log, dir, args.from)?;
    let mut out = Output {
        out: BufWriter::with_capacity(STDOUT_BUFFER_LEN, io::stdout().lock()),
        hex: args.hex,
        hex_line: Vec::new(),
    };
    if args.follow {
        return follow(&log, dir, from, &mut out);
    }
    for record in log.iter_from(from) {
        match record {
            Ok(record) => out.record(&record)?,
            Err(source) => {
                // What was printed so far is valid: deliver it before the error.
                out.flush()?;
                return Err(reading(dir, source));
            }
        }
    }
    out.flush()
}

/// Prints records from `from` on as they arrive, until killed or the reader goes away.
fn follow(log: &Log, dir: &Path, from: Lsn, out: &mut Output) -> Result<(), CliError> {
    let mut tailer = log.tail_from(from);
    let mut unflushed = 0usize;
    loop {
        // While records are waiting to be flushed, only look; otherwise wait.
        let wait = if unflushed > 0 {
            Duration::ZERO
        } else {
            FOLLOW_WAIT
        };
        match tailer.next_timeout(wait) {
            Ok(Some(record)) => {
                out.record(&record)?;
                unflushed += 1;
                if unflushed >= FOLLOW_FLUSH_RECORDS {
                    out.flush()?;
                    unflushed = 0;
                }
            }
            Ok(None) => {
                if unflushed > 0 {
                    out.flush()?;
                    unflushed = 0;
                }
            }
            Err(source) => {
                out.flush()?;
                return Err(reading(dir, source));
            }
        }
    }
}

/// The first LSN to print: `--from`, checked against the log, or its first record.
fn start(log: &Log, dir: &Path, from: Option<Lsn>) -> Result<Lsn, CliError> {
    let (first, next) = (log.first_lsn(), log.next_lsn());
    match from {
        None => Ok(first),
        Some(lsn) if (first..=next).contains(&lsn) => Ok(lsn),
        Some(lsn) => {
            let holds = if first == next {
                format!("holds no records (the next record takes LSN {next})")
            } else {
                format!("holds LSNs {first} to {}", next - 1)
            };
            Err(CliError::Usage(format!(
                "--from {lsn} is outside the log in {}, which {holds}; use an LSN from {first} to {next}",
                dir.display()
            )))
        }
    }
}

/// The error for a record that could not be read.
fn reading(dir: &Path, source: mmlog::Error) -> CliError {
    log_error(|| format!("cannot read the log in {}", dir.display()))(source)
}

/// Buffered stdout, writing records as lines.
struct Output {
    out: BufWriter<io::StdoutLock<'static>>,
    hex: bool,
    /// The hex digits of the current payload (reused).
    hex_line: Vec<u8>,
}

impl Output {
    /// Writes `LSN<TAB>payload\n`: the payload's raw bytes, or lowercase hex.
    fn record(&mut self, record: &Record) -> Result<(), CliError> {
        const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";
        let payload = record.payload();
        write!(self.out, "{}\t", record.lsn()).map_err(stdout_error)?;
        if self.hex {
            self.hex_line.clear();
            self.hex_line.reserve(payload.len() * 2);
            for byte in payload {
                self.hex_line.push(HEX_DIGITS[usize::from(byte >> 4)]);
                self.hex_line.push(HEX_DIGITS[usize::from(byte & 0x0f)]);
            }
            self.out.write_all(&self.hex_line).map_err(stdout_error)?;
        } else {
            self.out.write_all(payload).map_err(stdout_error)?;
        }
        self.out.write_all(b"\n").map_err(stdout_error)
    }

    fn flush(&mut self) -> Result<(), CliError> {
        self.out.flush().map_err(stdout_error)
    }
}
