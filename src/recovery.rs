//! Recovery: first a plan (pure: which prefix is valid, where to cut), then a small
//! function in `log.rs` applies it.
//!
//! The rules, in order:
//!
//! 1. Every segment file must have a valid header whose base LSN matches its name, and be
//!    at least as long as the header says; the segments must continue each other (a gap
//!    beyond the durable mark is a lost directory entry of an unsynced segment: the log
//!    ends there).
//! 2. A sealed segment (valid trailer) is trusted without reading its records under
//!    `Recovery::Strict` (open time does not grow with the log); under
//!    `Recovery::TruncateAtCorruption` every record of it is checked.
//! 3. A segment without a trailer is scanned: the valid prefix is the longest run of
//!    records that decode (kind, length, checksum, LSN, epoch not going back) with every atomic batch
//!    complete. If it is not the last segment and its prefix reaches the next segment's
//!    base, only its trailer was lost: it is repaired. Otherwise the log ends there and
//!    later segments are removed.
//! 4. The durable mark `D` is the largest valid durable slot of any segment. Ending the
//!    log below `D` would lose acknowledged-durable records: that is corruption
//!    (`Error::Corrupt` under `Strict`). Ending it at or above `D` is a torn tail, cut and
//!    zeroed, never an error.
//!
//! A bad record followed by valid records is *not* by itself corruption: a power loss can
//! persist unsynced pages out of order, leaving exactly that pattern beyond `D`.
#![deny(clippy::indexing_slicing)]

use std::path::PathBuf;

use crate::error::{CorruptReason, Error, Result};
use crate::format::{self, Defect, IndexPoint, SegmentMeta, TrailerMeta};
use crate::options::Recovery;
use crate::Lsn;

/// What open read of one segment file before planning: its name, length, header page and
/// trailer bytes.
#[derive(Debug, Clone)]
pub struct Probe {
    /// The file.
    pub path: PathBuf,
    /// The first LSN its name says.
    pub name_lsn: Lsn,
    /// The file's length.
    pub file_len: u64,
    /// The first `PAGE_LEN` bytes (fewer if the file is shorter).
    pub header_page: Vec<u8>,
    /// `TRAILER_LEN` bytes at the trailer offset the header implies (empty if unreadable).
    pub trailer: Vec<u8>,
}

/// The valid prefix of one scanned segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    /// Offset after the last kept record.
    pub end: u64,
    /// LSN after the last kept record.
    pub next_lsn: Lsn,
    /// The largest writer epoch among the kept records (0 if none).
    pub epoch_max: u32,
    /// Index points of the kept records.
    pub index: Vec<IndexPoint>,
    /// Why the scan stopped, if not at the end of the record area.
    pub defect: Option<Defect>,
}

/// What to do with one kept segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SegmentPlan {
    /// Sealed: trust the trailer.
    Sealed(TrailerMeta),
    /// Complete but the trailer was lost: write it from the scan.
    Repair(Scan),
    /// The log's last segment, open for appends: cut after the scan's prefix and zero
    /// `[scan.end, zero_end)`; if `had_trailer`, clear the trailer too.
    Active {
        /// The valid prefix.
        scan: Scan,
        /// End of the non-zero bytes after the prefix.
        zero_end: u64,
        /// The segment was sealed and is being reopened for appends (a cut inside it).
        had_trailer: bool,
    },
}

/// The plan: which segments to keep and how, which to delete, what was found.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Kept segments in LSN order: probe index, header, what to do.
    pub keep: Vec<(usize, SegmentMeta, SegmentPlan)>,
    /// Probe indexes of segments to delete (everything after the cut).
    pub delete: Vec<usize>,
    /// The first LSN of the log.
    pub first_lsn: Lsn,
    /// The LSN after the last kept record.
    pub next_lsn: Lsn,
    /// The largest persisted durable mark found.
    pub durable_mark: Lsn,
    /// The largest writer epoch in any durable slot or scanned record: the next writer
    /// takes a larger one.
    pub epoch_max: u32,
    /// Non-zero bytes after the valid prefix of the active segment (cut and zeroed).
    pub torn_bytes: u64,
    /// Corruption found and dropped (only under `TruncateAtCorruption`).
    pub corruption: Option<(PathBuf, Defect)>,
}

/// Checks a probe's header: decodes it, matches it against the name and the file length.
pub fn check_header(probe: &Probe) -> Result<SegmentMeta, Defect> {
    let meta = format::decode_segment_header(&probe.header_page)?;
    if meta.base_lsn != probe.name_lsn {
        return Err(Defect {
            offset: 24,
            reason: CorruptReason::BadHeaderField {
                field: "base_lsn",
                expected: probe.name_lsn,
                found: meta.base_lsn,
            },
        });
    }
    if probe.file_len < meta.segment_len {
        return Err(Defect {
            offset: probe.file_len,
            reason: CorruptReason::SegmentTooShort {
                expected: meta.segment_len,
                found: probe.file_len,
            },
        });
    }
    Ok(meta)
}

/// Random access to the bytes of one segment file, for scanning it in order without
/// holding it all in memory. `&[u8]` (a whole image) is one; `log.rs` reads a file through
/// a window with `pread`.
pub trait Bytes {
    /// The bytes from `offset` on, at least `len` of them unless the file ends first (then
    /// all that is left, possibly none).
    ///
    /// # Errors
    /// The read failed (an I/O error, never a SIGBUS).
    fn at(&mut self, offset: u64, len: u64) -> Result<&[u8]>;
}

impl Bytes for &[u8] {
    fn at(&mut self, offset: u64, _len: u64) -> Result<&[u8]> {
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        Ok(self.get(start..).unwrap_or(&[]))
    }
}

impl Bytes for Vec<u8> {
    fn at(&mut self, offset: u64, len: u64) -> Result<&[u8]> {
        let mut slice = self.as_slice();
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let _ = slice.at(offset, len)?;
        Ok(slice.get(start..).unwrap_or(&[]))
    }
}

/// Scans the records of a segment from the first record up to `area_end`.
///
/// `sealed`: `area_end` is a trailer's end, which is authoritative: a batch that runs up
/// to it is kept even if its records say more were to follow (`truncate_back` cut into
/// the batch after it was complete).
///
/// Takes at most `(area_end - RECORDS_START) / RECORD_HEADER_LEN` steps: every step
/// advances by at least one header.
///
/// # Errors
/// Only a failed read of `bytes`; damage is reported in `Scan::defect`.
pub fn scan(
    bytes: &mut dyn Bytes,
    meta: &SegmentMeta,
    area_end: u64,
    sealed: bool,
) -> Result<Scan> {
    scan_until(bytes, meta, area_end, sealed, None)
}

/// `scan` that also stops, without a defect, once it has kept every record below
/// `lsn_limit`: the next segment's base, for a segment that is not the last (its records
/// after that LSN can only be stale ones that `truncate_back` cut off).
///
/// # Errors
/// As `scan`.
pub fn scan_until(
    bytes: &mut dyn Bytes,
    meta: &SegmentMeta,
    area_end: u64,
    sealed: bool,
    lsn_limit: Option<Lsn>,
) -> Result<Scan> {
    let mut offset = format::RECORDS_START;
    let mut lsn = meta.base_lsn;
    let seed = meta.seed();
    let mut epoch = 0u32;
    let mut index: Vec<IndexPoint> = Vec::new();
    // The state after the last complete record or batch.
    let mut kept = (offset, lsn, epoch, 0usize);
    // Records of the current batch still expected.
    let mut pending: u16 = 0;
    let mut defect = None;
    while offset < area_end {
        let room = area_end - offset;
        // The header first, for the length; then the whole record (never more than the
        // room left, so a garbage length cannot make us read or allocate more).
        let len = format::peek_len(bytes.at(offset, format::RECORD_HEADER_LEN as u64)?);
        let need = format::RECORD_HEADER_LEN as u64 + u64::from(len.unwrap_or(0));
        // A length past the room is refused from the header alone: never read (or
        // allocate) the rest of the segment for it.
        let want = if need > room {
            format::RECORD_HEADER_LEN as u64
        } else {
            format::record_footprint(u64::from(len.unwrap_or(0))).min(room)
        };
        let window = bytes.at(offset, want)?;
        let rec = match format::decode_record(window, 0, room, seed, lsn) {
            Ok(rec) => rec,
            Err(mut d) => {
                d.offset += offset;
                defect = Some(d);
                break;
            }
        };
        if rec.epoch < epoch {
            defect = Some(Defect {
                offset: offset + 16,
                reason: CorruptReason::StaleRecord {
                    epoch: rec.epoch,
                    min: epoch,
                },
            });
            break;
        }
        if pending > 0 && (rec.kind != format::KIND_DATA || rec.batch_left != pending - 1) {
            defect = Some(Defect {
                offset: offset + 20,
                reason: CorruptReason::BatchBroken {
                    expected: u64::from(pending - 1),
                    found: u64::from(rec.batch_left),
                },
            });
            break;
        }
        if rec.kind == format::KIND_PADDING && rec.batch_left != 0 {
            defect = Some(Defect {
                offset: offset + 20,
                reason: CorruptReason::BatchBroken {
                    expected: 0,
                    found: u64::from(rec.batch_left),
                },
            });
            break;
        }
        let stride = |o: u64| (o - format::RECORDS_START) / format::INDEX_STRIDE;
        if index
            .last()
            .is_none_or(|p| stride(p.offset) < stride(offset))
        {
            index.push(IndexPoint { lsn, offset });
        }
        let next_lsn = if rec.kind == format::KIND_DATA {
            lsn.checked_add(1)
        } else {
            Some(lsn)
        };
        let Some(next_lsn) = next_lsn else {
            // A record at LSN u64::MAX: there is no LSN after it.
            defect = Some(Defect {
                offset: offset + 8,
                reason: CorruptReason::BadHeaderField {
                    field: "lsn",
                    expected: u64::MAX - 1,
                    found: lsn,
                },
            });
            break;
        };
        offset += rec.footprint();
        epoch = rec.epoch;
        lsn = next_lsn;
        pending = rec.batch_left;
        if pending == 0 {
            kept = (offset, lsn, epoch, index.len());
            if lsn_limit == Some(lsn) {
                break;
            }
        }
    }
    if pending > 0 && defect.is_none() && sealed && offset == area_end {
        kept = (offset, lsn, epoch, index.len());
        pending = 0;
    }
    if pending > 0 && defect.is_none() {
        defect = Some(Defect {
            offset,
            reason: CorruptReason::BatchBroken {
                expected: u64::from(pending),
                found: 0,
            },
        });
    }
    let (end, next_lsn, epoch_max, index_len) = kept;
    index.truncate(index_len);
    Ok(Scan {
        end,
        next_lsn,
        epoch_max,
        index,
        defect,
    })
}

/// How much zeroed space ends the search for a torn tail's last byte.
pub const ZERO_RUN_STOP: u64 = 1 << 20;

/// The end of the non-zero bytes in `[from, to)` (`from` if all are zero), reading forward
/// until `ZERO_RUN_STOP` bytes in a row are zero.
///
/// A writer fills a segment front to back, so after a crash its bytes end in one run. Only
/// pages lost out of order can leave non-zero bytes beyond a whole zeroed MiB; those are
/// left in place, which is safe: a record there is chained to a checksum and an epoch that
/// the records written after the cut no longer produce (see `format`).
///
/// # Errors
/// Only a failed read of `bytes`.
pub fn nonzero_end(bytes: &mut dyn Bytes, from: u64, to: u64) -> Result<u64> {
    const BLOCK: u64 = 4096;
    let mut end = from;
    let mut at = from;
    while at < to && at - end < ZERO_RUN_STOP {
        let want = (to - at).min(BLOCK * 64);
        let window = bytes.at(at, want)?;
        let Some(chunk) = window.get(
            ..usize::try_from(want)
                .unwrap_or(usize::MAX)
                .min(window.len()),
        ) else {
            break;
        };
        if chunk.is_empty() {
            break;
        }
        for (i, block) in chunk.chunks(BLOCK as usize).enumerate() {
            // An OR over the block vectorizes; a search with early exit would not.
            if block.iter().fold(0u8, |acc, &b| acc | b) != 0 {
                let within = block.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
                end = at + i as u64 * BLOCK + within as u64;
            }
        }
        at += chunk.len() as u64;
    }
    Ok(end)
}

fn corrupt(probe: &Probe, defect: Defect) -> Error {
    Error::Corrupt {
        segment: probe.path.clone(),
        offset: defect.offset,
        reason: defect.reason,
    }
}

/// Computes the recovery plan. `open_bytes(i)` gives access to the file of probe `i`; it
/// is called only for segments that must be scanned.
pub fn plan(
    probes: &[Probe],
    mode: Recovery,
    mut open_bytes: impl FnMut(usize) -> Result<Box<dyn Bytes>>,
) -> Result<Plan> {
    let strict = mode == Recovery::Strict;
    let mut result = Plan {
        keep: Vec::new(),
        delete: Vec::new(),
        first_lsn: probes.first().map_or(0, |p| p.name_lsn),
        next_lsn: probes.first().map_or(0, |p| p.name_lsn),
        durable_mark: 0,
        epoch_max: 0,
        torn_bytes: 0,
        corruption: None,
    };

    // Headers, and the durable mark over every segment with a valid header.
    let mut metas = Vec::with_capacity(probes.len());
    for probe in probes {
        match check_header(probe) {
            Ok(meta) => {
                if let Some(slot) = format::durable_mark(&probe.header_page, meta.seed()) {
                    result.durable_mark = result.durable_mark.max(slot.mark);
                }
                for slot in format::durable_slots(&probe.header_page, meta.seed()) {
                    result.epoch_max = result.epoch_max.max(slot.epoch);
                }
                metas.push(meta);
            }
            Err(defect) if strict => return Err(corrupt(probe, defect)),
            Err(defect) => {
                result.corruption = Some((probe.path.clone(), defect));
                break;
            }
        }
    }

    let mut expected = result.first_lsn;
    // Where the log ends: (probe index, offset) of the cut, for the error message.
    let mut cut: Option<(usize, Option<Defect>)> = None;
    let mut i = 0;
    while let Some((probe, meta)) = probes.get(i).zip(metas.get(i)) {
        if meta.base_lsn != expected {
            let defect = Defect {
                offset: 0,
                reason: CorruptReason::MissingSegment {
                    expected,
                    found: meta.base_lsn,
                },
            };
            if expected >= result.durable_mark {
                // Beyond the durable mark: the name of a segment created after the last
                // sync was lost (its directory entry was never fsynced) while a later one
                // survived. A torn tail: the log ends at `expected`.
                break;
            }
            if strict {
                return Err(corrupt(probe, defect));
            }
            result.corruption = Some((probe.path.clone(), defect));
            break;
        }
        let next_base = metas.get(i + 1).map(|m| m.base_lsn);
        let trailer =
            format::decode_trailer(&probe.trailer, meta.seed(), meta.segment_len, meta.base_lsn);
        // A damaged trailer (magic there, checksum wrong) must be cleared if the segment
        // is reopened for appends, or the next Strict open refuses it again.
        let mut trailer_damaged = false;
        let trailer = match trailer {
            Ok(t) => t,
            Err(defect) if strict => return Err(corrupt(probe, defect)),
            Err(defect) => {
                result.corruption = Some((probe.path.clone(), defect));
                trailer_damaged = true;
                None
            }
        };
        match trailer {
            // Sealed and certainly durable: trusted without reading (open time does not
            // grow with the log); its records are checked when read.
            Some(t) if strict && t.next_lsn <= result.durable_mark => {
                result.keep.push((i, *meta, SegmentPlan::Sealed(t)));
                expected = t.next_lsn;
                i += 1;
                continue;
            }
            _ => {}
        }
        let mut bytes = open_bytes(i)?;
        if let Some(t) = trailer {
            // Sealed after the last persisted durable mark (a power loss can keep the
            // trailer and lose records before it), or TruncateAtCorruption: check every
            // record of the sealed segment.
            let s = scan(bytes.as_mut(), meta, t.records_end, true)?;
            result.epoch_max = result.epoch_max.max(s.epoch_max);
            if s.end == t.records_end && s.next_lsn == t.next_lsn {
                result.keep.push((i, *meta, SegmentPlan::Sealed(t)));
                expected = t.next_lsn;
                i += 1;
                continue;
            }
            let defect = s.defect.clone().unwrap_or(Defect {
                offset: s.end,
                reason: CorruptReason::BadIndex,
            });
            // Corruption only if this cuts below the durable mark (checked at the end).
            let defect = Some(defect);
            let zero_end =
                nonzero_end(bytes.as_mut(), s.end, format::records_end(meta.segment_len))?;
            result.torn_bytes = zero_end - s.end;
            expected = s.next_lsn;
            cut = Some((i, defect));
            result.keep.push((
                i,
                *meta,
                SegmentPlan::Active {
                    scan: s,
                    zero_end,
                    had_trailer: true,
                },
            ));
            break;
        }
        let s = scan_until(
            bytes.as_mut(),
            meta,
            format::records_end(meta.segment_len),
            false,
            next_base,
        )?;
        result.epoch_max = result.epoch_max.max(s.epoch_max);
        if next_base == Some(s.next_lsn) {
            expected = s.next_lsn;
            result.keep.push((i, *meta, SegmentPlan::Repair(s)));
            i += 1;
            continue;
        }
        let zero_end = nonzero_end(bytes.as_mut(), s.end, format::records_end(meta.segment_len))?;
        result.torn_bytes = zero_end - s.end;
        expected = s.next_lsn;
        cut = Some((i, s.defect.clone()));
        result.keep.push((
            i,
            *meta,
            SegmentPlan::Active {
                scan: s,
                zero_end,
                had_trailer: trailer_damaged,
            },
        ));
        break;
    }
    let kept_until = result.keep.last().map_or(0, |(i, _, _)| i + 1);
    result.delete = (kept_until..probes.len()).collect();
    result.next_lsn = expected;

    if result.next_lsn < result.durable_mark {
        let lost = CorruptReason::DurableRecordsLost {
            lsn: result.next_lsn,
            durable: result.durable_mark,
        };
        // Name the damage itself where the scan found it; otherwise say what is missing.
        let (path, defect) = match cut {
            Some((i, Some(d))) => (probes.get(i).map(|p| p.path.clone()), d),
            Some((i, None)) => (
                probes.get(i).map(|p| p.path.clone()),
                Defect {
                    offset: format::records_end(metas.get(i).map_or(0, |m| m.segment_len)),
                    reason: lost,
                },
            ),
            None => (
                probes
                    .get(kept_until)
                    .or(probes.last())
                    .map(|p| p.path.clone()),
                Defect {
                    offset: 0,
                    reason: lost,
                },
            ),
        };
        let path = path.unwrap_or_default();
        if strict {
            return Err(Error::Corrupt {
                segment: path,
                offset: defect.offset,
                reason: defect.reason,
            });
        }
        result.corruption.get_or_insert((path, defect));
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing)]
    use super::*;
    use crate::format::{RecordFields, KIND_DATA, RECORD_HEADER_LEN};

    const SEG: u64 = 64 * 1024;

    struct Builder {
        image: Vec<u8>,
        meta: SegmentMeta,
        offset: u64,
        epoch: u32,
        lsn: Lsn,
    }

    impl Builder {
        fn new(base: Lsn) -> Builder {
            let meta = SegmentMeta {
                segment_len: SEG,
                base_lsn: base,
                salt: 0x55 + base,
                created_ms: 0,
            };
            let mut image = vec![0u8; SEG as usize];
            image[..64].copy_from_slice(&format::encode_segment_header(&meta));
            Builder {
                image,
                meta,
                offset: format::RECORDS_START,
                epoch: 1,
                lsn: base,
            }
        }
        fn push(&mut self, payload: &[u8], batch_left: u16) -> u64 {
            let fields = RecordFields {
                lsn: self.lsn,
                epoch: self.epoch,
                batch_left,
                kind: KIND_DATA,
            };
            let h = format::encode_record_header(&fields, self.meta.seed(), payload);
            let o = self.offset as usize;
            self.image[o..o + RECORD_HEADER_LEN].copy_from_slice(&h);
            self.image[o + RECORD_HEADER_LEN..o + RECORD_HEADER_LEN + payload.len()]
                .copy_from_slice(payload);
            let at = self.offset;
            self.offset += format::record_footprint(payload.len() as u64);
            self.lsn += 1;
            at
        }
        fn mark(&mut self, mark: Lsn) {
            let slot = format::SlotMeta {
                mark,
                seq: 1,
                epoch: self.epoch,
            };
            self.image[512..536]
                .copy_from_slice(&format::encode_durable_slot(self.meta.seed(), &slot));
        }
        fn seal(&mut self) {
            let t = TrailerMeta {
                next_lsn: self.lsn,
                records_end: self.offset,
                index_count: 0,
                index_crc: crc32fast::Hasher::new_with_initial(self.meta.seed()).finalize(),
            };
            let at = format::trailer_offset(SEG) as usize;
            self.image[at..at + 64].copy_from_slice(&format::encode_trailer(self.meta.seed(), &t));
        }
        fn probe(&self) -> Probe {
            let at = format::trailer_offset(SEG) as usize;
            Probe {
                path: PathBuf::from(format!("{:020}.seg", self.meta.base_lsn)),
                name_lsn: self.meta.base_lsn,
                file_len: self.image.len() as u64,
                header_page: self.image[..4096].to_vec(),
                trailer: self.image[at..at + 64].to_vec(),
            }
        }
    }

    fn run(images: &[Vec<u8>], probes: &[Probe], mode: Recovery) -> Result<Plan> {
        plan(probes, mode, |i| Ok(Box::new(images[i].clone())))
    }

    #[test]
    fn torn_tail_is_cut_not_corruption() {
        let mut b = Builder::new(0);
        b.push(b"one", 0);
        b.push(b"two", 0);
        let third = b.push(b"three", 0);
        b.mark(2);
        b.image[third as usize + RECORD_HEADER_LEN] ^= 1; // torn payload
        let plan = run(&[b.image.clone()], &[b.probe()], Recovery::Strict).unwrap();
        assert_eq!(plan.next_lsn, 2);
        assert_eq!(plan.durable_mark, 2);
        assert!(plan.torn_bytes > 0);
        match &plan.keep[0].2 {
            SegmentPlan::Active { scan, zero_end, .. } => {
                assert_eq!(scan.end, third);
                assert_eq!(*zero_end, third + RECORD_HEADER_LEN as u64 + 5);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn damage_below_the_durable_mark_is_corruption() {
        let mut b = Builder::new(0);
        b.push(b"one", 0);
        let second = b.push(b"two", 0);
        b.push(b"three", 0);
        b.mark(3);
        b.image[second as usize + RECORD_HEADER_LEN] ^= 1;
        let err = run(&[b.image.clone()], &[b.probe()], Recovery::Strict).unwrap_err();
        match err {
            Error::Corrupt { offset, reason, .. } => {
                assert_eq!(offset, second);
                assert!(
                    matches!(reason, CorruptReason::RecordChecksum { .. }),
                    "{reason:?}"
                );
            }
            other => panic!("{other}"),
        }
        // The explicit opt-in keeps the prefix and reports.
        let plan = run(
            &[b.image.clone()],
            &[b.probe()],
            Recovery::TruncateAtCorruption,
        )
        .unwrap();
        assert_eq!(plan.next_lsn, 1);
        assert!(plan.corruption.is_some());
    }

    #[test]
    fn a_stale_record_after_a_newer_epoch_is_cut() {
        // Writer epoch 1 wrote 0..3; a crash cut the log after LSN 0; writer epoch 2 wrote
        // LSN 1 again (a different, shorter payload), and its page with the record at LSN 2
        // was lost, leaving the old record 2 (epoch 1) where the new one should be.
        let mut old = Builder::new(0);
        old.push(b"zero", 0);
        old.push(b"one, old", 0);
        let stale_at = old.push(b"two, old", 0);
        let mut new = Builder::new(0);
        new.push(b"zero", 0);
        new.epoch = 2;
        new.push(b"one, new", 0); // the same length: LSN 2 starts at the same offset
        let mut image = new.image.clone();
        let len = format::record_footprint(8) as usize;
        image[stale_at as usize..stale_at as usize + len]
            .copy_from_slice(&old.image[stale_at as usize..stale_at as usize + len]);
        let s = scan(
            &mut image.as_slice(),
            &new.meta,
            format::records_end(SEG),
            false,
        )
        .unwrap();
        assert_eq!(s.next_lsn, 2, "the stale record 2 must not come back");
        assert_eq!(s.epoch_max, 2);
        assert!(matches!(
            s.defect.unwrap().reason,
            CorruptReason::StaleRecord { epoch: 1, min: 2 }
        ));
        // The epoch rule is what makes the difference: the stale record itself is valid.
        let s = scan(
            &mut old.image.as_slice(),
            &old.meta,
            format::records_end(SEG),
            false,
        )
        .unwrap();
        assert_eq!(s.next_lsn, 3);
    }

    #[test]
    fn the_plan_knows_the_largest_epoch() {
        let mut a = Builder::new(0);
        a.epoch = 5;
        a.push(b"x", 0);
        a.epoch = 9;
        a.mark(1);
        let p = run(&[a.image.clone()], &[a.probe()], Recovery::Strict).unwrap();
        assert_eq!(p.epoch_max, 9);
    }

    #[test]
    fn a_cut_segment_that_lost_its_trailer_ends_at_the_next_base() {
        // truncate_back(5) sealed segment 0 at LSN 5 and a new segment started at 5; the
        // trailer of segment 0 was then lost: its stale records 5..10 must not come back,
        // and the newer segment must stay.
        let mut a = Builder::new(0);
        for i in 0..10u8 {
            a.push(&[i; 10], 0);
        }
        let mut b = Builder::new(5);
        b.epoch = 2;
        b.push(b"new five", 0);
        b.mark(6);
        let p = run(
            &[a.image.clone(), b.image.clone()],
            &[a.probe(), b.probe()],
            Recovery::Strict,
        )
        .unwrap();
        assert!(matches!(&p.keep[0].2, SegmentPlan::Repair(s) if s.next_lsn == 5));
        assert_eq!((p.next_lsn, p.delete.len()), (6, 0));
    }

    #[test]
    fn incomplete_batch_is_cut_at_its_start() {
        let mut b = Builder::new(10);
        b.push(b"single", 0);
        let batch = b.push(b"b0", 2);
        b.push(b"b1", 1);
        // b2 missing: the batch never completed.
        let plan = run(&[b.image.clone()], &[b.probe()], Recovery::Strict).unwrap();
        assert_eq!(plan.next_lsn, 11);
        match &plan.keep[0].2 {
            SegmentPlan::Active { scan, .. } => {
                assert_eq!(scan.end, batch);
                assert!(matches!(
                    scan.defect.as_ref().unwrap().reason,
                    CorruptReason::BadRecordKind { found: 0 }
                ));
            }
            other => panic!("{other:?}"),
        }
        b.push(b"b2", 0);
        let plan = run(&[b.image.clone()], &[b.probe()], Recovery::Strict).unwrap();
        assert_eq!(plan.next_lsn, 14);
    }

    #[test]
    fn sealed_segments_are_trusted_and_continue() {
        let mut a = Builder::new(0);
        a.push(b"a", 0);
        let torn = a.push(b"b", 0);
        a.seal();
        let mut b = Builder::new(2);
        b.push(b"c", 0);
        b.mark(2);
        let images = [a.image.clone(), b.image.clone()];
        let mut reads = vec![];
        let p = super::plan(&[a.probe(), b.probe()], Recovery::Strict, |i| {
            reads.push(i);
            Ok(Box::new(images[i].clone()))
        })
        .unwrap();
        assert_eq!(
            reads,
            vec![1],
            "a durable sealed segment is not read at open"
        );
        assert_eq!(p.next_lsn, 3);
        assert!(matches!(p.keep[0].2, SegmentPlan::Sealed(_)));

        // Sealed after the durable mark: a power loss may have kept the trailer and lost a
        // record before it. It is read, and the torn record is cut, not corruption.
        let mut b = Builder::new(2);
        b.push(b"c", 0);
        a.image[torn as usize + RECORD_HEADER_LEN] ^= 1;
        let images = [a.image.clone(), b.image.clone()];
        let mut reads = vec![];
        let p = super::plan(&[a.probe(), b.probe()], Recovery::Strict, |i| {
            reads.push(i);
            Ok(Box::new(images[i].clone()))
        })
        .unwrap();
        assert_eq!(reads, vec![0]);
        assert_eq!(p.next_lsn, 1);
        assert_eq!(p.delete, vec![1]);
        assert!(matches!(
            p.keep[0].2,
            SegmentPlan::Active {
                had_trailer: true,
                ..
            }
        ));
    }

    #[test]
    fn lost_trailer_is_repaired_and_a_gap_is_corruption() {
        let mut a = Builder::new(0);
        a.push(b"a", 0);
        let mut b = Builder::new(1);
        b.push(b"b", 0);
        let plan = run(
            &[a.image.clone(), b.image.clone()],
            &[a.probe(), b.probe()],
            Recovery::Strict,
        )
        .unwrap();
        assert!(matches!(plan.keep[0].2, SegmentPlan::Repair(_)));
        assert_eq!(plan.next_lsn, 2);

        let mut c = Builder::new(5);
        c.push(b"c", 0);
        a.seal();
        // A gap beyond the durable mark: the unsynced segment's name was lost; cut there.
        let plan = run(
            &[a.image.clone(), c.image.clone()],
            &[a.probe(), c.probe()],
            Recovery::Strict,
        )
        .unwrap();
        assert_eq!((plan.next_lsn, plan.delete.clone()), (1, vec![1]));
        // Below the durable mark, records that were durable are missing: corruption.
        c.mark(6);
        let err = run(
            &[a.image.clone(), c.image.clone()],
            &[a.probe(), c.probe()],
            Recovery::Strict,
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Corrupt {
                    reason: CorruptReason::MissingSegment {
                        expected: 1,
                        found: 5
                    },
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn unsealed_middle_segment_cuts_the_log_and_deletes_the_rest() {
        let mut a = Builder::new(0);
        a.push(b"a", 0);
        let torn = a.push(b"b", 0);
        a.image[torn as usize] ^= 0xff;
        let mut b = Builder::new(2);
        b.push(b"c", 0);
        let plan = run(
            &[a.image.clone(), b.image.clone()],
            &[a.probe(), b.probe()],
            Recovery::Strict,
        )
        .unwrap();
        assert_eq!(plan.next_lsn, 1);
        assert_eq!(plan.delete, vec![1]);
        // But not if a later segment says those records were durable.
        b.mark(3);
        let err = run(
            &[a.image.clone(), b.image.clone()],
            &[a.probe(), b.probe()],
            Recovery::Strict,
        )
        .unwrap_err();
        // The error names the damage itself: the record whose loss the mark forbids.
        match err {
            Error::Corrupt {
                offset,
                reason: CorruptReason::RecordChecksum { .. },
                ..
            } => assert_eq!(offset, torn),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn bad_headers_are_refused() {
        let b = Builder::new(7);
        let mut probe = b.probe();
        probe.name_lsn = 8;
        assert!(matches!(
            check_header(&probe).unwrap_err().reason,
            CorruptReason::BadHeaderField {
                field: "base_lsn",
                ..
            }
        ));
        let mut probe = b.probe();
        probe.file_len = SEG / 2;
        assert!(matches!(
            check_header(&probe).unwrap_err().reason,
            CorruptReason::SegmentTooShort { .. }
        ));
        let mut probe = b.probe();
        probe.header_page = vec![];
        assert!(check_header(&probe).is_err());
        let err = run(&[vec![]], &[probe.clone()], Recovery::Strict).unwrap_err();
        assert!(matches!(err, Error::Corrupt { .. }));
        let plan = run(&[vec![]], &[probe], Recovery::TruncateAtCorruption).unwrap();
        assert_eq!(plan.delete, vec![0]);
        assert_eq!(plan.next_lsn, 7);
    }

    #[test]
    fn nonzero_end_finds_the_last_byte() {
        let end = |v: &[u8], from, to| nonzero_end(&mut &v[..], from, to).unwrap();
        let mut v = vec![0u8; 20000];
        assert_eq!(end(&v, 100, 20000), 100);
        v[12345] = 1;
        assert_eq!(end(&v, 100, 20000), 12346);
        assert_eq!(end(&v, 100, 12000), 100);
        assert_eq!(end(&v, 100, 99999), 12346);
        // The search stops after ZERO_RUN_STOP zero bytes in a row.
        let mut far = vec![0u8; 3 << 20];
        far[10] = 1;
        far[(2 << 20) + 5] = 1;
        assert_eq!(end(&far, 0, 3 << 20), 11);
        far[900_000] = 1;
        far[1_800_000] = 1;
        assert_eq!(end(&far, 0, 3 << 20), (2 << 20) + 6);
    }
}
