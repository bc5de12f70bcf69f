//! The `trawl` command and, later, pipeline configuration and topology.

pub mod cli;
