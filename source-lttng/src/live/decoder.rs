//! Live items turned into rows, losses and watermarks: the decoding state of
//! one relay, kept across reconnections.
//!
//! The relay names traces and streams with ids that only mean something on
//! one connection. Across a reconnection (a new viewer session, re-attached
//! from the beginning: the relay then serves every packet again) we know a
//! trace by its metadata's UUID and a stream by (trace, path, channel), so a
//! stream's decoder, position and loss counters carry on, and packets already
//! decoded are recognized by their index (end time, offset) and skipped.
//! Streams that do not come back (the relay was restarted, the session was
//! destroyed meanwhile) are closed with a [`Loss`] that spans the gap.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use trawl_core::{Loss, Watermark};

use super::proto::{StreamEntry, ViewerIndex};
use super::session::LiveItem;
use crate::decode::{DecodeError, DecodedEvents, StreamDecoder, TraceDecoder};
use crate::metadata::{MetadataError, TraceClass, parse_metadata};
use crate::progress::{StreamProgress, watermarks};

/// A problem with one trace or stream of a live session; the rest goes on.
#[derive(Debug, thiserror::Error)]
pub enum LiveDecodeError {
    /// The metadata received so far does not parse.
    #[error("relay trace {trace_id}: metadata: {source}")]
    Metadata {
        /// The relay's trace id.
        trace_id: u64,
        /// Why.
        #[source]
        source: MetadataError,
    },
    /// The metadata grew in a way the decoder cannot follow, or describes a
    /// layout it does not support.
    #[error("trace {trace}: {source}")]
    Class {
        /// `host/domain` of the trace.
        trace: String,
        /// Why.
        #[source]
        source: DecodeError,
    },
    /// A packet cannot be decoded; the stream continues at the next one.
    #[error("trace {trace}: stream {stream}: {source}")]
    Packet {
        /// `host/domain` of the trace.
        trace: String,
        /// The relay's stream path and channel (`ust/uid/0/64-bit/channel0_1`).
        stream: String,
        /// Why, with the byte offset in the relay's stream file.
        #[source]
        source: DecodeError,
    },
    /// A packet arrived for a stream whose trace has no usable metadata.
    #[error("stream {stream}: packet at offset {offset} skipped: its trace has no usable metadata")]
    NoMetadata {
        /// The relay's stream path and channel.
        stream: String,
        /// Offset of the packet in the relay's stream file.
        offset: u64,
    },
}

/// One trace (one host, one domain, one ABI), known by its UUID.
pub(crate) struct LiveTrace {
    pub(crate) decoder: TraceDecoder,
    pub(crate) host: String,
    pub(crate) domain: String,
    /// Bytes of metadata text the decoder was built from.
    metadata_len: usize,
}

impl LiveTrace {
    fn name(&self) -> String {
        format!("{}/{}", self.host, self.domain)
    }
}

/// One data stream, known by (trace, path, channel).
pub(crate) struct LiveStream {
    pub(crate) trace: usize,
    pub(crate) decoder: StreamDecoder,
    /// `path/channel` on the relay, for errors and notices.
    pub(crate) name: String,
    pub(crate) stream_class_id: u64,
    /// Envelope stream id, CPU, and the time up to which the stream is
    /// complete (its last packet's end or its last inactivity beacon).
    pub(crate) progress: StreamProgress,
    /// (timestamp_end cycles, offset) of the last decoded packet's index.
    last_index: Option<(u64, u64)>,
    /// HUP received, or declared lost.
    pub(crate) ended: bool,
    /// Bound on the current connection (seen again after a reconnection).
    bound: bool,
}

/// Rows of one stream, taken at a flush.
#[derive(Debug)]
pub struct StreamRows {
    /// The trace class (for formatting).
    pub class: Arc<TraceClass>,
    /// Traced host.
    pub host: String,
    /// Tracing domain.
    pub domain: String,
    /// Envelope stream id.
    pub stream_id: u64,
    /// Stream class id.
    pub stream_class_id: u64,
    /// The rows, one batch per event class (with the stream order when
    /// [`LiveDecoder::set_track_order`] is on).
    pub events: DecodedEvents,
}

/// The decoding state of one relay's sessions; see the module documentation.
#[derive(Default)]
pub struct LiveDecoder {
    traces: Vec<LiveTrace>,
    by_uuid: HashMap<[u8; 16], usize>,
    streams: Vec<LiveStream>,
    by_key: HashMap<(usize, String), usize>,
    /// Relay trace id → trace, on the current connection.
    bound_traces: HashMap<u64, usize>,
    /// Viewer stream id → stream, on the current connection.
    bound_streams: HashMap<u64, usize>,
    /// Streams announced on the current connection whose trace is not known yet.
    unbound: BTreeMap<u64, StreamEntry>,
    track_order: bool,
    /// Reconnected and not yet sure which streams came back.
    resuming: bool,
    /// An `Attached` arrived since the reconnection.
    attached_since_resume: bool,
    pending_rows: usize,
    losses: Vec<Loss>,
    errors: Vec<LiveDecodeError>,
    /// Last watermark emitted per (host, domain): they never go back.
    marks: BTreeMap<(String, String), i64>,
}

impl LiveDecoder {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Record each stream's order across event classes (for merging by time).
    pub fn set_track_order(&mut self, on: bool) {
        self.track_order = on;
        for s in &mut self.streams {
            s.decoder.set_track_order(on);
        }
    }

    /// Rows decoded and not yet taken.
    pub fn rows_pending(&self) -> usize {
        self.pending_rows
    }

    /// The connection was lost: the ids of the next connection are new, and
    /// every stream has to show up again to continue where it was.
    pub fn disconnected(&mut self) {
        self.bound_traces.clear();
        self.bound_streams.clear();
        self.unbound.clear();
        for s in &mut self.streams {
            s.bound = false;
        }
        self.resuming = true;
        self.attached_since_resume = false;
    }

    /// Takes one item of a [`super::LiveSession`] into account.
    pub fn apply(&mut self, item: LiveItem) {
        match item {
            LiveItem::Attached { .. } => self.attached_since_resume = true,
            LiveItem::StreamAdded { stream, .. } if !stream.metadata => {
                match self.bound_traces.get(&stream.ctf_trace_id) {
                    Some(&t) => self.bind_stream(t, stream),
                    None => {
                        self.unbound.insert(stream.id, stream);
                    }
                }
            }
            LiveItem::StreamAdded { .. } => {}
            LiveItem::MetadataGrew {
                trace_id,
                text_so_far,
                ..
            } => self.metadata(trace_id, &text_so_far),
            LiveItem::Packet {
                stream_id,
                bytes,
                index,
                ..
            } => self.packet(stream_id, &bytes, &index),
            LiveItem::Inactive {
                stream_id,
                ts_end_cycles,
                stream_class_id,
                ..
            } => {
                if let Some(&s) = self.bound_streams.get(&stream_id) {
                    let stream = &mut self.streams[s];
                    let trace = &self.traces[stream.trace];
                    let ns = trace.decoder.clock_ns(stream_class_id, ts_end_cycles);
                    stream.progress.advance(ns);
                }
            }
            LiveItem::StreamEnd { stream_id, .. } => {
                self.unbound.remove(&stream_id);
                if let Some(s) = self.bound_streams.remove(&stream_id) {
                    self.streams[s].ended = true;
                }
            }
            LiveItem::SessionEnd { .. } => {}
            LiveItem::RoundDone { .. } => {
                if self.resuming && self.attached_since_resume {
                    self.close_streams_not_resumed();
                }
            }
        }
    }

    fn metadata(&mut self, trace_id: u64, text: &str) {
        let class = match parse_metadata(text) {
            Ok(class) => Arc::new(class),
            Err(source) => {
                self.errors
                    .push(LiveDecodeError::Metadata { trace_id, source });
                return;
            }
        };
        let known = self
            .bound_traces
            .get(&trace_id)
            .copied()
            .or_else(|| class.uuid.and_then(|u| self.by_uuid.get(&u).copied()));
        let t = match known {
            Some(t) => {
                let trace = &mut self.traces[t];
                if text.len() > trace.metadata_len {
                    if let Err(source) = trace.decoder.update(class) {
                        let trace = trace.name();
                        self.errors.push(LiveDecodeError::Class { trace, source });
                        return;
                    }
                    trace.metadata_len = text.len();
                }
                t
            }
            None => {
                let host = class.env_str("hostname").unwrap_or_default().to_string();
                let domain = class.env_str("domain").unwrap_or_default().to_string();
                let uuid = class.uuid;
                let decoder = match TraceDecoder::new(class) {
                    Ok(d) => d,
                    Err(source) => {
                        let trace = format!("{host}/{domain}");
                        self.errors.push(LiveDecodeError::Class { trace, source });
                        return;
                    }
                };
                self.traces.push(LiveTrace {
                    decoder,
                    host,
                    domain,
                    metadata_len: text.len(),
                });
                let t = self.traces.len() - 1;
                if let Some(u) = uuid {
                    self.by_uuid.insert(u, t);
                }
                t
            }
        };
        self.bound_traces.insert(trace_id, t);
        let waiting: Vec<u64> = self
            .unbound
            .iter()
            .filter(|(_, s)| s.ctf_trace_id == trace_id)
            .map(|(id, _)| *id)
            .collect();
        for id in waiting {
            if let Some(stream) = self.unbound.remove(&id) {
                self.bind_stream(t, stream);
            }
        }
    }

    /// Binds viewer stream `entry` to the stream it continues, or a new one.
    fn bind_stream(&mut self, t: usize, entry: StreamEntry) {
        let name = format!("{}/{}", entry.path_name, entry.channel_name);
        let key = (t, name.clone());
        let s = match self.by_key.get(&key) {
            Some(&s) if !self.streams[s].ended => s,
            _ => {
                let mut decoder = self.traces[t].decoder.new_stream(entry.id);
                decoder.set_track_order(self.track_order);
                self.streams.push(LiveStream {
                    trace: t,
                    decoder,
                    name,
                    stream_class_id: 0,
                    progress: StreamProgress::new(entry.id),
                    last_index: None,
                    ended: false,
                    bound: false,
                });
                let s = self.streams.len() - 1;
                self.by_key.insert(key, s);
                s
            }
        };
        self.streams[s].bound = true;
        self.bound_streams.insert(entry.id, s);
    }

    fn packet(&mut self, viewer_stream: u64, bytes: &[u8], index: &ViewerIndex) {
        let Some(&s) = self.bound_streams.get(&viewer_stream) else {
            let stream = self
                .unbound
                .get(&viewer_stream)
                .map(|e| format!("{}/{}", e.path_name, e.channel_name))
                .unwrap_or_else(|| format!("#{viewer_stream}"));
            self.errors.push(LiveDecodeError::NoMetadata {
                stream,
                offset: index.offset,
            });
            return;
        };
        let stream = &mut self.streams[s];
        let key = (index.timestamp_end, index.offset);
        if stream.last_index.is_some_and(|last| key <= last) {
            // Served again after a reconnection: already decoded.
            return;
        }
        stream.last_index = Some(key);
        let trace = &self.traces[stream.trace];
        let before = stream.decoder.rows_pending();
        match stream
            .decoder
            .decode_packet(&trace.decoder, bytes, index.offset)
        {
            Ok(info) => {
                stream.stream_class_id = info.stream_class_id;
                self.losses
                    .extend(stream.progress.packet(&info, &trace.host, &trace.domain));
            }
            Err(source) => {
                self.errors.push(LiveDecodeError::Packet {
                    trace: trace.name(),
                    stream: stream.name.clone(),
                    source,
                });
            }
        }
        self.pending_rows += stream.decoder.rows_pending().saturating_sub(before);
    }

    /// After a reconnection: streams that did not come back are over, and
    /// whatever they held after their position is unknown.
    fn close_streams_not_resumed(&mut self) {
        self.resuming = false;
        for stream in &mut self.streams {
            if stream.ended || stream.bound {
                continue;
            }
            stream.ended = true;
            let trace = &self.traces[stream.trace];
            self.losses.push(Loss {
                host: trace.host.clone(),
                domain: trace.domain.clone(),
                stream_id: stream.progress.stream_id,
                cpu: stream.progress.cpu,
                events_discarded: 0,
                packets_lost: 0,
                from_ts: stream.progress.since(),
                to_ts: None,
            });
        }
    }

    /// Losses noticed since the last call.
    pub fn take_losses(&mut self) -> Vec<Loss> {
        std::mem::take(&mut self.losses)
    }

    /// Problems noticed since the last call.
    pub fn take_errors(&mut self) -> Vec<LiveDecodeError> {
        std::mem::take(&mut self.errors)
    }

    /// Hands every stream's pending rows to `each`.
    pub fn take_rows(&mut self, mut each: impl FnMut(StreamRows)) {
        self.pending_rows = 0;
        for stream in &mut self.streams {
            if stream.decoder.rows_pending() == 0 {
                continue;
            }
            let trace = &self.traces[stream.trace];
            match stream.decoder.take(&trace.decoder) {
                Ok(events) => each(StreamRows {
                    class: trace.decoder.trace().clone(),
                    host: trace.host.clone(),
                    domain: trace.domain.clone(),
                    stream_id: stream.progress.stream_id,
                    stream_class_id: stream.stream_class_id,
                    events,
                }),
                Err(source) => self.errors.push(LiveDecodeError::Packet {
                    trace: trace.name(),
                    stream: stream.name.clone(),
                    source,
                }),
            }
        }
    }

    /// Watermarks that moved since the last call, one per (host, domain):
    /// the oldest position of the streams still open, or the newest of all
    /// when every stream ended. A stream that has sent nothing yet holds its
    /// (host, domain) back. Call after [`LiveDecoder::take_rows`]: a
    /// watermark promises that nothing older follows.
    pub fn take_watermarks(&mut self) -> Vec<Watermark> {
        let streams = self.streams.iter().map(|stream| {
            let trace = &self.traces[stream.trace];
            (
                trace.host.as_str(),
                trace.domain.as_str(),
                stream.ended,
                stream.progress.position,
            )
        });
        let mut out = Vec::new();
        for ((host, domain), ts) in watermarks(streams) {
            let last = self
                .marks
                .entry((host.clone(), domain.clone()))
                .or_insert(i64::MIN);
            if ts > *last {
                *last = ts;
                out.push(Watermark { host, domain, ts });
            }
        }
        out
    }
}
