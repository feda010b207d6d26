//! Operations (append, append_batch, reserve + commit or drop, sync, truncate_front,
//! truncate_back, close or drop + reopen, iter_from) on a real `Log` with 64 KiB segments
//! against a `Vec`-backed model. The logic is `model::run_model`, shared with
//! `tests/integration/fuzz_replay.rs`.
#![no_main]

mod checks;
mod model;

libfuzzer_sys::fuzz_target!(|data: &[u8]| model::run_model(data));
