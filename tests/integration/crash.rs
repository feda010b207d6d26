//! Crash safety through real processes: a parent feeds records to `mmlog append`, reads the
//! LSNs it acknowledges, and kills it with SIGKILL at random moments (also right after it
//! starts, while it recovers from the previous kill). After each kill, `mmlog cat` must show
//! every acknowledged record byte for byte, LSNs dense from 0, and any record beyond the
//! acknowledged ones must be exactly the one sent for that LSN (a record appended whose
//! acknowledgement the kill cut off); the next round appends on without gaps, and no record
//! ever changes or comes back. Runs `--sync each` and `--sync none`, with both durabilities.
//!
//! Default: 240 crash points. `MMLOG_CRASH_ROUNDS=N` runs N per scenario (4 scenarios);
//! `MMLOG_SEED` picks the seed. The test prints crash points, acknowledged records lost
//! (must be 0) and phantoms (must be 0).
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_mmlog");
const ROUNDS_DEFAULT: u64 = 60;
const LINES_PER_ROUND: u64 = 400;

/// A small deterministic generator (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Printable pseudo-random bytes that payloads are cut from (made once: generating them
/// per byte for every check would dominate the test's time in a debug build).
fn alphabet_soup() -> &'static [u8] {
    static SOUP: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    SOUP.get_or_init(|| {
        let mut rng = Rng(0x5eed);
        (0..64 * 1024)
            .map(|_| b'a' + (rng.below(26) as u8))
            .collect()
    })
}

/// The one payload that may ever stand at `lsn`: lengths from 0 to 20 KiB, printable, no
/// newline, different for every LSN (it starts with the LSN).
fn payload(seed: u64, lsn: u64) -> Vec<u8> {
    let mut rng = Rng(seed ^ lsn.wrapping_mul(0x2545_f491_4f6c_dd1d));
    let len = match rng.below(10) {
        0 => 0,
        1..=6 => rng.below(300),
        _ => rng.below(20_000),
    } as usize;
    let mut out = format!("{lsn}:").into_bytes();
    let soup = alphabet_soup();
    let start = rng.below((soup.len() - 20_000) as u64) as usize;
    out.extend_from_slice(&soup[start..start + len]);
    out.truncate(len);
    out
}

fn from_hex(hex: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let bytes = hex.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

/// Reads the log from `from` on through `mmlog cat --hex`.
fn cat(dir: &std::path::Path, from: u64) -> Vec<(u64, Vec<u8>)> {
    let out = Command::new(BIN)
        .args(["cat", "--hex", "--from", &from.to_string()])
        .arg(dir)
        .output()
        .expect("run mmlog cat");
    assert!(
        out.status.success(),
        "mmlog cat failed ({:?}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("cat --hex prints text")
        .lines()
        .map(|line| {
            let (lsn, hex) = line.split_once('\t').unwrap_or((line, ""));
            let lsn = lsn
                .parse()
                .unwrap_or_else(|_| panic!("bad cat line {line:?}"));
            (
                lsn,
                from_hex(hex).unwrap_or_else(|| panic!("bad hex in {line:?}")),
            )
        })
        .collect()
}

struct Figures {
    crash_points: u64,
    acked: u64,
    lost: u64,
    phantoms: u64,
}

fn spawn_append(dir: &std::path::Path, sync: &str, durability: &str) -> Child {
    Command::new(BIN)
        .arg("append")
        .arg(dir)
        .args([
            "--sync",
            sync,
            "--durability",
            durability,
            "--segment-size",
            "65536",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn mmlog append")
}

fn scenario(sync: &str, durability: &str, rounds: u64, seed: u64, figures: &mut Figures) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path().join("log");
    let mut rng = Rng(seed ^ u64::from(sync.len() as u32) << 32 ^ durability.len() as u64);
    // Every LSN ever acknowledged.
    let mut acked_max: Option<u64> = None;
    let mut next = 0u64;
    for round in 0..rounds {
        let mut child = spawn_append(&dir, sync, durability);
        let mut stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let acks = Arc::new(Mutex::new(Vec::<u64>::new()));
        let reader = {
            let acks = Arc::clone(&acks);
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    let lsn = line.trim().parse::<u64>().expect("an LSN per line");
                    acks.lock().unwrap().push(lsn);
                }
            })
        };
        let start = next;
        let writer = std::thread::spawn(move || {
            for lsn in start..start + LINES_PER_ROUND {
                let mut line = payload(seed, lsn);
                line.push(b'\n');
                if stdin.write_all(&line).is_err() {
                    break;
                }
            }
        });
        // Kill at a random moment: a third of the time within the first 3 ms (during
        // recovery of the previous kill), otherwise while appending.
        let delay = if rng.below(3) == 0 {
            Duration::from_micros(rng.below(3000))
        } else {
            Duration::from_millis(3 + rng.below(40))
        };
        std::thread::sleep(delay);
        child.kill().expect("SIGKILL the writer");
        // Killed by the signal, or (rarely) finished all its input first.
        let status = child.wait().unwrap();
        assert!(
            status.success() || std::os::unix::process::ExitStatusExt::signal(&status) == Some(9),
            "round {round}: mmlog append ended with {status:?}"
        );
        let _ = writer.join();
        reader.join().unwrap();
        figures.crash_points += 1;

        let acks = acks.lock().unwrap().clone();
        figures.acked += acks.len() as u64;
        // Acknowledgements are dense and continue the log.
        for (i, lsn) in acks.iter().enumerate() {
            assert_eq!(
                *lsn,
                start + i as u64,
                "round {round}: acknowledged LSNs must continue the log"
            );
        }
        if let Some(&last) = acks.last() {
            acked_max = Some(last);
        }

        let has_segment = dir.exists()
            && std::fs::read_dir(&dir)
                .expect("list the log directory")
                .map(|e| e.expect("a directory entry"))
                .any(|e| e.file_name().to_string_lossy().ends_with(".seg"));
        if !has_segment {
            // Killed before it created the directory or its first segment: nothing was
            // ever acknowledged (in this round or before), and there is no log yet.
            assert!(
                acked_max.is_none() && next == 0,
                "round {round}: the log lost every segment after acknowledging records"
            );
            continue;
        }
        // Records before `start` were checked in earlier rounds (and all are checked again
        // at the end); this round's are checked now.
        let records = cat(&dir, start);
        for (i, (lsn, bytes)) in records.iter().enumerate() {
            assert_eq!(
                *lsn,
                start + i as u64,
                "round {round} ({sync}, {durability}): LSNs must be dense"
            );
            if *bytes != payload(seed, *lsn) {
                figures.phantoms += 1;
                panic!(
                    "round {round} ({sync}, {durability}, seed {seed:#x}): LSN {lsn} holds a record that was never sent there ({} bytes)",
                    bytes.len()
                );
            }
        }
        let shown = start + records.len() as u64;
        if let Some(max) = acked_max {
            if shown <= max {
                figures.lost += max + 1 - shown;
                panic!(
                    "round {round} ({sync}, {durability}, seed {seed:#x}): acknowledged LSN {max} lost: the log holds {shown} records"
                );
            }
        }
        // Nothing beyond what was sent.
        assert!(
            shown <= start + LINES_PER_ROUND,
            "round {round}: more records than were ever sent"
        );
        // A record shown once is never lost or changed later: the next round starts here.
        assert!(
            shown >= next,
            "round {round}: records {shown}..{next} seen before are gone"
        );
        next = shown;
    }
    // A final clean run appends on without gaps.
    let mut child = spawn_append(&dir, sync, durability);
    {
        let mut stdin = child.stdin.take().unwrap();
        for lsn in next..next + 5 {
            let mut line = payload(seed, lsn);
            line.push(b'\n');
            stdin.write_all(&line).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the final append must succeed");
    let printed: Vec<u64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(printed, (next..next + 5).collect::<Vec<_>>());
    // Everything, from LSN 0: nothing that was shown in any round changed or went away.
    let records = cat(&dir, 0);
    assert_eq!(records.len() as u64, next + 5);
    for (i, (lsn, bytes)) in records.iter().enumerate() {
        assert_eq!(*lsn, i as u64);
        assert!(
            *bytes == payload(seed, *lsn),
            "LSN {lsn} changed after it was checked"
        );
    }
}

#[test]
#[cfg_attr(miri, ignore)]
fn kill_9_never_loses_an_acknowledged_record() {
    let (rounds, seed) = crate::util::crash_settings(ROUNDS_DEFAULT, 0x6b69_6c6c_3900);
    let mut figures = Figures {
        crash_points: 0,
        acked: 0,
        lost: 0,
        phantoms: 0,
    };
    for (sync, durability) in [
        ("each", "msync"),
        ("none", "msync"),
        ("each", "fdatasync"),
        ("none", "fdatasync"),
    ] {
        scenario(sync, durability, rounds, seed, &mut figures);
    }
    eprintln!(
        "crash test (seed {seed:#x}): {} crash points, {} records acknowledged, {} acknowledged records lost, {} phantoms",
        figures.crash_points, figures.acked, figures.lost, figures.phantoms
    );
    assert_eq!(figures.lost, 0);
    assert_eq!(figures.phantoms, 0);
    assert!(figures.crash_points >= 4 * rounds);
}
