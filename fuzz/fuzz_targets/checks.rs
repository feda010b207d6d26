//! The checking logic of the `decode_record` and `recover_segment` fuzz targets, and the
//! byte reader all targets share.
//!
//! One copy of the logic: the fuzz targets say `mod checks;`, and the stable replay test
//! (`tests/integration/fuzz_replay.rs`) includes this file with `#[path]`, so an input
//! saved under `tests/data/fuzz/` is replayed by `cargo test` through exactly this code.
//!
//! Every check takes arbitrary bytes and panics only when mmlog misbehaves: a panic inside
//! it (an overflow, a slice out of bounds), a result that breaks what its documentation
//! says, or two ways of computing the same thing that disagree. Sizes are bounded by the
//! crate's limits (segments of `SEGMENT_SIZE_MIN`, 64 KiB), so every loop here has a bound.
// Each includer (two fuzz targets, the model target, the replay test) uses a part of it.
#![allow(dead_code)]

use std::path::PathBuf;

use mmlog::format::{
    self, IndexPoint, RecordFields, RecordMeta, SegmentMeta, SlotMeta, TrailerMeta,
    DURABLE_SLOT_LEN, DURABLE_SLOT_OFFSETS, INDEX_ENTRY_LEN, INDEX_STRIDE, KIND_DATA, KIND_PADDING,
    MAGIC, PAGE_LEN, RECORDS_START, RECORD_ALIGN, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN,
    TRAILER_LEN, TRAILER_MAGIC, VERSION,
};
use mmlog::recovery::{self, Bytes, Plan, Probe, Scan, SegmentPlan};
use mmlog::{Error, Lsn, Recovery, SEGMENT_SIZE_MAX, SEGMENT_SIZE_MIN};

/// The segment length of every image the fuzzers build: the smallest the crate allows.
pub const SEGMENT_LEN: u64 = SEGMENT_SIZE_MIN;
/// Raw images may run a page past a segment (a file longer than its header says).
const IMAGE_LEN_MAX: u64 = SEGMENT_LEN + PAGE_LEN;
/// Segments in one recovery input: enough for repair, gaps and deletes after a cut.
const SEGMENTS_MAX: u64 = 3;
/// Records written into one built segment.
const RECORDS_MAX: u64 = 48;
/// Mutations applied to one built segment.
const MUTATIONS_MAX: u64 = 8;
/// How far `nonzero_end` reads at once (`BLOCK * 64` in `recovery.rs`); a bound for the
/// length of one read request.
const READ_CHUNK: u64 = 64 * 4096;

// ---------------------------------------------------------------------------------------
// Input

/// Reads fuzzer bytes as numbers, little-endian. Past the end every read is zero, so every
/// input is a valid program, and a short one a small program.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Input<'a> {
        Input { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Up to `len` bytes (fewer at the end of the input).
    pub fn bytes(&mut self, len: usize) -> &'a [u8] {
        let (head, tail) = self.data.split_at(len.min(self.data.len()));
        self.data = tail;
        head
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }

    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let head = self.bytes(N);
        out[..head.len()].copy_from_slice(head);
        out
    }

    pub fn u8(&mut self) -> u8 {
        self.array::<1>()[0]
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.array())
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.array())
    }

    pub fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.array())
    }

    /// A number in `0..n` (`n > 0`), from as few bytes as `n` needs.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Input::below(0)");
        if n <= 1 << 8 {
            u64::from(self.u8()) % n
        } else if n <= 1 << 16 {
            u64::from(self.u16()) % n
        } else if n <= 1 << 32 {
            u64::from(self.u32()) % n
        } else {
            self.u64() % n
        }
    }

    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    /// A `usize` below `n`.
    pub fn index(&mut self, n: usize) -> usize {
        usize::try_from(self.below(n as u64)).expect("below a usize fits in usize")
    }
}

fn usize_of(n: u64) -> usize {
    usize::try_from(n).expect("fuzz sizes fit in usize")
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

/// CRC-32 (IEEE, reflected), continuing from `seed` the way
/// `crc32fast::Hasher::new_with_initial(seed)` does (`seed` 0: a plain CRC-32). Written
/// here from the definition, as an oracle for every checksum mmlog computes.
pub fn crc32(seed: u32, bytes: &[u8]) -> u32 {
    let mut c = !seed;
    for &b in bytes {
        c = CRC_TABLE[usize::from((c as u8) ^ b)] ^ (c >> 8);
    }
    !c
}

const CRC_TABLE: [u32; 256] = crc_table();

const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 1 == 1 {
                (c >> 1) ^ 0xedb8_8320
            } else {
                c >> 1
            };
            bit += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

/// A segment length the crate accepts (a multiple of a page in `SEGMENT_SIZE_MIN..=MAX`).
fn valid_segment_len(input: &mut Input) -> u64 {
    let pages = (SEGMENT_SIZE_MAX - SEGMENT_SIZE_MIN) / PAGE_LEN + 1;
    match input.below(4) {
        0 => SEGMENT_SIZE_MIN,
        1 => SEGMENT_SIZE_MAX,
        _ => SEGMENT_SIZE_MIN + PAGE_LEN * input.below(pages),
    }
}

/// The layout relations `format` promises for a segment length it accepts.
fn check_layout(segment_len: u64) {
    let end = format::records_end(segment_len);
    assert!(end > RECORDS_START, "records_end({segment_len}) = {end}");
    assert_eq!(end % PAGE_LEN, 0, "records_end({segment_len}) = {end}");
    let index_end = end + format::index_capacity(segment_len) * INDEX_ENTRY_LEN as u64;
    assert!(
        index_end <= format::trailer_offset(segment_len),
        "the index of a {segment_len}-byte segment runs into its trailer"
    );
    assert_eq!(
        RECORDS_START + format::record_footprint(format::payload_len_max(segment_len)),
        end,
        "the largest payload does not fill the record area of a {segment_len}-byte segment"
    );
}

// ---------------------------------------------------------------------------------------
// decode_record: bytes into every decoder

/// The `decode_record` target: a few control values, then a segment image; every decoder
/// of `format` runs on the image at offsets and with parameters from the control values,
/// and must agree with the layout written out in `format`'s documentation (checked here
/// from the bytes, with an independent CRC).
pub fn check_decoders(data: &[u8]) {
    check_segment_header(data);
    let mut input = Input::new(data);
    let segment_len = valid_segment_len(&mut input);
    check_layout(segment_len);
    let seed_raw = input.u32();
    let base_lsn = input.u64();
    let offset_mode = input.u8();
    let offset_raw = input.u64();
    let area_mode = input.u8();
    let area_raw = input.u64();
    let lsn_mode = input.u8();
    let lsn_raw = input.u64();
    let count_raw = input.u32();
    let crc_raw = input.u32();
    let index_raw = input.u64();
    let fields = RecordFields {
        lsn: input.u64(),
        epoch: input.u32(),
        batch_left: input.u16(),
        kind: input.u8(),
    };
    let image = input.rest();
    let len = image.len() as u64;

    let header = check_segment_header(image);
    let seed = match header {
        Some(meta) if seed_raw & 1 == 0 => meta.seed(),
        _ => seed_raw,
    };
    // Mostly offsets inside the image; sometimes anything, up to u64::MAX.
    let offset = match offset_mode % 4 {
        0 => RECORDS_START,
        1 | 2 => offset_raw % (len + 1),
        _ => offset_raw,
    };
    let area_end = match area_mode % 5 {
        0 => len,
        1 => format::records_end(segment_len),
        2 => offset.saturating_add(area_raw % (len + 1)),
        3 => area_raw % (len + 1),
        _ => area_raw,
    };
    // The LSN the header stores, so the last check can pass too.
    let stored_lsn = usize::try_from(offset)
        .ok()
        .and_then(|o| image.get(o.checked_add(8)?..o.checked_add(16)?))
        .map(|b| u64_at(b, 0));
    let lsn = match (lsn_mode % 2, stored_lsn) {
        (0, Some(stored)) => stored,
        _ => lsn_raw,
    };
    if let Some(rec) = check_record_at(image, offset, area_end, seed, lsn) {
        walk_records(image, offset, area_end, seed, rec);
    }
    if header.is_some() && offset_mode & 0x80 != 0 {
        // The first record of a segment, where a scan starts.
        let area_end = format::records_end(segment_len).min(area_end);
        if let Some(rec) = check_record_at(image, RECORDS_START, area_end, seed, base_lsn) {
            walk_records(image, RECORDS_START, area_end, seed, rec);
        }
    }
    let at = usize::try_from(offset).unwrap_or(usize::MAX);
    let at_offset = image.get(at..).unwrap_or(&[]);

    check_encoders(&fields, seed, at_offset);
    check_peek_len(at_offset);
    check_stored_crc(image, offset);
    for page in [image, at_offset] {
        check_durable_slots(page, seed);
    }
    check_durable_slot(at_offset, seed);
    check_trailer(at_offset, seed, segment_len, base_lsn);
    if let Some(trailer) = usize::try_from(format::trailer_offset(segment_len))
        .ok()
        .and_then(|t| image.get(t..))
    {
        check_trailer(trailer, seed, segment_len, base_lsn);
    }
    check_index(at_offset, count_raw, seed, crc_raw, index_raw);
}

/// `decode_segment_header` accepts exactly the headers its documentation describes, and
/// a decoded header re-encodes to the same fields.
fn check_segment_header(bytes: &[u8]) -> Option<SegmentMeta> {
    let valid = bytes.len() >= SEGMENT_HEADER_LEN && {
        let segment_len = u64_at(bytes, 16);
        bytes[..8] == MAGIC
            && u32_at(bytes, 8) == VERSION
            && u32_at(bytes, 12) == SEGMENT_HEADER_LEN as u32
            && u32_at(bytes, 60) == crc32(0, &bytes[..60])
            && segment_len.is_multiple_of(PAGE_LEN)
            && (SEGMENT_SIZE_MIN..=SEGMENT_SIZE_MAX).contains(&segment_len)
    };
    match format::decode_segment_header(bytes) {
        Ok(meta) => {
            assert!(valid, "accepted a header its layout refuses: {meta:?}");
            assert_eq!(meta.segment_len, u64_at(bytes, 16));
            assert_eq!(meta.base_lsn, u64_at(bytes, 24));
            assert_eq!(meta.salt, u64_at(bytes, 32));
            assert_eq!(meta.created_ms, u64_at(bytes, 40));
            check_layout(meta.segment_len);
            let again = format::encode_segment_header(&meta);
            assert_eq!(format::decode_segment_header(&again), Ok(meta));
            // Everything up to the reserved bytes is determined by the fields.
            assert_eq!(
                &again[..48],
                &bytes[..48],
                "header fields do not round-trip"
            );
            Some(meta)
        }
        Err(defect) => {
            assert!(!valid, "refused a valid header: {defect:?}");
            assert!(
                defect.offset < SEGMENT_HEADER_LEN as u64,
                "a header defect outside the header: {defect:?}"
            );
            None
        }
    }
}

/// Whether the record at `offset` is valid by the documented layout, from the bytes.
fn record_valid(image: &[u8], offset: u64, area_end: u64, seed: u32, lsn: Lsn) -> bool {
    let Some(header_end) = offset.checked_add(RECORD_HEADER_LEN as u64) else {
        return false;
    };
    if header_end > area_end || header_end > image.len() as u64 {
        return false;
    }
    let start = usize_of(offset);
    let header = &image[start..start + RECORD_HEADER_LEN];
    let len = u64::from(u32_at(header, 4));
    let kind = header[22];
    let end = header_end + len;
    (kind == KIND_DATA || kind == KIND_PADDING)
        && header[23] == 0
        && end <= area_end
        && end <= image.len() as u64
        && u32_at(header, 0) == crc32(seed, &image[start + 4..usize_of(end)])
        && u64_at(header, 8) == lsn
}

/// `decode_record` at one position, against the documented layout; the record if valid.
pub fn check_record_at(
    image: &[u8],
    offset: u64,
    area_end: u64,
    seed: u32,
    lsn: Lsn,
) -> Option<RecordMeta> {
    let valid = record_valid(image, offset, area_end, seed, lsn);
    match format::decode_record(image, offset, area_end, seed, lsn) {
        Ok(rec) => {
            assert!(
                valid,
                "record at {offset} validated against its layout: {rec:?}"
            );
            let start = usize_of(offset);
            let len = usize_of(u64::from(rec.len));
            let header = &image[start..start + RECORD_HEADER_LEN];
            assert_eq!(rec.crc, u32_at(header, 0));
            assert_eq!(rec.len, u32_at(header, 4));
            assert_eq!(rec.lsn, lsn);
            assert_eq!(rec.epoch, u32_at(header, 16));
            assert_eq!(rec.batch_left, u16::from_le_bytes([header[20], header[21]]));
            assert_eq!(rec.kind, header[22]);
            assert_eq!(
                rec.footprint(),
                format::align_up(RECORD_HEADER_LEN as u64 + u64::from(rec.len), RECORD_ALIGN)
            );
            assert_eq!(format::stored_crc_at(image, offset), Some(rec.crc));
            assert_eq!(format::peek_len(&image[start..]), Some(rec.len));
            // A valid record is exactly what both encoders write for its fields.
            let fields = RecordFields {
                lsn: rec.lsn,
                epoch: rec.epoch,
                batch_left: rec.batch_left,
                kind: rec.kind,
            };
            let record = &image[start..start + RECORD_HEADER_LEN + len];
            check_encoders(&fields, seed, &record[RECORD_HEADER_LEN..]);
            assert_eq!(
                &format::encode_record_header(&fields, seed, &record[RECORD_HEADER_LEN..])[..],
                header,
                "a record that validates is not what the encoder writes for it"
            );
            Some(rec)
        }
        Err(defect) => {
            assert!(!valid, "refused a valid record at {offset}: {defect:?}");
            let within = defect.offset.checked_sub(offset);
            assert!(
                within.is_some_and(|d| d < RECORD_HEADER_LEN as u64),
                "record at {offset}: defect outside its header: {defect:?}"
            );
            if let mmlog::CorruptReason::SegmentTooShort { expected, .. } = defect.reason {
                // (Checked so that a wrapped sum fails in release builds too.)
                // (Saturating: an offset near u64::MAX names u64::MAX.)
                assert!(
                    expected > offset || expected == u64::MAX,
                    "record at {offset}: {defect:?}"
                );
            }
            None
        }
    }
}

/// `encode_record_header` and `seal_record` write the same bytes, with the documented
/// checksum, and `decode_record` takes them back.
fn check_encoders(fields: &RecordFields, seed: u32, payload: &[u8]) {
    let header = format::encode_record_header(fields, seed, payload);
    let mut record = vec![0xa5; RECORD_HEADER_LEN];
    record.extend_from_slice(payload);
    let crc = format::seal_record(fields, seed, &mut record);
    assert_eq!(
        &record[..RECORD_HEADER_LEN],
        &header[..],
        "seal_record differs"
    );
    assert_eq!(
        &record[RECORD_HEADER_LEN..],
        payload,
        "seal_record wrote the payload"
    );
    assert_eq!(crc, u32_at(&header, 0));
    assert_eq!(crc, crc32(seed, &record[4..]), "the record checksum");
    let area_end = record.len() as u64;
    let decoded = format::decode_record(&record, 0, area_end, seed, fields.lsn);
    if fields.kind == KIND_DATA || fields.kind == KIND_PADDING {
        let rec = decoded.unwrap_or_else(|d| panic!("an encoded record does not decode: {d:?}"));
        assert_eq!(
            (rec.lsn, rec.epoch, rec.batch_left, rec.kind),
            (fields.lsn, fields.epoch, fields.batch_left, fields.kind)
        );
    } else {
        assert!(decoded.is_err(), "a record of kind {} decoded", fields.kind);
    }
}

/// Decodes the records after a valid one, as a scan does: at most one step per header's
/// length of image.
fn walk_records(image: &[u8], mut offset: u64, area_end: u64, seed: u32, mut rec: RecordMeta) {
    let steps_max = image.len() / RECORD_HEADER_LEN + 1;
    for _ in 0..steps_max {
        let next = offset + rec.footprint();
        assert!(next > offset, "a record of footprint 0");
        let lsn = if rec.kind == KIND_DATA {
            rec.lsn.wrapping_add(1)
        } else {
            rec.lsn
        };
        offset = next;
        match check_record_at(image, offset, area_end, seed, lsn) {
            Some(r) => rec = r,
            None => return,
        }
    }
    panic!("{steps_max} valid records in {} bytes", image.len());
}

fn check_peek_len(bytes: &[u8]) {
    let len = format::peek_len(bytes);
    if bytes.len() >= RECORD_HEADER_LEN {
        assert_eq!(len, Some(u32_at(bytes, 4)));
    } else {
        assert_eq!(len, None);
    }
}

fn check_stored_crc(image: &[u8], offset: u64) {
    let stored = format::stored_crc_at(image, offset);
    let fits = usize::try_from(offset)
        .ok()
        .and_then(|o| o.checked_add(RECORD_HEADER_LEN))
        .is_some_and(|end| end <= image.len());
    assert_eq!(stored.is_some(), fits, "stored_crc_at({offset})");
    if let Some(crc) = stored {
        assert_eq!(crc, u32_at(image, usize_of(offset)));
    }
}

/// `decode_durable_slot` accepts exactly the slots whose checksum holds, and a valid slot
/// is exactly what the encoder writes for it.
fn check_durable_slot(bytes: &[u8], seed: u32) -> Option<SlotMeta> {
    let slot = format::decode_durable_slot(bytes, seed);
    let valid = bytes.len() >= DURABLE_SLOT_LEN
        && u32_at(bytes, 20) == crc32(seed, &bytes[..DURABLE_SLOT_LEN - 4]);
    assert_eq!(slot.is_some(), valid, "durable slot {slot:?}");
    if let Some(s) = slot {
        assert_eq!(
            (s.mark, s.seq, s.epoch),
            (u64_at(bytes, 0), u64_at(bytes, 8), u32_at(bytes, 16))
        );
        assert_eq!(
            &format::encode_durable_slot(seed, &s)[..],
            &bytes[..DURABLE_SLOT_LEN],
            "a durable slot that validates is not what the encoder writes for it"
        );
    }
    slot
}

/// `durable_slots` and `durable_mark`: the valid slots, and the one with the highest
/// sequence number.
fn check_durable_slots(page: &[u8], seed: u32) {
    let slots: Vec<SlotMeta> = DURABLE_SLOT_OFFSETS
        .iter()
        .filter_map(|&o| check_durable_slot(page.get(usize_of(o)..)?, seed))
        .collect();
    let listed: Vec<SlotMeta> = format::durable_slots(page, seed).collect();
    assert_eq!(listed, slots, "durable_slots");
    match format::durable_mark(page, seed) {
        None => assert!(slots.is_empty(), "valid slots {slots:?} but no mark"),
        Some(found) => {
            assert!(slots.contains(&found), "mark {found:?} from no slot");
            assert!(slots.iter().all(|s| s.seq <= found.seq), "{slots:?}");
        }
    }
}

/// `decode_trailer` against the documented layout; a trailer that decodes re-encodes to
/// itself.
fn check_trailer(bytes: &[u8], seed: u32, segment_len: u64, base_lsn: Lsn) {
    let at = format::trailer_offset(segment_len);
    let present = bytes.len() >= TRAILER_LEN && bytes[..8] == TRAILER_MAGIC;
    let valid = present && {
        let records_end = u64_at(bytes, 16);
        u32_at(bytes, 60) == crc32(seed, &bytes[..60])
            && (RECORDS_START..=format::records_end(segment_len)).contains(&records_end)
            && u64_at(bytes, 8) >= base_lsn
            && u64::from(u32_at(bytes, 24)) <= format::index_capacity(segment_len)
    };
    match format::decode_trailer(bytes, seed, segment_len, base_lsn) {
        Ok(None) => assert!(!present, "a trailer with its magic taken for none"),
        Ok(Some(t)) => {
            assert!(valid, "accepted a trailer its layout refuses: {t:?}");
            let again = format::encode_trailer(seed, &t);
            assert_eq!(
                &again[..32],
                &bytes[..32],
                "trailer fields do not round-trip"
            );
            assert_eq!(
                format::decode_trailer(&again, seed, segment_len, base_lsn),
                Ok(Some(t))
            );
        }
        Err(defect) => {
            assert!(present && !valid, "refused a valid trailer: {defect:?}");
            assert!(
                (at..at + TRAILER_LEN as u64).contains(&defect.offset),
                "a trailer defect outside the trailer at {at}: {defect:?}"
            );
        }
    }
}

/// `index_entry` and `index_valid` against the layout and the encoder.
fn check_index(region: &[u8], count_raw: u32, seed: u32, crc_raw: u32, index_raw: u64) {
    let entries = region.len() / INDEX_ENTRY_LEN;
    // A count mostly within the region, sometimes anything.
    let count = if count_raw & 0x8000_0000 == 0 {
        count_raw % (u32::try_from(entries).unwrap_or(u32::MAX).saturating_add(2))
    } else {
        count_raw
    };
    let i = usize::try_from(index_raw).unwrap_or(usize::MAX);
    let entry = format::index_entry(region, i);
    let fits = i
        .checked_add(1)
        .and_then(|n| n.checked_mul(INDEX_ENTRY_LEN))
        .is_some_and(|end| end <= region.len());
    assert_eq!(
        entry.is_some(),
        fits,
        "index_entry({i}) of {} bytes",
        region.len()
    );
    if let Some(p) = entry {
        let at = i * INDEX_ENTRY_LEN;
        assert_eq!(p.lsn, u64_at(region, at));
        assert_eq!(p.offset, u64::from(u32_at(region, at + 8)));
    }
    let n = usize::try_from(count).unwrap_or(usize::MAX);
    if n > entries {
        assert!(!format::index_valid(region, count, seed, crc_raw));
        return;
    }
    let bytes = &region[..n * INDEX_ENTRY_LEN];
    let crc = crc32(seed, bytes);
    assert!(format::index_valid(region, count, seed, crc));
    assert_eq!(
        format::index_valid(region, count, seed, crc_raw),
        crc_raw == crc
    );
    // The encoder writes the entries back (with their reserved words zeroed).
    let points: Vec<IndexPoint> = (0..n)
        .map(|i| format::index_entry(region, i).expect("entry inside the region"))
        .collect();
    let mut again = vec![0xa5u8; bytes.len()];
    let encoded_crc = format::encode_index(&points, seed, &mut again);
    assert_eq!(encoded_crc, crc32(seed, &again), "encode_index's checksum");
    for (a, b) in again
        .chunks(INDEX_ENTRY_LEN)
        .zip(bytes.chunks(INDEX_ENTRY_LEN))
    {
        assert_eq!(&a[..12], &b[..12], "index entry round trip");
        assert_eq!(&a[12..], &[0; 4], "index entry reserved word");
    }
}

// ---------------------------------------------------------------------------------------
// recover_segment: segment images through the recovery plan

/// The `recover_segment` target: one to three segment images, raw or built valid and then
/// mutated, go through `recovery::plan` in both modes, and through `scan` and
/// `nonzero_end` directly.
pub fn check_recovery(data: &[u8]) {
    let mut input = Input::new(data);
    let (probes, images) = segments(&mut input);
    check_plans(&probes, &images);
    for image in &images {
        check_scan(image, &mut input);
    }
}

/// The segment files of a recovery input, and what `open` would probe of them.
pub fn segments(input: &mut Input) -> (Vec<Probe>, Vec<Vec<u8>>) {
    let count = 1 + input.below(SEGMENTS_MAX);
    let mut next_base: Lsn = input.u8().into();
    let mut images = Vec::new();
    for _ in 0..count {
        // Mostly built images: raw bytes rarely get past the header checksum.
        let image = if input.below(8) == 0 {
            raw_image(input)
        } else {
            built_image(input, &mut next_base)
        };
        images.push(image);
    }
    let probes = images
        .iter()
        .map(|image| {
            let name = match format::decode_segment_header(image) {
                Ok(meta) if input.below(8) != 0 => meta.base_lsn,
                Ok(meta) => meta.base_lsn.wrapping_add(input.u8().into()),
                Err(_) => input.u8().into(),
            };
            let mut probe = probe_for(image, name);
            if input.below(16) == 0 {
                // A file length that disagrees with the bytes there (a file that grew or
                // shrank between the probe and the scan).
                probe.file_len = input.below(IMAGE_LEN_MAX + 1);
            }
            probe
        })
        .collect();
    (probes, images)
}

/// Runs every image through recovery with default choices (names from the headers).
pub fn check_images(images: &[Vec<u8>]) {
    let probes: Vec<Probe> = images
        .iter()
        .map(|image| {
            let name = format::decode_segment_header(image).map_or(0, |m| m.base_lsn);
            probe_for(image, name)
        })
        .collect();
    check_plans(&probes, images);
    for image in images {
        check_scan(image, &mut Input::new(&[]));
    }
}

/// What `open` reads of a segment file before planning (as `log.rs` does): the header
/// page, and the trailer if the header is valid and the file long enough.
pub fn probe_for(image: &[u8], name_lsn: Lsn) -> Probe {
    let file_len = image.len() as u64;
    let header_page = image[..image.len().min(usize_of(PAGE_LEN))].to_vec();
    let mut trailer = Vec::new();
    if let Ok(meta) = format::decode_segment_header(&header_page) {
        if file_len >= meta.segment_len {
            let at = usize_of(format::trailer_offset(meta.segment_len));
            trailer = image.get(at..at + TRAILER_LEN).unwrap_or(&[]).to_vec();
        }
    }
    Probe {
        path: PathBuf::from(format!("{name_lsn:020}.seg")),
        name_lsn,
        file_len,
        header_page,
        trailer,
    }
}

/// Raw bytes, zero-padded to a length chosen by the input (so a short input still makes a
/// segment-sized file).
fn raw_image(input: &mut Input) -> Vec<u8> {
    let len = match input.below(4) {
        0 => SEGMENT_LEN,
        1 => input.below(PAGE_LEN + 1),
        2 => SEGMENT_LEN - PAGE_LEN + input.below(2 * PAGE_LEN + 1),
        _ => input.below(IMAGE_LEN_MAX + 1),
    };
    let mut image = vec![0u8; usize_of(len)];
    let content_len = usize::from(input.u16()).min(image.len());
    let content = input.bytes(content_len);
    image[..content.len()].copy_from_slice(content);
    image
}

/// A valid segment (a real header, records chained as the writer chains them, maybe
/// durable slots, a trailer and an index), then damaged by input-driven mutations.
fn built_image(input: &mut Input, next_base: &mut Lsn) -> Vec<u8> {
    let base_lsn = match input.below(8) {
        0 => input.u64(),
        1 => u64::MAX - input.below(4),
        _ => *next_base,
    };
    let meta = SegmentMeta {
        segment_len: SEGMENT_LEN,
        base_lsn,
        salt: input.u64(),
        created_ms: 0,
    };
    let mut image = vec![0u8; usize_of(SEGMENT_LEN)];
    image[..SEGMENT_HEADER_LEN].copy_from_slice(&format::encode_segment_header(&meta));

    let area_end = format::records_end(SEGMENT_LEN);
    let seed = meta.seed();
    let mut epoch = input.u32();
    let mut offset = RECORDS_START;
    let mut lsn = base_lsn;
    let mut pending: u16 = 0;
    let mut index: Vec<IndexPoint> = Vec::new();
    let records = input.below(RECORDS_MAX + 1);
    for _ in 0..records {
        let len = match input.below(8) {
            0 => 0,
            1..=4 => input.below(64),
            5 | 6 => input.below(4096),
            _ => input.below(format::payload_len_max(SEGMENT_LEN) + 1),
        };
        let footprint = format::record_footprint(len);
        if offset + footprint > area_end {
            break;
        }
        let kind = if pending == 0 && input.below(8) == 0 {
            KIND_PADDING
        } else {
            KIND_DATA
        };
        let batch_left = match (pending, kind) {
            (0, KIND_DATA) if input.below(4) == 0 => input.below(4) as u16,
            (0, _) => 0,
            (n, _) if input.below(32) == 0 => n, // a batch that does not count down
            (n, _) => n - 1,
        };
        // Mostly the same writer; sometimes a newer one (a reopen, a truncate_back), rarely
        // an older one (a stale record where a newer page was lost).
        epoch = match input.below(16) {
            0 | 1 => epoch.wrapping_add(1 + input.below(3) as u32),
            2 => epoch.wrapping_sub(1),
            _ => epoch,
        };
        let fill = input.u8();
        let payload: Vec<u8> = (0..len)
            .map(|i| (i as u8).wrapping_mul(31) ^ fill)
            .collect();
        let fields = RecordFields {
            lsn,
            epoch,
            batch_left,
            kind,
        };
        let at = usize_of(offset);
        let record = &mut image[at..at + RECORD_HEADER_LEN + payload.len()];
        record[RECORD_HEADER_LEN..].copy_from_slice(&payload);
        // Both ways the writer has of writing a record.
        if input.bool() {
            format::seal_record(&fields, seed, record);
        } else {
            let header = format::encode_record_header(&fields, seed, &payload);
            record[..RECORD_HEADER_LEN].copy_from_slice(&header);
        }
        let stride = |o: u64| (o - RECORDS_START) / INDEX_STRIDE;
        if index
            .last()
            .is_none_or(|p| stride(p.offset) < stride(offset))
        {
            index.push(IndexPoint { lsn, offset });
        }
        offset += footprint;
        if kind == KIND_DATA {
            lsn = lsn.wrapping_add(1);
        }
        pending = batch_left;
    }
    *next_base = lsn;

    for slot_at in DURABLE_SLOT_OFFSETS {
        if input.below(3) == 0 {
            let mark = match input.below(4) {
                0 => lsn,
                1 => base_lsn.wrapping_add(input.below(records + 1)),
                2 => lsn.wrapping_add(input.below(4)),
                _ => input.u64(),
            };
            let slot = SlotMeta {
                mark,
                seq: input.below(4),
                epoch: match input.below(4) {
                    0 => input.u32(),
                    _ => epoch.wrapping_add(input.below(3) as u32).wrapping_sub(1),
                },
            };
            let slot = format::encode_durable_slot(meta.seed(), &slot);
            let at = usize_of(slot_at);
            image[at..at + DURABLE_SLOT_LEN].copy_from_slice(&slot);
        }
    }

    if input.below(3) == 0 {
        let index_at = usize_of(area_end);
        let index_len = index.len() * INDEX_ENTRY_LEN;
        let index_crc = format::encode_index(
            &index,
            meta.seed(),
            &mut image[index_at..index_at + index_len],
        );
        let trailer = TrailerMeta {
            next_lsn: match input.below(8) {
                0 => lsn.wrapping_add(input.below(3)).wrapping_sub(1),
                _ => lsn,
            },
            records_end: match input.below(8) {
                0 => RECORDS_START + input.below(area_end - RECORDS_START + 1),
                _ => offset,
            },
            index_count: match input.below(8) {
                0 => input.u32(),
                _ => index.len() as u32,
            },
            index_crc,
        };
        let at = usize_of(format::trailer_offset(SEGMENT_LEN));
        image[at..at + TRAILER_LEN].copy_from_slice(&format::encode_trailer(meta.seed(), &trailer));
    }

    for _ in 0..input.below(MUTATIONS_MAX + 1) {
        mutate(&mut image, input, &meta);
    }
    image
}

/// One damage: what a torn write, a lost or reordered page, bit rot or a foreign file
/// does to a segment.
fn mutate(image: &mut Vec<u8>, input: &mut Input, meta: &SegmentMeta) {
    let op = input.below(9);
    if image.is_empty() {
        return;
    }
    let at = input.index(image.len());
    let room = image.len() - at;
    match op {
        0 => image[at] ^= input.u8().max(1),
        1 => {
            let v = input.u32().to_le_bytes();
            let n = room.min(4);
            image[at..at + n].copy_from_slice(&v[..n]);
        }
        2 => {
            let v = input.u64().to_le_bytes();
            let n = room.min(8);
            image[at..at + n].copy_from_slice(&v[..n]);
        }
        3 => {
            let n = input.index(8192).min(room);
            image[at..at + n].fill(0);
        }
        4 => {
            // A page (or part of one) written to the wrong place: a stale copy.
            let from = input.index(image.len());
            let n = input.index(4096).min(room).min(image.len() - from);
            image.copy_within(from..from + n, at);
        }
        5 => image.truncate(at),
        6 => {
            // A header with a valid checksum but other fields.
            let mut other = *meta;
            match input.below(4) {
                0 => other.segment_len = valid_segment_len(input),
                1 => other.segment_len = input.u64(),
                2 => other.base_lsn = other.base_lsn.wrapping_add(input.u8().into()),
                _ => other.salt ^= 1 << input.below(64),
            }
            let header = encode_header_unchecked(&other);
            let n = image.len().min(SEGMENT_HEADER_LEN);
            image[..n].copy_from_slice(&header[..n]);
        }
        7 => {
            let n = room.min(usize_of(PAGE_LEN));
            image[at..at + n].fill(0xff);
        }
        _ => {
            let extra = input.index(usize_of(IMAGE_LEN_MAX) - image.len() + 1);
            let fill = input.u8();
            image.resize(image.len() + extra, fill);
        }
    }
}

/// A segment header for any fields, with a valid checksum (`encode_segment_header`
/// debug-asserts that its input decodes, which an invalid `segment_len` does not).
fn encode_header_unchecked(meta: &SegmentMeta) -> [u8; SEGMENT_HEADER_LEN] {
    let valid = SegmentMeta {
        segment_len: SEGMENT_LEN,
        ..*meta
    };
    let mut header = format::encode_segment_header(&valid);
    header[16..24].copy_from_slice(&meta.segment_len.to_le_bytes());
    let crc = crc32(0, &header[..SEGMENT_HEADER_LEN - 4]);
    header[SEGMENT_HEADER_LEN - 4..].copy_from_slice(&crc.to_le_bytes());
    header
}

/// A `Bytes` that returns exactly what is asked (`&[u8]` returns everything after the
/// offset), counts its reads and refuses more than a scan of its bytes can need: a scan
/// that reads on and on fails here, before libFuzzer's timeout.
pub struct Window {
    data: Vec<u8>,
    reads: u64,
    reads_max: u64,
    len_max: u64,
}

impl Window {
    /// `area_end`: where the scan of these bytes stops; no read may ask for more than that
    /// (a garbage record length must not become a huge read), nor than `nonzero_end`'s
    /// chunk.
    pub fn new(data: Vec<u8>, area_end: u64) -> Window {
        let len = data.len() as u64;
        Window {
            // Two reads per record (header, then record) plus `nonzero_end`'s chunks.
            reads_max: 2 * (len / RECORD_HEADER_LEN as u64 + 2) + len / READ_CHUNK + 8,
            len_max: READ_CHUNK.max(area_end),
            data,
            reads: 0,
        }
    }
}

impl Bytes for Window {
    fn at(&mut self, offset: u64, len: u64) -> mmlog::Result<&[u8]> {
        self.reads += 1;
        assert!(
            self.reads <= self.reads_max,
            "{} reads of a {}-byte file: an unbounded scan",
            self.reads,
            self.data.len()
        );
        assert!(
            len <= self.len_max,
            "a read of {len} bytes at {offset} of a {}-byte file",
            self.data.len()
        );
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.data.len());
        let end = start
            .saturating_add(usize::try_from(len).unwrap_or(usize::MAX))
            .min(self.data.len());
        Ok(&self.data[start..end])
    }
}

/// Plans recovery in both modes, through both kinds of `Bytes`, and checks each plan.
pub fn check_plans(probes: &[Probe], images: &[Vec<u8>]) {
    for mode in [Recovery::Strict, Recovery::TruncateAtCorruption] {
        let whole = recovery::plan(probes, mode, |i| Ok(Box::new(images[i].clone())));
        let windowed = recovery::plan(probes, mode, |i| {
            // A plan scans at most the record area the header declares.
            let area_end = format::decode_segment_header(&images[i])
                .map_or(0, |m| format::records_end(m.segment_len));
            Ok(Box::new(Window::new(images[i].clone(), area_end)))
        });
        assert_eq!(
            summary(&whole),
            summary(&windowed),
            "the plan depends on how the bytes are read"
        );
        check_plan(probes, images, mode, whole);
    }
}

fn summary(result: &mmlog::Result<Plan>) -> String {
    match result {
        Ok(p) => format!(
            "keep {:?} delete {:?} lsns {}..{} durable {} epoch {} torn {} corruption {:?}",
            p.keep,
            p.delete,
            p.first_lsn,
            p.next_lsn,
            p.durable_mark,
            p.epoch_max,
            p.torn_bytes,
            p.corruption
        ),
        Err(e) => format!("error {e:?}"),
    }
}

fn check_plan(probes: &[Probe], images: &[Vec<u8>], mode: Recovery, result: mmlog::Result<Plan>) {
    let strict = mode == Recovery::Strict;
    let plan = match result {
        Ok(plan) => plan,
        Err(e) => {
            // Bytes in memory never fail to read: the only error is corruption, and only
            // where the caller asked for it.
            assert!(strict, "TruncateAtCorruption returned no plan: {e}");
            assert!(matches!(e, Error::Corrupt { .. }), "{e:?}");
            return;
        }
    };
    let kept = plan.keep.len();
    for (j, (i, _, _)) in plan.keep.iter().enumerate() {
        assert_eq!(*i, j, "kept segments are not a prefix: {:?}", plan.keep);
    }
    assert_eq!(plan.delete, (kept..probes.len()).collect::<Vec<_>>());
    assert_eq!(plan.first_lsn, probes.first().map_or(0, |p| p.name_lsn));
    if strict {
        assert_eq!(plan.corruption, None, "Strict planned around corruption");
        assert!(
            plan.next_lsn >= plan.durable_mark,
            "Strict cut below the durable mark: {}..{} durable {}",
            plan.first_lsn,
            plan.next_lsn,
            plan.durable_mark
        );
    } else if plan.next_lsn < plan.durable_mark {
        assert!(
            plan.corruption.is_some(),
            "durable records dropped silently"
        );
    }
    // The durable mark and the epoch bound come from every segment with a valid header
    // (up to the first invalid one), the epoch bound also from every scanned record.
    let valid = probes
        .iter()
        .take_while(|p| recovery::check_header(p).is_ok())
        .count();
    let mut durable_mark = 0;
    let mut epoch_max = 0;
    for probe in &probes[..valid] {
        let seed = recovery::check_header(probe).expect("valid").seed();
        if let Some(slot) = format::durable_mark(&probe.header_page, seed) {
            durable_mark = durable_mark.max(slot.mark);
        }
        for slot in format::durable_slots(&probe.header_page, seed) {
            epoch_max = epoch_max.max(slot.epoch);
        }
    }
    assert_eq!(plan.durable_mark, durable_mark, "durable mark");

    let mut expected = plan.first_lsn;
    let mut torn = 0;
    for (k, (i, meta, what)) in plan.keep.iter().enumerate() {
        let (probe, image) = (&probes[*i], &images[*i]);
        assert_eq!(recovery::check_header(probe), Ok(*meta));
        assert_eq!(meta.base_lsn, expected, "kept segments do not continue");
        let trailer =
            format::decode_trailer(&probe.trailer, meta.seed(), meta.segment_len, meta.base_lsn);
        let records_end = format::records_end(meta.segment_len);
        match what {
            SegmentPlan::Sealed(t) => {
                assert_eq!(
                    trailer,
                    Ok(Some(*t)),
                    "sealed by a trailer it does not have"
                );
                if !(strict && t.next_lsn <= plan.durable_mark) {
                    // Scanned: its records must end exactly where the trailer says.
                    let s = reference_scan(image, meta, t.records_end, true, None);
                    assert_eq!(
                        (s.end, s.next_lsn),
                        (t.records_end, t.next_lsn),
                        "kept as sealed, but its records end elsewhere"
                    );
                    epoch_max = epoch_max.max(s.epoch_max);
                }
                expected = t.next_lsn;
            }
            SegmentPlan::Repair(s) => {
                check_scan_result(image, meta, s, records_end, false, Some(s.next_lsn));
                let next = probes.get(i + 1).map(recovery::check_header);
                assert!(
                    matches!(next, Some(Ok(m)) if m.base_lsn == s.next_lsn),
                    "repaired a trailer for {}..{} but the next segment is {next:?}",
                    meta.base_lsn,
                    s.next_lsn
                );
                epoch_max = epoch_max.max(s.epoch_max);
                expected = s.next_lsn;
            }
            SegmentPlan::Active {
                scan,
                zero_end,
                had_trailer,
            } => {
                assert_eq!(k + 1, kept, "an active segment before the last");
                let (area_end, sealed_end) = match trailer {
                    Ok(Some(t)) if *had_trailer => (t.records_end, true),
                    // A damaged trailer (magic, bad checksum) is cleared: had_trailer.
                    Err(_) => (records_end, false),
                    _ => {
                        assert!(!had_trailer, "had_trailer without a trailer");
                        (records_end, false)
                    }
                };
                // A segment that is not the last is scanned up to the next one's base.
                let limit = probes
                    .get(i + 1)
                    .and_then(|p| recovery::check_header(p).ok())
                    .map(|m| m.base_lsn)
                    .filter(|_| !sealed_end);
                check_scan_result(image, meta, scan, area_end, sealed_end, limit);
                assert!(scan.end <= *zero_end && *zero_end <= records_end.max(scan.end));
                assert_eq!(*zero_end, naive_nonzero_end(image, scan.end, records_end));
                torn = zero_end - scan.end;
                epoch_max = epoch_max.max(scan.epoch_max);
                expected = scan.next_lsn;
            }
        }
    }
    assert_eq!(plan.next_lsn, expected);
    assert!(
        plan.next_lsn >= plan.first_lsn,
        "the log ends before it starts"
    );
    assert_eq!(plan.torn_bytes, torn);
    // A new writer takes an epoch above this one: it must cover every epoch seen.
    assert_eq!(plan.epoch_max, epoch_max, "epoch bound");
}

/// What a scan must find, worked out from the documented rules (`recovery.rs` rule 3 and
/// the record layout in `format.rs`) with the independent checks of this file.
#[derive(Debug)]
struct Expected {
    end: u64,
    next_lsn: Lsn,
    epoch_max: u32,
    index: Vec<IndexPoint>,
    /// The scan must report a defect (a record that does not validate, or a batch left
    /// incomplete).
    defect: bool,
}

/// The reference scan: the longest prefix of records that validate, carry the next LSN,
/// never go back in epoch, and close every batch they open (a sealed segment may end
/// inside a batch exactly at its trailer's end).
fn reference_scan(
    image: &[u8],
    meta: &SegmentMeta,
    area_end: u64,
    sealed: bool,
    lsn_limit: Option<u64>,
) -> Expected {
    let seed = meta.seed();
    let mut offset = RECORDS_START;
    let mut lsn = meta.base_lsn;
    let mut epoch = 0u32;
    let mut index: Vec<IndexPoint> = Vec::new();
    let mut kept = (offset, lsn, epoch, 0usize);
    let mut pending: u16 = 0;
    let mut stopped = false;
    while offset < area_end {
        if !record_valid(image, offset, area_end, seed, lsn) {
            stopped = true;
            break;
        }
        let header = &image[usize_of(offset)..usize_of(offset) + RECORD_HEADER_LEN];
        let len = u64::from(u32_at(header, 4));
        let record_epoch = u32_at(header, 16);
        let batch_left = u16::from_le_bytes([header[20], header[21]]);
        let kind = header[22];
        let batch_ok = match (pending, kind) {
            (0, KIND_PADDING) => batch_left == 0,
            (0, _) => true,
            (n, KIND_DATA) => batch_left == n - 1,
            _ => false,
        };
        if record_epoch < epoch || !batch_ok {
            stopped = true;
            break;
        }
        if kind == KIND_DATA && lsn == u64::MAX {
            // No LSN follows u64::MAX: the scan stops before such a record.
            stopped = true;
            break;
        }
        let stride = |o: u64| (o - RECORDS_START) / INDEX_STRIDE;
        if index
            .last()
            .is_none_or(|p| stride(p.offset) < stride(offset))
        {
            index.push(IndexPoint { lsn, offset });
        }
        offset += format::record_footprint(len);
        epoch = record_epoch;
        if kind == KIND_DATA {
            lsn += 1;
        }
        pending = batch_left;
        if pending == 0 {
            kept = (offset, lsn, epoch, index.len());
            // A segment that is not the last ends at the next one's base.
            if lsn_limit == Some(lsn) {
                break;
            }
        }
    }
    if pending > 0 && !stopped && sealed && offset == area_end {
        kept = (offset, lsn, epoch, index.len());
        pending = 0;
    }
    let (end, next_lsn, epoch_max, index_len) = kept;
    index.truncate(index_len);
    Expected {
        end,
        next_lsn,
        epoch_max,
        index,
        defect: stopped || pending > 0,
    }
}

/// A scan's result against the reference scan.
fn check_scan_result(
    image: &[u8],
    meta: &SegmentMeta,
    scan: &Scan,
    area_end: u64,
    sealed: bool,
    lsn_limit: Option<u64>,
) {
    let expected = reference_scan(image, meta, area_end, sealed, lsn_limit);
    assert_eq!(
        (scan.end, scan.next_lsn, scan.epoch_max, &scan.index),
        (
            expected.end,
            expected.next_lsn,
            expected.epoch_max,
            &expected.index
        ),
        "scan (left) and the reference scan (right) disagree; area_end {area_end}, sealed {sealed}"
    );
    assert_eq!(scan.defect.is_some(), expected.defect, "{scan:?}");
    if let Some(d) = &scan.defect {
        assert!(d.offset >= scan.end, "defect before the kept end: {scan:?}");
    }
    assert!(scan.end >= RECORDS_START, "{scan:?}");
    assert_eq!(scan.end % RECORD_ALIGN, 0, "{scan:?}");
    // LSNs never go backwards (checked so that a wrapped count fails in release too).
    assert!(scan.next_lsn >= meta.base_lsn, "{scan:?} of {meta:?}");
}

/// The end of the non-zero bytes of `[from, to)` (`from` if none), the simple way: images
/// here are far smaller than `ZERO_RUN_STOP`, so the search never stops early.
fn naive_nonzero_end(image: &[u8], from: u64, to: u64) -> u64 {
    let hi = usize::try_from(to).unwrap_or(usize::MAX).min(image.len());
    let lo = usize::try_from(from).unwrap_or(usize::MAX);
    if lo >= hi {
        return from;
    }
    image[lo..hi]
        .iter()
        .rposition(|&b| b != 0)
        .map_or(from, |p| (lo + p + 1) as u64)
}

/// `scan` and `nonzero_end` called directly, with parameters no open would pass.
fn check_scan(image: &[u8], input: &mut Input) {
    assert!(image.len() as u64 <= recovery::ZERO_RUN_STOP);
    let meta = match format::decode_segment_header(image) {
        Ok(meta) if input.below(4) != 0 => meta,
        _ => SegmentMeta {
            segment_len: SEGMENT_LEN,
            base_lsn: input.u64(),
            salt: input.u64(),
            created_ms: 0,
        },
    };
    let area_end = match input.below(5) {
        0 | 1 => format::records_end(meta.segment_len),
        2 => image.len() as u64,
        3 => RECORDS_START + input.below(IMAGE_LEN_MAX),
        _ => input.u64(),
    };
    let sealed = input.bool();
    let whole = recovery::scan(&mut &image[..], &meta, area_end, sealed).expect("no I/O");
    let windowed = recovery::scan(
        &mut Window::new(image.to_vec(), area_end),
        &meta,
        area_end,
        sealed,
    )
    .expect("no I/O");
    assert_eq!(
        whole, windowed,
        "the scan depends on how the bytes are read"
    );
    check_scan_result(image, &meta, &whole, area_end, sealed, None);

    let from = match input.below(4) {
        0 => whole.end,
        1 => input.below(IMAGE_LEN_MAX + 1),
        _ => input.u64(),
    };
    let to = match input.below(4) {
        0 => format::records_end(meta.segment_len),
        1 => from.saturating_add(input.below(IMAGE_LEN_MAX + 1)),
        _ => input.u64(),
    };
    let a = recovery::nonzero_end(&mut &image[..], from, to).expect("no I/O");
    let b = recovery::nonzero_end(&mut Window::new(image.to_vec(), 0), from, to).expect("no I/O");
    assert_eq!(
        a, b,
        "nonzero_end({from}, {to}) depends on how the bytes are read"
    );
    assert_eq!(
        a,
        naive_nonzero_end(image, from, to),
        "nonzero_end({from}, {to})"
    );
}
