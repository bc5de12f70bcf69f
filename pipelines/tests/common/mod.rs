//! Helpers shared by the integration tests of `trawl-pipelines`.

// Each test area uses a different part of the harness.
#![allow(
    dead_code,
    reason = "shared test helpers; not every test binary uses all of them"
)]

pub mod docker;
pub mod lttng;

use lttng::{LttngDaemon, LttngError};

/// Starts a private LTTng session daemon, or prints why not and returns `None`
/// (the caller returns: the test is skipped, not failed).
///
/// Any error other than "LTTng is not available here" fails the test.
pub fn lttng_or_skip() -> Option<LttngDaemon> {
    match LttngDaemon::start() {
        Ok(daemon) => Some(daemon),
        Err(LttngError::Unavailable(why)) => {
            eprintln!("skipped: {why}");
            None
        }
        Err(e) => panic!("private lttng-sessiond: {e}"),
    }
}
