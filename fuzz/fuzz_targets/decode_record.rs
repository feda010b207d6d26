//! Any bytes into every decoder of `mmlog::format` (segment header, records at offsets
//! from the input and the chain after them, durable slots, trailer, index entries):
//! never a panic, and every value that decodes re-encodes to the same bytes.
//! The logic is `checks::check_decoders`, shared with `tests/integration/fuzz_replay.rs`.
#![no_main]

mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check_decoders(data));
