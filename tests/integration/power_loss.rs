//! Power loss on real engine files. Checks the contract's promises "after `sync` returns
//! `Ok` those records survive power loss" and "after a crash or power loss, `open` recovers
//! the longest valid prefix: every acknowledged-durable record comes back byte for byte; no
//! record that was never written comes back; no record cut off by the crash or removed by
//! `truncate_back` ever comes back later (not even after more appends and another crash);
//! LSNs stay dense", plus "a torn tail beyond the durable point is not corruption" and
//! "`append_batch` is atomic across a crash".
//!
//! How: a real `Log` (64 KiB segments, `Durability::Msync` and `Durability::Fdatasync`)
//! takes seeded random appends, batches and reservations. Right after a `sync` (or a
//! `truncate_back`) returns, the *synced* image is taken, with the durable LSN the engine
//! acknowledged: not the page cache, but what the engine's syncs wrote (`DiskModel`, from
//! the record `mmlog::testing` keeps: the pages each `msync` range covered, as they were
//! when it started, and whole files at each `fdatasync`). A page the engine leaves out of
//! an msync (the header page with the durable mark, most of the time) keeps its older
//! content there, as on a real disk; an msync range that missed a page of records would
//! lose acknowledged records here (checked by mutation: starting the range one page late
//! gives about 1,300 violations in 5,000 images). The directory's entries are durable as
//! listed at its last fsync: a segment created or renamed after it may be missing
//! (checked by mutation: leaving out the directory fsync of `sync` gives about 1,500
//! violations in 5,000 images per durability). More records are appended without a sync (sometimes enough
//! to rotate into new segments) and the directory is read again: the *new* image. A crash
//! image is the synced image where each 4 KiB page that differs from the new image is,
//! independently, the new page, the old page, or a per-512-byte-sector mix of both: mmap
//! writeback and the disk persist unsynced pages in any order and may tear a page between
//! sectors. Bytes that were never written read as zeros, so only pages with no synced
//! content (a new file) can come back as zeros; a page whose synced content is non-zero
//! never does. A file created since the sync (its directory entry was not fsynced) is
//! present or absent, and if present, its header page is there: the engine writes and
//! syncs a segment's header before it gives the file its segment name (see `format.rs`). A
//! file removed since the sync is present with its synced content, or absent.
//!
//! Each crash image is written to a fresh directory and opened with `Recovery::Strict`.
//! The test checks: `open` succeeds (a torn tail is never `Error::Corrupt`); the records
//! are dense from the first LSN; every record below the acknowledged durable LSN is back
//! byte for byte; every record beyond it is exactly the record appended at that LSN (the
//! payloads are derived from (seed, generation, LSN), and a new generation starts at every
//! reopen and at most `truncate_back`s, so a resurrected record shows up as a mismatch;
//! after the other `truncate_back`s the same payloads are appended again, and a removed
//! record that comes back shows up past the appended ones); no atomic batch is cut in the
//! middle; the first LSN is the synced one (`truncate_front` is durable). One recovered
//! image in ten is driven further: generation-2 records are appended, synced, more
//! appended without a sync, and a second crash image of that is recovered and checked the
//! same way, which also proves that nothing cut off by the first recovery comes back.
//!
//! The default run tries 10,000 first crash images (half per durability mode).
//! `MMLOG_POWER_LOSS_IMAGES=N` runs N, `MMLOG_SEED=S` (decimal or 0x-hex) picks the seed.
//! A failure names the seed, the image number and what was wrong, and keeps the crash
//! image under the temporary directory for inspection.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use mmlog::testing::SyncEvent;
use mmlog::{Durability, Error, Log, Options};

const SEGMENT_SIZE: u64 = 64 * 1024;
const PAGE_LEN: usize = 4096;
const SECTOR_LEN: usize = 512;
const PAYLOAD_LEN_MAX: u64 = 3000;
/// First crash images over both durability modes in a default run.
const IMAGES_DEFAULT: u64 = 10_000;
const SEED_DEFAULT: u64 = 0x6d6d_6c6f_6700_0001;
/// Sync rounds in one scenario (one fresh log) before the next scenario starts.
const ROUNDS_PER_SCENARIO: u64 = 24;
/// Segments left after `truncate_front` keeps the log small, so every image is cheap.
const SEGMENTS_KEPT: usize = 3;
/// One recovered image in this many is driven on to a second crash.
const SECOND_CRASH_EVERY: u64 = 10;
/// Crash images made from each second-crash state.
const SECOND_CRASH_IMAGES: u64 = 2;
/// Violations whose details are printed (all are counted).
const VIOLATIONS_SHOWN: usize = 10;
/// Generations at or above this are appended after a recovery (the second phase).
const GENERATION_2: u32 = 1 << 31;

// ---------------------------------------------------------------------------------------
// Deterministic randomness

/// splitmix64: small, fast, and good enough to pick operations and pages.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0; the modulo bias is irrelevant here).
    fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0)");
        self.next_u64() % n
    }

    fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    fn range(&mut self, r: Range<u64>) -> u64 {
        assert!(r.start < r.end, "empty range {r:?}");
        r.start + self.below(r.end - r.start)
    }
}

/// Mixes values into one seed.
fn mix(values: &[u64]) -> u64 {
    values.iter().fold(0x243f_6a88_85a3_08d3, |acc, &v| {
        Rng::new(acc ^ v).next_u64()
    })
}

fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// The payload of the record of generation `generation` at `lsn`: derived, so it can be
/// re-derived and checked. Half are short (0..=64 bytes), half up to `PAYLOAD_LEN_MAX`.
fn payload(seed: u64, generation: u32, lsn: u64) -> Vec<u8> {
    let mut rng = Rng::new(mix(&[seed, u64::from(generation), lsn]));
    let len = if rng.chance(1, 2) {
        rng.below(65)
    } else {
        rng.below(PAYLOAD_LEN_MAX + 1)
    };
    let len = usize::try_from(len).expect("payload lengths fit in usize");
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    out.truncate(len);
    out
}

pub(crate) fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    let value = value.trim();
    let parsed = match value.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => value.parse(),
    };
    Some(parsed.unwrap_or_else(|e| panic!("{name}={value:?} is not a number: {e}")))
}

// ---------------------------------------------------------------------------------------
// The model: what was appended

/// Every record appended and still in the log, indexed by LSN (records below `first` are
/// kept, only never checked), and the atomic batches.
#[derive(Clone, Default)]
struct Model {
    first: u64,
    records: Vec<Arc<[u8]>>,
    generations: Vec<u32>,
    batches: Vec<Range<u64>>,
}

impl Model {
    fn next(&self) -> u64 {
        self.records.len() as u64
    }

    fn push(&mut self, generation: u32, payload: Vec<u8>) {
        self.records.push(payload.into());
        self.generations.push(generation);
    }

    fn get(&self, lsn: u64) -> Option<(&[u8], u32)> {
        let i = usize::try_from(lsn).ok()?;
        Some((&**self.records.get(i)?, *self.generations.get(i)?))
    }

    /// Drops every record at or after `lsn` (a `truncate_back`, or a recovery's cut).
    fn truncate(&mut self, lsn: u64) {
        let len = usize::try_from(lsn).expect("LSNs fit in usize");
        self.records.truncate(len);
        self.generations.truncate(len);
        self.batches.retain(|b| b.start < lsn);
        for b in &mut self.batches {
            // A batch cut by `truncate_back` keeps its first part, which is all-or-nothing.
            b.end = b.end.min(lsn);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Directory images

/// File name to content.
pub(crate) type Files = BTreeMap<String, Vec<u8>>;

/// Reads every file of `dir`: right after a sync, this is what the disk holds.
pub(crate) fn snapshot(dir: &Path) -> Files {
    let mut files = Files::new();
    for entry in std::fs::read_dir(dir).expect("list the log directory") {
        let entry = entry.expect("a directory entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        match std::fs::read(entry.path()) {
            Ok(bytes) => {
                files.insert(name, bytes);
            }
            // Only the engine's background thread touches the directory meanwhile, and it
            // only creates `spare.tmp`; a file that vanished is simply not there.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => panic!("read {}: {e}", entry.path().display()),
        }
    }
    files
}

/// What the disk holds, built from the syncs the engine made (`mmlog::testing`): the
/// pages each `msync` covered as they were when it started, each file as it was when an
/// `fdatasync` started, and the directory's entries as they were when it was last
/// fsynced. So a page the engine left out of an msync (the header page, most of the
/// time) keeps its older content here, as it would on a real disk, and the crash images
/// mix it like any other unsynced page; a segment created or renamed after the last
/// directory fsync may be missing. Files other than segments (the lock and notify files)
/// are taken as they are.
pub(crate) struct DiskModel {
    dir: PathBuf,
    /// Durable content per inode.
    synced: HashMap<u64, Vec<u8>>,
    /// Durable directory entries, name to inode: as listed when the directory was last
    /// fsynced. Files created, renamed or removed since then may or may not be there after
    /// a crash (`crash_image` decides).
    names: BTreeMap<String, u64>,
}

impl DiskModel {
    /// Starts recording the syncs of the log in `dir`. Call it right after `Log::open`
    /// returned: open syncs everything it keeps, so the files are then what the disk holds.
    pub(crate) fn new(dir: &Path) -> DiskModel {
        mmlog::testing::record_syncs(dir);
        let mut synced = HashMap::new();
        let mut names = BTreeMap::new();
        for (name, ino, bytes) in list_files(dir) {
            synced.insert(ino, bytes);
            names.insert(name, ino);
        }
        DiskModel {
            dir: dir.to_path_buf(),
            synced,
            names,
        }
    }

    /// The synced image of the directory now (call it right after a sync returned).
    pub(crate) fn image(&mut self) -> Files {
        for event in mmlog::testing::take_syncs(&self.dir) {
            match event {
                SyncEvent::Created { ino } => {
                    self.synced.insert(ino, Vec::new());
                }
                SyncEvent::Whole { ino, bytes } => {
                    self.synced.insert(ino, bytes);
                }
                SyncEvent::Range { ino, offset, bytes } => {
                    let content = self.synced.entry(ino).or_default();
                    let start = usize::try_from(offset).expect("small files");
                    let end = start + bytes.len();
                    if content.len() < end {
                        content.resize(end, 0);
                    }
                    content[start..end].copy_from_slice(&bytes);
                }
                SyncEvent::Dir { names } => self.names = names.into_iter().collect(),
            }
        }
        let now: HashMap<u64, (String, Vec<u8>)> = list_files(&self.dir)
            .into_iter()
            .map(|(name, ino, bytes)| (ino, (name, bytes)))
            .collect();
        let mut files = Files::new();
        for (name, ino) in &self.names {
            let current = now.get(ino);
            let durable = if name.ends_with(".seg") || name == "spare.tmp" {
                // Bytes no sync wrote read as zeros.
                let mut content = self.synced.get(ino).cloned().unwrap_or_default();
                if let Some((_, bytes)) = current {
                    content.resize(bytes.len(), 0);
                }
                content
            } else if let Some((_, bytes)) = current {
                // The lock and notify files hold no log data.
                bytes.clone()
            } else {
                continue;
            };
            files.insert(name.clone(), durable);
        }
        // Files neither listed durably nor present are forgotten (inodes are reused).
        let names = &self.names;
        self.synced
            .retain(|ino, _| now.contains_key(ino) || names.values().any(|i| i == ino));
        files
    }
}

impl Drop for DiskModel {
    fn drop(&mut self) {
        mmlog::testing::stop_recording(&self.dir);
    }
}

/// Name, inode and content of every file of `dir`.
fn list_files(dir: &Path) -> Vec<(String, u64, Vec<u8>)> {
    use std::os::unix::fs::MetadataExt;
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("list the log directory") {
        let entry = entry.expect("a directory entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        let (Ok(meta), Ok(bytes)) = (entry.metadata(), std::fs::read(entry.path())) else {
            // `spare.tmp`, renamed or removed by the background thread meanwhile.
            continue;
        };
        files.push((name, meta.ino(), bytes));
    }
    files
}

/// How one crash image chooses between old and new pages.
#[derive(Clone, Copy)]
struct Style {
    /// Out of 16: a differing page is a per-sector mix.
    mix_in_16: u64,
    /// Out of 16: otherwise it is the new page (else the old one).
    new_in_16: u64,
}

impl Style {
    fn pick(rng: &mut Rng) -> Style {
        // From "almost nothing reached the disk" to "almost everything did".
        let new_in_16 = [1, 4, 8, 12, 15][usize::try_from(rng.below(5)).expect("small")];
        let mix_in_16 = [0, 2, 6][usize::try_from(rng.below(3)).expect("small")];
        Style {
            mix_in_16,
            new_in_16,
        }
    }
}

/// One file of a crash image: `new`'s length, each page that differs from `old` chosen per
/// `style`. Bytes beyond `old`'s end were never written: they read as zeros.
fn mix_file(old: &[u8], new: &[u8], style: Style, rng: &mut Rng, skip_first_page: bool) -> Vec<u8> {
    let mut out = new.to_vec();
    for (i, page) in out.chunks_mut(PAGE_LEN).enumerate() {
        if i == 0 && skip_first_page {
            continue;
        }
        let start = i * PAGE_LEN;
        let mut old_page = vec![0u8; page.len()];
        if let Some(synced) = old.get(start..old.len().min(start + page.len())) {
            old_page[..synced.len()].copy_from_slice(synced);
        }
        if old_page == page {
            continue;
        }
        let r = rng.below(16);
        if r < style.mix_in_16 {
            for (sector, old_sector) in page.chunks_mut(SECTOR_LEN).zip(old_page.chunks(SECTOR_LEN))
            {
                if rng.chance(1, 2) {
                    sector.copy_from_slice(old_sector);
                }
            }
        } else if rng.below(16) >= style.new_in_16 {
            page.copy_from_slice(&old_page);
        }
    }
    out
}

/// A crash image between the `synced` and the `new` state of a directory. Each file has
/// its own random stream, so whether the engine's background thread had created
/// `spare.tmp` yet does not change the choices for the segments.
pub(crate) fn crash_image(synced: &Files, new: &Files, seed: u64) -> Files {
    let style = Style::pick(&mut Rng::new(seed));
    let mut image = Files::new();
    for (name, new_bytes) in new {
        let mut rng = Rng::new(mix(&[seed, name_hash(name)]));
        match synced.get(name) {
            Some(old) => {
                image.insert(
                    name.clone(),
                    mix_file(old, new_bytes, style, &mut rng, false),
                );
            }
            // Created since the sync: the directory entry may not have reached the disk.
            None if rng.chance(1, 2) => {}
            None => {
                // A segment's header page was synced before the file got its name.
                let is_segment = name.ends_with(".seg");
                let bytes = mix_file(&[], new_bytes, style, &mut rng, is_segment);
                image.insert(name.clone(), bytes);
            }
        }
    }
    for (name, old) in synced {
        let mut rng = Rng::new(mix(&[seed, name_hash(name), 1]));
        if !new.contains_key(name) && rng.chance(1, 2) {
            // Removed since the sync, and the removal did not reach the disk.
            image.insert(name.clone(), old.clone());
        }
    }
    image
}

/// The first LSNs of the segment files in `dir`, sorted (from the file names).
fn segment_bases(dir: &Path) -> Vec<u64> {
    let mut bases: Vec<u64> = std::fs::read_dir(dir)
        .expect("list the log directory")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".seg")?.parse().ok()
        })
        .collect();
    bases.sort_unstable();
    bases
}

pub(crate) fn write_image(dir: &Path, image: &Files) {
    std::fs::create_dir(dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    for (name, bytes) in image {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }
}

pub(crate) fn remove_dir(dir: &Path) {
    std::fs::remove_dir_all(dir).unwrap_or_else(|e| panic!("remove {}: {e}", dir.display()));
}

/// Where the logs and crash images live: tmpfs when there is one, for speed.
pub(crate) fn scratch_root() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let base = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    tempfile::Builder::new()
        .prefix("mmlog-power-loss-")
        .tempdir_in(&base)
        .or_else(|_| {
            tempfile::Builder::new()
                .prefix("mmlog-power-loss-")
                .tempdir()
        })
        .expect("a scratch directory")
}

// ---------------------------------------------------------------------------------------
// Checking a recovered image

/// What a crash image must recover to.
struct Expect<'a> {
    /// Every record appended before the crash (the new state).
    model: &'a Model,
    /// Every record below it was acknowledged durable.
    durable_lsn: u64,
    /// The first LSN of the synced state (`truncate_front` fsyncs the directory).
    first_lsn: u64,
    /// The model before the first crash, in the second phase: names a resurrected record.
    earlier: Option<&'a Model>,
}

/// Opens the crash image in `dir` and checks it; returns the open log, or what was wrong.
fn check(dir: &Path, options: Options, expect: &Expect) -> Result<Log, String> {
    let log = match Log::open(dir, options) {
        Ok(log) => log,
        Err(e @ Error::Corrupt { .. }) => {
            return Err(format!(
                "open refused the crash image as corrupt (durable LSN {}, {} records \
                 appended): {e}",
                expect.durable_lsn,
                expect.model.next()
            ))
        }
        Err(e) => return Err(format!("open failed: {e}")),
    };
    let (first, next) = (log.first_lsn(), log.next_lsn());
    let report = log.recovery_report();
    let context = format!(
        "recovered LSNs {first}..{next}, durable LSN {}, appended up to {}, report: \
         records_recovered {}, torn_bytes {}, durable_mark {}",
        expect.durable_lsn,
        expect.model.next(),
        report.records_recovered,
        report.torn_bytes,
        report.durable_mark
    );
    if first != expect.first_lsn {
        return Err(format!(
            "first_lsn is {first}, the synced log started at {} ({context})",
            expect.first_lsn
        ));
    }
    if next < expect.durable_lsn {
        return Err(format!(
            "acknowledged-durable records lost: next_lsn {next} < durable LSN {} ({context})",
            expect.durable_lsn
        ));
    }
    if next > expect.model.next() {
        return Err(format!(
            "records that were never appended came back: next_lsn {next} > {} ({context})",
            expect.model.next()
        ));
    }
    if report.records_recovered != next - first {
        return Err(format!(
            "records_recovered disagrees with the LSN range ({context})"
        ));
    }
    if let Some(e) = &report.corruption {
        return Err(format!(
            "Strict recovery reported corruption {e} ({context})"
        ));
    }
    let mut lsn = first;
    for item in log.iter() {
        let record =
            item.map_err(|e| format!("record {lsn} does not read back: {e} ({context})"))?;
        if record.lsn() != lsn {
            return Err(format!(
                "LSNs not dense: expected record {lsn}, got {} ({context})",
                record.lsn()
            ));
        }
        if lsn >= next {
            return Err(format!(
                "iterator yields record {lsn} past next_lsn ({context})"
            ));
        }
        let (want, generation) = expect.model.get(lsn).expect("lsn < next <= model.next()");
        if record.payload() != want {
            let ghost = expect
                .earlier
                .and_then(|m| m.get(lsn))
                .is_some_and(|(old, _)| old == record.payload());
            let what = if ghost {
                "it is the record from before the first crash, which recovery had cut off"
            } else if lsn < expect.durable_lsn {
                "a durable record changed"
            } else {
                "it is not the record appended at this LSN (a cut-off or truncated record came \
                 back?)"
            };
            return Err(format!(
                "record {lsn} payload differs ({} bytes, expected {} bytes of generation \
                 {generation:#x}): {what} ({context})",
                record.payload().len(),
                want.len()
            ));
        }
        lsn += 1;
    }
    if lsn != next {
        return Err(format!(
            "iterator stopped at {lsn} before next_lsn ({context})"
        ));
    }
    if let Some(b) = expect
        .model
        .batches
        .iter()
        .find(|b| b.start < next && next < b.end)
    {
        return Err(format!("atomic batch {b:?} recovered in part ({context})"));
    }
    Ok(log)
}

// ---------------------------------------------------------------------------------------
// Driving the engine

/// A live log and its model.
struct Driver {
    log: Log,
    dir: PathBuf,
    /// The disk's state, from the syncs the engine made.
    disk: DiskModel,
    model: Model,
    generation: u32,
    payload_seed: u64,
    rng: Rng,
    truncate_backs: u64,
}

/// A synced state: the directory's files and what was acknowledged.
struct Synced {
    files: Files,
    durable_lsn: u64,
    first_lsn: u64,
}

impl Driver {
    fn next_payload(&self, lsn: u64) -> Vec<u8> {
        payload(self.payload_seed, self.generation, lsn)
    }

    /// One random append: a record, a batch, a reservation committed or dropped.
    fn append_random(&mut self) -> Result<(), Error> {
        let lsn = self.model.next();
        match self.rng.below(20) {
            0..=11 => {
                let p = self.next_payload(lsn);
                let got = self.log.append(&p)?;
                assert_eq!(got, lsn, "append returned the wrong LSN");
                self.model.push(self.generation, p);
            }
            12..=14 => {
                let count = self.rng.range(2..6);
                let payloads: Vec<Vec<u8>> =
                    (lsn..lsn + count).map(|l| self.next_payload(l)).collect();
                let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
                let range = self.log.append_batch(&refs)?;
                assert_eq!(
                    range,
                    lsn..lsn + count,
                    "append_batch returned the wrong LSNs"
                );
                for p in payloads {
                    self.model.push(self.generation, p);
                }
                self.model.batches.push(range);
            }
            15..=18 => {
                let p = self.next_payload(lsn);
                let mut r = self.log.reserve(p.len())?;
                r.copy_from_slice(&p);
                let got = r.commit()?;
                assert_eq!(got, lsn, "commit returned the wrong LSN");
                self.model.push(self.generation, p);
            }
            _ => {
                let len = self.rng.below(PAYLOAD_LEN_MAX);
                let mut r = self.log.reserve(usize::try_from(len).expect("small"))?;
                r.fill(0xa5);
                drop(r);
                assert_eq!(
                    self.log.next_lsn(),
                    lsn,
                    "a dropped reservation took an LSN"
                );
            }
        }
        Ok(())
    }

    /// Appends a random number of records: usually a few, sometimes enough to rotate into
    /// one or two new segments (a 64 KiB segment holds about 65 of these records).
    fn append_unsynced(&mut self) -> Result<(), Error> {
        let count = match self.rng.below(10) {
            0 => 0,
            1..=5 => self.rng.range(1..12),
            6..=8 => self.rng.range(12..60),
            _ => self.rng.range(60..140),
        };
        for _ in 0..count {
            self.append_random()?;
        }
        Ok(())
    }

    fn synced(&mut self, durable_lsn: u64) -> Synced {
        Synced {
            files: self.disk.image(),
            durable_lsn,
            first_lsn: self.log.first_lsn(),
        }
    }

    /// The end of a round: sometimes `truncate_back` (then either a crash right after it
    /// returned, or more appends), sometimes `truncate_front`, then `sync`. Returns the
    /// synced state.
    fn sync_point(&mut self) -> Result<Synced, Error> {
        if self.rng.chance(1, 6) {
            let (first, next) = (self.model.first, self.model.next());
            let lsn = self.rng.range(first.max(next.saturating_sub(40))..next + 1);
            self.log.truncate_back(lsn)?;
            self.model.truncate(lsn);
            assert_eq!(self.log.next_lsn(), lsn, "next_lsn after truncate_back");
            self.truncate_backs += 1;
            // Usually the records appended from here on differ from the ones removed, so a
            // removed record that comes back is caught by its content. Sometimes they are
            // the same payloads again (the case the format's per-writer epoch is for): a
            // removed record that comes back then shows up past the appended ones.
            if self.rng.chance(1, 2) {
                self.generation += 1;
            }
            if self.rng.chance(1, 2) {
                // The removal is durable when truncate_back returns: this is a synced
                // state, and the durable LSN is what the engine acknowledges.
                return Ok(self.synced(self.log.durable_lsn()));
            }
            for _ in 0..self.rng.below(8) {
                self.append_random()?;
            }
        }
        self.truncate_front_if_long()?;
        let durable = self.log.sync()?;
        assert_eq!(
            durable,
            self.model.next(),
            "sync returned a short durable LSN"
        );
        Ok(self.synced(durable))
    }

    /// Frees old segments so that the log stays a handful of segments.
    fn truncate_front_if_long(&mut self) -> Result<(), Error> {
        let bases = segment_bases(&self.dir);
        if bases.len() > SEGMENTS_KEPT + 1 {
            let lsn = bases[bases.len() - SEGMENTS_KEPT];
            let first = self.log.truncate_front(lsn)?;
            assert_eq!(first, lsn, "truncate_front kept the wrong segments");
            self.model.first = first;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// The run

struct Run {
    name: &'static str,
    durability: Durability,
    seed: u64,
    /// Tells the durability modes' scenarios apart.
    salt: u64,
    images_target: u64,
    root: tempfile::TempDir,
    images: u64,
    second_images: u64,
    violations: u64,
    shown: Vec<String>,
    /// Images whose new state has a segment file created after the sync.
    rotated: u64,
    /// Images whose recovery cut records off (a torn tail).
    torn: u64,
    truncate_backs: u64,
}

impl Run {
    fn options(&self) -> Options {
        Options::default()
            .segment_size(SEGMENT_SIZE)
            .durability(self.durability)
    }

    fn violation(&mut self, image: &Files, what: String) {
        self.violations += 1;
        if self.shown.len() < VIOLATIONS_SHOWN {
            // Keep the crash image (as it was before recovery touched it) for inspection.
            let keep = std::env::temp_dir().join(format!(
                "mmlog-power-loss-violation-{}-{:#x}-{}",
                self.name,
                self.seed,
                self.shown.len()
            ));
            let _ = std::fs::remove_dir_all(&keep);
            write_image(&keep, image);
            self.shown.push(format!(
                "{what}\n    crash image kept in {}",
                keep.display()
            ));
        }
    }

    fn scenario(&mut self, scenario: u64) {
        let scenario_seed = mix(&[self.seed, self.salt, scenario]);
        let dir = self.root.path().join(format!("live-{scenario}"));
        let log = Log::open(&dir, self.options()).expect("open a fresh log");
        let mut driver = Driver {
            log,
            disk: DiskModel::new(&dir),
            dir: dir.clone(),
            model: Model::default(),
            generation: 0,
            payload_seed: scenario_seed,
            rng: Rng::new(scenario_seed),
            truncate_backs: 0,
        };
        // A fresh log is synced: open made its first segment durable.
        let mut synced = driver.synced(0);
        for round in 0..ROUNDS_PER_SCENARIO {
            driver
                .append_unsynced()
                .unwrap_or_else(|e| panic!("seed {:#x}: append: {e}", self.seed));
            let new = snapshot(&dir);
            let count = driver.rng.range(1..25);
            for _ in 0..count {
                if self.images >= self.images_target {
                    break;
                }
                let image_seed = driver.rng.next_u64();
                self.crash(&driver, &synced, &new, image_seed, scenario, round);
            }
            if self.images >= self.images_target {
                break;
            }
            synced = driver
                .sync_point()
                .unwrap_or_else(|e| panic!("seed {:#x}: sync point: {e}", self.seed));
        }
        self.truncate_backs += driver.truncate_backs;
        drop(driver);
        remove_dir(&dir);
    }

    /// One first crash image, and sometimes a second crash after it.
    fn crash(
        &mut self,
        driver: &Driver,
        synced: &Synced,
        new: &Files,
        image_seed: u64,
        scenario: u64,
        round: u64,
    ) {
        let number = self.images;
        self.images += 1;
        if new
            .keys()
            .any(|name| name.ends_with(".seg") && !synced.files.contains_key(name))
        {
            self.rotated += 1;
        }
        let image = crash_image(&synced.files, new, image_seed);
        let dir = self.root.path().join(format!("image-{number}"));
        write_image(&dir, &image);
        let expect = Expect {
            model: &driver.model,
            durable_lsn: synced.durable_lsn,
            first_lsn: synced.first_lsn,
            earlier: None,
        };
        match check(&dir, self.options(), &expect) {
            Err(what) => {
                let what = format!(
                    "{} seed {:#x} image {number} (scenario {scenario}, round {round}): {what}",
                    self.name, self.seed
                );
                self.violation(&image, what);
            }
            Ok(log) => {
                if log.next_lsn() < driver.model.next() {
                    self.torn += 1;
                }
                if number % SECOND_CRASH_EVERY == SECOND_CRASH_EVERY - 1 {
                    self.second_crash(log, &dir, &driver.model, image_seed, number);
                }
            }
        }
        remove_dir(&dir);
    }

    /// Drives a recovered log on: generation-2 appends, sync, more appends, crash again.
    fn second_crash(&mut self, log: Log, dir: &Path, before: &Model, seed: u64, number: u64) {
        let cut = log.next_lsn();
        let mut model = before.clone();
        model.truncate(cut);
        model.first = log.first_lsn();
        let mut driver = Driver {
            log,
            disk: DiskModel::new(dir),
            dir: dir.to_path_buf(),
            model,
            generation: GENERATION_2,
            payload_seed: seed,
            rng: Rng::new(mix(&[seed, 2])),
            truncate_backs: 0,
        };
        let fail = |e: Error| -> String { format!("the recovered log refused an operation: {e}") };
        let states = (|| -> Result<(Synced, Files), String> {
            for _ in 0..driver.rng.below(30) {
                driver.append_random().map_err(fail)?;
            }
            let synced = driver.sync_point().map_err(fail)?;
            driver.append_unsynced().map_err(fail)?;
            Ok((synced, snapshot(dir)))
        })();
        let (synced, new) = match states {
            Ok(states) => states,
            Err(what) => {
                let what = format!(
                    "{} seed {:#x} image {number}, after recovery: {what}",
                    self.name, self.seed
                );
                let image = snapshot(dir);
                self.violation(&image, what);
                return;
            }
        };
        for k in 0..SECOND_CRASH_IMAGES {
            self.second_images += 1;
            let image = crash_image(&synced.files, &new, mix(&[seed, 3, k]));
            let dir2 = self.root.path().join(format!("image-{number}-again-{k}"));
            write_image(&dir2, &image);
            let expect = Expect {
                model: &driver.model,
                durable_lsn: synced.durable_lsn,
                first_lsn: synced.first_lsn,
                earlier: Some(before),
            };
            if let Err(what) = check(&dir2, self.options(), &expect) {
                let what = format!(
                    "{} seed {:#x} image {number}, second crash {k} (first recovery ended at \
                     LSN {cut}): {what}",
                    self.name, self.seed
                );
                self.violation(&image, what);
            }
            remove_dir(&dir2);
        }
        self.truncate_backs += driver.truncate_backs;
    }
}

fn power_loss(name: &'static str, durability: Durability, salt: u64) {
    let seed = env_u64("MMLOG_SEED").unwrap_or(SEED_DEFAULT);
    let total = env_u64("MMLOG_POWER_LOSS_IMAGES").unwrap_or(IMAGES_DEFAULT);
    let mut run = Run {
        name,
        durability,
        seed,
        salt,
        // Half of the images per durability mode (the two tests run side by side).
        images_target: total.div_ceil(2),
        root: scratch_root(),
        images: 0,
        second_images: 0,
        violations: 0,
        shown: Vec::new(),
        rotated: 0,
        torn: 0,
        truncate_backs: 0,
    };
    let started = Instant::now();
    let mut scenario = 0;
    while run.images < run.images_target {
        run.scenario(scenario);
        scenario += 1;
    }
    println!(
        "power_loss {name}: seed {seed:#x} (MMLOG_SEED), {scenario} scenarios, {} crash images \
         tried ({} with a segment created after the sync, {} recovered with a torn tail cut), \
         {} second-crash images, {} truncate_back calls, {} violations, {:.1} s",
        run.images,
        run.rotated,
        run.torn,
        run.second_images,
        run.truncate_backs,
        run.violations,
        started.elapsed().as_secs_f64()
    );
    assert!(
        run.violations == 0,
        "power_loss {name}: {} violations (seed {seed:#x}; rerun with MMLOG_SEED={seed:#x}); \
         the first ones:\n  {}",
        run.violations,
        run.shown.join("\n  ")
    );
    assert!(run.images >= run.images_target, "too few images tried");
}

#[test]
#[cfg_attr(miri, ignore)]
fn power_loss_msync() {
    power_loss("msync", Durability::Msync, 1);
}

#[test]
#[cfg_attr(miri, ignore)]
fn power_loss_fdatasync() {
    power_loss("fdatasync", Durability::Fdatasync, 2);
}

/// The same simulation with `Durability::IoUring` (its syncs are recorded like msyncs: the
/// kernel syncs the same ranges). Skipped, saying so, where io_uring is refused.
#[cfg(feature = "io-uring")]
#[test]
#[cfg_attr(miri, ignore)]
fn power_loss_io_uring() {
    let probe = tempfile::tempdir().expect("a temporary directory");
    match Log::open(
        probe.path(),
        Options::default()
            .segment_size(64 * 1024)
            .durability(Durability::IoUring),
    ) {
        Err(mmlog::Error::Unsupported(why)) => {
            eprintln!("skipping power_loss_io_uring: {why}");
            return;
        }
        other => drop(other.expect("open with Durability::IoUring")),
    }
    power_loss("io_uring", Durability::IoUring, 3);
}

/// The smallest case of a torn tail that spans segments: two rotations after the last
/// sync, and the directory entry of the first new segment is lost while the second one's
/// reached the disk (nothing was fsynced in between, so the file system may persist them
/// in either order). Every record from the lost segment on lies beyond the durable point:
/// `open` must cut the log there, not refuse it as corrupt.
#[test]
#[cfg_attr(miri, ignore)]
fn lost_unsynced_segment_before_a_later_one_is_a_torn_tail() {
    let root = scratch_root();
    let live = root.path().join("live");
    let options = || Options::default().segment_size(SEGMENT_SIZE);
    let log = Log::open(&live, options()).expect("open a fresh log");
    for lsn in 0..10 {
        log.append(&payload(1, 0, lsn)).expect("append");
    }
    assert_eq!(log.sync().expect("sync"), 10);
    // Unsynced, until the log has rotated twice (a segment holds less than 52 KiB).
    while segment_bases(&live).len() < 3 {
        log.append(&[7u8; 2000]).expect("append");
    }
    let bases = segment_bases(&live);
    let mut image = snapshot(&live);
    image.remove(&format!("{:020}.seg", bases[1]));
    let crashed = root.path().join("crashed");
    write_image(&crashed, &image);
    let recovered = Log::open(&crashed, options()).unwrap_or_else(|e| {
        panic!(
            "segments {bases:?}, durable LSN 10, segment {} lost: open must cut the log at \
             LSN {} (a torn tail beyond the durable point), but failed: {e}",
            bases[1], bases[1]
        )
    });
    assert_eq!(recovered.next_lsn(), bases[1]);
    let records = recovered
        .iter()
        .collect::<Result<Vec<_>, _>>()
        .expect("the kept records read back");
    let count = records.len();
    assert_eq!(count as u64, bases[1]);
}

/// A segment sealed after the last sync: its trailer page reached the disk, but the page
/// with its last records did not (mmap writeback persists pages in any order). Those
/// records lie beyond the durable point: `open` must cut them, and never serve a record
/// that fails its checksum or was never written.
#[test]
#[cfg_attr(miri, ignore)]
fn trailer_without_its_last_records_is_a_torn_tail() {
    let root = scratch_root();
    let live = root.path().join("live");
    let options = || Options::default().segment_size(SEGMENT_SIZE);
    let log = Log::open(&live, options()).expect("open a fresh log");
    let mut appended = Vec::new();
    let mut append = |log: &Log| {
        let lsn = appended.len() as u64;
        let p = payload(2, 0, lsn);
        assert_eq!(log.append(&p).expect("append"), lsn);
        appended.push(p);
    };
    for _ in 0..10 {
        append(&log);
    }
    assert_eq!(log.sync().expect("sync"), 10);
    let synced = snapshot(&live);
    // Unsynced, until the first segment is sealed and the next one has a record.
    while segment_bases(&live).len() < 2 {
        append(&log);
    }
    append(&log);
    let mut image = snapshot(&live);
    let first = format!("{:020}.seg", 0);
    let (old, new) = (&synced[&first], image.get_mut(&first).expect("segment 0"));
    // The last page of the record area that changed since the sync keeps its synced
    // content; everything else (the trailer and index pages too) is new.
    let record_area_end = usize::try_from(SEGMENT_SIZE).expect("small") - 2 * PAGE_LEN;
    let page = (0..record_area_end / PAGE_LEN)
        .rev()
        .find(|&i| old[i * PAGE_LEN..(i + 1) * PAGE_LEN] != new[i * PAGE_LEN..(i + 1) * PAGE_LEN])
        .expect("records were appended to segment 0 after the sync");
    new[page * PAGE_LEN..(page + 1) * PAGE_LEN]
        .copy_from_slice(&old[page * PAGE_LEN..(page + 1) * PAGE_LEN]);
    let crashed = root.path().join("crashed");
    write_image(&crashed, &image);
    let recovered = Log::open(&crashed, options()).expect("a torn tail is not corruption");
    assert!(recovered.next_lsn() >= 10, "durable records lost");
    let mut lsn = 0;
    for record in recovered.iter() {
        let record = record.unwrap_or_else(|e| {
            panic!("record {lsn} of the recovered log does not read back: {e}")
        });
        assert_eq!(record.lsn(), lsn);
        assert!(
            record.payload() == appended[lsn as usize],
            "record {lsn} changed"
        );
        lsn += 1;
    }
    assert_eq!(lsn, recovered.next_lsn(), "LSNs not dense");
}
