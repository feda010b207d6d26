//! Each durability backend really writes the pages a sync covers: the page of an appended
//! record is dirty in the page cache before the sync and clean (written back) after it.
//!
//! The power-loss simulation (`power_loss.rs`) checks *which* ranges each sync covers, from
//! what the engine asked for; this checks that the system call behind each backend (msync,
//! fdatasync, io_uring) did it. It reads the kernel's page flags (`/proc/self/pagemap` for
//! the page frame, `/proc/kpageflags` for its dirty and writeback bits), which needs root:
//! elsewhere it is skipped and says so.
use std::fs::File;
use std::os::unix::fs::FileExt;

use mmlog::{Durability, Log, Options};

const PAGE: u64 = 4096;
/// `/proc/kpageflags` bits (linux/kernel-page-flags.h).
const KPF_DIRTY: u64 = 1 << 4;
const KPF_WRITEBACK: u64 = 1 << 8;

/// The flags of the page that `addr` (in this process) maps, or `None` if the kernel does
/// not tell (not root, or the page is not present).
fn page_flags(addr: usize) -> Option<u64> {
    let pagemap = File::open("/proc/self/pagemap").ok()?;
    let mut entry = [0u8; 8];
    pagemap
        .read_exact_at(&mut entry, (addr as u64 / PAGE) * 8)
        .ok()?;
    let entry = u64::from_le_bytes(entry);
    let present = entry >> 63 == 1;
    let pfn = entry & ((1 << 55) - 1);
    if !present || pfn == 0 {
        return None;
    }
    let kpageflags = File::open("/proc/kpageflags").ok()?;
    let mut flags = [0u8; 8];
    kpageflags.read_exact_at(&mut flags, pfn * 8).ok()?;
    Some(u64::from_le_bytes(flags))
}

/// Appends a record filling pages 1..3 of a new segment and returns, before and after a
/// sync, whether page 2 is dirty or under writeback. `None` if the kernel does not tell.
fn dirty_before_and_after_sync(durability: Durability) -> Option<(bool, bool)> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let log = Log::open(
        dir.path(),
        Options::default()
            .segment_size(1 << 20)
            .durability(durability),
    )
    .expect("open");
    log.sync().expect("a first sync");
    let lsn = log
        .append(&vec![0xa5u8; 3 * PAGE as usize])
        .expect("append");
    let segment = log.stats().segments.last().expect("a segment").path.clone();
    let file = File::open(&segment).expect("open the segment");
    // SAFETY: the test's own mapping, read-only and shared; the log never shrinks the
    // file while it is open, so every byte mapped exists.
    let map = unsafe { memmap2::Mmap::map(&file) }.expect("map the segment");
    let at = 2 * PAGE as usize;
    // Fault the page in for this mapping (a read, so the test never dirties it itself).
    assert_eq!(std::hint::black_box(map[at + 100]), 0xa5);
    let addr = map.as_ptr() as usize + at;
    let state = |flags: u64| flags & (KPF_DIRTY | KPF_WRITEBACK) != 0;
    let before = state(page_flags(addr)?);
    log.sync_to(lsn).expect("sync");
    let after = state(page_flags(addr)?);
    Some((before, after))
}

fn check(name: &str, durability: Durability) {
    match dirty_before_and_after_sync(durability) {
        None => eprintln!(
            "skipping the page-flag check of {name}: /proc/kpageflags is not readable here \
             (it needs root)"
        ),
        Some((before, after)) => {
            assert!(
                before,
                "{name}: the record's page is not dirty before the sync"
            );
            assert!(
                !after,
                "{name}: the record's page is still dirty after the sync"
            );
        }
    }
}

#[test]
#[cfg_attr(miri, ignore)]
fn msync_writes_the_records_pages() {
    check("msync", Durability::Msync);
}

#[test]
#[cfg_attr(miri, ignore)]
fn fdatasync_writes_the_records_pages() {
    check("fdatasync", Durability::Fdatasync);
}

#[cfg(feature = "io-uring")]
#[test]
#[cfg_attr(miri, ignore)]
fn io_uring_writes_the_records_pages() {
    let probe = tempfile::tempdir().expect("a temporary directory");
    if let Err(mmlog::Error::Unsupported(why)) = Log::open(
        probe.path(),
        Options::default().durability(Durability::IoUring),
    ) {
        eprintln!("skipping the io_uring page-flag check: {why}");
        return;
    }
    check("io_uring", Durability::IoUring);
}
