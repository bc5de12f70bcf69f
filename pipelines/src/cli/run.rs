//! `trawl run CONFIG`: run a pipeline until its sources end or a signal.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::validate::config_error;
use crate::pipeline::{Shutdown, Topology};

/// Arguments of `trawl run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The pipeline config (TOML).
    #[arg(value_name = "CONFIG")]
    pub config: PathBuf,
}

pub(super) fn run(args: RunArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let topology = match Topology::load(&args.config) {
        Ok(t) => t,
        Err(e) => return Ok(config_error(&e)),
    };
    let shutdown = Shutdown::new();
    let _signals = shutdown.on_signals()?;
    let report = topology.run(&shutdown)?;
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
