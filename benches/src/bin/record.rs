//! `trawl-record`: records a real LTTng-UST trace of one program run under the
//! libc wrapper, with every container context, through trawl's private-daemon
//! harness (the one the integration tests use). By default the session is a
//! live one streamed through a private `lttng-relayd`, so the trace on disk is
//! exactly what a live viewer is served. Prints the trace directory last.
//!
//! ```text
//! trawl-record --out target/trawl-demo -- /bin/ls -lR /usr/share/doc
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};

#[path = "../../../pipelines/tests/common/lttng/mod.rs"]
#[allow(
    dead_code,
    reason = "shared with the integration tests; not all of it is used here"
)]
mod lttng;

/// Live timer of the session (µs).
const LIVE_TIMER_US: u64 = 100_000;

/// How long the traced program may run.
const RUN_TIMEOUT: Duration = Duration::from_secs(600);

/// Command line.
#[derive(Debug, Parser)]
#[command(
    name = "trawl-record",
    about = "Records an LTTng-UST libc trace of one program run"
)]
struct Cli {
    /// Output directory (emptied first).
    #[arg(long, default_value = "target/trawl-demo")]
    out: PathBuf,
    /// Record straight to a local directory instead of through a live relay daemon.
    #[arg(long)]
    local: bool,
    /// Buffering scheme.
    #[arg(long, value_enum, default_value_t = BufferArg::Uid)]
    buffers: BufferArg,
    /// The program and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    command: Vec<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum BufferArg {
    /// Per-user buffers.
    Uid,
    /// Per-process buffers.
    Pid,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match record(&cli) {
        Ok(trace) => {
            println!("{}", trace.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("trawl-record: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn record(cli: &Cli) -> Result<PathBuf, lttng::LttngError> {
    let Some((program, args)) = cli.command.split_first() else {
        return Err(lttng::LttngError::Unavailable(
            "no program given".to_owned(),
        ));
    };
    if cli.out.exists() {
        std::fs::remove_dir_all(&cli.out).map_err(|source| lttng::LttngError::Io {
            what: "remove",
            path: cli.out.clone(),
            source,
        })?;
    }
    let out = std::path::absolute(&cli.out).unwrap_or_else(|_| cli.out.clone());
    let daemon = lttng::LttngDaemon::start()?;
    let buffers = match cli.buffers {
        BufferArg::Uid => lttng::Buffers::PerUid,
        BufferArg::Pid => lttng::Buffers::PerPid,
    };
    let relayd = if cli.local {
        None
    } else {
        Some(daemon.start_relayd(&out)?)
    };
    let builder = daemon
        .session("trawl-demo")
        .buffers(buffers)
        .contexts(lttng::ALL_CONTEXTS);
    let session = match &relayd {
        Some(relayd) => builder.live(relayd, LIVE_TIMER_US),
        None => builder.output(&out),
    }
    .create()?;
    session.start()?;
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    eprintln!("tracing: {program} {}", args.join(" "));
    session.run_traced(Path::new(program), &args, RUN_TIMEOUT)?;
    session.stop()?;
    session.destroy()
}
