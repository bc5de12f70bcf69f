//! `trawl-compare`: times `trawl cat --format none` against `babeltrace2` with a
//! dummy sink on the same real LTTng-UST trace, side by side in one run.
//! With `--mode convert`, the trawl side is `trawl convert TRACE --out DIR`
//! (decode and write Parquet), and the Parquet bytes per event are set
//! against the CTF bytes per event.
//!
//! It records (or reuses, or takes with `--trace`) a trace of ≥ 4 M
//! `lttng_ust_libc:malloc`/`free` events with every container context, runs
//! both decoders `--reps` times alternating, and reports events/s, the ratio
//! and each one's peak RSS; then peak RSS on 2× and 4× larger traces, to show
//! whether memory stays flat as traces grow.
//!
//! Until `trawl cat` exists, it measures babeltrace2 alone and then fails,
//! saying so.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use clap::{Parser, Subcommand};
use trawl_benches::{
    BabeltraceError, MeasureError, Measurement, count_events, events_per_second, measure, median,
    run_and_report,
};

#[path = "../../../pipelines/tests/common/lttng/mod.rs"]
#[allow(
    dead_code,
    reason = "shared with the integration tests; not all of it is used here"
)]
mod lttng;

/// Default size of the 1× trace (events).
const DEFAULT_EVENTS: u64 = 4_000_000;

/// Default number of timed runs of each decoder.
const DEFAULT_REPS: u32 = 3;

/// Trace sizes (multiples of the 1× trace) of the memory-scaling runs.
const SCALES: [u64; 3] = [1, 2, 4];

/// Command line.
#[derive(Debug, Parser)]
#[command(
    name = "trawl-compare",
    about = "Times `trawl cat` against babeltrace2 on the same LTTng trace",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Sub>,
    /// Use this trace instead of recording one.
    #[arg(long)]
    trace: Option<PathBuf>,
    /// The `trawl` binary (default: next to this one, i.e. target/release/trawl).
    #[arg(long)]
    trawl: Option<PathBuf>,
    /// Timed runs of each decoder.
    #[arg(long, default_value_t = DEFAULT_REPS)]
    reps: u32,
    /// Events in the recorded 1× trace.
    #[arg(long, default_value_t = DEFAULT_EVENTS)]
    events: u64,
    /// Where recorded traces are kept and reused (default: target/trawl-compare).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Skip the 2×/4× memory-scaling runs.
    #[arg(long)]
    no_scaling: bool,
    /// What the trawl side does with the trace.
    #[arg(long, value_enum, default_value_t = Mode::Cat)]
    mode: Mode,
}

/// The trawl command measured against babeltrace2's dummy sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Mode {
    /// `trawl cat --format none`: decode into Arrow batches.
    Cat,
    /// `trawl convert --out DIR`: decode and write Parquet files.
    Convert,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Mode::Cat => "trawl cat --format none",
            Mode::Convert => "trawl convert (Parquet)",
        }
    }
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Internal: run a command and report its wall time and peak RSS.
    #[command(hide = true)]
    Measure {
        /// The command and its arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        command: Vec<OsString>,
    },
}

/// Why a comparison could not be made.
#[derive(Debug, thiserror::Error)]
enum CompareError {
    #[error(transparent)]
    Lttng(#[from] lttng::LttngError),
    #[error(transparent)]
    Measure(#[from] MeasureError),
    #[error(transparent)]
    Babeltrace(#[from] BabeltraceError),
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("`trawl cat` is not available ({path}): {why}")]
    TrawlUnavailable { path: PathBuf, why: String },
    #[error("{0}")]
    Usage(String),
    #[error(
        "the recording lost {events} events and {packets} packets; a benchmark trace must be complete"
    )]
    LossyRecording { events: u64, packets: u64 },
}

fn io_err(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> CompareError {
    let path = path.to_path_buf();
    move |source| CompareError::Io { what, path, source }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Sub::Measure { command }) = &cli.command {
        let Some((program, args)) = command.split_first() else {
            return ExitCode::from(2);
        };
        return run_and_report(program, args);
    }
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("trawl-compare: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<(), CompareError> {
    if cli.reps == 0 || cli.events < 2 {
        return Err(CompareError::Usage(
            "--reps must be > 0 and --events >= 2".to_owned(),
        ));
    }
    let me = std::env::current_exe().map_err(io_err("locate", Path::new("current_exe")))?;
    let exe_dir = me.parent().unwrap_or(Path::new("."));
    let trawl_path = cli.trawl.clone().unwrap_or_else(|| exe_dir.join("trawl"));
    let trawl = check_trawl(&trawl_path, cli.mode);
    if let Err(e) = &trawl {
        eprintln!(
            "warning: {e}\nwarning: measuring babeltrace2 only; this run will fail at the end"
        );
    }
    let work_dir = match &cli.work_dir {
        Some(dir) => dir.clone(),
        None => exe_dir.parent().unwrap_or(exe_dir).join("trawl-compare"),
    };
    fs::create_dir_all(&work_dir).map_err(io_err("create", &work_dir))?;
    let trawl_ok = trawl.as_ref().ok().map(|t| Trawl {
        path: t.clone(),
        mode: cli.mode,
        out: work_dir.join("convert-out"),
    });

    let (trace, events) = match &cli.trace {
        Some(trace) => {
            eprintln!("counting events of {} with babeltrace2...", trace.display());
            (trace.clone(), count_events(trace)?.events)
        }
        None => ensure_trace(&work_dir, cli.events)?,
    };
    warm_page_cache(&trace)?;
    println!(
        "trace: {} ({events} events, {:.0} MiB)",
        trace.display(),
        dir_size(&trace) as f64 / (1 << 20) as f64
    );

    let trawl_ok = trawl_ok.as_ref();
    let mut trawl_runs = Vec::new();
    let mut bt_runs = Vec::new();
    for rep in 0..cli.reps {
        // Alternate who goes first, so neither always gets the warmer cache.
        if rep % 2 == 0 {
            if let Some(t) = trawl_ok {
                trawl_runs.push(t.run(&me, &trace)?);
            }
            bt_runs.push(run_babeltrace2(&me, &trace)?);
        } else {
            bt_runs.push(run_babeltrace2(&me, &trace)?);
            if let Some(t) = trawl_ok {
                trawl_runs.push(t.run(&me, &trace)?);
            }
        }
        eprintln!("rep {}/{} done", rep + 1, cli.reps);
    }
    let trawl_row = summary(&trawl_runs, events);
    let bt_row = summary(&bt_runs, events);
    println!();
    println!(
        "{:<28} {:>12} {:>14} {:>14}",
        "decoder", "median wall", "events/s", "peak RSS"
    );
    print_row(cli.mode.label(), trawl_row);
    print_row("babeltrace2 sink.utils.dummy", bt_row);
    if let (Some(t), Some(b)) = (trawl_row, bt_row) {
        println!(
            "ratio: trawl is {:.2}x babeltrace2's throughput (events/s)",
            b.0.as_secs_f64() / t.0.as_secs_f64().max(f64::MIN_POSITIVE)
        );
    }
    if let Some(t) = trawl_ok.filter(|t| t.mode == Mode::Convert) {
        let (ctf, parquet) = (dir_size(&trace), dir_size(&t.out));
        let per_event = |bytes: u64| bytes as f64 / events.max(1) as f64;
        println!(
            "size: CTF {:.2} bytes/event, Parquet {:.2} bytes/event: Parquet is {:.3}x CTF",
            per_event(ctf),
            per_event(parquet),
            parquet as f64 / ctf.max(1) as f64
        );
    }

    if !cli.no_scaling {
        println!();
        println!("peak RSS as the trace grows (one run each):");
        println!(
            "{:>5} {:>12} {:>14} {:>16}",
            "size", "events", "trawl", "babeltrace2"
        );
        for scale in SCALES {
            let (scaled, n) = if scale == 1 {
                (trace.clone(), events)
            } else {
                let base = if cli.trace.is_some() {
                    events
                } else {
                    cli.events
                };
                let (t, n) = ensure_trace(&work_dir, base.saturating_mul(scale))?;
                warm_page_cache(&t)?;
                (t, n)
            };
            let t_rss = match (scale, trawl_ok) {
                (1, _) => trawl_row.map(|r| r.2),
                (_, Some(t)) => Some(t.run(&me, &scaled)?.max_rss_kib),
                (_, None) => None,
            };
            let b_rss = match (scale, bt_row) {
                (1, Some(r)) => r.2,
                _ => run_babeltrace2(&me, &scaled)?.max_rss_kib,
            };
            println!(
                "{:>4}x {n:>12} {:>14} {:>16}",
                scale,
                t_rss.map_or("n/a".to_owned(), mib),
                mib(b_rss)
            );
        }
    }
    trawl.map(drop)
}

/// `(median wall, events/s, peak RSS KiB)` of some runs.
fn summary(runs: &[Measurement], events: u64) -> Option<(Duration, f64, u64)> {
    let walls: Vec<Duration> = runs.iter().map(|m| m.wall).collect();
    let wall = median(&walls)?;
    let rss = runs.iter().map(|m| m.max_rss_kib).max()?;
    Some((wall, events_per_second(events, wall), rss))
}

fn print_row(name: &str, row: Option<(Duration, f64, u64)>) {
    match row {
        Some((wall, eps, rss)) => println!(
            "{name:<28} {:>10.3} s {:>10.2} M/s {:>14}",
            wall.as_secs_f64(),
            eps / 1e6,
            mib(rss)
        ),
        None => println!("{name:<28} {:>12} {:>14} {:>14}", "n/a", "n/a", "n/a"),
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// `trawl cat --help` must run and offer `--format` (`convert --help`: `--out`).
fn check_trawl(path: &Path, mode: Mode) -> Result<PathBuf, CompareError> {
    let unavailable = |why: String| CompareError::TrawlUnavailable {
        path: path.to_path_buf(),
        why,
    };
    if !path.is_file() {
        return Err(unavailable(
            "no such file; build it with `cargo build --release -p trawl-pipelines` or pass --trawl"
                .to_owned(),
        ));
    }
    let (command, option) = match mode {
        Mode::Cat => ("cat", "--format"),
        Mode::Convert => ("convert", "--out"),
    };
    let out = Command::new(path)
        .args([command, "--help"])
        .output()
        .map_err(|e| unavailable(e.to_string()))?;
    let help = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || !help.contains(option) {
        return Err(unavailable(
            "`trawl cat --help` does not offer --format: `trawl cat` is not in this build yet \
             (it lands with the pipeline issue)"
                .to_owned(),
        ));
    }
    Ok(path.to_path_buf())
}

/// The trawl side of the comparison.
struct Trawl {
    path: PathBuf,
    mode: Mode,
    /// Output of `trawl convert`, emptied before each run.
    out: PathBuf,
}

impl Trawl {
    fn run(&self, me: &Path, trace: &Path) -> Result<Measurement, CompareError> {
        let args: Vec<OsString> = match self.mode {
            Mode::Cat => vec!["cat".into(), "--format".into(), "none".into(), trace.into()],
            Mode::Convert => {
                if self.out.exists() {
                    fs::remove_dir_all(&self.out).map_err(io_err("remove", &self.out))?;
                }
                vec![
                    "convert".into(),
                    trace.into(),
                    "--out".into(),
                    self.out.clone().into(),
                ]
            }
        };
        Ok(measure(me, &self.path, &args)?)
    }
}

fn run_babeltrace2(me: &Path, trace: &Path) -> Result<Measurement, CompareError> {
    // babeltrace2 2.0: naming a sink component replaces the default text sink.
    let args: Vec<OsString> = vec!["--component=sink.utils.dummy".into(), trace.into()];
    Ok(measure(me, Path::new("babeltrace2"), &args)?)
}

/// A recorded trace of about `events` malloc/free events in `work_dir`,
/// recorded now unless an earlier run left it there; returns it and its exact
/// event count (from babeltrace2).
fn ensure_trace(work_dir: &Path, events: u64) -> Result<(PathBuf, u64), CompareError> {
    let dir = work_dir.join(format!("malloc-{events}"));
    // The count is written last, so its presence means a complete recording.
    let count_file = work_dir.join(format!("malloc-{events}.events"));
    if let Ok(text) = fs::read_to_string(&count_file)
        && let Ok(count) = text.trim().parse()
        && dir.is_dir()
    {
        eprintln!("reusing {} ({count} events)", dir.display());
        return Ok((dir, count));
    }
    let partial = work_dir.join(format!("malloc-{events}.partial"));
    for stale in [&partial, &dir] {
        if stale.exists() {
            fs::remove_dir_all(stale).map_err(io_err("remove", stale))?;
        }
    }
    eprintln!("recording {events} events into {}...", dir.display());
    let daemon = lttng::LttngDaemon::start()?;
    let trace = lttng::record_malloc_trace(
        &daemon,
        "trawl-compare",
        &partial,
        events / 2,
        lttng::Buffers::PerUid,
    )?;
    let counts = count_events(&trace)?;
    if counts.discarded_events > 0 || counts.discarded_packets > 0 {
        return Err(CompareError::LossyRecording {
            events: counts.discarded_events,
            packets: counts.discarded_packets,
        });
    }
    let count = counts.events;
    fs::rename(&partial, &dir).map_err(io_err("rename", &partial))?;
    fs::write(&count_file, format!("{count}\n")).map_err(io_err("write", &count_file))?;
    Ok((dir, count))
}

/// Reads every file of `dir` once, so neither decoder pays for cold I/O.
fn warm_page_cache(dir: &Path) -> Result<(), CompareError> {
    let mut buf = vec![0u8; 1 << 20];
    for file in files(dir)? {
        let mut f = fs::File::open(&file).map_err(io_err("open", &file))?;
        while f.read(&mut buf).map_err(io_err("read", &file))? > 0 {}
    }
    Ok(())
}

fn dir_size(dir: &Path) -> u64 {
    files(dir)
        .unwrap_or_default()
        .iter()
        .filter_map(|f| fs::metadata(f).ok())
        .map(|m| m.len())
        .sum()
}

/// Every regular file under `dir`.
fn files(dir: &Path) -> Result<Vec<PathBuf>, CompareError> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in fs::read_dir(&d).map_err(io_err("list", &d))? {
            let path = entry.map_err(io_err("list", &d))?.path();
            if path.is_dir() {
                todo.push(path);
            } else if path.is_file() {
                out.push(path);
            }
        }
    }
    Ok(out)
}
