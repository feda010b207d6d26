//! `mmlog append DIR [--sync none|each|every:N] [--durability ...] [--segment-size BYTES]`:
//! records from stdin, one per line; each record's LSN on stdout once it is acknowledged.
//!
//! A printed LSN is an acknowledgement, so it is printed (and flushed) only after the
//! record is as safe as `--sync` promises: in the log (`none`), or durable (`each`, and
//! `every:N` after the sync that covers it). stdin is read in a streaming way, one line at
//! a time, and a line is never buffered beyond the segment size: a longer line cannot be a
//! record anyway.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;

use mmlog::{Durability, Log, Lsn, Options};

use crate::args::{AppendArgs, DurabilityArg, SyncMode};
use crate::{log_error, opening, stdout_error, CliError};

/// The capacity of the stdin buffer.
const STDIN_BUFFER_LEN: usize = 64 * 1024;

/// Runs `mmlog append`.
///
/// # Errors
/// `CliError::Usage` for `--durability io-uring` in a build without the feature and for a
/// line longer than a segment; `CliError::Log` when the open, an append or a sync fails
/// (`Error::Locked` for a second writer, `Error::RecordTooLarge`, ...); `CliError::Io`
/// when stdin cannot be read or stdout written. Records acknowledged before an error stay
/// in the log.
pub fn run(args: &AppendArgs) -> Result<(), CliError> {
    let dir = args.dir.as_path();
    // Without --segment-size, the library keeps the log's own segment size.
    let mut options = Options::default().durability(durability(args.durability)?);
    if let Some(bytes) = args.segment_size {
        options = options.segment_size(bytes);
    }
    let log = Log::open(dir, options).map_err(opening(dir))?;
    let appended = append_lines(&log, args);
    // The end, clean or not, closes the log, which syncs it (also with `--sync none`: the
    // acknowledgements did not wait for it, but a shutdown leaves a durable log). After a
    // failed append (a full disk, a line too long) the records acknowledged before it are
    // made durable too; that error is the one reported.
    let closed = log.close().map_err(log_error(|| {
        format!("cannot close the log in {}", dir.display())
    }));
    appended.and(closed)
}

/// Appends the lines of stdin to `log` and acknowledges them as `--sync` asks.
fn append_lines(log: &Log, args: &AppendArgs) -> Result<(), CliError> {
    let dir = args.dir.as_path();
    // No payload can be longer than a record can be: reading further would only fill
    // memory.
    let line_len_max = log.record_len_max();
    let mut input = BufReader::with_capacity(STDIN_BUFFER_LEN, io::stdin());
    let mut acks = Acks {
        out: io::stdout().lock(),
        pending: Vec::new(),
    };
    let mut line = Vec::new();
    let mut line_number = 0u64;
    loop {
        line.clear();
        let read = (&mut input)
            .take(line_len_max + 1)
            .read_until(b'\n', &mut line)
            .map_err(|source| CliError::Io {
                op: "read stdin",
                path: None,
                source,
            })?;
        if read == 0 {
            break;
        }
        line_number += 1;
        if line.last() == Some(&b'\n') {
            line.pop();
        } else if read as u64 > line_len_max {
            acks.settle(log, dir, args.sync)?;
            return Err(CliError::Usage(format!(
                "line {line_number} of stdin is longer than the largest record a segment holds \
                 ({line_len_max} bytes); nothing from it on was appended (use a larger --segment-size)"
            )));
        }
        let appended = match args.sync {
            SyncMode::Each => log.append_durable(&line),
            SyncMode::None | SyncMode::Every(_) => log.append(&line),
        };
        let lsn = match appended {
            Ok(lsn) => lsn,
            Err(source) => {
                // Records appended before this one were fine: acknowledge them first.
                acks.settle(log, dir, args.sync)?;
                return Err(CliError::Log {
                    context: format!(
                        "cannot append line {line_number} of stdin to the log in {} \
                         (nothing from it on was appended)",
                        dir.display()
                    ),
                    source,
                });
            }
        };
        acks.pending.push(lsn);
        match args.sync {
            SyncMode::None | SyncMode::Each => acks.print()?,
            SyncMode::Every(count) if acks.pending.len() as u64 >= count => {
                acks.settle(log, dir, args.sync)?;
            }
            SyncMode::Every(_) => {}
        }
    }
    acks.settle(log, dir, args.sync)
}

/// LSNs appended but not yet acknowledged, and the stdout they are printed on.
struct Acks {
    out: io::StdoutLock<'static>,
    pending: Vec<Lsn>,
}

impl Acks {
    /// Makes the pending records as safe as `--sync` asks, then acknowledges them.
    fn settle(&mut self, log: &Log, dir: &Path, sync: SyncMode) -> Result<(), CliError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        if let SyncMode::Every(_) = sync {
            log.sync().map_err(log_error(|| {
                format!("cannot sync the log in {}", dir.display())
            }))?;
        }
        self.print()
    }

    /// Prints the pending LSNs, one per line, in one write, and flushes.
    fn print(&mut self) -> Result<(), CliError> {
        let mut text = String::with_capacity(self.pending.len() * 8);
        for lsn in self.pending.drain(..) {
            text.push_str(&lsn.to_string());
            text.push('\n');
        }
        self.out.write_all(text.as_bytes()).map_err(stdout_error)?;
        self.out.flush().map_err(stdout_error)
    }
}

/// The library's `Durability` for `--durability`.
fn durability(arg: DurabilityArg) -> Result<Durability, CliError> {
    match arg {
        DurabilityArg::Msync => Ok(Durability::Msync),
        DurabilityArg::Fdatasync => Ok(Durability::Fdatasync),
        #[cfg(feature = "io-uring")]
        DurabilityArg::IoUring => Ok(Durability::IoUring),
        #[cfg(not(feature = "io-uring"))]
        DurabilityArg::IoUring => Err(CliError::Usage(
            "--durability io-uring needs mmlog built with the `io-uring` feature; use msync or fdatasync"
                .to_string(),
        )),
    }
}
