//! LTTng trace directories: find every trace under the inputs, read each
//! stream file packet by packet, and merge streams by time.
//!
//! A trace is a directory holding a `metadata` file; its streams are the other
//! regular files beside it (`index/` holds their packet indexes). This covers
//! `kernel/`, `ust/uid/UID/64-bit`, `ust/pid/NAME-PID-DATE`, several sessions
//! under one output directory, and the relay daemon's `HOST/SESSION` layout,
//! because all of them are "directories with a metadata file" at some depth.
//!
//! Two readers sit on top: [`EventMerger`] hands out single events in global
//! time order (for `trawl cat`), [`TraceDirSource`] emits Arrow batches of
//! thousands of rows, watermarks and losses (for pipelines).

mod cursor;
mod index;
mod merge;
mod source;
mod stream;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::decode::{DecodeError, TraceDecoder};
use crate::metadata::{self, MetadataError, TraceClass};

pub use merge::{EventMerger, EventRow, LossKind, LossNotice, MergedItem};
pub use source::{DEFAULT_BATCH_ROWS, TraceDirSource, TraceDirSourceBuilder};

/// Errors of the trace-directory reader. Each names the trace and, for data
/// errors, the stream file (the decode error carries the byte offset).
#[derive(Debug, thiserror::Error)]
pub enum TraceDirError {
    /// An input path does not exist or cannot be listed.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An input holds no trace (no `metadata` file anywhere below it).
    #[error("{0}: no CTF trace found (no `metadata` file in it or below it)")]
    NoTrace(PathBuf),
    /// The metadata of a trace cannot be parsed.
    #[error("trace {trace}: metadata: {source}")]
    Metadata {
        /// The trace directory.
        trace: PathBuf,
        /// Why.
        #[source]
        source: MetadataError,
    },
    /// The decoder refuses the trace class (e.g. an unsupported layout).
    #[error("trace {trace}: {source}")]
    Class {
        /// The trace directory.
        trace: PathBuf,
        /// Why.
        #[source]
        source: DecodeError,
    },
    /// A packet cannot be decoded; the stream continues at the next packet.
    #[error("trace {trace}: stream {stream}: {source}")]
    Decode {
        /// The trace directory.
        trace: PathBuf,
        /// The stream file name.
        stream: String,
        /// Why, with the byte offset.
        #[source]
        source: DecodeError,
    },
}

/// One opened trace: its class, its decoder and its stream files.
pub struct Trace {
    /// The trace directory.
    pub path: PathBuf,
    /// The compiled trace class.
    pub decoder: TraceDecoder,
    /// Its stream files, sorted by name.
    pub streams: Vec<PathBuf>,
    /// The trace directory relative to the input it was found under (empty
    /// when the input is the trace itself); babeltrace2 names traces by it.
    pub relative: String,
}

impl Trace {
    /// Opens the trace in `dir` (which holds a `metadata` file).
    pub fn open(dir: &Path) -> Result<Trace, TraceDirError> {
        let io = |source| TraceDirError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let bytes = std::fs::read(dir.join("metadata")).map_err(io)?;
        let meta = |source| TraceDirError::Metadata {
            trace: dir.to_path_buf(),
            source,
        };
        let text = metadata::metadata_text(&bytes).map_err(meta)?;
        let class = metadata::parse_metadata(&text).map_err(meta)?;
        let decoder =
            TraceDecoder::new(Arc::new(class)).map_err(|source| TraceDirError::Class {
                trace: dir.to_path_buf(),
                source,
            })?;
        let mut streams = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name == "metadata" || name.starts_with('.') {
                continue;
            }
            if entry.file_type().map_err(io)?.is_file() {
                streams.push(entry.path());
            }
        }
        streams.sort();
        Ok(Trace {
            path: dir.to_path_buf(),
            decoder,
            streams,
            relative: String::new(),
        })
    }

    /// The trace class.
    pub fn class(&self) -> &Arc<TraceClass> {
        self.decoder.trace()
    }

    /// Whether every packet of this trace says how long it is; if not, each
    /// stream file is a single packet.
    fn packets_sized(&self) -> bool {
        self.class().streams.iter().all(|s| {
            s.packet_context
                .as_ref()
                .is_some_and(|c| c.fields.iter().any(|f| f.name == "packet_size"))
        })
    }
}

/// Every trace directory under `inputs` with the input it was found under,
/// in a stable order (inputs as given, traces by path). An input holding no
/// trace at all is an error naming it.
pub fn find_traces(inputs: &[PathBuf]) -> Result<Vec<(PathBuf, PathBuf)>, TraceDirError> {
    let mut found = Vec::new();
    for input in inputs {
        let mut dirs = Vec::new();
        walk(input, &mut dirs, 0)?;
        if dirs.is_empty() {
            return Err(TraceDirError::NoTrace(input.clone()));
        }
        dirs.sort();
        found.extend(dirs.into_iter().map(|d| (input.clone(), d)));
    }
    Ok(found)
}

/// Deep enough for any LTTng layout; stops symlink loops.
const MAX_DEPTH: usize = 16;

fn walk(dir: &Path, found: &mut Vec<PathBuf>, depth: usize) -> Result<(), TraceDirError> {
    let io = |source| TraceDirError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(dir).map_err(io)?;
    if !meta.is_dir() || depth > MAX_DEPTH {
        return Ok(());
    }
    if dir.join("metadata").is_file() {
        found.push(dir.to_path_buf());
    }
    let mut subdirs = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        if entry.file_name() != "index" && entry.path().is_dir() {
            subdirs.push(entry.path());
        }
    }
    subdirs.sort();
    for sub in subdirs {
        walk(&sub, found, depth + 1)?;
    }
    Ok(())
}

/// Every trace under `inputs`, opened, and the traces that could not be
/// opened (bad metadata, unreadable files), each error naming its trace: one
/// bad trace does not keep the others from being read. Only an input that
/// does not exist or holds no trace at all is an error for the whole call.
pub fn open_traces(inputs: &[PathBuf]) -> Result<OpenedTraces, TraceDirError> {
    let mut opened = OpenedTraces::default();
    for (input, dir) in find_traces(inputs)? {
        match Trace::open(&dir) {
            Ok(mut trace) => {
                trace.relative = dir
                    .strip_prefix(&input)
                    .map(|r| r.to_string_lossy().into_owned())
                    .unwrap_or_default();
                opened.traces.push(trace);
            }
            Err(e) => opened.failed.push(e),
        }
    }
    Ok(opened)
}

/// What [`open_traces`] found.
#[derive(Default)]
pub struct OpenedTraces {
    /// The traces that opened, in a stable order.
    pub traces: Vec<Trace>,
    /// Why the others did not.
    pub failed: Vec<TraceDirError>,
}
