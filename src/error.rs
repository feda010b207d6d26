//! `Error`, `CorruptReason` and `Result`: one error type for the whole crate.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::Lsn;

/// The result type of every fallible mmlog call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in mmlog.
///
/// Each message says what happened, where, and what to do about it.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system call failed: `op` is the call, `path` the file it was about.
    Io {
        /// The operation that failed, e.g. `"fdatasync"`.
        op: &'static str,
        /// The file or directory the operation was about.
        path: PathBuf,
        /// The error the operating system returned.
        source: io::Error,
    },
    /// Another writer (in this process or another) holds the directory lock.
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// Data on disk fails validation where it was certainly durable.
    Corrupt {
        /// The segment file (or directory) that holds the damage.
        segment: PathBuf,
        /// The byte offset of the damage inside `segment`.
        offset: u64,
        /// What exactly is wrong.
        reason: CorruptReason,
    },
    /// A record (or an atomic batch) does not fit into one segment.
    RecordTooLarge {
        /// The length that was asked for, in bytes.
        len: u64,
        /// The largest length a segment of the configured size can hold.
        max: u64,
    },
    /// The file system has no room for a new segment.
    NoSpace {
        /// The segment file that could not be preallocated.
        path: PathBuf,
        /// The number of bytes that were asked for.
        len: u64,
    },
    /// A write was attempted on a log opened with `Options::read_only(true)`.
    ReadOnly,
    /// An earlier sync failed; the log refuses appends and syncs until it is reopened.
    Poisoned,
    /// The requested feature is not available on this machine or in this build.
    Unsupported(String),
    /// The `Options` (or an argument) break a documented limit.
    InvalidOptions(String),
    /// `truncate_back` removed records an iterator or tailer had already read or was
    /// positioned beyond (continuing would splice two histories), or, from
    /// `append_durable`, `sync_to` or an append under `SyncPolicy::Always`, the record the
    /// call was making durable (it is gone, and its LSN may hold another record by now).
    Truncated {
        /// The LSN the iterator was at (the next it would have read), or the record the
        /// durable call was making durable.
        lsn: Lsn,
        /// The LSN `truncate_back` cut the log at.
        cut: Lsn,
    },
    /// The call would wait for a `Reservation` that this same thread holds, and so wait
    /// forever; the string names the call. Commit or drop the reservation first.
    Deadlock(&'static str),
    /// An LSN lies outside the records the log holds.
    LsnOutOfRange {
        /// The LSN that was asked for.
        lsn: Lsn,
        /// The first LSN the log holds.
        first: Lsn,
        /// The LSN the next appended record will take.
        next: Lsn,
    },
}

/// Why a segment or record failed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CorruptReason {
    /// The file does not start with the segment magic.
    BadMagic {
        /// The first eight bytes found.
        found: [u8; 8],
    },
    /// The segment was written by a format version this build does not read.
    UnsupportedVersion {
        /// The version in the header.
        found: u32,
        /// The version this build reads and writes.
        supported: u32,
    },
    /// A header's checksum does not match its bytes.
    HeaderChecksum {
        /// The checksum stored in the header.
        stored: u32,
        /// The checksum computed over the header bytes.
        computed: u32,
    },
    /// The file is shorter than its header says.
    SegmentTooShort {
        /// The length the header declares.
        expected: u64,
        /// The length of the file.
        found: u64,
    },
    /// The header's fields are out of bounds or disagree with the file name.
    BadHeaderField {
        /// The field.
        field: &'static str,
        /// The value the file name or the limits require.
        expected: u64,
        /// The value found.
        found: u64,
    },
    /// A record header has an unknown type byte (an all-zero header has type 0).
    BadRecordKind {
        /// The type byte found.
        found: u8,
    },
    /// A record's length runs past the end of the segment's record area.
    RecordLength {
        /// The payload length in the header.
        len: u64,
        /// The largest payload length that fits at this offset.
        max: u64,
    },
    /// A record's checksum does not match (a torn write, bit rot, or a stale record).
    RecordChecksum {
        /// The checksum stored in the header.
        stored: u32,
        /// The checksum computed over header and payload.
        computed: u32,
    },
    /// A record carries the wrong LSN.
    LsnDiscontinuity {
        /// The LSN the position requires.
        expected: Lsn,
        /// The LSN in the header.
        found: Lsn,
    },
    /// A record older than the one before it (a lower writer epoch): left over from before
    /// a cut, where a newer record's page was lost.
    StaleRecord {
        /// The record's epoch.
        epoch: u32,
        /// The epoch of the record before it.
        min: u32,
    },
    /// The records of an atomic batch do not count down correctly.
    BatchBroken {
        /// The records-to-come count the batch requires.
        expected: u64,
        /// The count found.
        found: u64,
    },
    /// The log stops before its persisted durable mark: acknowledged-durable records are gone.
    DurableRecordsLost {
        /// The first LSN that is missing.
        lsn: Lsn,
        /// The durable mark: every LSN below it had been made durable.
        durable: Lsn,
    },
    /// The segment files do not continue each other.
    MissingSegment {
        /// The base LSN the next segment should have.
        expected: Lsn,
        /// The base LSN of the segment found instead.
        found: Lsn,
    },
    /// A sealed segment's index is inconsistent with its records.
    BadIndex,
}

impl fmt::Display for CorruptReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CorruptReason::BadMagic { found } => {
                let hex: String = found.iter().map(|b| format!("{b:02x}")).collect();
                write!(f, "not an mmlog segment (first bytes 0x{hex}, expected \"MMLOGSEG\")")
            }
            CorruptReason::UnsupportedVersion { found, supported } => write!(
                f,
                "format version {found} is not supported (this build reads version {supported})"
            ),
            CorruptReason::HeaderChecksum { stored, computed } => write!(
                f,
                "header checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
            ),
            CorruptReason::SegmentTooShort { expected, found } => write!(
                f,
                "file is {found} bytes, shorter than the {expected} it needs"
            ),
            CorruptReason::BadHeaderField {
                field: "segment_len",
                found,
                ..
            } => write!(
                f,
                "header field segment_len is {found}, expected a multiple of {} from {} to {}",
                crate::format::PAGE_LEN,
                crate::options::SEGMENT_SIZE_MIN,
                crate::options::SEGMENT_SIZE_MAX
            ),
            CorruptReason::BadHeaderField {
                field,
                expected,
                found,
            } => write!(f, "header field {field} is {found}, expected {expected}"),
            CorruptReason::BadRecordKind { found } => {
                write!(f, "record type {found} is unknown")
            }
            CorruptReason::RecordLength { len, max } => write!(
                f,
                "record length {len} runs past the segment end (at most {max} fits here)"
            ),
            CorruptReason::RecordChecksum { stored, computed } => write!(
                f,
                "record checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
            ),
            CorruptReason::LsnDiscontinuity { expected, found } => {
                write!(f, "record has LSN {found}, expected {expected}")
            }
            CorruptReason::StaleRecord { epoch, min } => write!(
                f,
                "stale record (writer epoch {epoch}, below the epoch {min} of the record before it)"
            ),
            CorruptReason::BatchBroken { expected, found } => write!(
                f,
                "atomic batch broken (expected {expected} records to follow, found {found})"
            ),
            CorruptReason::DurableRecordsLost { lsn, durable } => write!(
                f,
                "valid records end at LSN {lsn} but records up to {durable} had been made durable"
            ),
            CorruptReason::MissingSegment { expected, found } => write!(
                f,
                "segment files do not continue each other (expected a segment starting at LSN {expected}, found {found})"
            ),
            CorruptReason::BadIndex => write!(f, "segment index disagrees with its records"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { op, path, source } => {
                write!(f, "{op} failed on {}: {source}", path.display())
            }
            Error::Locked { path } => write!(
                f,
                "the log is locked by another writer ({}); close it first or open with Options::read_only(true)",
                path.display()
            ),
            Error::Corrupt {
                segment,
                offset,
                reason,
            } => write!(
                f,
                "{}: {reason} at byte {offset}; open with Recovery::TruncateAtCorruption to keep the valid prefix",
                segment.display()
            ),
            Error::RecordTooLarge { len, max } => write!(
                f,
                "a record of {len} bytes does not fit in a segment, which holds at most {max} (for a batch: its records with their headers); use a larger Options::segment_size"
            ),
            Error::NoSpace { path, len } => write!(
                f,
                "no space left on the file system for {} ({len} bytes, or a free inode); free disk space (nothing already written is lost)",
                path.display()
            ),
            Error::ReadOnly => write!(f, "the log was opened read-only and cannot be written"),
            Error::Poisoned => write!(
                f,
                "an earlier sync failed, so unsynced data cannot be trusted; reopen the log to recover"
            ),
            Error::Unsupported(what) => write!(f, "unsupported: {what}"),
            Error::InvalidOptions(what) => write!(f, "invalid options: {what}"),
            Error::Truncated { lsn, cut } => write!(
                f,
                "truncate_back cut the log at LSN {cut}, at or below LSN {lsn} (the record this call was making durable, or where this reader had got to): the records from {cut} on are gone (an iterator starts again from {cut})"
            ),
            Error::Deadlock(what) => write!(
                f,
                "{what} would wait for a reservation held by this same thread; commit or drop the reservation first"
            ),
            Error::LsnOutOfRange { lsn, first, next } if first >= next => write!(
                f,
                "LSN {lsn} is out of range: the log holds no records (the next one takes LSN {next})"
            ),
            Error::LsnOutOfRange { lsn, first, next } => write!(
                f,
                "LSN {lsn} is out of range: the log holds LSNs {first} to {} (the next record takes {next})",
                next - 1
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Returns a closure that wraps an `io::Error` with the operation and the path. (Only
/// preallocation turns `ENOSPC` into `Error::NoSpace`; a sync that fails for lack of space
/// is an `Io` error, and it poisons the log.)
pub(crate) fn io_error<'a>(
    op: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> Error + 'a {
    move |source| Error::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}
