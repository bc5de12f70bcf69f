//! `type = "jsonl"`: events as JSON lines, to a file or stdout.
//!
//! One line per event, in the shape of `trawl cat --format json`
//! (`trawl_source_lttng::format::JsonFormatter`), batch after batch as they
//! arrive (per stream and class, not merged by time). One difference: the
//! sink sees batches, not traces, so an event of a stream class without a
//! clock has `"ts":0` where `trawl cat` writes `null`. Watermarks, losses
//! and container records are not written (losses are in the counters).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Stdout, Write};
use std::path::PathBuf;

use serde::Deserialize;
use trawl_core::{Message, Sink};
use trawl_source_lttng::format::JsonFormatter;

use crate::pipeline::{BuildContext, BuildError, Stage, StageFactory};

/// The `path` that means standard output.
pub const DEFAULT_JSONL_PATH: &str = "-";
/// Bytes buffered before a write.
const BUFFER: usize = 1 << 16;

/// Options of a `jsonl` sink.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonlSinkConfig {
    /// The file to write, created if missing; `-` is standard output
    /// (default [`DEFAULT_JSONL_PATH`]).
    #[serde(default = "default_path")]
    pub path: PathBuf,
    /// Add to the end of the file instead of replacing it (default false).
    #[serde(default)]
    pub append: bool,
}

fn default_path() -> PathBuf {
    PathBuf::from(DEFAULT_JSONL_PATH)
}

impl StageFactory for JsonlSinkConfig {
    fn build(&self, ctx: &BuildContext) -> Result<Stage, BuildError> {
        let out = if self.path.as_os_str() == DEFAULT_JSONL_PATH {
            Out::Stdout(BufWriter::with_capacity(BUFFER, std::io::stdout()))
        } else {
            let path = ctx.resolve(&self.path);
            let file = OpenOptions::new()
                .write(true)
                .create(true)
                .append(self.append)
                .truncate(!self.append)
                .open(&path)
                .map_err(|e| format!("opening {}: {e}", path.display()))?;
            // fsync only means something for regular files (not a pipe).
            let durable = file.metadata().is_ok_and(|m| m.is_file());
            Out::File {
                file: BufWriter::with_capacity(BUFFER, file),
                path,
                durable,
            }
        };
        Ok(Stage::Sink(Box::new(JsonlSink::new(out))))
    }
}

/// Where a [`JsonlSink`] writes.
#[derive(Debug)]
pub(crate) enum Out {
    /// Standard output.
    Stdout(BufWriter<Stdout>),
    /// A file (or a named pipe).
    File {
        /// The open file.
        file: BufWriter<File>,
        /// Its path, for errors.
        path: PathBuf,
        /// Whether `flush` also syncs it to disk.
        durable: bool,
    },
}

/// Writes event batches as JSON lines.
#[derive(Debug)]
pub(crate) struct JsonlSink {
    out: Out,
    formatter: JsonFormatter,
    line: Vec<u8>,
}

impl JsonlSink {
    /// A sink writing to `out`.
    pub(crate) fn new(out: Out) -> Self {
        JsonlSink {
            out,
            formatter: JsonFormatter::new(),
            line: Vec::with_capacity(BUFFER),
        }
    }

    fn io(&self, what: &str, source: std::io::Error) -> trawl_core::Error {
        let context = match &self.out {
            Out::Stdout(_) => format!("{what} standard output"),
            Out::File { path, .. } => format!("{what} {}", path.display()),
        };
        trawl_core::Error::Io { context, source }
    }
}

impl Sink for JsonlSink {
    fn consume(&mut self, msg: Message) -> trawl_core::Result<()> {
        let Message::Events(events) = msg else {
            return Ok(());
        };
        self.line.clear();
        self.formatter
            .write_batch_as_stored(&mut self.line, &events.batch)
            .map_err(|e| trawl_core::Error::BadInput(e.to_string()))?;
        let written = match &mut self.out {
            Out::Stdout(w) => w.write_all(&self.line),
            Out::File { file, .. } => file.write_all(&self.line),
        };
        written.map_err(|e| self.io("writing", e))
    }

    fn flush(&mut self) -> trawl_core::Result<()> {
        let flushed = match &mut self.out {
            Out::Stdout(w) => w.flush(),
            Out::File { file, durable, .. } => file.flush().and_then(|()| {
                if *durable {
                    file.get_ref().sync_data()
                } else {
                    Ok(())
                }
            }),
        };
        flushed.map_err(|e| self.io("flushing", e))
    }
}
