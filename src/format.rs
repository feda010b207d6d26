//! The on-disk format, version 1: pure functions over byte slices.
//!
//! No I/O, no `unsafe`, no allocation when decoding. Everything here is tested without a
//! file system (see the tests at the bottom, and the fuzz targets).
//!
//! # A segment file
//!
//! A segment is a preallocated file of `segment_len` bytes (a multiple of 4096), named by
//! the LSN of its first record, zero-padded to 20 digits: `00000000000000004096.seg`.
//!
//! | offset                             | len       | what                                              |
//! |------------------------------------|-----------|---------------------------------------------------|
//! | 0                                  | 64        | `SegmentHeader`                                   |
//! | 512, 1024                          | 24 each   | two `DurableSlot`s, written alternately           |
//! | 2048 (`LIVE_OFFSET`)               | 32        | live area for readers (below); never validated    |
//! | 4096 (`RECORDS_START`)             | ...       | records, each 8-byte aligned                      |
//! | `records_end(segment_len)`         | ...       | sparse index: `IndexEntry` × `index_capacity`     |
//! | `segment_len - 4096`               | 64        | `Trailer`, written when the segment is sealed     |
//!
//! ## `SegmentHeader` (64 bytes, written and synced before the first record)
//!
//! | offset | size | field        | meaning                                          |
//! |--------|------|--------------|--------------------------------------------------|
//! | 0      | 8    | `magic`      | `b"MMLOGSEG"`                                    |
//! | 8      | 4    | `version`    | format version, 1                                |
//! | 12     | 4    | `header_len` | 64                                               |
//! | 16     | 8    | `segment_len`| file length in bytes                             |
//! | 24     | 8    | `base_lsn`   | LSN of the first record (also the file name)     |
//! | 32     | 8    | `salt`       | random per segment; seeds every checksum in it   |
//! | 40     | 8    | `created_ms` | creation time, Unix milliseconds (informational) |
//! | 48     | 12   | `reserved`   | zero                                             |
//! | 60     | 4    | `crc`        | CRC-32 of bytes 0..60                            |
//!
//! ## `RecordHeader` (24 bytes, followed by the payload, padded to 8 bytes)
//!
//! | offset | size | field        | meaning                                                    |
//! |--------|------|--------------|------------------------------------------------------------|
//! | 0      | 4    | `crc`        | CRC-32 (below) of bytes 4..24 and the payload              |
//! | 4      | 4    | `len`        | payload length                                             |
//! | 8      | 8    | `lsn`        | the record's LSN                                           |
//! | 16     | 4    | `epoch`      | the writer's epoch: grows with every open and `truncate_back` |
//! | 20     | 2    | `batch_left` | records of the same atomic batch that still follow         |
//! | 22     | 1    | `kind`       | 1 = data record, 2 = padding; 0 is never valid             |
//! | 23     | 1    | `reserved`   | zero                                                       |
//!
//! ## `DurableSlot` (24 bytes) — the durable mark
//!
//! | offset | size | field  | meaning                                                       |
//! |--------|------|--------|---------------------------------------------------------------|
//! | 0      | 8    | `mark` | every LSN below it had been made durable by a completed sync |
//! | 8      | 8    | `seq`  | sync sequence number; the valid slot with the larger wins    |
//! | 16     | 4    | `epoch`| the epoch of the writer that wrote the slot (see below)       |
//! | 20     | 4    | `crc`  | CRC-32 of bytes 0..20, seeded with the segment seed           |
//!
//! After a sync completes, the writer stores its new durable LSN in the slot of the active
//! segment through the mapping, without a syscall; a later sync carries it to disk with
//! the records (the first sync at least 10 ms after the header page was last synced, and
//! the sync at close; the others leave the header page out, one page write fewer). So the
//! persisted mark lags by up to 10 ms of syncs plus one, and is always true: it never
//! claims more than a completed sync made durable, and it costs no extra fsync. Recovery
//! refuses (under `Recovery::Strict`) to cut the log below the largest persisted mark.
//! Two slots, in different sectors, written alternately, so a torn sector costs at most
//! the newer mark.
//!
//! ## The live area (32 bytes at 2048) — for readers following the writer
//!
//! | offset | size | field           | meaning                                               |
//! |--------|------|-----------------|-------------------------------------------------------|
//! | 2048   | 8    | `published_end` | offset after the last published record (0: unknown)  |
//! | 2056   | 8    | `published_lsn` | LSN after the last published record                   |
//! | 2064   | 8    | `durable_lsn`   | the writer's durable LSN (0: none yet), for followers |
//! | 2072   | 4    | `sealed`        | 1 once the writer has sealed the segment              |
//!
//! The writer updates these with atomic stores through the shared mapping (no syscall);
//! readers in other processes load them to learn how far they may read without racing
//! the writer. They describe the running writer only: recovery ignores them and the
//! writer rewrites them at open.
//!
//! ## `Trailer` (64 bytes) and the sparse index — a sealed segment
//!
//! | offset | size | field         | meaning                                           |
//! |--------|------|---------------|---------------------------------------------------|
//! | 0      | 8    | `magic`       | `b"MMLOGEND"`                                     |
//! | 8      | 8    | `next_lsn`    | LSN after the segment's last record               |
//! | 16     | 8    | `records_end` | offset after the segment's last record            |
//! | 24     | 4    | `index_count` | valid `IndexEntry`s                               |
//! | 28     | 4    | `index_crc`   | CRC-32 of those entries, seeded with the seed     |
//! | 32     | 28   | `reserved`    | zero                                              |
//! | 60     | 4    | `crc`         | CRC-32 of bytes 0..60, seeded with the seed       |
//!
//! An `IndexEntry` (16 bytes: `lsn` u64, `offset` u32, `reserved` u32 zero) names the first
//! record at or after each `INDEX_STRIDE` bytes of the record area.
//! A sealed segment is never scanned at open: its trailer gives its end.
//!
//! # Why a record that is not the next one never validates
//!
//! The CRC of a record is CRC-32 (crc32fast, IEEE) whose initial value is the segment seed
//! (the salt folded to 32 bits). Its input covers every header field after `crc`, including
//! the LSN and the epoch, and the payload. Each record's checksum stands alone, so
//! concurrent appenders can compute theirs in parallel. Recovery accepts a record only if
//! its checksum holds, it carries the next LSN, and its epoch is not below the epoch of the
//! record before it. So:
//!
//! - **Zeroed space** (preallocated, or zeroed by recovery) never validates: kind 0 is
//!   refused before the checksum is even computed.
//! - **A recycled or recreated file** gets a new salt: records from its earlier life fail
//!   their checksum.
//! - **A tail cut off** by recovery or by `truncate_back` can sit right after the new end.
//!   Recovery zeroes the cut tail and syncs that before anything is appended, so the first
//!   position after the cut never holds an old record. Further on, an old record could
//!   reappear where a newer record's page was lost in a power failure; it then follows a
//!   record of the new writer, and its epoch is lower: every writer takes an epoch above
//!   every epoch in the log (the largest in any durable slot or scanned record, plus one),
//!   and persists it in the durable slots before it appends (at open, when a segment is
//!   created, at `truncate_back`). An LSN check alone would not catch this: the stale
//!   record has exactly the expected LSN.
//!
//! All integers are little-endian. A change to any of this bumps `VERSION` and adds a
//! frozen fixture under `tests/data/`.
#![deny(clippy::indexing_slicing)]

use std::mem::size_of;

use zerocopy::byteorder::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::error::CorruptReason;
use crate::Lsn;

/// The first eight bytes of every segment file.
pub const MAGIC: [u8; 8] = *b"MMLOGSEG";
/// The first eight bytes of a sealed segment's trailer.
pub const TRAILER_MAGIC: [u8; 8] = *b"MMLOGEND";
/// The format version this build reads and writes.
pub const VERSION: u32 = 1;
/// Page size the layout is built on; segment sizes are multiples of it.
pub const PAGE_LEN: u64 = 4096;
/// Length of `SegmentHeader`.
pub const SEGMENT_HEADER_LEN: usize = 64;
/// Length of `RecordHeader`.
pub const RECORD_HEADER_LEN: usize = 24;
/// Length of `DurableSlot`.
pub const DURABLE_SLOT_LEN: usize = 24;
/// Offsets of the two durable slots (each in its own 512-byte sector).
pub const DURABLE_SLOT_OFFSETS: [u64; 2] = [512, 1024];
/// Offset of the live area in the header page (8-byte aligned).
pub const LIVE_OFFSET: u64 = 2048;
/// Length of the live area.
pub const LIVE_LEN: u64 = 32;
/// Offsets of the live fields.
pub const LIVE_PUBLISHED_END: u64 = LIVE_OFFSET;
/// See `LIVE_PUBLISHED_END`.
pub const LIVE_PUBLISHED_LSN: u64 = LIVE_OFFSET + 8;
/// Offset of the writer's durable LSN in the live area (informational, like the rest).
pub const LIVE_DURABLE_LSN: u64 = LIVE_OFFSET + 16;
/// See `LIVE_PUBLISHED_END`.
pub const LIVE_SEALED: u64 = LIVE_OFFSET + 24;
/// Length of `Trailer`.
pub const TRAILER_LEN: usize = 64;
/// Length of `IndexEntry`.
pub const INDEX_ENTRY_LEN: usize = 16;
/// The record area starts after the header page.
pub const RECORDS_START: u64 = PAGE_LEN;
/// Records start at multiples of this.
pub const RECORD_ALIGN: u64 = 8;
/// One index entry per this many bytes of record area.
pub const INDEX_STRIDE: u64 = 64 * 1024;
/// The most records one atomic batch may hold (`batch_left` is a u16).
pub const BATCH_RECORDS_MAX: usize = u16::MAX as usize + 1;

/// Record kind: a data record that takes an LSN.
pub const KIND_DATA: u8 = 1;
/// Record kind: padding that takes no LSN; readers skip it.
pub const KIND_PADDING: u8 = 2;

/// The segment header (see the module docs for the layout).
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct SegmentHeader {
    magic: [u8; 8],
    version: U32,
    header_len: U32,
    segment_len: U64,
    base_lsn: U64,
    salt: U64,
    created_ms: U64,
    reserved: [u8; 12],
    crc: U32,
}

/// A record header (see the module docs for the layout).
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct RecordHeader {
    crc: U32,
    len: U32,
    lsn: U64,
    epoch: U32,
    batch_left: U16,
    kind: u8,
    reserved: u8,
}

/// A durable-mark slot (see the module docs for the layout).
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct DurableSlot {
    mark: U64,
    seq: U64,
    epoch: U32,
    crc: U32,
}

/// The trailer of a sealed segment (see the module docs for the layout).
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct Trailer {
    magic: [u8; 8],
    next_lsn: U64,
    records_end: U64,
    index_count: U32,
    index_crc: U32,
    reserved: [u8; 28],
    crc: U32,
}

/// One sparse-index entry (see the module docs for the layout).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct IndexEntry {
    lsn: U64,
    offset: U32,
    reserved: U32,
}

const _: () = assert!(size_of::<SegmentHeader>() == SEGMENT_HEADER_LEN);
const _: () = assert!(size_of::<RecordHeader>() == RECORD_HEADER_LEN);
const _: () = assert!(size_of::<DurableSlot>() == DURABLE_SLOT_LEN);
const _: () = assert!(size_of::<Trailer>() == TRAILER_LEN);
const _: () = assert!(size_of::<IndexEntry>() == INDEX_ENTRY_LEN);
const _: () = assert!(SEGMENT_HEADER_LEN as u64 <= DURABLE_SLOT_OFFSETS[0]);
const _: () = assert!(DURABLE_SLOT_OFFSETS[0] + DURABLE_SLOT_LEN as u64 <= DURABLE_SLOT_OFFSETS[1]);
const _: () = assert!(DURABLE_SLOT_OFFSETS[1] + DURABLE_SLOT_LEN as u64 <= RECORDS_START);
const _: () = assert!(DURABLE_SLOT_OFFSETS[1] + DURABLE_SLOT_LEN as u64 <= LIVE_OFFSET);
const _: () = assert!(LIVE_OFFSET + LIVE_LEN <= RECORDS_START);
const _: () = assert!(LIVE_OFFSET.is_multiple_of(8));
const _: () = assert!(LIVE_SEALED + 4 <= LIVE_OFFSET + LIVE_LEN);
const _: () = assert!(RECORDS_START.is_multiple_of(RECORD_ALIGN));
const _: () = assert!((RECORD_HEADER_LEN as u64).is_multiple_of(RECORD_ALIGN));
const _: () = assert!(TRAILER_LEN as u64 <= PAGE_LEN);
const _: () = assert!(INDEX_STRIDE.is_multiple_of(PAGE_LEN));
// The smallest segment (64 KiB) must leave room for header page, index, trailer and records.
const _: () = assert!(records_end(64 * 1024) > RECORDS_START + RECORD_HEADER_LEN as u64);

/// A decoded, validated segment header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentMeta {
    /// The file length.
    pub segment_len: u64,
    /// LSN of the first record.
    pub base_lsn: Lsn,
    /// The per-segment random salt.
    pub salt: u64,
    /// Creation time, Unix milliseconds.
    pub created_ms: u64,
}

impl SegmentMeta {
    /// The checksum seed of this segment: its salt folded to 32 bits.
    pub fn seed(&self) -> u32 {
        seed_of(self.salt)
    }
}

/// A decoded, validated record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordMeta {
    /// The stored (and verified) checksum.
    pub crc: u32,
    /// Payload length.
    pub len: u32,
    /// The record's LSN.
    pub lsn: Lsn,
    /// The epoch of the writer that wrote it.
    pub epoch: u32,
    /// Records of the same atomic batch that still follow.
    pub batch_left: u16,
    /// `KIND_DATA` or `KIND_PADDING`.
    pub kind: u8,
}

impl RecordMeta {
    /// Bytes the record takes in the segment, header and alignment padding included.
    pub fn footprint(&self) -> u64 {
        record_footprint(u64::from(self.len))
    }
}

/// A decoded, validated trailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrailerMeta {
    /// LSN after the segment's last record.
    pub next_lsn: Lsn,
    /// Offset after the segment's last record.
    pub records_end: u64,
    /// Valid index entries.
    pub index_count: u32,
    /// CRC of the index entries.
    pub index_crc: u32,
}

/// A decoded index entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexPoint {
    /// LSN of the record.
    pub lsn: Lsn,
    /// Offset of the record in its segment.
    pub offset: u64,
}

/// A decoded durable slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotMeta {
    /// Every LSN below it had been made durable.
    pub mark: Lsn,
    /// Sync sequence number: the valid slot with the larger one wins.
    pub seq: u64,
    /// The epoch of the writer that wrote it.
    pub epoch: u32,
}

/// A decoding failure: where (offset in the segment) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defect {
    /// Byte offset in the segment.
    pub offset: u64,
    /// What is wrong.
    pub reason: CorruptReason,
}

fn defect(offset: u64, reason: CorruptReason) -> Defect {
    Defect { offset, reason }
}

/// Folds a 64-bit salt into the 32-bit checksum seed.
pub fn seed_of(salt: u64) -> u32 {
    let [a, b, c, d, e, f, g, h] = salt.to_le_bytes();
    u32::from_le_bytes([a ^ e, b ^ f, c ^ g, d ^ h])
}

/// Rounds `n` up to a multiple of `align` (a power of two).
pub const fn align_up(n: u64, align: u64) -> u64 {
    (n + align - 1) & !(align - 1)
}

/// How many index entries a segment of `segment_len` bytes has room for.
pub const fn index_capacity(segment_len: u64) -> u64 {
    segment_len / INDEX_STRIDE + 1
}

/// Offset where the record area ends (and the index region starts).
pub const fn records_end(segment_len: u64) -> u64 {
    let index_len = align_up(
        index_capacity(segment_len) * INDEX_ENTRY_LEN as u64,
        PAGE_LEN,
    );
    segment_len - PAGE_LEN - index_len
}

/// Offset of the trailer.
pub const fn trailer_offset(segment_len: u64) -> u64 {
    segment_len - PAGE_LEN
}

/// Bytes a record with a payload of `len` bytes takes, header and padding included.
pub const fn record_footprint(len: u64) -> u64 {
    align_up(RECORD_HEADER_LEN as u64 + len, RECORD_ALIGN)
}

/// The largest payload one record can carry in a segment of `segment_len` bytes.
pub const fn payload_len_max(segment_len: u64) -> u64 {
    // The record area is a multiple of 8 bytes, so a record that fills it exactly is
    // aligned.
    records_end(segment_len) - RECORDS_START - RECORD_HEADER_LEN as u64
}

// ---------------------------------------------------------------------------------------
// Segment header

/// Encodes a segment header.
pub fn encode_segment_header(meta: &SegmentMeta) -> [u8; SEGMENT_HEADER_LEN] {
    let mut header = SegmentHeader {
        magic: MAGIC,
        version: U32::new(VERSION),
        header_len: U32::new(SEGMENT_HEADER_LEN as u32),
        segment_len: U64::new(meta.segment_len),
        base_lsn: U64::new(meta.base_lsn),
        salt: U64::new(meta.salt),
        created_ms: U64::new(meta.created_ms),
        reserved: [0; 12],
        crc: U32::new(0),
    };
    header.crc = U32::new(crc32fast::hash(header_crc_input(header.as_bytes())));
    let mut out = [0u8; SEGMENT_HEADER_LEN];
    out.copy_from_slice(header.as_bytes());
    debug_assert_eq!(decode_segment_header(&out), Ok(*meta));
    out
}

fn header_crc_input(bytes: &[u8]) -> &[u8] {
    bytes.get(..SEGMENT_HEADER_LEN - 4).unwrap_or(&[])
}

/// Decodes and validates a segment header from the first bytes of a segment file.
///
/// Checks, in order: length, magic, version, header length, checksum, segment length.
pub fn decode_segment_header(bytes: &[u8]) -> Result<SegmentMeta, Defect> {
    let (header, _) = SegmentHeader::ref_from_prefix(bytes).map_err(|_| {
        defect(
            0,
            CorruptReason::SegmentTooShort {
                expected: SEGMENT_HEADER_LEN as u64,
                found: bytes.len() as u64,
            },
        )
    })?;
    if header.magic != MAGIC {
        return Err(defect(
            0,
            CorruptReason::BadMagic {
                found: header.magic,
            },
        ));
    }
    if header.version.get() != VERSION {
        return Err(defect(
            8,
            CorruptReason::UnsupportedVersion {
                found: header.version.get(),
                supported: VERSION,
            },
        ));
    }
    if header.header_len.get() != SEGMENT_HEADER_LEN as u32 {
        return Err(defect(
            12,
            CorruptReason::BadHeaderField {
                field: "header_len",
                expected: SEGMENT_HEADER_LEN as u64,
                found: u64::from(header.header_len.get()),
            },
        ));
    }
    let computed = crc32fast::hash(header_crc_input(header.as_bytes()));
    if header.crc.get() != computed {
        return Err(defect(
            60,
            CorruptReason::HeaderChecksum {
                stored: header.crc.get(),
                computed,
            },
        ));
    }
    let segment_len = header.segment_len.get();
    if segment_len % PAGE_LEN != 0
        || !(crate::options::SEGMENT_SIZE_MIN..=crate::options::SEGMENT_SIZE_MAX)
            .contains(&segment_len)
    {
        return Err(defect(
            16,
            CorruptReason::BadHeaderField {
                field: "segment_len",
                expected: crate::options::SEGMENT_SIZE_DEFAULT,
                found: segment_len,
            },
        ));
    }
    Ok(SegmentMeta {
        segment_len,
        base_lsn: header.base_lsn.get(),
        salt: header.salt.get(),
        created_ms: header.created_ms.get(),
    })
}

// ---------------------------------------------------------------------------------------
// Records

/// Fields of a record about to be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordFields {
    /// The record's LSN (for padding: the LSN the next data record takes).
    pub lsn: Lsn,
    /// The writer's epoch.
    pub epoch: u32,
    /// Records of the same atomic batch that still follow.
    pub batch_left: u16,
    /// `KIND_DATA` or `KIND_PADDING`.
    pub kind: u8,
}

/// Encodes the header of a record whose payload is `payload`, with the segment's `seed`.
///
/// # Panics
/// If `payload` is longer than `u32::MAX` (callers check `payload_len_max` first).
pub fn encode_record_header(
    fields: &RecordFields,
    seed: u32,
    payload: &[u8],
) -> [u8; RECORD_HEADER_LEN] {
    let mut header = record_header(fields, payload.len());
    header.crc = U32::new(record_crc(seed, header.as_bytes(), payload));
    let mut out = [0u8; RECORD_HEADER_LEN];
    out.copy_from_slice(header.as_bytes());
    out
}

/// A record header with every field but the checksum (zero) filled in.
fn record_header(fields: &RecordFields, payload_len: usize) -> RecordHeader {
    let len = u32::try_from(payload_len).expect("payload length checked against payload_len_max");
    RecordHeader {
        crc: U32::new(0),
        len: U32::new(len),
        lsn: U64::new(fields.lsn),
        epoch: U32::new(fields.epoch),
        batch_left: U16::new(fields.batch_left),
        kind: fields.kind,
        reserved: 0,
    }
}

/// Writes the header of the record in `record` (header bytes followed by the payload,
/// already in place) and returns its checksum: one pass over the header fields and the
/// payload, which lie next to each other. The result is byte-identical to
/// `encode_record_header` followed by the payload.
///
/// # Panics
/// If `record` is shorter than a header or the payload longer than `u32::MAX`.
pub fn seal_record(fields: &RecordFields, seed: u32, record: &mut [u8]) -> u32 {
    let payload_len = record
        .len()
        .checked_sub(RECORD_HEADER_LEN)
        .expect("a record window holds at least a header");
    let header = record_header(fields, payload_len);
    let (head, rest) = record.split_at_mut(4);
    let fields_bytes = header.as_bytes().get(4..).unwrap_or(&[]);
    rest.get_mut(..RECORD_HEADER_LEN - 4)
        .expect("a record window holds at least a header")
        .copy_from_slice(fields_bytes);
    let mut hasher = crc32fast::Hasher::new_with_initial(seed);
    hasher.update(rest);
    let crc = hasher.finalize();
    head.copy_from_slice(&crc.to_le_bytes());
    crc
}

/// The record checksum: CRC-32 from the segment `seed` over header bytes 4..24 and the payload.
fn record_crc(seed: u32, header: &[u8], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new_with_initial(seed);
    hasher.update(header.get(4..RECORD_HEADER_LEN).unwrap_or(&[]));
    hasher.update(payload);
    hasher.finalize()
}

/// Gives the records sealed in `records` (one or more records laid end to end, as written
/// by this writer) LSNs from `first_lsn` on, and reseals each: data records take one LSN
/// each, padding carries the LSN of the next data record. Returns the LSN after them.
///
/// Used when an abandoned reservation before them turned into padding. The bytes are the
/// writer's own, not read from disk; a header that does not fit stops the walk.
pub fn renumber_records(records: &mut [u8], first_lsn: Lsn, seed: u32) -> Lsn {
    let mut lsn = first_lsn;
    let mut at = 0usize;
    while let Some(rest) = records.get_mut(at..) {
        let Ok((header, _)) = RecordHeader::ref_from_prefix(rest) else {
            break;
        };
        let (len, kind) = (header.len.get(), header.kind);
        let fields = RecordFields {
            lsn,
            epoch: header.epoch.get(),
            batch_left: header.batch_left.get(),
            kind,
        };
        let footprint = record_footprint(u64::from(len));
        let (Ok(len), Ok(footprint)) = (usize::try_from(len), usize::try_from(footprint)) else {
            break;
        };
        let Some(record) = rest.get_mut(..RECORD_HEADER_LEN + len) else {
            break;
        };
        seal_record(&fields, seed, record);
        if kind == KIND_DATA {
            lsn += 1;
        }
        at += footprint;
    }
    lsn
}

/// The payload length in a record header at the start of `bytes`, unvalidated (`None` if
/// the header is cut short). Used to know how many bytes to read before decoding.
pub fn peek_len(bytes: &[u8]) -> Option<u32> {
    let (header, _) = RecordHeader::ref_from_prefix(bytes).ok()?;
    Some(header.len.get())
}

/// Reads the stored checksum of the record at `offset` without validating anything else.
///
/// `None` when the
/// header would run past `segment`.
pub fn stored_crc_at(segment: &[u8], offset: u64) -> Option<u32> {
    let start = usize::try_from(offset).ok()?;
    let (header, _) = RecordHeader::ref_from_prefix(segment.get(start..)?).ok()?;
    Some(header.crc.get())
}

/// Decodes and validates the record at `offset` of `segment` (the whole segment image, or
/// a prefix of it that covers the record).
///
/// `area_end` is where the record area ends (`records_end`, or a sealed segment's
/// `records_end` from its trailer). `seed` is the segment seed; `expected_lsn` the LSN the
/// record must carry (padding carries the LSN the next data record takes).
///
/// Checks, in order: the header fits, kind, reserved byte, length in bounds, checksum, LSN.
pub fn decode_record(
    segment: &[u8],
    offset: u64,
    area_end: u64,
    seed: u32,
    expected_lsn: Lsn,
) -> Result<RecordMeta, Defect> {
    let header_end = offset.saturating_add(RECORD_HEADER_LEN as u64);
    let max_here = area_end.saturating_sub(header_end);
    if header_end > area_end {
        return Err(defect(
            offset,
            CorruptReason::RecordLength {
                len: RECORD_HEADER_LEN as u64,
                max: area_end.saturating_sub(offset),
            },
        ));
    }
    let start = usize::try_from(offset).map_err(|_| too_short(offset, segment))?;
    let rest = segment
        .get(start..)
        .ok_or_else(|| too_short(offset, segment))?;
    let (header, after) =
        RecordHeader::ref_from_prefix(rest).map_err(|_| too_short(offset, segment))?;
    if header.kind != KIND_DATA && header.kind != KIND_PADDING {
        return Err(defect(
            offset + 22,
            CorruptReason::BadRecordKind { found: header.kind },
        ));
    }
    if header.reserved != 0 {
        return Err(defect(
            offset + 23,
            CorruptReason::BadHeaderField {
                field: "record reserved byte",
                expected: 0,
                found: u64::from(header.reserved),
            },
        ));
    }
    let len = u64::from(header.len.get());
    if len > max_here {
        return Err(defect(
            offset + 4,
            CorruptReason::RecordLength { len, max: max_here },
        ));
    }
    let payload_len = usize::try_from(len).map_err(|_| too_short(offset, segment))?;
    if after.len() < payload_len {
        return Err(too_short(offset, segment));
    }
    // Header fields after `crc` and the payload lie next to each other: one pass of the
    // checksum over both (the same value as `record_crc` computes in two parts).
    let covered = rest
        .get(4..RECORD_HEADER_LEN + payload_len)
        .ok_or_else(|| too_short(offset, segment))?;
    let mut hasher = crc32fast::Hasher::new_with_initial(seed);
    hasher.update(covered);
    let computed = hasher.finalize();
    debug_assert_eq!(
        computed,
        record_crc(
            seed,
            header.as_bytes(),
            after.get(..payload_len).unwrap_or(&[])
        )
    );
    if computed != header.crc.get() {
        return Err(defect(
            offset,
            CorruptReason::RecordChecksum {
                stored: header.crc.get(),
                computed,
            },
        ));
    }
    if header.lsn.get() != expected_lsn {
        return Err(defect(
            offset + 8,
            CorruptReason::LsnDiscontinuity {
                expected: expected_lsn,
                found: header.lsn.get(),
            },
        ));
    }
    Ok(RecordMeta {
        crc: computed,
        len: header.len.get(),
        lsn: header.lsn.get(),
        epoch: header.epoch.get(),
        batch_left: header.batch_left.get(),
        kind: header.kind,
    })
}

fn too_short(offset: u64, segment: &[u8]) -> Defect {
    defect(
        offset,
        CorruptReason::SegmentTooShort {
            expected: offset.saturating_add(RECORD_HEADER_LEN as u64),
            found: segment.len() as u64,
        },
    )
}

// ---------------------------------------------------------------------------------------
// Durable slots

/// Encodes a durable slot.
pub fn encode_durable_slot(seed: u32, slot: &SlotMeta) -> [u8; DURABLE_SLOT_LEN] {
    let mut raw = DurableSlot {
        mark: U64::new(slot.mark),
        seq: U64::new(slot.seq),
        epoch: U32::new(slot.epoch),
        crc: U32::new(0),
    };
    raw.crc = U32::new(slot_crc(seed, raw.as_bytes()));
    let mut out = [0u8; DURABLE_SLOT_LEN];
    out.copy_from_slice(raw.as_bytes());
    out
}

fn slot_crc(seed: u32, bytes: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new_with_initial(seed);
    hasher.update(bytes.get(..DURABLE_SLOT_LEN - 4).unwrap_or(&[]));
    hasher.finalize()
}

/// Decodes a durable slot if it is valid for this segment's seed. An invalid slot (never
/// written, torn, or from another segment) is `None`, not an error: the mark only ever
/// makes recovery stricter.
pub fn decode_durable_slot(bytes: &[u8], seed: u32) -> Option<SlotMeta> {
    let (raw, _) = DurableSlot::ref_from_prefix(bytes).ok()?;
    if raw.crc.get() != slot_crc(seed, raw.as_bytes()) {
        return None;
    }
    Some(SlotMeta {
        mark: raw.mark.get(),
        seq: raw.seq.get(),
        epoch: raw.epoch.get(),
    })
}

/// The valid durable slots of a segment's header page (zero, one or two).
pub fn durable_slots(header_page: &[u8], seed: u32) -> impl Iterator<Item = SlotMeta> + '_ {
    DURABLE_SLOT_OFFSETS.iter().filter_map(move |&off| {
        let start = usize::try_from(off).ok()?;
        decode_durable_slot(header_page.get(start..)?, seed)
    })
}

/// The durable slot with the highest sequence number, if any is valid.
pub fn durable_mark(header_page: &[u8], seed: u32) -> Option<SlotMeta> {
    durable_slots(header_page, seed).max_by_key(|slot| slot.seq)
}

// ---------------------------------------------------------------------------------------
// Trailer and index

/// Encodes the trailer of a sealed segment.
pub fn encode_trailer(seed: u32, meta: &TrailerMeta) -> [u8; TRAILER_LEN] {
    let mut trailer = Trailer {
        magic: TRAILER_MAGIC,
        next_lsn: U64::new(meta.next_lsn),
        records_end: U64::new(meta.records_end),
        index_count: U32::new(meta.index_count),
        index_crc: U32::new(meta.index_crc),
        reserved: [0; 28],
        crc: U32::new(0),
    };
    trailer.crc = U32::new(trailer_crc(seed, trailer.as_bytes()));
    let mut out = [0u8; TRAILER_LEN];
    out.copy_from_slice(trailer.as_bytes());
    out
}

fn trailer_crc(seed: u32, bytes: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new_with_initial(seed);
    hasher.update(bytes.get(..TRAILER_LEN - 4).unwrap_or(&[]));
    hasher.finalize()
}

/// Decodes a trailer. `Ok(None)` when there is none (the segment is not sealed: the bytes
/// do not start with the trailer magic); `Err` when the magic is there but the rest is
/// wrong for a segment of `segment_len` bytes based at `base_lsn`.
pub fn decode_trailer(
    bytes: &[u8],
    seed: u32,
    segment_len: u64,
    base_lsn: Lsn,
) -> Result<Option<TrailerMeta>, Defect> {
    let at = trailer_offset(segment_len);
    let Ok((trailer, _)) = Trailer::ref_from_prefix(bytes) else {
        return Ok(None);
    };
    if trailer.magic != TRAILER_MAGIC {
        return Ok(None);
    }
    let computed = trailer_crc(seed, trailer.as_bytes());
    if computed != trailer.crc.get() {
        return Err(defect(
            at + 60,
            CorruptReason::HeaderChecksum {
                stored: trailer.crc.get(),
                computed,
            },
        ));
    }
    let meta = TrailerMeta {
        next_lsn: trailer.next_lsn.get(),
        records_end: trailer.records_end.get(),
        index_count: trailer.index_count.get(),
        index_crc: trailer.index_crc.get(),
    };
    let end_max = records_end(segment_len);
    if meta.records_end < RECORDS_START || meta.records_end > end_max {
        return Err(defect(
            at + 16,
            CorruptReason::BadHeaderField {
                field: "trailer records_end",
                expected: end_max,
                found: meta.records_end,
            },
        ));
    }
    if meta.next_lsn < base_lsn {
        return Err(defect(
            at + 8,
            CorruptReason::BadHeaderField {
                field: "trailer next_lsn",
                expected: base_lsn,
                found: meta.next_lsn,
            },
        ));
    }
    if u64::from(meta.index_count) > index_capacity(segment_len) {
        return Err(defect(
            at + 24,
            CorruptReason::BadHeaderField {
                field: "trailer index_count",
                expected: index_capacity(segment_len),
                found: u64::from(meta.index_count),
            },
        ));
    }
    Ok(Some(meta))
}

/// Encodes index points into `out` (which must hold `points.len() * INDEX_ENTRY_LEN`
/// bytes) and returns their checksum.
///
/// # Panics
/// If `out` is too short or an offset exceeds `u32::MAX` (segments are at most 1 GiB).
pub fn encode_index(points: &[IndexPoint], seed: u32, out: &mut [u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new_with_initial(seed);
    for (point, chunk) in points.iter().zip(out.chunks_exact_mut(INDEX_ENTRY_LEN)) {
        let entry = IndexEntry {
            lsn: U64::new(point.lsn),
            offset: U32::new(u32::try_from(point.offset).expect("segment offsets fit in u32")),
            reserved: U32::new(0),
        };
        chunk.copy_from_slice(entry.as_bytes());
        hasher.update(entry.as_bytes());
    }
    assert!(
        out.len() >= points.len() * INDEX_ENTRY_LEN,
        "index buffer too short"
    );
    hasher.finalize()
}

/// Checks the checksum of `count` index entries in `bytes` (the index region).
pub fn index_valid(bytes: &[u8], count: u32, seed: u32, expected_crc: u32) -> bool {
    let Some(len) = usize::try_from(count)
        .ok()
        .and_then(|c| c.checked_mul(INDEX_ENTRY_LEN))
    else {
        return false;
    };
    let Some(entries) = bytes.get(..len) else {
        return false;
    };
    let mut hasher = crc32fast::Hasher::new_with_initial(seed);
    hasher.update(entries);
    hasher.finalize() == expected_crc
}

/// Reads index entry `i` of the index region `bytes`.
pub fn index_entry(bytes: &[u8], i: usize) -> Option<IndexPoint> {
    let start = i.checked_mul(INDEX_ENTRY_LEN)?;
    let (entry, _) = IndexEntry::ref_from_prefix(bytes.get(start..)?).ok()?;
    Some(IndexPoint {
        lsn: entry.lsn.get(),
        offset: u64::from(entry.offset.get()),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing)]
    use super::*;

    const SEG: u64 = 1 << 20;

    fn meta() -> SegmentMeta {
        SegmentMeta {
            segment_len: SEG,
            base_lsn: 42,
            salt: 0x0123_4567_89ab_cdef,
            created_ms: 1_700_000_000_000,
        }
    }

    fn data(lsn: Lsn) -> RecordFields {
        RecordFields {
            lsn,
            epoch: 7,
            batch_left: 0,
            kind: KIND_DATA,
        }
    }

    /// A segment image with the given payloads written from `RECORDS_START`.
    fn image(payloads: &[&[u8]], epoch: u32) -> (Vec<u8>, Vec<u64>) {
        let m = meta();
        let mut img = vec![0u8; SEG as usize];
        img[..SEGMENT_HEADER_LEN].copy_from_slice(&encode_segment_header(&m));
        let seed = m.seed();
        let mut offset = RECORDS_START;
        let mut offsets = vec![];
        for (i, p) in payloads.iter().enumerate() {
            let fields = RecordFields {
                epoch,
                ..data(m.base_lsn + i as u64)
            };
            let h = encode_record_header(&fields, seed, p);
            let o = offset as usize;
            img[o..o + RECORD_HEADER_LEN].copy_from_slice(&h);
            img[o + RECORD_HEADER_LEN..o + RECORD_HEADER_LEN + p.len()].copy_from_slice(p);
            offsets.push(offset);
            offset += record_footprint(p.len() as u64);
        }
        (img, offsets)
    }

    #[test]
    fn segment_header_round_trips() {
        let bytes = encode_segment_header(&meta());
        assert_eq!(decode_segment_header(&bytes).unwrap(), meta());
    }

    #[test]
    fn segment_header_golden_bytes_pin_v1() {
        let bytes = encode_segment_header(&meta());
        let mut expected = Vec::new();
        expected.extend_from_slice(b"MMLOGSEG");
        expected.extend_from_slice(&1u32.to_le_bytes());
        expected.extend_from_slice(&64u32.to_le_bytes());
        expected.extend_from_slice(&SEG.to_le_bytes());
        expected.extend_from_slice(&42u64.to_le_bytes());
        expected.extend_from_slice(&0x0123_4567_89ab_cdefu64.to_le_bytes());
        expected.extend_from_slice(&1_700_000_000_000u64.to_le_bytes());
        expected.extend_from_slice(&[0; 12]);
        let crc = crc32fast::hash(&expected);
        expected.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(bytes.as_slice(), expected.as_slice());
        // Pin the checksum itself, so a change to the CRC algorithm shows up too.
        assert_eq!(
            crc, 0xfcf1_1e80,
            "v1 segment header checksum changed: {crc:#010x}"
        );
    }

    #[test]
    fn renumber_records_reseals_a_run_of_records_with_new_lsns() {
        let m = meta();
        let seed = m.seed();
        // Records written at LSNs base+1.. as if behind a reservation, then moved down.
        let (mut img, offsets) = image(&[b"ab", b"", b"a longer payload"], 7);
        let start = RECORDS_START as usize;
        let end = *offsets.last().unwrap() as usize + RECORD_HEADER_LEN + 16;
        for (i, &o) in offsets.iter().enumerate() {
            let rec = &mut img[o as usize..];
            rec[8..16].copy_from_slice(&(m.base_lsn + 10 + i as u64).to_le_bytes());
        }
        let next = renumber_records(&mut img[start..end], m.base_lsn, seed);
        assert_eq!(next, m.base_lsn + 3);
        for (lsn, &o) in (m.base_lsn..).zip(&offsets) {
            let rec = decode_record(&img, o, records_end(SEG), seed, lsn).expect("valid");
            assert_eq!(rec.lsn, lsn);
        }
        // Padding carries the next LSN and takes none.
        let mut pad = vec![0u8; 64];
        let fields = RecordFields {
            kind: KIND_PADDING,
            ..data(99)
        };
        seal_record(&fields, seed, &mut pad);
        assert_eq!(renumber_records(&mut pad, 5, seed), 5);
        let mut seg = vec![0u8; RECORDS_START as usize];
        seg.extend_from_slice(&pad);
        let rec = decode_record(&seg, RECORDS_START, seg.len() as u64, seed, 5).expect("padding");
        assert_eq!((rec.kind, rec.lsn), (KIND_PADDING, 5));
    }

    #[test]
    fn seal_record_matches_encode_record_header() {
        let payload = b"in place payload";
        let fields = RecordFields {
            batch_left: 3,
            ..data(9)
        };
        let mut record = vec![0xeeu8; RECORD_HEADER_LEN + payload.len()];
        record[RECORD_HEADER_LEN..].copy_from_slice(payload);
        let crc = seal_record(&fields, 77, &mut record);
        let header = encode_record_header(&fields, 77, payload);
        assert_eq!(&record[..RECORD_HEADER_LEN], &header[..]);
        assert_eq!(crc.to_le_bytes(), header[..4]);
        let rec = decode_record(&record, 0, record.len() as u64 + 8, 77, 9).unwrap();
        assert_eq!((rec.crc, rec.batch_left), (crc, 3));
    }

    #[test]
    fn record_header_golden_bytes_pin_v1() {
        let h = encode_record_header(&data(5), 0xdead_beef, b"hello");
        let mut tail = Vec::new();
        tail.extend_from_slice(&5u32.to_le_bytes());
        tail.extend_from_slice(&5u64.to_le_bytes());
        tail.extend_from_slice(&7u32.to_le_bytes());
        tail.extend_from_slice(&0u16.to_le_bytes());
        tail.push(KIND_DATA);
        tail.push(0);
        assert_eq!(&h[4..], tail.as_slice());
        let mut hasher = crc32fast::Hasher::new_with_initial(0xdead_beef);
        hasher.update(&tail);
        hasher.update(b"hello");
        assert_eq!(
            u32::from_le_bytes(h[..4].try_into().unwrap()),
            hasher.finalize()
        );
    }

    #[test]
    fn segment_header_rejections() {
        let good = encode_segment_header(&meta());
        let short = decode_segment_header(&good[..10]).unwrap_err();
        assert!(matches!(
            short.reason,
            CorruptReason::SegmentTooShort { .. }
        ));

        let mut bad = good;
        bad[0] = b'X';
        assert!(matches!(
            decode_segment_header(&bad).unwrap_err().reason,
            CorruptReason::BadMagic { .. }
        ));

        let mut bad = good;
        bad[8] = 2;
        assert_eq!(
            decode_segment_header(&bad).unwrap_err().reason,
            CorruptReason::UnsupportedVersion {
                found: 2,
                supported: 1
            }
        );

        let mut bad = good;
        bad[30] ^= 1;
        assert!(matches!(
            decode_segment_header(&bad).unwrap_err().reason,
            CorruptReason::HeaderChecksum { .. }
        ));

        let odd = SegmentMeta {
            segment_len: SEG + 1,
            ..meta()
        };
        // Encode bypasses validation of lengths; decode refuses it.
        let mut header = SegmentHeader::read_from_bytes(&good[..]).unwrap();
        header.segment_len = U64::new(odd.segment_len);
        header.crc = U32::new(crc32fast::hash(&header.as_bytes()[..60]));
        assert!(matches!(
            decode_segment_header(header.as_bytes()).unwrap_err().reason,
            CorruptReason::BadHeaderField {
                field: "segment_len",
                ..
            }
        ));
    }

    #[test]
    fn records_round_trip_and_chain() {
        let payloads: [&[u8]; 4] = [b"", b"a", b"hello world", &[0xff; 300]];
        let (img, offsets) = image(&payloads, 7);
        let end = records_end(SEG);
        let seed = meta().seed();
        for (i, p) in payloads.iter().enumerate() {
            let rec = decode_record(&img, offsets[i], end, seed, 42 + i as u64).unwrap();
            assert_eq!(rec.len as usize, p.len());
            assert_eq!(rec.kind, KIND_DATA);
            assert_eq!(rec.lsn, 42 + i as u64);
            assert_eq!(stored_crc_at(&img, offsets[i]), Some(rec.crc));
        }
        // The next position is zeroed space: kind 0 never validates.
        let after = offsets[3] + record_footprint(300);
        let err = decode_record(&img, after, end, seed, 46).unwrap_err();
        assert_eq!(err.reason, CorruptReason::BadRecordKind { found: 0 });
        assert_eq!(err.offset, after + 22);
    }

    #[test]
    fn record_rejections() {
        let (img, offsets) = image(&[b"abcdef", b"second"], 7);
        let end = records_end(SEG);
        let seed = meta().seed();

        // Wrong seed (another segment's salt, or a broken chain).
        let err = decode_record(&img, offsets[0], end, seed ^ 1, 42).unwrap_err();
        assert!(matches!(err.reason, CorruptReason::RecordChecksum { .. }));

        // Flipped payload bit.
        let mut bad = img.clone();
        bad[offsets[0] as usize + RECORD_HEADER_LEN] ^= 0x10;
        let err = decode_record(&bad, offsets[0], end, seed, 42).unwrap_err();
        assert!(matches!(err.reason, CorruptReason::RecordChecksum { .. }));

        // LSN discontinuity: the record is valid but not the one expected here.
        let err = decode_record(&img, offsets[0], end, seed, 41).unwrap_err();
        assert_eq!(
            err.reason,
            CorruptReason::LsnDiscontinuity {
                expected: 41,
                found: 42
            }
        );

        // Length past the end of the record area.
        let mut bad = img.clone();
        bad[offsets[0] as usize + 4..offsets[0] as usize + 8]
            .copy_from_slice(&(SEG as u32).to_le_bytes());
        let err = decode_record(&bad, offsets[0], end, seed, 42).unwrap_err();
        assert!(matches!(err.reason, CorruptReason::RecordLength { .. }));

        // Header that does not fit before the area end.
        let err = decode_record(&img, end - 8, end, seed, 42).unwrap_err();
        assert!(matches!(err.reason, CorruptReason::RecordLength { .. }));

        // An image cut short in the middle of a record.
        let err =
            decode_record(&img[..offsets[0] as usize + 10], offsets[0], end, seed, 42).unwrap_err();
        assert!(matches!(err.reason, CorruptReason::SegmentTooShort { .. }));

        // Unknown kind and non-zero reserved byte.
        let mut bad = img.clone();
        bad[offsets[0] as usize + 22] = 9;
        let err = decode_record(&bad, offsets[0], end, seed, 42).unwrap_err();
        assert_eq!(err.reason, CorruptReason::BadRecordKind { found: 9 });
        let mut bad = img.clone();
        bad[offsets[0] as usize + 23] = 1;
        let err = decode_record(&bad, offsets[0], end, seed, 42).unwrap_err();
        assert!(matches!(err.reason, CorruptReason::BadHeaderField { .. }));

        // An all-zero header.
        let zeros = vec![0u8; 4096];
        let err = decode_record(&zeros, 0, 4096, 0, 0).unwrap_err();
        assert_eq!(err.reason, CorruptReason::BadRecordKind { found: 0 });
    }

    #[test]
    fn the_checksum_covers_the_epoch_and_the_lsn() {
        // Stale records are refused by recovery's epoch rule (see recovery's tests); here:
        // a record cannot be made to pass for another epoch or LSN without its checksum.
        let (img, offsets) = image(&[b"same"], 7);
        let end = records_end(SEG);
        let rec = decode_record(&img, offsets[0], end, meta().seed(), 42).unwrap();
        assert_eq!(rec.epoch, 7);
        for field in [8usize, 16] {
            let mut bad = img.clone();
            bad[offsets[0] as usize + field] ^= 1;
            let err = decode_record(&bad, offsets[0], end, meta().seed(), 42).unwrap_err();
            assert!(
                matches!(err.reason, CorruptReason::RecordChecksum { .. }),
                "{field}"
            );
        }
    }

    #[test]
    fn durable_slots_pick_highest_valid_seq() {
        let seed = meta().seed();
        let mut page = vec![0u8; PAGE_LEN as usize];
        assert_eq!(durable_mark(&page, seed), None);
        let newer = SlotMeta {
            mark: 100,
            seq: 3,
            epoch: 9,
        };
        let older = SlotMeta {
            mark: 90,
            seq: 2,
            epoch: 8,
        };
        page[512..536].copy_from_slice(&encode_durable_slot(seed, &newer));
        page[1024..1048].copy_from_slice(&encode_durable_slot(seed, &older));
        assert_eq!(durable_mark(&page, seed), Some(newer));
        assert_eq!(durable_slots(&page, seed).count(), 2);
        // A torn newer slot falls back to the older one.
        page[520] ^= 1;
        assert_eq!(durable_mark(&page, seed), Some(older));
        // A slot from another segment (other seed) is ignored.
        assert_eq!(decode_durable_slot(&page[1024..], seed ^ 5), None);
    }

    #[test]
    fn trailer_round_trips_and_rejects() {
        let seed = meta().seed();
        let t = TrailerMeta {
            next_lsn: 50,
            records_end: 8192,
            index_count: 2,
            index_crc: 99,
        };
        let bytes = encode_trailer(seed, &t);
        assert_eq!(decode_trailer(&bytes, seed, SEG, 42), Ok(Some(t)));
        assert_eq!(decode_trailer(&[0u8; 64], seed, SEG, 42), Ok(None));
        let mut bad = bytes;
        bad[9] ^= 1;
        assert!(decode_trailer(&bad, seed, SEG, 42).is_err());
        assert!(decode_trailer(&bytes, seed ^ 1, SEG, 42).is_err());
        // next_lsn below the base LSN.
        assert!(decode_trailer(&bytes, seed, SEG, 51).is_err());
        let far = TrailerMeta {
            records_end: SEG,
            ..t
        };
        assert!(decode_trailer(&encode_trailer(seed, &far), seed, SEG, 42).is_err());
    }

    #[test]
    fn index_round_trips() {
        let seed = 3;
        let points = [
            IndexPoint {
                lsn: 1,
                offset: 4096,
            },
            IndexPoint {
                lsn: 9,
                offset: 70000,
            },
        ];
        let mut buf = vec![0u8; 64];
        let crc = encode_index(&points, seed, &mut buf);
        assert!(index_valid(&buf, 2, seed, crc));
        assert!(!index_valid(&buf, 2, seed, crc ^ 1));
        assert!(!index_valid(&buf, 100, seed, crc));
        assert_eq!(index_entry(&buf, 1), Some(points[1]));
        assert_eq!(index_entry(&buf, 4), None);
    }

    #[test]
    fn layout_limits_hold_for_every_allowed_size() {
        for seg in [64 * 1024, 1 << 20, 64 << 20, 1 << 30] {
            let end = records_end(seg);
            assert!(end > RECORDS_START);
            assert_eq!(end % PAGE_LEN, 0);
            assert!(end + index_capacity(seg) * INDEX_ENTRY_LEN as u64 <= trailer_offset(seg));
            assert_eq!(RECORDS_START + record_footprint(payload_len_max(seg)), end);
        }
    }
}
