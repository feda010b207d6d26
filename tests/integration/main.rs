//! One integration test binary (one link): the modules check the contract's promises.
mod api;
mod util;
