//! The checking logic of the `append_model` fuzz target: operations decoded from the input
//! run on a real `Log` (64 KiB segments, in a fresh temporary directory) and on a
//! `Vec`-backed model, and must agree after every step, after every reopen and at the end.
//!
//! Shared with the stable replay test like `checks.rs` (included by path there). At most
//! `OPS_MAX` operations per input and payloads up to `PAYLOAD_LEN_MAX` bytes, so one input
//! runs in milliseconds and still rotates segments (a 64 KiB segment holds seven of the
//! largest payloads).
//!
//! LeakSanitizer stays on: `close` and `drop` join the log's background threads (an
//! earlier version left a detached prefault thread, which LeakSanitizer reported).

use std::collections::VecDeque;
use std::path::Path;

use mmlog::{Error, Log, Lsn, Options};

use super::checks::{Input, SEGMENT_LEN};

/// Operations per input.
const OPS_MAX: usize = 64;
/// The largest payload the target appends.
const PAYLOAD_LEN_MAX: u64 = 8 * 1024;
/// Records in one `append_batch`.
const BATCH_RECORDS: u64 = 5;

/// The model: record `first + i` is `records[i]`.
#[derive(Default)]
struct Model {
    first: Lsn,
    records: VecDeque<Vec<u8>>,
}

impl Model {
    fn next(&self) -> Lsn {
        self.first + self.records.len() as u64
    }

    /// An LSN in `first..=next`.
    fn lsn(&self, input: &mut Input) -> Lsn {
        self.first + input.below(self.records.len() as u64 + 1)
    }
}

fn options() -> Options {
    Options::default().segment_size(SEGMENT_LEN)
}

/// A scratch directory: on tmpfs when there is one (syncs there cost nothing, and the
/// target syncs often), else the system's temporary directory. `MMLOG_FUZZ_TMPDIR`
/// overrides both.
fn scratch_dir() -> tempfile::TempDir {
    let builder = || {
        let mut b = tempfile::Builder::new();
        b.prefix("mmlog-fuzz-");
        b
    };
    if let Some(dir) = std::env::var_os("MMLOG_FUZZ_TMPDIR") {
        return builder()
            .tempdir_in(&dir)
            .unwrap_or_else(|e| panic!("a temporary directory in MMLOG_FUZZ_TMPDIR: {e}"));
    }
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(dir) = builder().tempdir_in(shm) {
            return dir;
        }
    }
    builder()
        .tempdir()
        .unwrap_or_else(|e| panic!("a temporary directory: {e}"))
}

fn payload(input: &mut Input) -> Vec<u8> {
    let len = match input.below(4) {
        0 => 0,
        1 => input.below(64),
        2 => input.below(1024),
        _ => input.below(PAYLOAD_LEN_MAX + 1),
    };
    let fill = input.u8();
    (0..len)
        .map(|i| (i as u8).wrapping_mul(13) ^ fill)
        .collect()
}

/// Runs the operations of `data` against a fresh log and the model.
pub fn run_model(data: &[u8]) {
    let mut input = Input::new(data);
    let dir = scratch_dir();
    let mut log = Log::open(dir.path(), options()).expect("open a fresh log");
    let mut model = Model::default();
    let mut ops = 0;
    while !input.is_empty() && ops < OPS_MAX {
        ops += 1;
        match input.below(12) {
            0 | 1 => {
                let p = payload(&mut input);
                let lsn = log
                    .append(&p)
                    .unwrap_or_else(|e| panic!("append of {} bytes: {e}", p.len()));
                assert_eq!(lsn, model.next(), "append returned the wrong LSN");
                model.records.push_back(p);
            }
            2 => {
                let count = input.below(BATCH_RECORDS + 1);
                let payloads: Vec<Vec<u8>> = (0..count).map(|_| payload(&mut input)).collect();
                let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
                let next = model.next();
                // Five payloads of at most 8 KiB always fit in a 64 KiB segment.
                let range = log
                    .append_batch(&refs)
                    .unwrap_or_else(|e| panic!("append_batch of {count}: {e}"));
                assert_eq!(range, next..next + count, "batch LSNs");
                model.records.extend(payloads);
            }
            3 => {
                let p = payload(&mut input);
                let mut r = log
                    .reserve(p.len())
                    .unwrap_or_else(|e| panic!("reserve({}): {e}", p.len()));
                assert_eq!(r.len(), p.len(), "reservation window length");
                r.copy_from_slice(&p);
                let lsn = r.commit().unwrap_or_else(|e| panic!("commit: {e}"));
                assert_eq!(lsn, model.next(), "commit returned the wrong LSN");
                model.records.push_back(p);
            }
            4 => {
                let garbage = payload(&mut input);
                let mut r = log
                    .reserve(garbage.len())
                    .unwrap_or_else(|e| panic!("reserve({}): {e}", garbage.len()));
                r.copy_from_slice(&garbage);
                drop(r);
                assert_eq!(
                    log.next_lsn(),
                    model.next(),
                    "a dropped reservation took an LSN"
                );
            }
            5 => sync(&log, &mut model, &mut input),
            6 => {
                let lsn = model.lsn(&mut input);
                let old_first = model.first;
                let first = log
                    .truncate_front(lsn)
                    .unwrap_or_else(|e| panic!("truncate_front({lsn}): {e}"));
                assert_eq!(first, log.first_lsn(), "truncate_front's return value");
                assert!(
                    (old_first..=lsn).contains(&first),
                    "truncate_front({lsn}) moved first_lsn from {old_first} to {first}"
                );
                let segments = log.stats().segments;
                let head = segments.first().expect("a log always has a segment");
                assert!(
                    segments.len() == 1 || head.next_lsn > lsn,
                    "truncate_front({lsn}) kept segment {}..{} whose records all lie below it",
                    head.base_lsn,
                    head.next_lsn
                );
                let dropped = usize::try_from(first - old_first).expect("fits in usize");
                model.records.drain(..dropped);
                model.first = first;
            }
            7 => {
                // Mostly a short cut at the end (a Raft conflict), sometimes anywhere.
                let lsn = if input.bool() {
                    let back = input.below(model.records.len().min(8) as u64 + 1);
                    model.next() - back
                } else {
                    model.lsn(&mut input)
                };
                log.truncate_back(lsn)
                    .unwrap_or_else(|e| panic!("truncate_back({lsn}): {e}"));
                assert_eq!(log.next_lsn(), lsn, "next_lsn after truncate_back");
                assert!(log.durable_lsn() <= lsn, "durable_lsn past the cut");
                let keep = usize::try_from(lsn - model.first).expect("fits in usize");
                model.records.truncate(keep);
            }
            8 => {
                // Close, or drop without closing like a killed process (the page cache
                // keeps what was appended), then open again.
                if input.bool() {
                    log.close().unwrap_or_else(|e| panic!("close: {e}"));
                } else {
                    drop(log);
                }
                log = Log::open(dir.path(), options()).unwrap_or_else(|e| panic!("reopen: {e}"));
                check_all(&log, &model);
            }
            9 | 10 => {
                let lsn = model.lsn(&mut input);
                check_from(&log, &model, lsn);
            }
            _ => {
                // Outside the log: the first item is LsnOutOfRange, then nothing.
                let lsn = if model.first > 0 && input.bool() {
                    model.first - 1 - input.below(model.first)
                } else {
                    model.next() + 1 + input.below(1 << 20)
                };
                let mut iter = log.iter_from(lsn);
                match iter.next() {
                    Some(Err(Error::LsnOutOfRange { .. })) => {}
                    other => panic!("iter_from({lsn}) outside the log: {other:?}"),
                }
                assert!(
                    iter.next().is_none(),
                    "iter_from({lsn}) went on after its error"
                );
            }
        }
        assert_eq!(log.next_lsn(), model.next(), "next_lsn");
        assert_eq!(log.first_lsn(), model.first, "first_lsn");
    }
    check_all(&log, &model);
    log.close().unwrap_or_else(|e| panic!("close: {e}"));
    let log = Log::open(dir.path(), options()).unwrap_or_else(|e| panic!("reopen: {e}"));
    check_all(&log, &model);
    log.close().unwrap_or_else(|e| panic!("close: {e}"));
}

fn sync(log: &Log, model: &mut Model, input: &mut Input) {
    let next = model.next();
    match input.below(3) {
        0 => {
            let durable = log.sync().unwrap_or_else(|e| panic!("sync: {e}"));
            assert_eq!(durable, next, "sync returns durable_lsn, which is next_lsn");
        }
        1 if next > model.first => {
            let lsn = model.first + input.below(next - model.first);
            log.sync_to(lsn)
                .unwrap_or_else(|e| panic!("sync_to({lsn}): {e}"));
            assert!(
                log.durable_lsn() > lsn,
                "sync_to({lsn}) left it non-durable"
            );
        }
        _ => {
            let p = payload(input);
            let lsn = log
                .append_durable(&p)
                .unwrap_or_else(|e| panic!("append_durable: {e}"));
            assert_eq!(lsn, next, "append_durable returned the wrong LSN");
            assert!(log.durable_lsn() > lsn, "append_durable: not durable");
            model.records.push_back(p);
        }
    }
}

fn check_all(log: &Log, model: &Model) {
    assert_eq!(log.first_lsn(), model.first, "first_lsn");
    assert_eq!(log.next_lsn(), model.next(), "next_lsn");
    check_from(log, model, model.first);
}

/// `iter_from(lsn)` yields exactly the model's records from `lsn` on.
fn check_from(log: &Log, model: &Model, lsn: Lsn) {
    let skip = usize::try_from(lsn - model.first).expect("fits in usize");
    let mut expected = model.records.iter().skip(skip);
    let mut want = lsn;
    for item in log.iter_from(lsn) {
        let record = item.unwrap_or_else(|e| panic!("iter_from({lsn}) at {want}: {e}"));
        let payload = expected
            .next()
            .unwrap_or_else(|| panic!("iter_from({lsn}) yields {} past the end", record.lsn()));
        assert_eq!(record.lsn(), want, "iter_from({lsn}) skipped or repeated");
        assert!(
            record.payload() == payload.as_slice(),
            "record {want}: {} bytes read back, {} appended",
            record.payload().len(),
            payload.len()
        );
        want += 1;
    }
    assert_eq!(want, model.next(), "iter_from({lsn}) stopped early");
}
