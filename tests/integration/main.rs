//! One integration test binary (one link): the modules check the contract's promises.
mod api;
mod disk_full;
mod fixtures;
mod model;
mod power_loss;
mod recovery;
mod tail;
mod util;
