//! The `mmlog` command line, through real processes (`env!("CARGO_BIN_EXE_mmlog")`).
//!
//! Promises checked (CONTRACT.md, "The `mmlog` command line"):
//! - `append` turns every stdin line into one record (the newline is not part of it; an
//!   empty line is an empty record; a last line without newline is a record) and prints
//!   each record's LSN, flushed, once it is acknowledged: at once with `--sync none` and
//!   `each`, per batch of N with `every:N`; an acknowledged record is readable by `cat`
//!   while the writer still runs. `cat` prints `LSN<TAB>payload` byte for byte, or hex
//!   with `--hex`, from `--from`; `--follow` prints records as they arrive, across
//!   segment rotations.
//! - `stat`, `verify` and `truncate --front/--back` on a healthy log: exit 0 and the
//!   numbers match the log.
//! - Exit codes: 1 for a corrupt log (a flipped byte in a sealed segment, bad magic, an
//!   unknown format version, a segment cut to half its length, zero-length and
//!   random-bytes files named like segments); 2 for usage and I/O errors (a missing
//!   directory, an invalid `--from`, a second writer, a record longer than a segment).
//!   Errors are one line on stderr; `verify` names the segment file and byte offset.
//! - No command ends by a signal (no SIGBUS, SIGSEGV or abort), and nothing is printed as
//!   a record that was not written: every line `cat` prints is compared with the record
//!   appended at that LSN, and damaged payloads never appear.
//!
//! How: logs in temporary directories, written by `mmlog append` (64 KiB segments where
//! sealed segments are needed), damaged with `pwrite`/`set_len` at offsets computed from
//! the format constants, then read by the commands under test. Waits for output of
//! running children use a generous timeout, so a missing flush fails instead of hanging.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

use mmlog::format::{record_footprint, RECORDS_START};

use crate::util::{flip_bit, read_at, segment_name, write_at};

const BIN: &str = env!("CARGO_BIN_EXE_mmlog");
/// The smallest segment size: logs of a few thousand records get sealed segments.
const SEGMENT: &str = "65536";
/// How long a test waits for a line a running child should print.
const PATIENCE: Duration = Duration::from_secs(20);
/// Records in the logs with sealed segments.
const RECORDS: u64 = 2000;
/// The payload length of `record(i)`.
const RECORD_LEN: usize = 100;

/// Payload `i`: `RECORD_LEN` printable bytes, different for every `i`.
fn record(i: u64) -> Vec<u8> {
    let mut payload = format!("record-{i:06}-").into_bytes();
    payload.resize(RECORD_LEN, b'a' + (i % 26) as u8);
    payload
}

/// `RECORDS` lines of `record(i)`.
fn records_input() -> Vec<u8> {
    let mut input = Vec::new();
    for i in 0..RECORDS {
        input.extend_from_slice(&record(i));
        input.push(b'\n');
    }
    input
}

fn mmlog(args: &[&str], dir: &Path) -> Command {
    let mut command = Command::new(BIN);
    command.args(args.iter().take(1)).arg(dir).args(&args[1..]);
    command
}

/// Runs `mmlog ARGS[0] DIR ARGS[1..]` with `stdin` and checks it ended by exiting.
fn run(args: &[&str], dir: &Path, stdin: &[u8]) -> Output {
    let mut child = mmlog(args, dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mmlog");
    let mut input = child.stdin.take().expect("stdin");
    let stdin = stdin.to_vec();
    // A thread, so that a child blocked on a full stdout pipe cannot deadlock us. A
    // child that stops reading (it failed) makes the write fail: that is fine.
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let output = child.wait_with_output().expect("wait for mmlog");
    writer.join().expect("stdin writer");
    exited(&output, args);
    output
}

/// The process exited with a code: no signal (SIGBUS, SIGSEGV, SIGABRT from a panic
/// abort), and no panic message.
fn exited(output: &Output, args: &[&str]) {
    assert!(
        output.status.code().is_some(),
        "mmlog {args:?} ended by signal {:?}; stderr: {}",
        output.status.signal(),
        text(&output.stderr)
    );
    assert!(
        !text(&output.stderr).contains("panicked"),
        "mmlog {args:?} panicked: {}",
        text(&output.stderr)
    );
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts exit code `code` and, for a failure, one error line on stderr.
fn assert_exit(output: &Output, code: i32, what: &str) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "{what}: stdout: {}; stderr: {}",
        text(&output.stdout),
        text(&output.stderr)
    );
    if code != 0 {
        let stderr = text(&output.stderr);
        assert_eq!(
            stderr.lines().count(),
            1,
            "{what}: the error is not one line: {stderr}"
        );
        assert!(stderr.starts_with("mmlog: "), "{what}: {stderr}");
    }
}

/// The LSNs an `append` printed.
fn acks(output: &Output) -> Vec<u64> {
    text(&output.stdout)
        .lines()
        .map(|l| l.parse().unwrap_or_else(|_| panic!("not an LSN: {l:?}")))
        .collect()
}

/// `cat` output as (LSN, payload) pairs, split on the first tab of each line.
fn records_of(stdout: &[u8]) -> Vec<(u64, Vec<u8>)> {
    let body = stdout.strip_suffix(b"\n").unwrap_or(stdout);
    if body.is_empty() {
        return Vec::new();
    }
    body.split(|b| *b == b'\n')
        .map(|line| {
            let tab = line
                .iter()
                .position(|b| *b == b'\t')
                .unwrap_or_else(|| panic!("no tab in {:?}", text(line)));
            let lsn = text(&line[..tab]).parse().expect("an LSN before the tab");
            (lsn, line[tab + 1..].to_vec())
        })
        .collect()
}

/// Every record `cat` printed is the one written at its LSN, LSNs ascending without gaps.
fn assert_written(stdout: &[u8], written: impl Fn(u64) -> Vec<u8>) -> Vec<u64> {
    let printed = records_of(stdout);
    for pair in printed.windows(2) {
        assert_eq!(pair[1].0, pair[0].0 + 1, "LSNs not dense");
    }
    for (lsn, payload) in &printed {
        assert_eq!(
            payload,
            &written(*lsn),
            "cat printed a record that was not written at LSN {lsn}"
        );
    }
    printed.iter().map(|(lsn, _)| *lsn).collect()
}

/// A log of `RECORDS` records of `record(i)` in 64 KiB segments (several sealed).
fn sealed_log() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("log");
    let out = run(
        &["append", "--sync", "none", "--segment-size", SEGMENT],
        &dir,
        &records_input(),
    );
    assert_exit(&out, 0, "append");
    assert_eq!(acks(&out), (0..RECORDS).collect::<Vec<_>>());
    (tmp, dir)
}

/// The base LSNs of the log's segment files, ascending.
fn segment_bases(dir: &Path) -> Vec<u64> {
    let mut bases: Vec<u64> = std::fs::read_dir(dir)
        .expect("list the log")
        .filter_map(|e| {
            let name = e.expect("entry").file_name().to_string_lossy().into_owned();
            name.strip_suffix(".seg")?.parse().ok()
        })
        .collect();
    bases.sort_unstable();
    bases
}

/// A running `mmlog` whose stdout lines arrive on a channel.
struct Running {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
}

impl Running {
    fn start(args: &[&str], dir: &Path) -> Running {
        let mut child = mmlog(args, dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mmlog");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        Running {
            child,
            stdin,
            lines,
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).expect("write to mmlog's stdin");
        stdin.flush().expect("flush mmlog's stdin");
    }

    /// The next stdout line, failing the test if none comes in time.
    fn line(&self, what: &str) -> String {
        self.lines
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|e| panic!("no line from mmlog ({what}): {e}"))
    }

    /// No stdout line within `wait`.
    fn silent_for(&self, wait: Duration) -> bool {
        matches!(
            self.lines.recv_timeout(wait),
            Err(RecvTimeoutError::Timeout)
        )
    }

    /// Closes stdin and waits for the exit: the rest of stdout and the output.
    fn finish(mut self, args: &[&str]) -> (Vec<String>, Output) {
        drop(self.stdin.take());
        let output = self.child.wait_with_output().expect("wait for mmlog");
        exited(&output, args);
        let rest = self.lines.iter().collect();
        (rest, output)
    }
}

#[test]
#[cfg_attr(miri, ignore)]
fn append_then_cat_round_trips_every_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("log");
    let lines: Vec<&[u8]> = vec![
        b"hello",
        b"",
        b"with\ttab and \r carriage return",
        b"\xff\x00binary\x01",
        b"",
        b"last line without newline",
    ];
    let input = lines.join(&b"\n"[..]);
    let out = run(&["append"], &dir, &input);
    assert_exit(&out, 0, "append");
    assert_eq!(acks(&out), [0, 1, 2, 3, 4, 5]);

    let mut expected = Vec::new();
    for (lsn, line) in lines.iter().enumerate() {
        expected.extend_from_slice(format!("{lsn}\t").as_bytes());
        expected.extend_from_slice(line);
        expected.push(b'\n');
    }
    let out = run(&["cat"], &dir, b"");
    assert_exit(&out, 0, "cat");
    assert_eq!(text(&out.stdout), text(&expected));
    assert_eq!(out.stdout, expected, "cat prints the raw bytes");

    let out = run(&["cat", "--hex"], &dir, b"");
    assert_exit(&out, 0, "cat --hex");
    let hex: String = lines
        .iter()
        .enumerate()
        .map(|(lsn, line)| {
            let digits: String = line.iter().map(|b| format!("{b:02x}")).collect();
            format!("{lsn}\t{digits}\n")
        })
        .collect();
    assert_eq!(text(&out.stdout), hex);

    let out = run(&["cat", "--from", "3", "--hex"], &dir, b"");
    assert_exit(&out, 0, "cat --from 3");
    assert_eq!(
        text(&out.stdout),
        hex.lines()
            .skip(3)
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    );
    // --from the next LSN: nothing yet, and not an error.
    let out = run(&["cat", "--from", "6"], &dir, b"");
    assert_exit(&out, 0, "cat --from next_lsn");
    assert!(out.stdout.is_empty());

    // Appending again continues the LSNs; a lone newline is one empty record.
    let out = run(&["append"], &dir, b"\n");
    assert_exit(&out, 0, "append an empty line");
    assert_eq!(acks(&out), [6]);
    let out = run(&["append"], &dir, b"");
    assert_exit(&out, 0, "append nothing");
    assert!(out.stdout.is_empty());
    let out = run(&["cat", "--from", "5"], &dir, b"");
    assert_eq!(text(&out.stdout), "5\tlast line without newline\n6\t\n");
}

#[test]
#[cfg_attr(miri, ignore)]
fn every_sync_mode_acknowledges_each_record_once_it_is_readable() {
    for mode in ["none", "each", "every:3"] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("log");
        let args = ["append", "--sync", mode];
        let mut writer = Running::start(&args, &dir);
        let batch = if mode == "every:3" { 3 } else { 1 };
        let mut acked = Vec::new();
        for i in 0..7u64 {
            writer.send(format!("{mode}-{i}\n").as_bytes());
            if (i + 1) % batch != 0 {
                continue;
            }
            for _ in 0..batch {
                acked.push(writer.line(mode).parse::<u64>().expect("an LSN"));
            }
            // An acknowledged record is in the log: a reader sees it while the writer runs.
            let out = run(&["cat"], &dir, b"");
            assert_exit(&out, 0, "cat beside a writer");
            let seen = assert_written(&out.stdout, |lsn| format!("{mode}-{lsn}").into_bytes());
            assert!(
                seen.len() as u64 > *acked.last().expect("acked"),
                "{mode}: acknowledged {acked:?} but cat shows {seen:?}"
            );
        }
        if batch > 1 {
            // Record 6 waits for its batch (or the end of stdin) to be synced.
            assert!(
                writer.silent_for(Duration::from_millis(300)),
                "{mode}: acknowledged before the batch was synced"
            );
        }
        let (rest, output) = writer.finish(&args);
        assert_exit(&output, 0, mode);
        acked.extend(rest.iter().map(|l| l.parse::<u64>().expect("an LSN")));
        assert_eq!(acked, (0..7).collect::<Vec<_>>(), "{mode}");
        let out = run(&["cat"], &dir, b"");
        assert_eq!(
            assert_written(&out.stdout, |lsn| format!("{mode}-{lsn}").into_bytes()),
            (0..7).collect::<Vec<_>>()
        );
    }
}

/// A log of hundreds of segments is written and read under a limit of 64 open files: a
/// sealed segment holds no descriptor (the limit is often 1,024; a log in small segments
/// has more). Before, `cat` of such a log failed with "Too many open files".
#[test]
#[cfg_attr(miri, ignore)]
fn hundreds_of_segments_need_no_descriptor_each() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let limited = |args: &[&str], stdin: &[u8]| {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"ulimit -n 64 && exec "$0" "$@""#)
            .arg(BIN)
            .args(args.iter().take(1))
            .arg(&dir)
            .args(&args[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mmlog under a file limit");
        let mut input = child.stdin.take().unwrap();
        let stdin = stdin.to_vec();
        let writer = std::thread::spawn(move || {
            let _ = input.write_all(&stdin);
        });
        let output = child.wait_with_output().unwrap();
        writer.join().unwrap();
        exited(&output, args);
        output
    };
    let line = |i: u64| format!("{i:06}-{}", "s".repeat(1000));
    let mut input = Vec::new();
    for i in 0..40_000u64 {
        input.extend_from_slice(line(i).as_bytes());
        input.push(b'\n');
    }
    for (durability, sync) in [("msync", "every:500"), ("fdatasync", "every:700")] {
        let _ = std::fs::remove_dir_all(&dir);
        let out = limited(
            &[
                "append",
                "--durability",
                durability,
                "--sync",
                sync,
                "--segment-size",
                "65536",
            ],
            &input,
        );
        assert_exit(&out, 0, "append under the limit");
        assert!(
            segment_bases(&dir).len() > 500,
            "{durability}: few segments"
        );
        let out = limited(&["cat"], b"");
        assert_exit(&out, 0, "cat under the limit");
        let records = records_of(&out.stdout);
        assert_eq!(records.len(), 40_000, "{durability}");
        assert!(records.iter().all(|(i, p)| *p == line(*i).into_bytes()));
        assert_exit(&limited(&["verify"], b""), 0, "verify under the limit");
        assert_exit(
            &limited(&["truncate", "--back", "39000"], b""),
            0,
            "truncate",
        );
        assert_exit(&limited(&["stat"], b""), 0, "stat under the limit");
    }
}

/// An `append` that stops on an error (here a line longer than a record can be) still
/// leaves the records it acknowledged durable, also with `--sync none` (found by audit:
/// the durable LSN stayed 0 after an error, as if the process had died).
#[test]
#[cfg_attr(miri, ignore)]
fn append_stopped_by_an_error_leaves_what_it_acknowledged_durable() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let mut input = Vec::new();
    for i in 0..10 {
        input.extend_from_slice(format!("line {i}\n").as_bytes());
    }
    input.extend_from_slice(&vec![b'x'; 70_000]);
    input.push(b'\n');
    let out = run(
        &["append", "--sync", "none", "--segment-size", SEGMENT],
        &dir,
        &input,
    );
    assert_exit(&out, 2, "append of a line too long");
    assert_eq!(acks(&out), (0..10).collect::<Vec<_>>());
    let out = run(&["stat"], &dir, b"");
    assert!(
        text(&out.stdout).contains("durable LSN: 10 "),
        "{}",
        text(&out.stdout)
    );
}

/// `stat`, `verify` and `truncate` printing into a pipe whose reader has gone (`| head`)
/// are not failures: they exit as they would have (a truncation is done), quietly.
#[test]
#[cfg_attr(miri, ignore)]
fn describing_commands_do_not_fail_when_the_reader_goes() {
    let (_tmp, dir) = sealed_log();
    let back = (RECORDS - 1).to_string();
    for args in [
        vec!["stat"],
        vec!["verify"],
        vec!["truncate", "--back", back.as_str()],
    ] {
        let mut child = mmlog(&args, &dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mmlog");
        // Gone before the command writes a byte.
        drop(child.stdout.take());
        let output = child.wait_with_output().expect("wait for mmlog");
        exited(&output, &args);
        assert_exit(&output, 0, &format!("{args:?} into a closed pipe"));
        assert_eq!(text(&output.stderr), "", "{args:?}");
    }
    let out = run(&["cat"], &dir, b"");
    assert_eq!(
        records_of(&out.stdout).len() as u64,
        RECORDS - 1,
        "the truncation was done"
    );
}

#[test]
#[cfg_attr(miri, ignore)]
fn stat_and_verify_describe_a_healthy_log() {
    let (_tmp, dir) = sealed_log();
    let bases = segment_bases(&dir);
    assert!(bases.len() >= 3, "too few segments: {bases:?}");

    let out = run(&["stat"], &dir, b"");
    assert_exit(&out, 0, "stat");
    let stat = text(&out.stdout);
    assert!(stat.contains("first LSN:   0\n"), "{stat}");
    assert!(
        stat.contains(&format!("next LSN:    {RECORDS}\n")),
        "{stat}"
    );
    assert!(stat.contains(&format!("durable LSN: {RECORDS} ")), "{stat}");
    let segment_lines: Vec<&str> = stat.lines().filter(|l| l.contains(".seg")).collect();
    assert_eq!(segment_lines.len(), bases.len(), "{stat}");
    for (i, (line, base)) in segment_lines.iter().zip(&bases).enumerate() {
        let end = bases.get(i + 1).copied().unwrap_or(RECORDS);
        assert!(line.contains(&format!("{base:020}.seg")), "{line}");
        assert!(line.contains(&format!("LSNs {base}..{end} ")), "{line}");
        assert!(line.contains(&format!("size {SEGMENT} ")), "{line}");
        let state = if i + 1 == bases.len() {
            "active"
        } else {
            "sealed"
        };
        assert!(line.ends_with(state), "{line}");
    }

    let out = run(&["verify"], &dir, b"");
    assert_exit(&out, 0, "verify");
    let report = text(&out.stdout);
    assert!(
        report.contains(&format!("segments:     {} ", bases.len())),
        "{report}"
    );
    assert!(
        report.contains(&format!(
            "records:      {RECORDS} (LSNs 0 to {})",
            RECORDS - 1
        )),
        "{report}"
    );
    assert!(report.contains("torn tail:    none"), "{report}");
    assert!(report.contains("problems:     0"), "{report}");
    assert!(!report.contains("problem:"), "{report}");
}

#[test]
#[cfg_attr(miri, ignore)]
fn truncate_front_and_back() {
    let (_tmp, dir) = sealed_log();
    let bases = segment_bases(&dir);
    // Only whole segments below the LSN go: the new first LSN is the base of the segment
    // that holds it.
    let target = bases[2] + 5;
    let out = run(&["truncate", "--front", &target.to_string()], &dir, b"");
    assert_exit(&out, 0, "truncate --front");
    assert!(
        text(&out.stdout).contains(&format!("first LSN:  {} (was 0;", bases[2])),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(segment_bases(&dir), bases[2..]);
    let out = run(&["cat"], &dir, b"");
    assert_exit(&out, 0, "cat after truncate --front");
    assert_eq!(
        assert_written(&out.stdout, record),
        (bases[2]..RECORDS).collect::<Vec<_>>()
    );
    // Below the first LSN now: an invalid --from.
    let out = run(&["cat", "--from", "0"], &dir, b"");
    assert_exit(&out, 2, "cat --from below first_lsn");
    assert!(text(&out.stderr).contains("--from 0"));

    let out = run(&["truncate", "--back", "1500"], &dir, b"");
    assert_exit(&out, 0, "truncate --back");
    assert!(
        text(&out.stdout).contains(&format!("next LSN:   1500 (was {RECORDS};")),
        "{}",
        text(&out.stdout)
    );
    let out = run(&["stat"], &dir, b"");
    assert!(text(&out.stdout).contains("next LSN:    1500\n"));
    // The log keeps its segment size after truncate --back (no default-size segment).
    for line in text(&out.stdout).lines().filter(|l| l.contains(".seg")) {
        assert!(line.contains(&format!("size {SEGMENT} ")), "{line}");
    }
    let out = run(&["append", "--sync", "none"], &dir, b"new\n");
    assert_exit(&out, 0, "append after truncate --back");
    assert_eq!(acks(&out), [1500]);
    let out = run(&["cat", "--from", "1498"], &dir, b"");
    assert_eq!(records_of(&out.stdout).len(), 3);
    assert_eq!(
        records_of(&out.stdout)[2],
        (1500, b"new".to_vec()),
        "a removed record came back"
    );

    // Out of range, both ends at once, neither: usage errors that change nothing.
    let out = run(&["truncate", "--back", "99999"], &dir, b"");
    assert_exit(&out, 2, "truncate --back beyond the end");
    for args in [
        &["truncate", "--front", "1", "--back", "2"][..],
        &["truncate"],
    ] {
        let out = run(args, &dir, b"");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    let out = run(&["cat", "--from", "1499"], &dir, b"");
    assert_eq!(records_of(&out.stdout).len(), 2);
}

#[test]
#[cfg_attr(miri, ignore)]
fn a_flipped_byte_in_a_sealed_segment_is_found_and_never_printed() {
    let (_tmp, dir) = sealed_log();
    let segment = segment_name(&dir, 0);
    let damaged_lsn = 5u64;
    let at = RECORDS_START + damaged_lsn * record_footprint(RECORD_LEN as u64);
    // The header at `at` is record 5's (its LSN field at byte 8), so the damage below is
    // in record 5's payload.
    assert_eq!(read_at(&segment, at + 8, 8), damaged_lsn.to_le_bytes());
    flip_bit(&segment, at + 24 + 10, 0);

    let out = run(&["verify"], &dir, b"");
    assert_exit(&out, 1, "verify");
    let report = text(&out.stdout);
    let problem = format!("problem: {} at byte {at}: ", segment.display());
    assert!(report.contains(&problem), "{report}");
    assert!(report.contains("problems:     1"), "{report}");
    // The range is the log's; the records from the damage to the segment's end could not
    // be read, and the summary says so.
    let bases = segment_bases(&dir);
    let unreadable = bases[1] - damaged_lsn;
    assert!(
        report.contains(&format!(
            "records:      {} (LSNs 0 to {}; {unreadable} of them unreadable)",
            RECORDS - unreadable,
            RECORDS - 1
        )),
        "{report}"
    );

    let out = run(&["cat"], &dir, b"");
    assert_exit(&out, 1, "cat");
    assert_eq!(
        assert_written(&out.stdout, record),
        (0..damaged_lsn).collect::<Vec<_>>(),
        "cat printed past the damage"
    );
    let stderr = text(&out.stderr);
    assert!(stderr.contains("00000000000000000000.seg"), "{stderr}");
    assert!(stderr.contains(&format!("at byte {at}")), "{stderr}");
    let out = run(&["cat", "--hex"], &dir, b"");
    assert_exit(&out, 1, "cat --hex");
    assert_eq!(records_of(&out.stdout).len() as u64, damaged_lsn);
}

#[test]
#[cfg_attr(miri, ignore)]
fn damaged_and_foreign_segment_files_are_corruption() {
    type Damage = fn(&Path);
    let cases: [(&str, Damage); 5] = [
        ("bad magic in a sealed segment", |dir| {
            let second = segment_bases(dir)[1];
            write_at(&segment_name(dir, second), 0, b"NOTMMLOG");
        }),
        ("unknown format version", |dir| {
            write_at(&segment_name(dir, 0), 8, &99u32.to_le_bytes());
        }),
        ("sealed segment cut to half its length", |dir| {
            let second = segment_bases(dir)[1];
            half(&segment_name(dir, second));
        }),
        ("active segment cut to half its length", |dir| {
            let last = *segment_bases(dir).last().expect("a segment");
            half(&segment_name(dir, last));
        }),
        ("random bytes in the first segment's header", |dir| {
            write_at(
                &segment_name(dir, 0),
                0,
                &crate::util::Rng::new(7).bytes(64),
            );
        }),
    ];
    for (what, damage) in cases {
        let (_tmp, dir) = sealed_log();
        damage(&dir);
        let out = run(&["verify"], &dir, b"");
        assert_exit(&out, 1, &format!("verify: {what}"));
        assert!(text(&out.stdout).contains("problem: "), "{what}");
        assert!(text(&out.stdout).contains(".seg at byte "), "{what}");
        for args in [&["cat"][..], &["stat"], &["append", "--sync", "none"]] {
            let out = run(args, &dir, b"more\n");
            assert_exit(&out, 1, &format!("{args:?}: {what}"));
            assert!(text(&out.stderr).contains(".seg"), "{what}");
            assert!(out.stdout.is_empty(), "{args:?}: {what}");
        }
    }
}

fn half(path: &Path) {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open segment");
    let len = file.metadata().expect("stat").len();
    file.set_len(len / 2).expect("truncate segment");
}

#[test]
#[cfg_attr(miri, ignore)]
fn zero_length_and_random_files_named_like_segments_are_corruption() {
    let random = crate::util::Rng::new(42).bytes(100_000);
    for (what, bytes) in [("zero-length", &[][..]), ("random bytes", &random[..])] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path();
        std::fs::write(segment_name(dir, 0), bytes).expect("write the file");
        for args in [
            &["verify"][..],
            &["cat"],
            &["cat", "--follow"],
            &["stat"],
            &["truncate", "--back", "0"],
            &["append"],
        ] {
            let out = run(args, dir, b"record\n");
            assert_exit(&out, 1, &format!("{args:?} on a {what} file"));
            assert!(
                text(&out.stderr).contains("00000000000000000000.seg"),
                "{what}"
            );
            if args[0] != "verify" {
                assert!(out.stdout.is_empty(), "{args:?}: {what}");
            }
        }
        // Nothing was written over it.
        assert_eq!(std::fs::read(segment_name(dir, 0)).expect("read"), bytes);
    }
}

#[test]
#[cfg_attr(miri, ignore)]
fn a_missing_directory_or_one_without_a_log_is_exit_2() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let missing = tmp.path().join("missing");
    for args in [
        &["cat"][..],
        &["cat", "--follow"],
        &["stat"],
        &["verify"],
        &["truncate", "--front", "0"],
    ] {
        let out = run(args, &missing, b"");
        assert_exit(&out, 2, &format!("{args:?} on a missing directory"));
        assert!(text(&out.stderr).contains("missing"), "{args:?}");
        assert!(!missing.exists(), "{args:?} created the directory");
        let out = run(args, tmp.path(), b"");
        assert_exit(&out, 2, &format!("{args:?} on a directory without a log"));
        assert!(
            segment_bases(tmp.path()).is_empty(),
            "{args:?} wrote a segment"
        );
    }
}

#[test]
#[cfg_attr(miri, ignore)]
fn a_second_writer_is_refused_and_the_first_carries_on() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("log");
    let args = ["append", "--sync", "each"];
    let mut first = Running::start(&args, &dir);
    first.send(b"one\n");
    assert_eq!(first.line("first ack"), "0");

    for second in [&["append"][..], &["truncate", "--back", "0"]] {
        let out = run(second, &dir, b"intruder\n");
        assert_exit(&out, 2, &format!("{second:?} beside a writer"));
        assert!(
            text(&out.stderr).to_lowercase().contains("lock"),
            "{}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty());
    }

    first.send(b"two\n");
    assert_eq!(first.line("ack after the refused writer"), "1");
    let (rest, output) = first.finish(&args);
    assert_exit(&output, 0, "first writer");
    assert!(rest.is_empty(), "{rest:?}");
    let out = run(&["cat"], &dir, b"");
    assert_eq!(text(&out.stdout), "0\tone\n1\ttwo\n");
}

#[test]
#[cfg_attr(miri, ignore)]
fn a_record_longer_than_a_segment_is_refused_and_earlier_records_stay() {
    // Longer than the whole segment file (refused while reading the line), and longer
    // than a segment's record area but shorter than the file (refused by the library).
    for (len, sync) in [(70_000, "each"), (60_000, "every:5")] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("log");
        let mut input = b"a\nb\n".to_vec();
        input.extend(std::iter::repeat_n(b'z', len));
        input.extend_from_slice(b"\nc\n");
        let args = ["append", "--segment-size", SEGMENT, "--sync", sync];
        let out = run(&args, &dir, &input);
        assert_exit(&out, 2, &format!("a {len}-byte record"));
        assert!(
            text(&out.stderr).contains("--segment-size"),
            "{}",
            text(&out.stderr)
        );
        assert_eq!(acks(&out), [0, 1], "earlier records acknowledged");
        let out = run(&["cat"], &dir, b"");
        assert_exit(&out, 0, "cat");
        assert_eq!(text(&out.stdout), "0\ta\n1\tb\n");
    }
}

#[test]
#[cfg_attr(miri, ignore)]
fn invalid_arguments_are_usage_errors() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("log");
    assert_exit(&run(&["append"], &dir, b"a\nb\nc\n"), 0, "append");
    for args in [
        &["cat", "--from", "4"][..],
        &["cat", "--from", "99", "--follow"],
    ] {
        let out = run(args, &dir, b"");
        assert_exit(&out, 2, &format!("{args:?}"));
        assert!(text(&out.stderr).contains("--from"), "{args:?}");
        assert!(out.stdout.is_empty());
    }
    // Rejected by the argument parser (its usage message is more than one line).
    for args in [
        &["cat", "--from", "abc"][..],
        &["cat", "--from", "-1"],
        &["append", "--sync", "sometimes"],
        &["append", "--sync", "every:0"],
        &["append", "--segment-size", "1000"],
        &["append", "--durability", "paper"],
    ] {
        let out = run(args, &dir, b"x\n");
        exited(&out, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty());
    }
    // io-uring: a clear refusal (exit 2) while it is not available, or a working append.
    let args = ["append", "--durability", "io-uring"];
    let out = run(&args, &dir, b"d\n");
    match out.status.code() {
        Some(0) => assert_eq!(acks(&out), [3]),
        _ => {
            assert_exit(&out, 2, "--durability io-uring");
            let stderr = text(&out.stderr).to_lowercase();
            assert!(
                stderr.contains("io-uring") || stderr.contains("iouring"),
                "{stderr}"
            );
        }
    }
    let out = run(&["cat", "--from", "3"], &dir, b"");
    assert_exit(&out, 0, "cat --from next_lsn");
}

#[test]
#[cfg_attr(miri, ignore)]
fn cat_follow_prints_records_as_they_arrive() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("log");
    let appended = |i: u64| format!("follow-{i}-{}", "y".repeat(200)).into_bytes();
    let out = run(
        &["append", "--segment-size", SEGMENT],
        &dir,
        &[appended(0), b"\n".to_vec()].concat(),
    );
    assert_exit(&out, 0, "first append");

    let follow_args = ["cat", "--follow"];
    let follower = Running::start(&follow_args, &dir);
    let from_one = Running::start(&["cat", "--follow", "--from", "1"], &dir);
    let check = |line: String, lsn: u64| {
        assert_eq!(
            line.into_bytes(),
            [format!("{lsn}\t").into_bytes(), appended(lsn)].concat(),
            "record {lsn}"
        );
    };
    check(follower.line("the existing record"), 0);

    let args = ["append", "--sync", "none"];
    let mut writer = Running::start(&args, &dir);
    writer.send(&[appended(1), b"\n".to_vec()].concat());
    assert_eq!(writer.line("ack"), "1");
    check(follower.line("a record appended while following"), 1);
    check(from_one.line("--from 1"), 1);

    // Enough records to fill more than two 64 KiB segments: the follower crosses
    // rotations.
    let count = 700u64;
    let mut input = Vec::new();
    for i in 2..count {
        input.extend_from_slice(&appended(i));
        input.push(b'\n');
    }
    writer.send(&input);
    let (_, output) = writer.finish(&args);
    assert_exit(&output, 0, "writer");
    assert!(segment_bases(&dir).len() >= 3);
    for lsn in 2..count {
        check(follower.line("records across rotations"), lsn);
    }
    assert!(follower.silent_for(Duration::from_millis(100)));
    for mut running in [follower, from_one] {
        // Still following: it did not exit on its own.
        assert!(running.child.try_wait().expect("try_wait").is_none());
        running.child.kill().expect("kill the follower");
        running.child.wait().expect("reap the follower");
    }
}
