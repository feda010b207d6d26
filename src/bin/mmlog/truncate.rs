//! `mmlog truncate DIR --front LSN | --back LSN`: retention at the front, or removal of
//! every record from an LSN on, through a writable open (it takes the lock, so it refuses
//! to run beside a writer).

use std::io::{self, Write};

use mmlog::{Log, Options};

use crate::args::TruncateArgs;
use crate::{log_error, no_log, open_read_only, opening, stdout_error, CliError};

/// Runs `mmlog truncate`.
///
/// # Errors
/// `CliError::Usage` for a directory that holds no log (a writable open would create
/// one); `CliError::Log` when the open fails (`Error::Locked` for a running writer,
/// `Error::Corrupt`), for an LSN outside the log (`Error::LsnOutOfRange`), or when the
/// truncation or the final sync fails; `CliError::Io` when stdout cannot be written.
pub fn run(args: &TruncateArgs) -> Result<(), CliError> {
    let dir = args.dir.as_path();
    // A read-only look first: it refuses a directory without a log (the writable open
    // would create one). The writable open keeps the log's segment size.
    if open_read_only(dir)?.stats().segments.is_empty() {
        return Err(no_log(dir));
    }
    let log = Log::open(dir, Options::default().create(false)).map_err(opening(dir))?;
    let context = || format!("cannot truncate the log in {}", dir.display());
    let report = match (args.front, args.back) {
        (Some(lsn), _) => {
            let before = log.first_lsn();
            let after = log.truncate_front(lsn).map_err(log_error(context))?;
            let removed = if after == before {
                format!("unchanged: no finished segment lies wholly below {lsn}")
            } else {
                format!("was {before}; segments whose records all lie below {lsn} were removed")
            };
            format!(
                "first LSN:  {after} ({removed})\nnext LSN:   {}\n",
                log.next_lsn()
            )
        }
        (None, Some(lsn)) => {
            let before = log.next_lsn();
            log.truncate_back(lsn).map_err(log_error(context))?;
            let removed = if lsn == before {
                "nothing removed".to_string()
            } else {
                format!("records {lsn} to {} were removed", before - 1)
            };
            format!(
                "first LSN:  {}\nnext LSN:   {} (was {before}; {removed})\n",
                log.first_lsn(),
                log.next_lsn()
            )
        }
        (None, None) => {
            return Err(CliError::Usage(
                "truncate needs --front LSN or --back LSN".to_string(),
            ))
        }
    };
    log.close().map_err(log_error(|| {
        format!("cannot close the log in {}", dir.display())
    }))?;
    let mut out = io::stdout().lock();
    out.write_all(report.as_bytes()).map_err(stdout_error)?;
    out.flush().map_err(stdout_error)
}
