//! Integration tests of `trawl-exporter`: one binary, one module per area.

#![allow(
    clippy::unwrap_used,
    reason = "tests: a failed unwrap is a failed test"
)]

mod common;

mod acceptance;
mod prometheus;
