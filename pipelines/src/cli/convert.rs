//! `trawl convert`: trace directories or live sessions → a Parquet (or Arrow
//! IPC) data directory.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use trawl_core::{Message, Sink, Source};
use trawl_sink_parquet::{FileFormat, ParquetSink, ParquetSinkConfig};
use trawl_source_lttng::live::{
    LiveSource, LiveSourceBuilder, LiveSourceError, Seek, SessionNotFoundAction,
};
use trawl_source_lttng::trace_dir::{TraceDirSource, TraceDirSourceBuilder};

/// Decoded messages waiting for the sink.
const DECODED_AHEAD: usize = 2;

/// Arguments of `trawl convert`.
#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// Trace directories, or directories holding traces at any depth; or
    /// live sessions, `net://RELAY[:PORT]/host/HOSTNAME/SESSION`, read from
    /// their beginning until they end (or Ctrl-C).
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// The data directory to write into (created if needed; existing files are kept).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// File format.
    #[arg(long, value_enum, default_value_t = ConvertFormat::Parquet)]
    pub format: ConvertFormat,
    /// Rows per file at most.
    #[arg(long, value_name = "N", default_value_t = trawl_sink_parquet::DEFAULT_MAX_ROWS)]
    pub max_rows: u64,
}

/// The file format `trawl convert` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConvertFormat {
    /// Apache Parquet (zstd, dictionary-encoded, sorted by ts, statistics).
    Parquet,
    /// Arrow IPC files.
    Arrow,
}

pub(super) fn run(args: ConvertArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let started = Instant::now();
    let mut config = ParquetSinkConfig::new(&args.out);
    config.format = match args.format {
        ConvertFormat::Parquet => FileFormat::Parquet,
        ConvertFormat::Arrow => FileFormat::Arrow,
    };
    config.max_rows = args.max_rows;
    config.validate("")?;
    let mut sink = ParquetSink::new(config)?;
    let mut source = match super::live_urls(&args.inputs)? {
        Some(urls) => Input::live(urls)?,
        None => Input::Dirs(TraceDirSourceBuilder::new(args.inputs.clone()).build()?),
    };
    // Decoding runs on its own thread, a few batches ahead of the sink: it
    // goes on while the sink waits for its writer threads.
    let (decoded, messages) = std::sync::mpsc::sync_channel::<Message>(DECODED_AHEAD);
    let decoder = std::thread::Builder::new().name("decode".into()).spawn(
        move || -> trawl_core::Result<usize> {
            let mut errors = 0;
            loop {
                let msg = source.next_message()?;
                errors += source.report_errors();
                // The end, or the sink stopped (its error is reported).
                let Some(msg) = msg else { return Ok(errors) };
                if decoded.send(msg).is_err() {
                    return Ok(errors);
                }
            }
        },
    )?;
    let live = std::io::stderr().is_terminal();
    let mut last_report = Instant::now();
    let (mut events, mut discarded, mut lost_packets) = (0u64, 0u64, 0u64);
    for msg in messages {
        match &msg {
            Message::Events(b) => events += b.batch.num_rows() as u64,
            Message::Loss(l) => {
                discarded += l.events_discarded;
                lost_packets += l.packets_lost;
            }
            Message::Watermark(_) | Message::Containers(_) => {}
        }
        sink.consume(msg)?;
        if live && last_report.elapsed() > Duration::from_millis(250) {
            last_report = Instant::now();
            let stats = sink.stats();
            eprint!(
                "\r{events} events decoded, {} written in {} files ...",
                stats.rows, stats.files
            );
        }
    }
    let errors = decoder
        .join()
        .map_err(|_| "the decoding thread panicked")??;
    sink.flush()?;
    let stats = sink.stats();
    let secs = started.elapsed().as_secs_f64();
    if live {
        eprint!("\r");
    }
    eprintln!(
        "{events} events ({discarded} discarded, {lost_packets} packets lost) → \
         {} rows in {} files, {} bytes ({:.1} bytes/event) under {}; {errors} errors; \
         {secs:.3} s ({:.0} events/s)",
        stats.rows,
        stats.files,
        stats.bytes,
        stats.bytes as f64 / events.max(1) as f64,
        args.out.display(),
        events as f64 / secs.max(1e-9)
    );
    Ok(if errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Where `trawl convert` reads from.
enum Input {
    Dirs(TraceDirSource),
    Live {
        runtime: tokio::runtime::Runtime,
        source: LiveSource,
    },
}

impl Input {
    fn live(urls: Vec<trawl_source_lttng::live::LiveUrl>) -> std::io::Result<Input> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let source = runtime.block_on(async {
            LiveSourceBuilder::new(urls)
                .seek(Seek::Beginning)
                .session_not_found(SessionNotFoundAction::End)
                .start()
        });
        Ok(Input::Live { runtime, source })
    }

    /// The next message; a live input also ends on Ctrl-C.
    fn next_message(&mut self) -> trawl_core::Result<Option<Message>> {
        match self {
            Input::Dirs(source) => source.next_message(),
            Input::Live { runtime, source } => runtime.block_on(async {
                tokio::select! {
                    next = source.next_message() => next,
                    _ = tokio::signal::ctrl_c() => Ok(None),
                }
            }),
        }
    }

    /// Prints what went wrong since the last call; how many were errors.
    fn report_errors(&mut self) -> usize {
        match self {
            Input::Dirs(source) => {
                let errors = source.take_errors();
                for e in &errors {
                    eprintln!("trawl: error: {e}");
                }
                errors.len()
            }
            Input::Live { source, .. } => {
                let mut errors = 0;
                for w in source.take_warnings() {
                    // A bad packet is an error; a lost connection is retried.
                    if matches!(w, LiveSourceError::Decode { .. }) {
                        errors += 1;
                        eprintln!("trawl: error: {w}");
                    } else {
                        eprintln!("trawl: warning: {w}");
                    }
                }
                errors
            }
        }
    }
}
