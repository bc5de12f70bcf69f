//! Trace directories as a pipeline source: Arrow batches of thousands of
//! rows, watermarks and losses (DESIGN.md §2).
//!
//! Streams are read packet by packet, always advancing the stream that is
//! furthest behind in time, so that rows leave roughly in time order and
//! memory holds at most `batch_rows` pending rows plus one packet per stream.
//! Before a watermark goes out, every pending row is emitted: a watermark
//! promises that nothing older will follow.

use std::collections::VecDeque;
use std::path::PathBuf;

use trawl_core::{EventBatch, Message, Source, Watermark};

use super::cursor::{StreamCursor, open_all};
use super::{OpenedTraces, Trace, TraceDirError, open_traces};
use crate::progress::{StreamProgress, watermarks};

/// Rows held across all streams before they are emitted as batches.
pub const DEFAULT_BATCH_ROWS: usize = 64 * 1024;

/// Builds a [`TraceDirSource`].
#[derive(Debug, Clone)]
pub struct TraceDirSourceBuilder {
    inputs: Vec<PathBuf>,
    batch_rows: usize,
}

impl TraceDirSourceBuilder {
    /// Reads every trace under `inputs`.
    pub fn new(inputs: Vec<PathBuf>) -> Self {
        TraceDirSourceBuilder {
            inputs,
            batch_rows: DEFAULT_BATCH_ROWS,
        }
    }

    /// Rows held before emitting (default [`DEFAULT_BATCH_ROWS`]; at least 1).
    pub fn batch_rows(mut self, rows: usize) -> Self {
        self.batch_rows = rows.max(1);
        self
    }

    /// Opens the traces and their streams.
    pub fn build(self) -> Result<TraceDirSource, TraceDirError> {
        let OpenedTraces { traces, failed } = open_traces(&self.inputs)?;
        let cursors = open_all(&traces)?
            .into_iter()
            .map(|(trace, stream_id, stream)| SourceCursor {
                trace,
                stream,
                progress: StreamProgress::new(stream_id),
            })
            .collect();
        let names = traces.iter().map(host_domain).collect();
        Ok(TraceDirSource {
            traces,
            names,
            cursors,
            batch_rows: self.batch_rows,
            pending_rows: 0,
            out: VecDeque::new(),
            errors: failed,
            done: false,
        })
    }
}

struct SourceCursor {
    trace: usize,
    stream: StreamCursor,
    progress: StreamProgress,
}

/// Reads trace directories into [`Message`]s.
pub struct TraceDirSource {
    traces: Vec<Trace>,
    /// (host, domain) of each trace.
    names: Vec<(String, String)>,
    cursors: Vec<SourceCursor>,
    batch_rows: usize,
    pending_rows: usize,
    out: VecDeque<Message>,
    errors: Vec<TraceDirError>,
    done: bool,
}

fn host_domain(trace: &Trace) -> (String, String) {
    let class = trace.class();
    let host = class.env_str("hostname").unwrap_or_default().to_string();
    let domain = class.env_str("domain").unwrap_or_default().to_string();
    (host, domain)
}

impl TraceDirSource {
    /// The traces being read.
    pub fn traces(&self) -> &[Trace] {
        &self.traces
    }

    /// Packets that could not be decoded so far (each stream went on after
    /// them). Drains the list.
    pub fn take_errors(&mut self) -> Vec<TraceDirError> {
        std::mem::take(&mut self.errors)
    }

    /// Decodes one packet of the stream furthest behind; false when all are done.
    fn step(&mut self) -> Result<bool, trawl_core::Error> {
        let next = self
            .cursors
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.stream.at_end())
            .min_by_key(|(_, c)| c.progress.position)
            .map(|(i, _)| i);
        let Some(i) = next else { return Ok(false) };
        let cur = &mut self.cursors[i];
        let trace = &self.traces[cur.trace];
        let result =
            cur.stream
                .decode_next(&trace.decoder)
                .map_err(|source| trawl_core::Error::Io {
                    context: format!("reading {}", cur.stream.file.path().display()),
                    source,
                })?;
        match result {
            None => {}
            Some(Ok(info)) => {
                let (host, domain) = &self.names[cur.trace];
                if let Some(loss) = cur.progress.packet(&info, host, domain) {
                    self.out.push_back(Message::Loss(loss));
                }
                self.pending_rows += info.events as usize;
            }
            Some(Err(source)) => {
                self.errors.push(cur.stream.error(trace, source));
                // The rest of the packet is unknown; count the stream as
                // caught up to where it was.
                self.pending_rows += cur.stream.decoder.rows_pending();
            }
        }
        Ok(true)
    }

    /// Emits every pending row, then one watermark per (host, domain).
    fn flush_all(&mut self) {
        for cur in &mut self.cursors {
            if cur.stream.decoder.rows_pending() == 0 {
                continue;
            }
            let trace = &self.traces[cur.trace];
            match cur.stream.decoder.take(&trace.decoder) {
                Ok(events) => {
                    for batch in events.batches {
                        self.out.push_back(Message::Events(EventBatch { batch }));
                    }
                }
                Err(source) => self.errors.push(cur.stream.error(trace, source)),
            }
        }
        self.pending_rows = 0;
        let streams = self.cursors.iter().map(|cur| {
            let (host, domain) = &self.names[cur.trace];
            (
                host.as_str(),
                domain.as_str(),
                cur.stream.at_end(),
                cur.progress.position,
            )
        });
        for ((host, domain), ts) in watermarks(streams) {
            self.out
                .push_back(Message::Watermark(Watermark { host, domain, ts }));
        }
    }
}

impl Source for TraceDirSource {
    fn next_message(&mut self) -> trawl_core::Result<Option<Message>> {
        while self.out.is_empty() && !self.done {
            if !self.step()? {
                self.flush_all();
                self.done = true;
            } else if self.pending_rows >= self.batch_rows {
                self.flush_all();
            }
        }
        Ok(self.out.pop_front())
    }
}
