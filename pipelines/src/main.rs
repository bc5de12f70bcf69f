//! The `trawl` command: see `trawl --help`.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = trawl_pipelines::cli::Cli::parse();
    match trawl_pipelines::cli::run(cli) {
        Ok(code) => code,
        // The reader went away (`trawl cat ... | head`): not an error.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("trawl: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
