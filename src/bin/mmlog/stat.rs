//! `mmlog stat DIR`: the segments with their LSN ranges and sizes, and the first, next
//! and durable LSN. Read-only: it takes no lock and never writes.

use std::io::{self, Write};

use mmlog::{Log, SegmentStats};

use crate::args::StatArgs;
use crate::{open_read_only, stdout_error, CliError};

/// Runs `mmlog stat`.
///
/// # Errors
/// `CliError::Log` when the open fails (`Error::Corrupt` exits 1); `CliError::Usage` for a
/// directory that holds no log; `CliError::Io` when stdout cannot be written.
pub fn run(args: &StatArgs) -> Result<(), CliError> {
    let log = open_read_only(&args.dir)?;
    let mut out = io::stdout().lock();
    print_stats(&mut out, &log).map_err(stdout_error)?;
    out.flush().map_err(stdout_error)
}

fn print_stats(out: &mut impl Write, log: &Log) -> io::Result<()> {
    let stats = log.stats();
    writeln!(out, "first LSN:   {}", stats.first_lsn)?;
    writeln!(out, "next LSN:    {}", stats.next_lsn)?;
    writeln!(
        out,
        "durable LSN: {} (every record below it is durable)",
        stats.durable_lsn
    )?;
    writeln!(out, "records:     {}", stats.next_lsn - stats.first_lsn)?;
    let torn = log.recovery_report().torn_bytes;
    if torn > 0 {
        writeln!(
            out,
            "torn tail:   {torn} bytes after the last valid record (the next writer cuts them)"
        )?;
    }
    writeln!(out, "segments:    {}", stats.segments.len())?;
    for segment in &stats.segments {
        print_segment(out, segment)?;
    }
    Ok(())
}

/// One segment line: file name, LSN range (end exclusive), file size, bytes used by
/// records (headers included), sealed or active.
fn print_segment(out: &mut impl Write, segment: &SegmentStats) -> io::Result<()> {
    let name = segment.path.file_name().map_or_else(
        || segment.path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    writeln!(
        out,
        "  {name}  LSNs {}..{}  size {}  used {}  {}",
        segment.base_lsn,
        segment.next_lsn,
        segment.len,
        segment.used,
        if segment.sealed { "sealed" } else { "active" }
    )
}
