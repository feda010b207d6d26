//! `verify`: checks every segment and every record of a log, read-only, with `pread`.
//!
//! Unlike `open`, which trusts sealed segments that are certainly durable and stops at the
//! first problem, `verify` reads everything and lists every problem with its segment file
//! and byte offset. It never writes and takes no lock, so it runs beside a writer (records
//! the writer is appending at that moment may show up as a torn tail).

use std::path::{Path, PathBuf};

use crate::error::{CorruptReason, Error, Result};
use crate::format::{self, Defect};
use crate::recovery::{self, Probe};
use crate::{dir, log, Lsn};

/// One problem `verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Problem {
    /// The segment file.
    pub segment: PathBuf,
    /// The byte offset in it.
    pub offset: u64,
    /// What is wrong.
    pub reason: CorruptReason,
}

impl Problem {
    /// The problem as the `Error::Corrupt` that `open` would return for it.
    pub fn to_error(&self) -> Error {
        Error::Corrupt {
            segment: self.segment.clone(),
            offset: self.offset,
            reason: self.reason.clone(),
        }
    }
}

/// One segment as `verify` found it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SegmentReport {
    /// The segment file.
    pub path: PathBuf,
    /// The LSN its name (and header) says it starts at.
    pub base_lsn: Lsn,
    /// The LSN after its last valid record.
    pub next_lsn: Lsn,
    /// Valid records in it.
    pub records: u64,
    /// Bytes its valid records take (headers included).
    pub bytes: u64,
    /// Whether it has a valid trailer.
    pub sealed: bool,
}

/// A torn tail: bytes after the last valid record of the last segment, beyond the durable
/// mark. Not corruption: `open` cuts it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TornTail {
    /// The segment file.
    pub segment: PathBuf,
    /// Offset of the first byte that is not part of a valid record.
    pub offset: u64,
    /// Non-zero bytes from there on.
    pub bytes: u64,
}

/// What `verify` found.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct VerifyReport {
    /// Every segment, in LSN order.
    pub segments: Vec<SegmentReport>,
    /// Valid records in all segments.
    pub records: u64,
    /// Payload and header bytes of those records.
    pub bytes: u64,
    /// The first LSN of the log.
    pub first_lsn: Lsn,
    /// The LSN after the last valid record.
    pub next_lsn: Lsn,
    /// The persisted durable mark.
    pub durable_mark: Lsn,
    /// A torn tail, if any.
    pub torn_tail: Option<TornTail>,
    /// Every problem found; empty for a healthy log.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// Whether the log is free of corruption (a torn tail is not corruption).
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks every segment and record of the log in `dir`, without writing anything.
/// `progress(done, total)` is called after each segment.
///
/// # Errors
/// `Error::Io` if the directory or a file cannot be read. Corruption is not an error here:
/// it is listed in `VerifyReport::problems`.
///
/// # Examples
/// ```
/// let dir = tempfile::tempdir().expect("a temporary directory");
/// let log = mmlog::Log::open(dir.path(), mmlog::Options::default().segment_size(1 << 20))?;
/// log.append(b"x")?;
/// log.close()?;
/// let report = mmlog::verify(dir.path(), |_, _| {})?;
/// assert!(report.is_ok());
/// assert_eq!(report.records, 1);
/// # Ok::<(), mmlog::Error>(())
/// ```
pub fn verify(
    dir: impl AsRef<Path>,
    mut progress: impl FnMut(usize, usize),
) -> Result<VerifyReport> {
    let dir = dir.as_ref();
    dir::require_dir(dir)?;
    let listed = dir::list_segments(dir)?;
    let probes = listed
        .iter()
        .map(|(lsn, path)| log::probe(path, *lsn))
        .collect::<Result<Vec<Probe>>>()?;
    let mut report = VerifyReport {
        first_lsn: probes.first().map_or(0, |p| p.name_lsn),
        ..VerifyReport::default()
    };
    let problem = |report: &mut VerifyReport, probe: &Probe, d: Defect| {
        report.problems.push(Problem {
            segment: probe.path.clone(),
            offset: d.offset,
            reason: d.reason,
        });
    };
    let metas: Vec<_> = probes.iter().map(recovery::check_header).collect();
    for (probe, meta) in probes.iter().zip(&metas) {
        if let Ok(meta) = meta {
            if let Some(slot) = format::durable_mark(&probe.header_page, meta.seed()) {
                report.durable_mark = report.durable_mark.max(slot.mark);
            }
        }
    }
    let mut expected: Option<Lsn> = None;
    for (i, (probe, meta)) in probes.iter().zip(&metas).enumerate() {
        progress(i, probes.len());
        let meta = match meta {
            Ok(meta) => *meta,
            Err(d) => {
                problem(&mut report, probe, d.clone());
                expected = None;
                continue;
            }
        };
        if let Some(expected) = expected {
            if meta.base_lsn != expected {
                problem(
                    &mut report,
                    probe,
                    Defect {
                        offset: 0,
                        reason: CorruptReason::MissingSegment {
                            expected,
                            found: meta.base_lsn,
                        },
                    },
                );
            }
        }
        let trailer = match format::decode_trailer(
            &probe.trailer,
            meta.seed(),
            meta.segment_len,
            meta.base_lsn,
        ) {
            Ok(t) => t,
            Err(d) => {
                problem(&mut report, probe, d);
                None
            }
        };
        let image = log::read_image(&probes, i)?;
        let area_end = trailer.map_or(format::records_end(meta.segment_len), |t| t.records_end);
        let scan = recovery::scan(&mut image.as_slice(), &meta, area_end, trailer.is_some())?;
        // The base of the next segment, if there is one with a readable header (a broken
        // one is a problem of its own, not of this segment's end).
        let next_base = metas
            .get(i + 1)
            .and_then(|m| m.as_ref().ok())
            .map(|m| m.base_lsn);
        match trailer {
            Some(t) => {
                if scan.end != t.records_end || scan.next_lsn != t.next_lsn {
                    let d = scan.defect.clone().unwrap_or(Defect {
                        offset: scan.end,
                        reason: CorruptReason::BadIndex,
                    });
                    problem(&mut report, probe, d);
                } else if !index_matches(&image, &meta, t, &scan.index) {
                    problem(
                        &mut report,
                        probe,
                        Defect {
                            offset: format::records_end(meta.segment_len),
                            reason: CorruptReason::BadIndex,
                        },
                    );
                }
            }
            None if next_base.is_some() => {
                if next_base != Some(scan.next_lsn) {
                    let d = scan.defect.clone().unwrap_or(Defect {
                        offset: scan.end,
                        reason: CorruptReason::DurableRecordsLost {
                            lsn: scan.next_lsn,
                            durable: next_base.unwrap_or(scan.next_lsn),
                        },
                    });
                    problem(&mut report, probe, d);
                }
            }
            None => {
                let zero_end = recovery::nonzero_end(
                    &mut image.as_slice(),
                    scan.end,
                    format::records_end(meta.segment_len),
                )?;
                if scan.next_lsn < report.durable_mark {
                    let d = scan.defect.clone().unwrap_or(Defect {
                        offset: scan.end,
                        reason: CorruptReason::DurableRecordsLost {
                            lsn: scan.next_lsn,
                            durable: report.durable_mark,
                        },
                    });
                    problem(&mut report, probe, d);
                } else if zero_end > scan.end {
                    report.torn_tail = Some(TornTail {
                        segment: probe.path.clone(),
                        offset: scan.end,
                        bytes: zero_end - scan.end,
                    });
                }
            }
        }
        let records = scan.next_lsn - meta.base_lsn;
        let bytes = scan.end - format::RECORDS_START;
        report.records += records;
        report.bytes += bytes;
        report.next_lsn = scan.next_lsn;
        report.segments.push(SegmentReport {
            path: probe.path.clone(),
            base_lsn: meta.base_lsn,
            next_lsn: scan.next_lsn,
            records,
            bytes,
            sealed: trailer.is_some(),
        });
        expected = Some(trailer.map_or(scan.next_lsn, |t| t.next_lsn));
    }
    progress(probes.len(), probes.len());
    Ok(report)
}

/// Whether a sealed segment's index is intact and names the records the scan found.
fn index_matches(
    image: &[u8],
    meta: &format::SegmentMeta,
    t: format::TrailerMeta,
    scanned: &[format::IndexPoint],
) -> bool {
    let start = usize::try_from(format::records_end(meta.segment_len)).unwrap_or(usize::MAX);
    let Some(region) = image.get(start..) else {
        return false;
    };
    if !format::index_valid(region, t.index_count, meta.seed(), t.index_crc) {
        return false;
    }
    let count = usize::try_from(t.index_count).unwrap_or(usize::MAX);
    count == scanned.len()
        && (0..count).all(|i| format::index_entry(region, i).as_ref() == scanned.get(i))
}
