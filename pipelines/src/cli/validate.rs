//! `trawl validate CONFIG`: check a pipeline config, print its topology.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::pipeline::{RunError, Topology};

/// Arguments of `trawl validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The pipeline config (TOML).
    #[arg(value_name = "CONFIG")]
    pub config: PathBuf,
}

pub(super) fn run(args: ValidateArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    Ok(match Topology::load(&args.config) {
        Ok(topology) => {
            print!("{}", topology.summary());
            ExitCode::SUCCESS
        }
        Err(e) => config_error(&e),
    })
}

/// Prints a config that cannot be read or is wrong; exit status 2.
pub(super) fn config_error(e: &RunError) -> ExitCode {
    match e {
        RunError::Config(errors) => {
            for error in &errors.errors {
                eprintln!("trawl: error: {}:{error}", errors.file);
            }
        }
        other => eprintln!("trawl: error: {other}"),
    }
    ExitCode::from(2)
}
