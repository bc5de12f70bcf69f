//! Command-line interface: argument definitions and dispatch.

mod cat;
mod convert;
mod ls;
mod sql;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use cat::{CatArgs, OutputFormat};
pub use convert::{ConvertArgs, ConvertFormat};
pub use ls::LsArgs;
pub use sql::{SqlArgs, SqlFormat};

/// trawl: container-aware performance analysis with LTTng.
///
/// Reads LTTng (CTF 1.8) traces, decodes them into typed Arrow tables and
/// prints, converts or exports them. See DESIGN.md for the architecture.
#[derive(Debug, Parser)]
#[command(name = "trawl", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the events of traces, merged by time, like `babeltrace2 TRACE...`.
    ///
    /// INPUT is a trace directory (one holding a `metadata` file) or any
    /// directory above traces: an LTTng session output (`kernel/`,
    /// `ust/uid/*/64-bit`, `ust/pid/*`), several sessions, or a relay
    /// daemon's `HOST/SESSION` tree. Every trace found is read and all events
    /// are merged by timestamp.
    ///
    /// The default text output is byte-identical to babeltrace2's default
    /// (`sink.text.pretty`) output. Times print in the local time zone; set
    /// TZ (e.g. TZ=UTC) to choose it.
    ///
    /// A packet that cannot be decoded is reported on stderr with the trace,
    /// the stream file and the byte offset; its stream continues at the next
    /// packet and trawl exits with status 1 at the end.
    Cat(CatArgs),
    /// List the tracing sessions an LTTng relay daemon serves live.
    ///
    /// Prints one line per session as babeltrace2 does
    /// (`babeltrace2 --input-format=lttng-live net://HOST`):
    /// `net://HOST[:PORT]/host/HOSTNAME/SESSION (timer = µs, N stream(s), M client(s) connected)`.
    /// The relay daemon listens for viewers on port 5344 of localhost by default.
    Ls(LsArgs),
    /// Convert traces into a Parquet data directory that `trawl sql` and any
    /// Parquet reader can query.
    ///
    /// INPUT is found as for `trawl cat`. The output holds one dataset
    /// (directory) per event class, named after the class
    /// (`lttng_ust_libc:malloc` → `lttng_ust_libc_malloc`), partitioned as
    /// `host=H/date=YYYY-MM-DD/hour=HH/`, plus `losses` (discarded events and
    /// lost packets). Files appear atomically, sorted by `ts`; an interrupted
    /// conversion leaves no partial file, and the next run into the same
    /// directory cleans up after it (rows already written are kept).
    Convert(ConvertArgs),
    /// Run a SQL query (DataFusion) over a data directory.
    ///
    /// Tables: one per event class (as named by `trawl convert`), `losses`,
    /// and the `events` view (`ts, host, domain, stream_id, cpu, event` of
    /// every event table). Example:
    /// `trawl sql --data out "SELECT event, count(*) FROM events GROUP BY event"`.
    Sql(SqlArgs),
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode, Box<dyn std::error::Error>> {
    match cli.command {
        Command::Cat(args) => cat::run(args),
        Command::Ls(args) => ls::run(args),
        Command::Convert(args) => convert::run(args),
        Command::Sql(args) => sql::run(args),
    }
}
