//! Integration tests of `trawl-pipelines`: one binary, one module per area.

#![allow(
    clippy::unwrap_used,
    reason = "tests: a failed unwrap is a failed test"
)]

mod common;

mod cat;
mod cat_live;
mod convert;
mod enrich;
mod generated;
mod ls;
mod lttng_harness;
mod pipeline;
