//! Command-line interface: argument definitions and dispatch.

mod cat;
mod cat_live;
mod containers;
mod convert;
mod ls;
mod run;
mod sql;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use cat::{CatArgs, NotFound, OutputFormat};
pub use containers::{ContainersArgs, ContainersFormat};
pub use convert::{ConvertArgs, ConvertFormat};
pub use ls::LsArgs;
pub use run::RunArgs;
pub use sql::{SqlArgs, SqlFormat};
pub use validate::ValidateArgs;

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
    ///
    /// INPUT may also be a live session of an LTTng relay daemon,
    /// `net://RELAY[:PORT]/host/HOSTNAME/SESSION` (see `trawl ls`): events
    /// print as they are recorded, in time order across streams and
    /// sessions, until the sessions end or Ctrl-C. A lost connection is
    /// retried with backoff and resumed where it stopped.
    Cat(CatArgs),
    /// List the tracing sessions an LTTng relay daemon serves live.
    ///
    /// Prints one line per session as babeltrace2 does
    /// (`babeltrace2 --input-format=lttng-live net://HOST`):
    /// `net://HOST[:PORT]/host/HOSTNAME/SESSION (timer = µs, N stream(s), M client(s) connected)`.
    /// The relay daemon listens for viewers on port 5344 of localhost by default.
    Ls(LsArgs),
    /// List the containers of this host, as the enrichment watchers see them.
    ///
    /// One line per container: id, name, image, Kubernetes pod
    /// (namespace/pod/container, from the CRI labels), namespace inodes (what
    /// trace events carry in their `pid_ns`/`net_ns`/... contexts) and pids.
    /// Asks the Docker Engine API; when its socket does not answer, says so
    /// and finds containers from /proc and cgroup paths (docker, containerd,
    /// CRI-O, podman, kubepods; no names or images then).
    Containers(ContainersArgs),
    /// Run a pipeline: sources, transforms and sinks from a config file.
    ///
    /// Runs until every source has ended, or until SIGINT/SIGTERM: then the
    /// sources stop, every queue drains, every transform and sink flushes,
    /// and the exit status is 0 (a second signal exits at once, status
    /// 130). Each stage's counters (events, batches, bytes in and out,
    /// stalls on full queues, lag) go to stderr every
    /// `runner.metrics_interval_secs` and at the end. Exit status 1 when a
    /// stage failed or reported input errors, 2 when the config is wrong.
    Run(RunArgs),
    /// Check a pipeline config and print its topology.
    ///
    /// Exit status 0 and one line per stage (type and inputs), or one line
    /// per mistake (`FILE:LINE:COLUMN: PATH: what is wrong`) and status 2.
    Validate(ValidateArgs),
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

/// The live URLs among `inputs` (`net://...`), or `None` when they are all
/// paths; mixing both is an error.
fn live_urls(
    inputs: &[std::path::PathBuf],
) -> Result<Option<Vec<trawl_source_lttng::live::LiveUrl>>, Box<dyn std::error::Error>> {
    let is_live = |p: &std::path::PathBuf| p.to_str().is_some_and(|s| s.contains("://"));
    if !inputs.iter().any(is_live) {
        return Ok(None);
    }
    let mut urls = Vec::new();
    for p in inputs {
        if !is_live(p) {
            return Err(format!(
                "{}: trace directories and live URLs cannot be read together",
                p.display()
            )
            .into());
        }
        urls.push(trawl_source_lttng::live::LiveUrl::parse(
            &p.to_string_lossy(),
        )?);
    }
    Ok(Some(urls))
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode, Box<dyn std::error::Error>> {
    match cli.command {
        Command::Cat(args) => cat::run(args),
        Command::Ls(args) => ls::run(args),
        Command::Containers(args) => containers::run(args),
        Command::Run(args) => run::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Convert(args) => convert::run(args),
        Command::Sql(args) => sql::run(args),
    }
}
