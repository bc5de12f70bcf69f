//! Integration tests of `trawl-pipelines`: one binary, one module per area.

mod common;

mod cat;
mod lttng_harness;
