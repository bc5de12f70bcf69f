//! The `trawl` command: see `trawl --help`.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = trawl_pipelines::cli::Cli::parse();
    match trawl_pipelines::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("trawl: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
