//! Any segment images (raw, or built valid and then damaged) through `recovery::plan` in
//! both `Recovery` modes and through `scan` and `nonzero_end` directly: a plan or
//! `Error::Corrupt`, never a panic, reads bounded by the file, and every kept prefix
//! decodes record by record. The logic is `checks::check_recovery`, shared with
//! `tests/integration/fuzz_replay.rs`.
#![no_main]

mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check_recovery(data));
