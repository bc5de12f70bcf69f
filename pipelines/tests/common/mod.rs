//! Helpers shared by the integration tests of `trawl-pipelines`.

// Each test area uses a different part of the harness.
#![allow(
    dead_code,
    reason = "shared test helpers; not every test binary uses all of them"
)]

pub mod docker;
pub mod lttng;

use std::path::{Path, PathBuf};

use lttng::{LttngDaemon, LttngError};

/// Every file under `dir`, at any depth.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

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
