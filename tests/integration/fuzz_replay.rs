//! Replays fuzz inputs on stable, so `cargo test` keeps every bug the fuzzers found fixed.
//!
//! Promise checked: bytes from disk never make the decoders or recovery panic, and what
//! they accept is exactly what the format documents (see `fuzz/fuzz_targets/checks.rs`);
//! the operations of an input keep a real log and a model in agreement.
//!
//! How: the fuzz targets' checking code is included here by path (one copy of the logic),
//! and run over every file under `tests/data/fuzz/` (a crash found by `cargo fuzz` is copied
//! to `tests/data/fuzz/<target>/`), and over hand-made nasty inputs: empty, all-zero,
//! all-0xff, truncated headers, huge lengths and offsets, LSNs and epochs at their limits.
//! Every saved input goes through both the decoder and the recovery checks; the ones under
//! `append_model/` also through the model.
//!
//! An input that crashes mmlog is saved under `tests/data/fuzz/known-bugs/` (replayed by
//! `known_bugs`, which fails until the fix lands), with a hand-made twin in `KNOWN_BUGS`;
//! once fixed, the file moves up to `tests/data/fuzz/<target>/`. The two bugs found so far
//! (LSN and offset overflows) are fixed and stay in both places as regression tests.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use mmlog::format::{self, RecordFields, SegmentMeta, SlotMeta, TrailerMeta, KIND_DATA};

#[path = "../../fuzz/fuzz_targets/checks.rs"]
mod checks;
#[path = "../../fuzz/fuzz_targets/model.rs"]
mod model;

use checks::SEGMENT_LEN;

/// Where saved inputs of unfixed bugs wait (not replayed by default).
const KNOWN_BUGS_DIR: &str = "known-bugs";

/// Every file under `dir`, recursively, sorted (so a failure names the same file each run),
/// skipping the known-bugs folder unless `dir` is in it.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return files;
    };
    for entry in entries {
        let path = entry.expect("read tests/data/fuzz").path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == KNOWN_BUGS_DIR) {
                continue;
            }
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files.sort();
    files
}

fn fuzz_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz")
}

fn saved_inputs() -> Vec<PathBuf> {
    files_under(&fuzz_data())
}

fn is_model_input(path: &Path) -> bool {
    path.components().any(|c| c.as_os_str() == "append_model")
}

/// Replays saved inputs through the checks their folder names.
fn replay_files(files: &[PathBuf]) {
    for path in files {
        let input = std::fs::read(path).expect("read a saved fuzz input");
        let name = path.display().to_string();
        replay(&name, &input, checks::check_decoders);
        replay(&name, &input, checks::check_recovery);
        if is_model_input(path) {
            replay(&name, &input, model::run_model);
        }
    }
}

/// Runs `check` on `input`, turning a panic into one that names the input.
fn replay(name: &str, input: &[u8], check: impl Fn(&[u8])) {
    if let Err(cause) = catch_unwind(AssertUnwindSafe(|| check(input))) {
        let cause = cause
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| cause.downcast_ref::<&str>().copied())
            .unwrap_or("(panic without a message)");
        panic!("fuzz input {name} ({} bytes) fails: {cause}", input.len());
    }
}

#[test]
#[cfg_attr(miri, ignore)]
fn saved_inputs_replay() {
    let files = saved_inputs();
    replay_files(&files);
    eprintln!("replayed {} saved fuzz inputs", files.len());
}

/// Byte patterns any decoder must survive, fed to both fuzz entry points as they are.
fn nasty_bytes() -> Vec<(String, Vec<u8>)> {
    let mut inputs = vec![("empty".to_string(), Vec::new())];
    for len in [1, 23, 24, 63, 64, 65, 4095, 4096, 65536, 65536 + 4096] {
        inputs.push((format!("{len} zero bytes"), vec![0; len]));
        inputs.push((format!("{len} 0xff bytes"), vec![0xff; len]));
    }
    let header = format::encode_segment_header(&meta(0));
    for len in 0..=header.len() {
        inputs.push((format!("header cut at {len}"), header[..len].to_vec()));
    }
    inputs
}

fn meta(base_lsn: u64) -> SegmentMeta {
    SegmentMeta {
        segment_len: SEGMENT_LEN,
        base_lsn,
        salt: 0x5eed,
        created_ms: 0,
    }
}

/// A 64 KiB segment image with a valid header and the given records (payload, LSN,
/// epoch) from the start of the record area.
fn segment(meta: &SegmentMeta, records: &[(&[u8], u64, u32)]) -> Vec<u8> {
    let mut image = vec![0u8; SEGMENT_LEN as usize];
    image[..format::SEGMENT_HEADER_LEN].copy_from_slice(&format::encode_segment_header(meta));
    let mut offset = format::RECORDS_START as usize;
    for &(payload, lsn, epoch) in records {
        let fields = RecordFields {
            lsn,
            epoch,
            batch_left: 0,
            kind: KIND_DATA,
        };
        let header = format::encode_record_header(&fields, meta.seed(), payload);
        image[offset..offset + header.len()].copy_from_slice(&header);
        image[offset + header.len()..offset + header.len() + payload.len()]
            .copy_from_slice(payload);
        offset += format::record_footprint(payload.len() as u64) as usize;
    }
    image
}

fn put(image: &mut [u8], at: u64, bytes: &[u8]) {
    let at = usize::try_from(at).expect("offset fits");
    image[at..at + bytes.len()].copy_from_slice(bytes);
}

#[test]
fn nasty_bytes_replay_through_decoders_and_recovery() {
    for (name, input) in nasty_bytes() {
        replay(&name, &input, checks::check_decoders);
        replay(&name, &input, checks::check_recovery);
        // The same bytes as a whole segment file, named from their header if it is valid.
        replay(&name, &input, |image| {
            checks::check_images(&[image.to_vec()]);
        });
    }
}

#[test]
fn nasty_segments_replay_through_recovery() {
    let m = meta(7);
    let seed = m.seed();
    let mut cases: Vec<(&str, Vec<Vec<u8>>)> = Vec::new();

    cases.push((
        "valid records",
        vec![segment(&m, &[(b"a", 7, 1), (b"bc", 8, 1)])],
    ));

    let mut huge_len = segment(&m, &[(b"a", 7, 1)]);
    put(
        &mut huge_len,
        format::RECORDS_START + 4,
        &u32::MAX.to_le_bytes(),
    );
    cases.push(("record length u32::MAX", vec![huge_len]));

    let mut stale = segment(&m, &[(b"a", 7, 5), (b"b", 8, 4)]);
    put(&mut stale, 4096 * 8, &[0xff; 100]);
    cases.push(("older epoch after a newer one, garbage after", vec![stale]));

    let mut slots = segment(&m, &[(b"a", 7, u32::MAX)]);
    let slot = SlotMeta {
        mark: u64::MAX,
        seq: u64::MAX,
        epoch: u32::MAX,
    };
    put(&mut slots, 512, &format::encode_durable_slot(seed, &slot));
    cases.push(("durable slot at every limit", vec![slots]));

    let mut sealed = segment(&m, &[(b"a", 7, 1)]);
    let trailer = TrailerMeta {
        next_lsn: u64::MAX,
        records_end: format::records_end(SEGMENT_LEN),
        index_count: u32::MAX,
        index_crc: 0,
    };
    put(
        &mut sealed,
        format::trailer_offset(SEGMENT_LEN),
        &format::encode_trailer(seed, &trailer),
    );
    cases.push(("trailer at every limit", vec![sealed]));

    let mut big = meta(7);
    big.segment_len = mmlog::SEGMENT_SIZE_MAX;
    let mut claims_1gib = segment(&m, &[(b"a", 7, 1)]);
    put(&mut claims_1gib, 0, &format::encode_segment_header(&big));
    cases.push(("header claims 1 GiB, file has 64 KiB", vec![claims_1gib]));

    cases.push((
        "a gap between segments",
        vec![
            segment(&m, &[(b"a", 7, 1)]),
            segment(&meta(100), &[(b"b", 100, 1)]),
        ],
    ));
    cases.push((
        "segments that continue each other, first trailer lost",
        vec![
            segment(&m, &[(b"a", 7, 1)]),
            segment(&meta(8), &[(b"b", 8, 2)]),
        ],
    ));
    cases.push((
        "truncated segment",
        vec![segment(&m, &[(b"a", 7, 1)])[..5000].to_vec()],
    ));

    for (name, images) in cases {
        replay(name, &[], |_| checks::check_images(&images));
    }
}

#[test]
fn nasty_record_positions_replay_through_the_decoder() {
    let m = meta(7);
    let image = segment(&m, &[(b"a", 7, 1)]);
    let end = format::records_end(SEGMENT_LEN);
    let positions = [
        (0, end),
        (format::RECORDS_START, end),
        (format::RECORDS_START, 0),
        (format::RECORDS_START, u64::MAX),
        (end - 8, end),
        (image.len() as u64, u64::MAX),
        (u64::MAX - 24, u64::MAX),
        (u64::MAX, u64::MAX - 1),
    ];
    for (offset, area_end) in positions {
        let name = format!("decode_record at {offset}, area_end {area_end}");
        replay(&name, &[], |_| {
            checks::check_record_at(&image, offset, area_end, m.seed(), 7);
        });
    }
}

#[test]
#[cfg_attr(miri, ignore)]
fn nasty_operations_replay_through_the_model() {
    let inputs: [(&str, Vec<u8>); 4] = [
        ("no operations", vec![]),
        ("every operation, zero arguments", (0u8..12).collect()),
        ("0xff everywhere", vec![0xff; 512]),
        // Appends of the largest payload (op 0, length class 3, length 8192) until
        // segments rotate, then reopen (op 8) and truncate both ends (ops 6 and 7).
        (
            "rotations, reopen, truncations",
            [
                [0u8, 3, 0x00, 0x20, 0x5a].repeat(16),
                vec![8, 0, 6, 3, 7, 0, 2],
            ]
            .concat(),
        ),
    ];
    for (name, input) in inputs {
        replay(name, &input, model::run_model);
    }
}

/// Bugs the fuzzers found (both fixed: their inputs now live with the other saved inputs),
/// as hand-made reproductions that must keep returning normally.
const KNOWN_BUGS: [(&str, fn()); 2] = [
    (
        // `format::decode_record` reports a record it cannot find with `too_short`, which
        // computes `offset + RECORD_HEADER_LEN` unchecked: an offset within 24 of
        // u64::MAX overflows (a panic in debug builds, a wrong `expected` in release).
        "decode_record at offset u64::MAX - 8 with area_end u64::MAX",
        || {
            let found = format::decode_record(&[0u8; 64], u64::MAX - 8, u64::MAX, 0, 0);
            // In release builds the sum wraps instead: the error names a wrong length.
            if let Err(format::Defect {
                reason: mmlog::CorruptReason::SegmentTooShort { expected, .. },
                ..
            }) = found
            {
                assert!(expected > u64::MAX - 8, "expected length {expected}");
            }
        },
    ),
    (
        // `recovery::scan` counts LSNs with `lsn += 1`: a valid segment whose base LSN is
        // u64::MAX (file 18446744073709551615.seg) holding one record overflows it, in
        // `Log::open` as in `plan`.
        "scan of a segment with a record at LSN u64::MAX",
        || {
            let m = meta(u64::MAX);
            let image = segment(&m, &[(b"a", u64::MAX, 1)]);
            let area_end = format::records_end(SEGMENT_LEN);
            let scan = mmlog::recovery::scan(&mut &image[..], &m, area_end, false);
            // In release builds the count wraps instead: the log would end at LSN 0.
            let next = scan.expect("no I/O").next_lsn;
            assert!(next >= m.base_lsn, "next_lsn {next}");
        },
    ),
];

#[test]
#[cfg_attr(miri, ignore)]
fn known_bugs() {
    let mut failed = Vec::new();
    for (name, reproduce) in KNOWN_BUGS {
        if catch_unwind(reproduce).is_err() {
            failed.push(name.to_string());
        }
    }
    for path in files_under(&fuzz_data().join(KNOWN_BUGS_DIR)) {
        let outcome = catch_unwind(|| replay_files(std::slice::from_ref(&path)));
        if outcome.is_err() {
            failed.push(path.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "still crashing:\n  {}",
        failed.join("\n  ")
    );
}
