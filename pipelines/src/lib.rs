//! The `trawl` command, pipeline configuration, topology and runner.

pub mod cli;
pub mod pipeline;
pub mod stages;
