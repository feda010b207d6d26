//! One integration test binary (one link): the modules check the contract's promises.
mod api;
#[cfg(feature = "cli")]
mod cli;
mod concurrency;
#[cfg(feature = "cli")]
mod crash;
mod crash_threads;
mod dirty_pages;
mod disk_full;
mod fixtures;
mod fuzz_replay;
mod model;
mod power_loss;
mod recovery;
mod tail;
mod util;
