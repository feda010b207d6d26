//! `mmlog verify DIR`: checks every segment and record with `mmlog::verify`, prints a
//! summary and one line per problem (segment file, byte offset, reason), and exits 1 if
//! there is any problem. Read-only: it takes no lock and never writes.

use std::io::{self, IsTerminal, Write};

use mmlog::VerifyReport;

use crate::args::VerifyArgs;
use crate::{log_error, no_log, stdout_error, CliError};

/// Runs `mmlog verify`.
///
/// # Errors
/// `CliError::Corrupt` (exit 1) when the log has problems, after the report is printed;
/// `CliError::Log` when the directory or a file cannot be read; `CliError::Usage` for a
/// directory that holds no log; `CliError::Io` when stdout cannot be written.
pub fn run(args: &VerifyArgs) -> Result<(), CliError> {
    let dir = args.dir.as_path();
    // Progress is for a person watching; logs and pipes get the report only.
    let show_progress = io::stderr().is_terminal();
    let report = mmlog::verify(dir, |done, total| {
        if show_progress {
            eprint!("\rverifying segment {done} of {total}");
        }
    })
    .map_err(log_error(|| {
        format!("cannot verify the log in {}", dir.display())
    }));
    if show_progress {
        // Clear the progress line.
        eprint!("\r\x1b[K");
    }
    let report = report?;
    if report.segments.is_empty() && report.problems.is_empty() {
        return Err(no_log(dir));
    }
    let mut out = io::stdout().lock();
    match print_report(&mut out, &report).and_then(|()| out.flush()) {
        // The reader wanted no more (`mmlog verify DIR | head`): the exit code still says
        // what verify found.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        other => other.map_err(stdout_error)?,
    }
    match report.problems.first() {
        None => Ok(()),
        Some(first) => {
            let count = report.problems.len();
            Err(CliError::Corrupt(format!(
                "the log in {} is corrupt: verify found {count} problem{}, the first in {} at byte {} (all are listed on stdout)",
                dir.display(),
                if count == 1 { "" } else { "s" },
                first.segment.display(),
                first.offset
            )))
        }
    }
}

fn print_report(out: &mut impl Write, report: &VerifyReport) -> io::Result<()> {
    let sealed = report.segments.iter().filter(|s| s.sealed).count();
    writeln!(
        out,
        "segments:     {} ({sealed} sealed, {} active)",
        report.segments.len(),
        report.segments.len() - sealed
    )?;
    if report.records == 0 {
        writeln!(
            out,
            "records:      0 (the next record takes LSN {})",
            report.next_lsn
        )?;
    } else {
        let span = report.next_lsn.saturating_sub(report.first_lsn);
        // Damage in a segment hides the records after it there: the range is the log's,
        // the count what could be read.
        let unreadable = if span > report.records {
            format!("; {} of them unreadable", span - report.records)
        } else {
            String::new()
        };
        writeln!(
            out,
            "records:      {} (LSNs {} to {}{unreadable})",
            report.records,
            report.first_lsn,
            report.next_lsn.saturating_sub(1)
        )?;
    }
    writeln!(out, "bytes:        {}", report.bytes)?;
    writeln!(
        out,
        "durable mark: {} (every LSN below it had been made durable)",
        report.durable_mark
    )?;
    match &report.torn_tail {
        None => writeln!(out, "torn tail:    none")?,
        Some(torn) => writeln!(
            out,
            "torn tail:    {} at byte {}: {} bytes after the last valid record \
             (not corruption: the next writer cuts them)",
            torn.segment.display(),
            torn.offset,
            torn.bytes
        )?,
    }
    writeln!(out, "problems:     {}", report.problems.len())?;
    for problem in &report.problems {
        writeln!(
            out,
            "problem: {} at byte {}: {}",
            problem.segment.display(),
            problem.offset,
            problem.reason
        )?;
    }
    Ok(())
}
